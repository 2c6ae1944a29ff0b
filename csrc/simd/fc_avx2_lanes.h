/* fc_avx2_lanes.h — putting the two 128-bit lanes of AVX2 results back in order (AVX2 unpacks
 * work inside each lane), for the AVX2 bit-untranspose and byte-unshuffle. */
#ifndef FC_AVX2_LANES_H
#define FC_AVX2_LANES_H

#include <immintrin.h>
#include <stdint.h>

/* Store a (lane 0) and b (lane 0) at lo, and their lane 1 halves at hi. */
static inline void store_lanes(uint8_t *lo, uint8_t *hi, __m256i a, __m256i b)
{
    _mm256_storeu_si256((__m256i *)lo, _mm256_permute2x128_si256(a, b, 0x20));
    _mm256_storeu_si256((__m256i *)hi, _mm256_permute2x128_si256(a, b, 0x31));
}

#endif
