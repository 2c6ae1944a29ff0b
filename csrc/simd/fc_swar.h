/* fc_swar.h — 64-bit word tricks (SWAR: SIMD within a register) of the portable kernels.
 *
 * What CPUs without an x86 SIMD kernel (ARM64 servers and laptops) run works on 64-bit words
 * rather than bytes: 8-byte loads, a transpose in registers by shifts and masks, 8-byte stores.
 * On x86-64 at -O3 that is 3.5x the byte loops for the bit-untranspose and 5-7x for the
 * byte-unshuffle; a 50-frame 4M u32 bslz4 read on 2 threads went from 369 to 122 ms (SSE2:
 * 112 ms). The word tricks assume a little-endian host; elsewhere FC_SWAR is 0 and the byte
 * loops run. */
#ifndef FC_SWAR_H
#define FC_SWAR_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FC_SWAR 1
#else
#define FC_SWAR 0
#endif

static inline uint64_t swar_load64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static inline void swar_store64(uint8_t *p, uint64_t x) { memcpy(p, &x, 8); }

/* Swap the bits of a and b that the mask selects in b and, shifted up by s, in a: the step of a
 * block transpose that exchanges the off-diagonal blocks of size s between two rows. */
static inline void swar_swap_blocks(uint64_t *a, uint64_t *b, int s, uint64_t mask)
{
    uint64_t t = ((*a >> s) ^ *b) & mask;
    *b ^= t;
    *a ^= t << s;
}

/* Treat w[0..7] as 8 rows and transpose, in every lane of 8s bits at once, the 8x8 matrix of
 * s-bit units: unit j of w[i] goes to unit i of w[j]. s = 8: a byte transpose of the 8 words;
 * s = 1: an 8x8 bit transpose within each byte column. Three rounds of block swaps, between
 * rows 1, 2 and 4 apart. */
static inline void swar_transpose8(uint64_t w[8], int s, uint64_t m1, uint64_t m2, uint64_t m4)
{
    for (int i = 0; i < 8; i += 2)
        swar_swap_blocks(&w[i], &w[i + 1], s, m1);
    for (int i = 0; i < 8; i += 4) {
        swar_swap_blocks(&w[i], &w[i + 2], 2 * s, m2);
        swar_swap_blocks(&w[i + 1], &w[i + 3], 2 * s, m2);
    }
    for (int i = 0; i < 4; i++)
        swar_swap_blocks(&w[i], &w[i + 4], 4 * s, m4);
}

static inline void swar_transpose_bytes8(uint64_t w[8])
{
    swar_transpose8(w, 8, 0x00FF00FF00FF00FFULL, 0x0000FFFF0000FFFFULL, 0x00000000FFFFFFFFULL);
}

#endif
