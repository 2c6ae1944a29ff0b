/* lz4_filter.c — fuzz target: HDF5 LZ4 filter 32004 framing (fc_lz4_filter_decode).
 * Input: u24 decoded size | stored chunk. */
#include "fc_internal.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    size_t dstlen = (size_t)fuzz_take(&in, 3) % (FUZZ_MAX_OUT + 1);
    uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);
    fc_error_t err;
    if (src && dst)
        fc_lz4_filter_decode(src, in.left, dst, dstlen, &err);
    free(src);
    free(dst);
    return 0;
}
