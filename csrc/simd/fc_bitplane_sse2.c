/* fc_bitplane_sse2.c — SSE2 bit-untranspose, 16 groups a step (built with -msse2). */
#include <emmintrin.h>

#include "simd/fc_bitplane.h"

/* The 8x8 bit transpose of fc_transpose8x8 on both 64-bit lanes. */
static inline __m128i transpose8x8_x2(__m128i x)
{
    __m128i t;
    t = _mm_and_si128(_mm_xor_si128(x, _mm_srli_epi64(x, 7)), _mm_set1_epi64x(0x00AA00AA00AA00AALL));
    x = _mm_xor_si128(x, _mm_xor_si128(t, _mm_slli_epi64(t, 7)));
    t = _mm_and_si128(_mm_xor_si128(x, _mm_srli_epi64(x, 14)), _mm_set1_epi64x(0x0000CCCC0000CCCCLL));
    x = _mm_xor_si128(x, _mm_xor_si128(t, _mm_slli_epi64(t, 14)));
    t = _mm_and_si128(_mm_xor_si128(x, _mm_srli_epi64(x, 28)), _mm_set1_epi64x(0x00000000F0F0F0F0LL));
    x = _mm_xor_si128(x, _mm_xor_si128(t, _mm_slli_epi64(t, 28)));
    return x;
}

void fc_bitplane_untranspose_sse2(const uint8_t *in, uint8_t *out, size_t nrow)
{
    size_t g = 0;
    for (; g + 16 <= nrow; g += 16) {
        __m128i r[8];
        for (int b = 0; b < 8; b++)
            r[b] = _mm_loadu_si128((const __m128i *)(in + (size_t)b * nrow + g));
        /* Interleave the 8 rows so that each 64-bit lane holds one group's 8 bit-row bytes. */
        __m128i a01l = _mm_unpacklo_epi8(r[0], r[1]), a01h = _mm_unpackhi_epi8(r[0], r[1]);
        __m128i a23l = _mm_unpacklo_epi8(r[2], r[3]), a23h = _mm_unpackhi_epi8(r[2], r[3]);
        __m128i a45l = _mm_unpacklo_epi8(r[4], r[5]), a45h = _mm_unpackhi_epi8(r[4], r[5]);
        __m128i a67l = _mm_unpacklo_epi8(r[6], r[7]), a67h = _mm_unpackhi_epi8(r[6], r[7]);
        __m128i b0 = _mm_unpacklo_epi16(a01l, a23l), b1 = _mm_unpackhi_epi16(a01l, a23l);
        __m128i b2 = _mm_unpacklo_epi16(a01h, a23h), b3 = _mm_unpackhi_epi16(a01h, a23h);
        __m128i c0 = _mm_unpacklo_epi16(a45l, a67l), c1 = _mm_unpackhi_epi16(a45l, a67l);
        __m128i c2 = _mm_unpacklo_epi16(a45h, a67h), c3 = _mm_unpackhi_epi16(a45h, a67h);
        __m128i d[8];
        d[0] = _mm_unpacklo_epi32(b0, c0); d[1] = _mm_unpackhi_epi32(b0, c0);
        d[2] = _mm_unpacklo_epi32(b1, c1); d[3] = _mm_unpackhi_epi32(b1, c1);
        d[4] = _mm_unpacklo_epi32(b2, c2); d[5] = _mm_unpackhi_epi32(b2, c2);
        d[6] = _mm_unpacklo_epi32(b3, c3); d[7] = _mm_unpackhi_epi32(b3, c3);
        for (int k = 0; k < 8; k++)
            _mm_storeu_si128((__m128i *)(out + 8 * g + 16 * k), transpose8x8_x2(d[k]));
    }
    fc_bitplane_groups(in, out, nrow, g);
}
