/* fc_unshuffle_sse2.c — SSE2 byte-unshuffle of 2-, 4- and 8-byte elements, 16 a step (built
 * with -msse2); other sizes take the portable kernel. */
#include <emmintrin.h>

#include "simd/fc_unshuffle.h"

void fc_byte_unshuffle_sse2(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size)
{
    size_t i = 0;
    if (elem_size == 2) {
        const uint8_t *p0 = in, *p1 = in + n;
        for (; i + 16 <= n; i += 16) {
            __m128i x0 = _mm_loadu_si128((const __m128i *)(p0 + i));
            __m128i x1 = _mm_loadu_si128((const __m128i *)(p1 + i));
            _mm_storeu_si128((__m128i *)(out + 2 * i), _mm_unpacklo_epi8(x0, x1));
            _mm_storeu_si128((__m128i *)(out + 2 * i + 16), _mm_unpackhi_epi8(x0, x1));
        }
    } else if (elem_size == 4) {
        const uint8_t *p0 = in, *p1 = in + n, *p2 = in + 2 * n, *p3 = in + 3 * n;
        for (; i + 16 <= n; i += 16) {
            __m128i x0 = _mm_loadu_si128((const __m128i *)(p0 + i));
            __m128i x1 = _mm_loadu_si128((const __m128i *)(p1 + i));
            __m128i x2 = _mm_loadu_si128((const __m128i *)(p2 + i));
            __m128i x3 = _mm_loadu_si128((const __m128i *)(p3 + i));
            __m128i a = _mm_unpacklo_epi8(x0, x1), b = _mm_unpacklo_epi8(x2, x3);
            __m128i c = _mm_unpackhi_epi8(x0, x1), d = _mm_unpackhi_epi8(x2, x3);
            uint8_t *o = out + 4 * i;
            _mm_storeu_si128((__m128i *)(o + 0), _mm_unpacklo_epi16(a, b));
            _mm_storeu_si128((__m128i *)(o + 16), _mm_unpackhi_epi16(a, b));
            _mm_storeu_si128((__m128i *)(o + 32), _mm_unpacklo_epi16(c, d));
            _mm_storeu_si128((__m128i *)(o + 48), _mm_unpackhi_epi16(c, d));
        }
    } else if (elem_size == 8) {
        for (; i + 16 <= n; i += 16) {
            __m128i x[8];
            for (int j = 0; j < 8; j++)
                x[j] = _mm_loadu_si128((const __m128i *)(in + (size_t)j * n + i));
            __m128i a01l = _mm_unpacklo_epi8(x[0], x[1]), a01h = _mm_unpackhi_epi8(x[0], x[1]);
            __m128i a23l = _mm_unpacklo_epi8(x[2], x[3]), a23h = _mm_unpackhi_epi8(x[2], x[3]);
            __m128i a45l = _mm_unpacklo_epi8(x[4], x[5]), a45h = _mm_unpackhi_epi8(x[4], x[5]);
            __m128i a67l = _mm_unpacklo_epi8(x[6], x[7]), a67h = _mm_unpackhi_epi8(x[6], x[7]);
            __m128i b0 = _mm_unpacklo_epi16(a01l, a23l), b1 = _mm_unpackhi_epi16(a01l, a23l);
            __m128i b2 = _mm_unpacklo_epi16(a01h, a23h), b3 = _mm_unpackhi_epi16(a01h, a23h);
            __m128i c0 = _mm_unpacklo_epi16(a45l, a67l), c1 = _mm_unpackhi_epi16(a45l, a67l);
            __m128i c2 = _mm_unpacklo_epi16(a45h, a67h), c3 = _mm_unpackhi_epi16(a45h, a67h);
            uint8_t *o = out + 8 * i;
            _mm_storeu_si128((__m128i *)(o + 0), _mm_unpacklo_epi32(b0, c0));
            _mm_storeu_si128((__m128i *)(o + 16), _mm_unpackhi_epi32(b0, c0));
            _mm_storeu_si128((__m128i *)(o + 32), _mm_unpacklo_epi32(b1, c1));
            _mm_storeu_si128((__m128i *)(o + 48), _mm_unpackhi_epi32(b1, c1));
            _mm_storeu_si128((__m128i *)(o + 64), _mm_unpacklo_epi32(b2, c2));
            _mm_storeu_si128((__m128i *)(o + 80), _mm_unpackhi_epi32(b2, c2));
            _mm_storeu_si128((__m128i *)(o + 96), _mm_unpacklo_epi32(b3, c3));
            _mm_storeu_si128((__m128i *)(o + 112), _mm_unpackhi_epi32(b3, c3));
        }
    } else {
        fc_byte_unshuffle_generic(in, out, n, elem_size);
        return;
    }
    fc_unshuffle_elems(in, out, n, elem_size, i);
}
