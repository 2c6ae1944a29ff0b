/* lz4_block.c — fuzz target: one raw LZ4 block (fc_lz4_block_decode).
 * Input: u24 decoded size | block. */
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    size_t dstlen = (size_t)fuzz_take(&in, 3) % (FUZZ_MAX_OUT + 1);
    uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);
    size_t at = 0;
    if (src && dst)
        fc_lz4_block_decode(in.left ? src : NULL, in.left, dstlen ? dst : NULL, dstlen, &at);
    free(src);
    free(dst);
    return 0;
}
