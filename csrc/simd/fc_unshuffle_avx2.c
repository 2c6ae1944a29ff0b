/* fc_unshuffle_avx2.c — AVX2 byte-unshuffle of 2- and 4-byte elements, 32 a step (built with
 * -mavx2); other sizes take the SSE2 kernel. */
#include <immintrin.h>

#include "simd/fc_avx2_lanes.h"
#include "simd/fc_unshuffle.h"

void fc_byte_unshuffle_avx2(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size)
{
    size_t i = 0;
    if (elem_size == 2) {
        const uint8_t *p0 = in, *p1 = in + n;
        for (; i + 32 <= n; i += 32) {
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(p0 + i));
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(p1 + i));
            /* lo: elements 0-7 | 16-23, hi: 8-15 | 24-31 */
            store_lanes(out + 2 * i, out + 2 * i + 32, _mm256_unpacklo_epi8(x0, x1),
                        _mm256_unpackhi_epi8(x0, x1));
        }
    } else if (elem_size == 4) {
        const uint8_t *p0 = in, *p1 = in + n, *p2 = in + 2 * n, *p3 = in + 3 * n;
        for (; i + 32 <= n; i += 32) {
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(p0 + i));
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(p1 + i));
            __m256i x2 = _mm256_loadu_si256((const __m256i *)(p2 + i));
            __m256i x3 = _mm256_loadu_si256((const __m256i *)(p3 + i));
            __m256i al = _mm256_unpacklo_epi8(x0, x1), bl = _mm256_unpacklo_epi8(x2, x3);
            __m256i ah = _mm256_unpackhi_epi8(x0, x1), bh = _mm256_unpackhi_epi8(x2, x3);
            /* e0: elements 0-3 | 16-19, e1: 4-7 | 20-23, e2: 8-11 | 24-27, e3: 12-15 | 28-31 */
            __m256i e0 = _mm256_unpacklo_epi16(al, bl), e1 = _mm256_unpackhi_epi16(al, bl);
            __m256i e2 = _mm256_unpacklo_epi16(ah, bh), e3 = _mm256_unpackhi_epi16(ah, bh);
            uint8_t *o = out + 4 * i;
            store_lanes(o, o + 64, e0, e1);
            store_lanes(o + 32, o + 96, e2, e3);
        }
    } else {
        fc_byte_unshuffle_sse2(in, out, n, elem_size);
        return;
    }
    fc_unshuffle_elems(in, out, n, elem_size, i);
}
