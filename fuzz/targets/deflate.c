/* deflate.c — fuzz target: deflate filter 1 with a reused z_stream (fc_inflate_decode).
 * Input: u24 decoded size | zlib stream. The scratch (and its z_stream) lives across inputs,
 * as a worker's does, so inflateReset after a failed stream is exercised too. */
#include "codecs/fc_codecs.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fc_scratch_t *s;
    if (!s && !(s = fc_scratch_new()))
        return 0;
    fuzz_in_t in = {data, size};
    size_t dstlen = (size_t)fuzz_take(&in, 3) % (FUZZ_MAX_OUT + 1);
    uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);
    fc_error_t err;
    if (src && dst)
        fc_inflate_decode(src, in.left, dst, dstlen, s, &err);
    free(src);
    free(dst);
    return 0;
}
