/* bslz4.c — fuzz target: bitshuffle 32008 with LZ4 (fc_bitshuffle_decode), then the same
 * chunk decoded partially (fc_bitshuffle_decode_blocks, as fc_partial.c calls it) with a
 * block selection taken from the input's own bytes, then in parts (fc_bitshuffle_decode_part,
 * as decode_many splits one frame): the parts must succeed exactly when the whole decode does,
 * and then write the same bytes (else abort).
 * Input: u8 element size - 1 | u24 elements | u8 kernel | stored chunk. */
#include "target.h"

#include "codecs/fc_codecs.h"

/* Decode only some blocks: block b is wanted when bit b of the chunk's bytes is set. */
static void partial(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, uint32_t es,
                    fc_scratch_t *s)
{
    size_t be = fc_bitshuffle_block_elems(src, srclen, es, 0, FC_BSHUF_LZ4), n = dstlen / es;
    if (be == 0 || srclen == 0)
        return;
    size_t nblocks = n / be + ((n % be) >= 8);
    uint8_t *want = malloc(nblocks + 1);
    if (!want)
        return;
    for (size_t b = 0; b <= nblocks; b++)
        want[b] = (src[(b / 8) % srclen] >> (b % 8)) & 1u;
    fc_error_t err;
    fc_bitshuffle_decode_blocks(src, srclen, dst, dstlen, es, 0, FC_BSHUF_LZ4, want, nblocks + 1,
                                0, s, &err);
    free(want);
}

/* All parts of the chunk, one after the other, into dst2; aborts if they disagree with the whole
 * decode (rc_whole, dst). */
static void in_parts(const uint8_t *src, size_t srclen, const uint8_t *dst, uint8_t *dst2,
                     size_t dstlen, uint32_t es, size_t nparts, int rc_whole, fc_scratch_t *s)
{
    int failed = 0;
    for (size_t p = 0; p < nparts; p++) {
        fc_error_t err;
        failed |= fc_bitshuffle_decode_part(src, srclen, dst2, dstlen, es, 0, FC_BSHUF_LZ4, p,
                                            nparts, 1, s, &err) != FC_OK;
    }
    if (failed != (rc_whole != FC_OK) || (!failed && dstlen && memcmp(dst, dst2, dstlen)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    uint32_t es = 1 + (uint32_t)fuzz_take(&in, 1) % 16;
    size_t n = (size_t)fuzz_take(&in, 3);
    fuzz_pick_kernels((unsigned)fuzz_take(&in, 1));
    if (n * es > FUZZ_MAX_OUT)
        n = FUZZ_MAX_OUT / es;
    size_t dstlen = n * es;
    uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);
    uint8_t *dst2 = malloc(dstlen ? dstlen : 1);
    fc_scratch_t *s = fc_scratch_new();
    fc_error_t err;
    if (src && dst && dst2 && s)
    {
        int rc = fc_bitshuffle_decode(src, in.left, dst, dstlen, es, 0, FC_BSHUF_LZ4, 1, s, &err);
        in_parts(src, in.left, dst, dst2, dstlen, es, 2 + (size & 3), rc, s);
        partial(src, in.left, dst, dstlen, es, s);
    }
    fc_scratch_free(s);
    free(src);
    free(dst);
    free(dst2);
    return 0;
}
