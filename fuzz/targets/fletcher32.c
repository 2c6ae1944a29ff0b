/* fletcher32.c — fuzz target: fletcher32 filter 3 (fc_fletcher32_verify).
 * Input: the stored chunk, data then the 4-byte checksum. */
#include "codecs/fc_codecs.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    uint8_t *src = fuzz_rest(&in);
    fc_error_t err;
    if (src)
        fc_fletcher32_verify(src, in.left, &err);
    free(src);
    return 0;
}
