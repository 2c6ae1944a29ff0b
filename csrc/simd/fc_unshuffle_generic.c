/* fc_unshuffle_generic.c — the portable byte-unshuffle kernel (fc_swar.h: why words). */
#include <string.h>

#include "simd/fc_swar.h"
#include "simd/fc_unshuffle.h"

#if FC_SWAR
/* Elements i..i+7 of 2 or 4 bytes: byte j of plane p is byte p of element i+j. The same block
 * swaps as swar_transpose_bytes8 with the all-zero planes left out; the last round (blocks of
 * 32 bits) pairs elements up so that each word stored holds whole elements in order. */
static inline void unshuffle8_2(const uint8_t *in, uint8_t *out, size_t n, size_t i)
{
    uint64_t a = swar_load64(in + i), b = swar_load64(in + n + i);
    swar_swap_blocks(&a, &b, 8, 0x00FF00FF00FF00FFULL);
    swar_swap_blocks(&a, &b, 16, 0x0000FFFF0000FFFFULL);
    swar_swap_blocks(&a, &b, 32, 0x00000000FFFFFFFFULL);
    swar_store64(out + 2 * i, a);      /* elements 0-3 */
    swar_store64(out + 2 * i + 8, b);  /* elements 4-7 */
}

static inline void unshuffle8_4(const uint8_t *in, uint8_t *out, size_t n, size_t i)
{
    /* named words, not an array: gcc -O2 vectorized the array form through the stack, 5x slower */
    uint64_t a = swar_load64(in + i), b = swar_load64(in + n + i);
    uint64_t c = swar_load64(in + 2 * n + i), d = swar_load64(in + 3 * n + i);
    swar_swap_blocks(&a, &b, 8, 0x00FF00FF00FF00FFULL);
    swar_swap_blocks(&c, &d, 8, 0x00FF00FF00FF00FFULL);
    swar_swap_blocks(&a, &c, 16, 0x0000FFFF0000FFFFULL);
    swar_swap_blocks(&b, &d, 16, 0x0000FFFF0000FFFFULL);
    swar_swap_blocks(&a, &b, 32, 0x00000000FFFFFFFFULL);
    swar_swap_blocks(&c, &d, 32, 0x00000000FFFFFFFFULL);
    uint8_t *o = out + 4 * i;
    swar_store64(o, a);       /* elements 0, 1 */
    swar_store64(o + 8, c);   /* 2, 3 */
    swar_store64(o + 16, b);  /* 4, 5 */
    swar_store64(o + 24, d);  /* 6, 7 */
}

static inline void unshuffle8_8(const uint8_t *in, uint8_t *out, size_t n, size_t i)
{
    uint64_t w[8];
    for (int p = 0; p < 8; p++)
        w[p] = swar_load64(in + (size_t)p * n + i);
    swar_transpose_bytes8(w);
    for (int j = 0; j < 8; j++)
        swar_store64(out + 8 * (i + (size_t)j), w[j]);
}
#endif

void fc_byte_unshuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size)
{
    size_t i = 0;
    if (elem_size == 1) {
        memcpy(out, in, n);
        return;
    }
#if FC_SWAR
    if (elem_size == 2)
        for (; i + 8 <= n; i += 8)
            unshuffle8_2(in, out, n, i);
    else if (elem_size == 4)
        for (; i + 8 <= n; i += 8)
            unshuffle8_4(in, out, n, i);
    else if (elem_size == 8)
        for (; i + 8 <= n; i += 8)
            unshuffle8_8(in, out, n, i);
#endif
    fc_unshuffle_elems(in, out, n, elem_size, i);
}
