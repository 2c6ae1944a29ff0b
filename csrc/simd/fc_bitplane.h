/* fc_bitplane.h — the bit-untranspose kernels, one file per instruction set (fc_cpu.c picks
 * one), and the scalar steps they use for their tails.
 *
 * A bitshuffle block of 8*nrow elements is stored as 8 bit-rows of nrow bytes per byte of the
 * element; a kernel turns the 8 rows back into bytes (fc_bitplane_fn in fastchunk.h). The
 * _elems kernels also undo the byte planes of 2- and 4-byte elements in the same pass
 * (fc_elems_fn). Each SIMD file is built only with its flags (setup.py), and fc_cpu.c names
 * it only when it was. */
#ifndef FC_BITPLANE_H
#define FC_BITPLANE_H

#include <stddef.h>
#include <stdint.h>

void fc_bitplane_untranspose_generic(const uint8_t *in, uint8_t *out, size_t nrow);
void fc_bitplane_untranspose_sse2(const uint8_t *in, uint8_t *out, size_t nrow);
void fc_bitplane_untranspose_avx2(const uint8_t *in, uint8_t *out, size_t nrow);
int fc_untranspose_elems_avx2(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                              int stream);
void fc_bitplane_untranspose_avx512(const uint8_t *in, uint8_t *out, size_t nrow);
int fc_untranspose_elems_avx512(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                                int stream);

/* Transpose the 8x8 bit matrix in x: bit 8r+c moves to bit 8c+r. */
static inline uint64_t fc_transpose8x8(uint64_t x)
{
    uint64_t t;
    t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAULL;
    x = x ^ t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCULL;
    x = x ^ t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ULL;
    x = x ^ t ^ (t << 28);
    return x;
}

/* The scalar bit-untranspose of groups g0..nrow-1 (kernels use it for their tails). */
static inline void fc_bitplane_groups(const uint8_t *in, uint8_t *out, size_t nrow, size_t g0)
{
    for (size_t g = g0; g < nrow; g++) {
        uint64_t x = 0;
        /* byte b of x holds bit b of the 8 elements of group g */
        for (int b = 0; b < 8; b++)
            x |= (uint64_t)in[(size_t)b * nrow + g] << (8 * b);
        x = fc_transpose8x8(x);
        for (int k = 0; k < 8; k++)
            out[8 * g + k] = (uint8_t)(x >> (8 * k));
    }
}

#endif
