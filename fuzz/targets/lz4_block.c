/* lz4_block.c — fuzz target: one raw LZ4 block, through both decoder variants
 * (fc_lz4_block_decode and fc_lz4_block_decode_pixels), which must agree byte for byte.
 * Input: u24 decoded size | block. */
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    size_t dstlen = (size_t)fuzz_take(&in, 3) % (FUZZ_MAX_OUT + 1);
    uint8_t *src = fuzz_rest(&in), *a = malloc(dstlen ? dstlen : 1), *b = malloc(dstlen ? dstlen : 1);
    size_t at_a = 0, at_b = 0;
    if (src && a && b) {
        const uint8_t *s = in.left ? src : NULL;
        int ra = fc_lz4_block_decode(s, in.left, dstlen ? a : NULL, dstlen, &at_a);
        int rb = fc_lz4_block_decode_pixels(s, in.left, dstlen ? b : NULL, dstlen, &at_b);
        if (ra != rb || (ra == FC_OK && memcmp(a, b, dstlen)) || (ra != FC_OK && at_a != at_b))
            abort(); /* the variants disagree */
    }
    free(src);
    free(a);
    free(b);
    return 0;
}
