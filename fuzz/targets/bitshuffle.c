/* bitshuffle.c — fuzz target: bitshuffle 32008 without compression (fc_bitshuffle_decode).
 * Input: u8 element size - 1 | u24 elements | u8 kernel | u16 block elements | stored chunk. */
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    uint32_t es = 1 + (uint32_t)fuzz_take(&in, 1) % 16;
    size_t n = (size_t)fuzz_take(&in, 3);
    fuzz_pick_kernels((unsigned)fuzz_take(&in, 1));
    uint32_t block_elems = (uint32_t)fuzz_take(&in, 2);
    if (n * es > FUZZ_MAX_OUT)
        n = FUZZ_MAX_OUT / es;
    size_t dstlen = n * es;
    uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);
    fc_scratch_t *s = fc_scratch_new();
    fc_error_t err;
    if (src && dst && s)
        fc_bitshuffle_decode(src, in.left, dst, dstlen, es, block_elems, FC_BSHUF_NONE, 1, s,
                             &err);
    fc_scratch_free(s);
    free(src);
    free(dst);
    return 0;
}
