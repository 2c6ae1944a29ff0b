/* fc_bitplane_avx2.c — AVX2 bit-untranspose (32 groups a step), and the same fused with the
 * byte-unshuffle into one pass for 2- and 4-byte elements (built with -mavx2).
 *
 * The bit transpose runs first, across the eight bit-row registers, then the bytes are
 * interleaved into groups.
 * AVX2 unpacks work inside each 128-bit lane, so after interleaving, lane 0 of a register
 * holds groups from the first 16 and lane 1 the matching groups 16 further on; the stores
 * put the lanes back in order with permute2x128.
 *
 * Byte planes that are all zero in a group skip the transpose (detector counts leave most high
 * planes empty). A chunk the caller keeps and that is too big for the cache (fc_bitshuffle.c
 * decides) is written with non-temporal stores; on a real Eiger 4M u32 frame on one core the
 * two together made the whole bslz4 decode 1.12-1.18x faster, the stores most of it. */
#include <immintrin.h>

#include "simd/fc_avx2_lanes.h"
#include "simd/fc_bitplane.h"

/* One butterfly step of an 8x8 bit transpose whose rows are registers (one matrix per byte
 * position): bit k + s of row a trades places with bit k of row b = a + s, for every k whose
 * bit is set in mask. */
static inline void swap_bits(__m256i *a, __m256i *b, int s, uint8_t mask)
{
    __m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi16(*a, s), *b),
                                 _mm256_set1_epi8((char)mask));
    *b = _mm256_xor_si256(*b, t);
    *a = _mm256_xor_si256(*a, _mm256_slli_epi16(t, s));
}

/* Bit-untranspose 32 groups (256 elements) of one byte plane from group g: d[k] holds that
 * byte of elements 16k .. 16k + 15 of the 256 in lane 0 and of 128 + 16k .. 128 + 16k + 15
 * in lane 1 (the unpacks stay in their lanes). */
static inline void transpose_groups(const uint8_t *in, size_t nrow, size_t g, __m256i d[8])
{
    __m256i r[8];
    for (int b = 0; b < 8; b++)
        r[b] = _mm256_loadu_si256((const __m256i *)(in + (size_t)b * nrow + g));
    /* Detector counts leave most high byte planes all zero (a real Eiger 4M u32 frame: 64 %
     * of byte 1's and 78 % of bytes 2 and 3's 256-element groups), and zero bits transpose
     * to zero bytes: skip the butterfly for them. */
    __m256i any = _mm256_or_si256(_mm256_or_si256(_mm256_or_si256(r[0], r[1]),
                                                  _mm256_or_si256(r[2], r[3])),
                                  _mm256_or_si256(_mm256_or_si256(r[4], r[5]),
                                                  _mm256_or_si256(r[6], r[7])));
    if (_mm256_testz_si256(any, any)) {
        for (int k = 0; k < 8; k++)
            d[k] = _mm256_setzero_si256();
        return;
    }
    /* Transpose the 8x8 bit matrix of every byte column across the eight rows (a
     * butterfly: 12 row pairs, 6 operations each). Row k then holds, for each group,
     * output byte k: the byte of element 8g + k. */
    for (int b = 0; b < 8; b += 2)
        swap_bits(&r[b], &r[b + 1], 1, 0x55);
    for (int b = 0; b < 8; b += 4) {
        swap_bits(&r[b], &r[b + 2], 2, 0x33);
        swap_bits(&r[b + 1], &r[b + 3], 2, 0x33);
    }
    for (int b = 0; b < 4; b++)
        swap_bits(&r[b], &r[b + 4], 4, 0x0F);
    /* Interleave the rows byte by byte: group g's 8 bytes are r[0..7][g]. */
    __m256i a01l = _mm256_unpacklo_epi8(r[0], r[1]), a01h = _mm256_unpackhi_epi8(r[0], r[1]);
    __m256i a23l = _mm256_unpacklo_epi8(r[2], r[3]), a23h = _mm256_unpackhi_epi8(r[2], r[3]);
    __m256i a45l = _mm256_unpacklo_epi8(r[4], r[5]), a45h = _mm256_unpackhi_epi8(r[4], r[5]);
    __m256i a67l = _mm256_unpacklo_epi8(r[6], r[7]), a67h = _mm256_unpackhi_epi8(r[6], r[7]);
    __m256i b0 = _mm256_unpacklo_epi16(a01l, a23l), b1 = _mm256_unpackhi_epi16(a01l, a23l);
    __m256i b2 = _mm256_unpacklo_epi16(a01h, a23h), b3 = _mm256_unpackhi_epi16(a01h, a23h);
    __m256i c0 = _mm256_unpacklo_epi16(a45l, a67l), c1 = _mm256_unpackhi_epi16(a45l, a67l);
    __m256i c2 = _mm256_unpacklo_epi16(a45h, a67h), c3 = _mm256_unpackhi_epi16(a45h, a67h);
    /* d[k]: lane 0 = groups g+2k, g+2k+1; lane 1 = groups g+16+2k, g+16+2k+1 */
    d[0] = _mm256_unpacklo_epi32(b0, c0); d[1] = _mm256_unpackhi_epi32(b0, c0);
    d[2] = _mm256_unpacklo_epi32(b1, c1); d[3] = _mm256_unpackhi_epi32(b1, c1);
    d[4] = _mm256_unpacklo_epi32(b2, c2); d[5] = _mm256_unpackhi_epi32(b2, c2);
    d[6] = _mm256_unpacklo_epi32(b3, c3); d[7] = _mm256_unpackhi_epi32(b3, c3);
}

void fc_bitplane_untranspose_avx2(const uint8_t *in, uint8_t *out, size_t nrow)
{
    size_t g = 0;
    for (; g + 32 <= nrow; g += 32) {
        __m256i d[8];
        transpose_groups(in, nrow, g, d);
        uint8_t *o = out + 8 * g;
        for (int k = 0; k < 8; k += 2)
            store_lanes(o + 16 * k, o + 128 + 16 * k, d[k], d[k + 1]);
    }
    fc_bitplane_groups(in, out, nrow, g);
}

/* How a block's output is written: plain stores, or non-temporal ones (no read of each line
 * before it is written), 32-byte aligned or, at the 16 mod 32 where numpy's big arrays start,
 * shifted by 16 bytes with each store made of two neighbouring pieces. */
enum { PLAIN, STREAM, STREAM_SHIFTED };

/* Writes 32-byte pieces of output one after another from p. */
typedef struct {
    uint8_t *p;
    __m256i carry; /* STREAM_SHIFTED: the piece before p, whose upper half is not written yet */
    int carried;
} writer_t;

static inline void put(writer_t *w, __m256i v, const int mode)
{
    if (mode == PLAIN) {
        _mm256_storeu_si256((__m256i *)w->p, v);
    } else if (mode == STREAM) {
        _mm256_stream_si256((__m256i *)w->p, v);
    } else {
        if (w->carried)
            _mm256_stream_si256((__m256i *)(w->p - 16), _mm256_permute2x128_si256(w->carry, v, 0x21));
        else
            _mm_storeu_si128((__m128i *)w->p, _mm256_castsi256_si128(v));
        w->carry = v;
        w->carried = 1;
    }
    w->p += 32;
}

/* The output of group g's 256 two-byte elements from byte planes d0, d1 (transpose_groups'
 * layout): lo/hi of d0[k], d1[k] hold elements 16k .. 16k + 15 in lane 0 and 128 + 16k .. in
 * lane 1. The first half is written as it comes, the second kept in upper and written after. */
static inline void put_u16(writer_t *w, const __m256i *d0, const __m256i *d1, const int mode)
{
    __m256i upper[8];
    for (int k = 0; k < 8; k++) {
        __m256i lo = _mm256_unpacklo_epi8(d0[k], d1[k]), hi = _mm256_unpackhi_epi8(d0[k], d1[k]);
        put(w, _mm256_permute2x128_si256(lo, hi, 0x20), mode);
        upper[k] = _mm256_permute2x128_si256(lo, hi, 0x31);
    }
    for (int k = 0; k < 8; k++)
        put(w, upper[k], mode);
}

/* The same for four-byte elements from byte planes d0..d3. */
static inline void put_u32(writer_t *w, const __m256i *d0, const __m256i *d1, const __m256i *d2,
                           const __m256i *d3, const int mode)
{
    __m256i upper[16];
    for (int k = 0; k < 8; k++) {
        __m256i al = _mm256_unpacklo_epi8(d0[k], d1[k]), bl = _mm256_unpacklo_epi8(d2[k], d3[k]);
        __m256i ah = _mm256_unpackhi_epi8(d0[k], d1[k]), bh = _mm256_unpackhi_epi8(d2[k], d3[k]);
        /* e0: elements 16k + 0-3 | 128 + 16k + 0-3, e1: 4-7 | ..., e2: 8-11 | ..., e3: 12-15 */
        __m256i e0 = _mm256_unpacklo_epi16(al, bl), e1 = _mm256_unpackhi_epi16(al, bl);
        __m256i e2 = _mm256_unpacklo_epi16(ah, bh), e3 = _mm256_unpackhi_epi16(ah, bh);
        put(w, _mm256_permute2x128_si256(e0, e1, 0x20), mode);
        put(w, _mm256_permute2x128_si256(e2, e3, 0x20), mode);
        upper[2 * k] = _mm256_permute2x128_si256(e0, e1, 0x31);
        upper[2 * k + 1] = _mm256_permute2x128_si256(e2, e3, 0x31);
    }
    /* Elements 128..255 only after 0..127, so the output is written in order: with the two
     * halves' stores interleaved, reading 18 MB u32 frames took 27% longer. */
    for (int i = 0; i < 16; i++)
        put(w, upper[i], mode);
}

static inline __attribute__((always_inline)) void untranspose_elems(const uint8_t *in,
                                                                   uint8_t *out, size_t m,
                                                                   size_t elem_size,
                                                                   const int mode)
{
    size_t nrow = m / 8;
    writer_t w = {out, _mm256_setzero_si256(), 0};
    for (size_t g = 0; g < nrow; g += 32) {
        __m256i d[4][8];
        for (size_t j = 0; j < elem_size; j++)
            transpose_groups(in + j * m, nrow, g, d[j]);
        if (elem_size == 2)
            put_u16(&w, d[0], d[1], mode);
        else
            put_u32(&w, d[0], d[1], d[2], d[3], mode);
    }
    if (w.carried) /* the block's last 16 bytes */
        _mm_storeu_si128((__m128i *)(w.p - 16), _mm256_extracti128_si256(w.carry, 1));
}

int fc_untranspose_elems_avx2(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                              int stream)
{
    if ((elem_size != 2 && elem_size != 4) || (m / 8) % 32)
        return 0;
    uintptr_t misaligned = (uintptr_t)out & 31;
    if (!stream || (misaligned && misaligned != 16)) {
        untranspose_elems(in, out, m, elem_size, PLAIN);
        return 1;
    }
    if (misaligned)
        untranspose_elems(in, out, m, elem_size, STREAM_SHIFTED);
    else
        untranspose_elems(in, out, m, elem_size, STREAM);
    _mm_sfence(); /* the streamed lines are visible to other threads before we return */
    return 1;
}
