/* fc_bitplane_generic.c — the portable bit-untranspose kernel (fc_swar.h: why words). */
#include "simd/fc_bitplane.h"
#include "simd/fc_swar.h"

void fc_bitplane_untranspose_generic(const uint8_t *in, uint8_t *out, size_t nrow)
{
    size_t g = 0;
#if FC_SWAR
    /* 8 groups a step. w[b] holds bit b of 64 elements; within each byte, transpose the 8x8
     * bit matrix (rows: bits b, columns: elements), as fc_transpose8x8 does within one word.
     * Then byte j of w[k] is element 8j+k, and a byte transpose puts the elements in order. */
    for (; g + 8 <= nrow; g += 8) {
        uint64_t w[8];
        for (int b = 0; b < 8; b++)
            w[b] = swar_load64(in + (size_t)b * nrow + g);
        swar_transpose8(w, 1, 0x5555555555555555ULL, 0x3333333333333333ULL,
                        0x0F0F0F0F0F0F0F0FULL);
        swar_transpose_bytes8(w);
        for (int j = 0; j < 8; j++)
            swar_store64(out + 8 * (g + (size_t)j), w[j]);
    }
#endif
    fc_bitplane_groups(in, out, nrow, g);
}
