/* fc_bitplane_avx512.c — AVX-512 + GFNI bit-untranspose (64 groups a step), fused with the
 * byte-unshuffle for 2- and 4-byte elements (built with -mavx512f -mavx512bw -mgfni; the
 * byte-unshuffle alone is AVX2's).
 *
 * GF2P8AFFINEQB multiplies every byte by the 8x8 bit matrix held in its qword: result bit i
 * is the parity of (source byte AND matrix byte 7 - i). With the unit vectors 1 << k as the
 * source bytes, byte k of the result is column k of the matrix, so one instruction transposes
 * eight 8x8 bit matrices, where the AVX2 kernel needs nine shift/xor/and steps. Needs
 * AVX512F, AVX512BW and GFNI (Ice Lake, Zen 4 and later); fc_cpu.c checks all three. */
#include <immintrin.h>

#include "simd/fc_bitplane.h"

/* Word 8L + k of a permuted row is word 4k + L of the row (groups 8k + 2L, 8k + 2L + 1).
 * The unpack network below works inside 128-bit lanes and gathers lane positions 2k, 2k + 1
 * into register k; with rows permuted this way, register k ends up holding groups 8k..8k+7
 * in order, so it can be stored as it is. */
static const uint16_t lane_order[32] = {
    0, 4, 8,  12, 16, 20, 24, 28, 1, 5, 9,  13, 17, 21, 25, 29,
    2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31,
};

/* Bit-untranspose 64 groups (512 elements) of one byte plane from group g: d[k] = that byte of
 * elements 64k .. 64k + 63 of the 512, in order. */
static inline void transpose_groups(const uint8_t *in, size_t nrow, size_t g, __m512i d[8])
{
    const __m512i order = _mm512_loadu_si512(lane_order);
    const __m512i unit = _mm512_set1_epi64(0x8040201008040201LL); /* byte k = 1 << k */
    /* Rows in reverse, so that qword byte 7 - b holds bit row b, as GF2P8AFFINEQB wants. */
    __m512i r[8];
    for (int b = 0; b < 8; b++)
        r[b] = _mm512_permutexvar_epi16(order, _mm512_loadu_si512(in + (size_t)(7 - b) * nrow + g));
    __m512i a01l = _mm512_unpacklo_epi8(r[0], r[1]), a01h = _mm512_unpackhi_epi8(r[0], r[1]);
    __m512i a23l = _mm512_unpacklo_epi8(r[2], r[3]), a23h = _mm512_unpackhi_epi8(r[2], r[3]);
    __m512i a45l = _mm512_unpacklo_epi8(r[4], r[5]), a45h = _mm512_unpackhi_epi8(r[4], r[5]);
    __m512i a67l = _mm512_unpacklo_epi8(r[6], r[7]), a67h = _mm512_unpackhi_epi8(r[6], r[7]);
    __m512i b0 = _mm512_unpacklo_epi16(a01l, a23l), b1 = _mm512_unpackhi_epi16(a01l, a23l);
    __m512i b2 = _mm512_unpacklo_epi16(a01h, a23h), b3 = _mm512_unpackhi_epi16(a01h, a23h);
    __m512i c0 = _mm512_unpacklo_epi16(a45l, a67l), c1 = _mm512_unpackhi_epi16(a45l, a67l);
    __m512i c2 = _mm512_unpacklo_epi16(a45h, a67h), c3 = _mm512_unpackhi_epi16(a45h, a67h);
    d[0] = _mm512_unpacklo_epi32(b0, c0); d[1] = _mm512_unpackhi_epi32(b0, c0);
    d[2] = _mm512_unpacklo_epi32(b1, c1); d[3] = _mm512_unpackhi_epi32(b1, c1);
    d[4] = _mm512_unpacklo_epi32(b2, c2); d[5] = _mm512_unpackhi_epi32(b2, c2);
    d[6] = _mm512_unpacklo_epi32(b3, c3); d[7] = _mm512_unpackhi_epi32(b3, c3);
    for (int k = 0; k < 8; k++)
        d[k] = _mm512_gf2p8affine_epi64_epi8(unit, d[k], 0);
}

void fc_bitplane_untranspose_avx512(const uint8_t *in, uint8_t *out, size_t nrow)
{
    size_t g = 0;
    for (; g + 64 <= nrow; g += 64) {
        __m512i d[8];
        transpose_groups(in, nrow, g, d);
        for (int k = 0; k < 8; k++)
            _mm512_storeu_si512(out + 8 * g + 64 * k, d[k]);
    }
    fc_bitplane_groups(in, out, nrow, g);
}

/* qwords of (lo, hi) in output order for 2-byte elements: unpacklo/hi_epi8 leave elements
 * 0-7 | 16-23 | 32-39 | 48-55 in lo and 8-15 | 24-31 | ... in hi. */
static const int64_t u16_first[8] = {0, 1, 8, 9, 2, 3, 10, 11};
static const int64_t u16_second[8] = {4, 5, 12, 13, 6, 7, 14, 15};

/* 64 elements of 2 bytes from byte planes p0, p1 (64 bytes each) into out (128 bytes). */
static inline void store_u16(uint8_t *out, __m512i p0, __m512i p1)
{
    __m512i lo = _mm512_unpacklo_epi8(p0, p1), hi = _mm512_unpackhi_epi8(p0, p1);
    _mm512_storeu_si512(out, _mm512_permutex2var_epi64(lo, _mm512_loadu_si512(u16_first), hi));
    _mm512_storeu_si512(out + 64, _mm512_permutex2var_epi64(lo, _mm512_loadu_si512(u16_second), hi));
}

/* 64 elements of 4 bytes from byte planes p0..p3 into out (256 bytes). */
static inline void store_u32(uint8_t *out, __m512i p0, __m512i p1, __m512i p2, __m512i p3)
{
    __m512i al = _mm512_unpacklo_epi8(p0, p1), ah = _mm512_unpackhi_epi8(p0, p1);
    __m512i bl = _mm512_unpacklo_epi8(p2, p3), bh = _mm512_unpackhi_epi8(p2, p3);
    /* e0: elements 0-3 | 16-19 | 32-35 | 48-51, e1: 4-7 | 20-23 ..., e2: 8-11 ..., e3: 12-15 ... */
    __m512i e0 = _mm512_unpacklo_epi16(al, bl), e1 = _mm512_unpackhi_epi16(al, bl);
    __m512i e2 = _mm512_unpacklo_epi16(ah, bh), e3 = _mm512_unpackhi_epi16(ah, bh);
    /* Transpose the 4x4 matrix of 128-bit lanes: output register j = lane j of e0..e3. */
    __m512i t0 = _mm512_shuffle_i64x2(e0, e1, 0x44), t1 = _mm512_shuffle_i64x2(e2, e3, 0x44);
    __m512i t2 = _mm512_shuffle_i64x2(e0, e1, 0xEE), t3 = _mm512_shuffle_i64x2(e2, e3, 0xEE);
    _mm512_storeu_si512(out, _mm512_shuffle_i64x2(t0, t1, 0x88));
    _mm512_storeu_si512(out + 64, _mm512_shuffle_i64x2(t0, t1, 0xDD));
    _mm512_storeu_si512(out + 128, _mm512_shuffle_i64x2(t2, t3, 0x88));
    _mm512_storeu_si512(out + 192, _mm512_shuffle_i64x2(t2, t3, 0xDD));
}

/* stream is ignored: non-temporal stores were measured only on AVX2 (no AVX-512 CPU here). */
int fc_untranspose_elems_avx512(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                                int stream)
{
    (void)stream;
    size_t nrow = m / 8;
    if ((elem_size != 2 && elem_size != 4) || nrow % 64)
        return 0;
    for (size_t g = 0; g < nrow; g += 64) {
        __m512i d[4][8];
        for (size_t j = 0; j < elem_size; j++)
            transpose_groups(in + j * m, nrow, g, d[j]);
        uint8_t *o = out + 8 * g * elem_size;
        for (int k = 0; k < 8; k++) {
            if (elem_size == 2)
                store_u16(o + 128 * k, d[0][k], d[1][k]);
            else
                store_u32(o + 256 * k, d[0][k], d[1][k], d[2][k], d[3][k]);
        }
    }
    return 1;
}
