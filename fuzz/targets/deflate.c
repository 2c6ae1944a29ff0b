/* deflate.c — fuzz target: deflate filter 1, our own inflate (fc_inflate_decode), exact size.
 * Input: u24 decoded size | zlib stream. The scratch (and the decoder's tables in it) lives
 * across inputs, as a worker's does, so a stream after a failed one is exercised too. */
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
