/* fc_scaleoffset.c — HDF5's scale-offset filter (id 6), decoded as HDF5 1.14 does, safe on
 * hostile bytes.
 *
 * A chunk is a 21-byte header — minbits (u32 LE), the byte size of minval (u8), minval (LE, at
 * most 8 bytes used), zero padding — then every element's minbits-bit value, most significant
 * bit first, packed without gaps. An element is then:
 *   integers      value + minval, wrapping in the element's width;
 *   floats        (float)value / 10^D + min (D the "decimal scale", min minval's bits as the
 *                 type), in the type's own precision, exactly HDF5's expression;
 * except that the all-ones value is the fill value when the dataset defines one. minbits equal
 * to the full width stores the elements as they are; an integer filter whose fixed minbits is
 * the full width leaves the chunk untouched (no header). HDF5 packs from and unpacks into
 * little-endian words; a big-endian dataset's elements are byte-swapped at the end.
 *
 * cd (normalized by plan/filters.py): [0] scale type (0 float D-scale, 2 integer), [1] scale
 * factor (D, or an integer's fixed minbits), [2] elements per chunk, [3] size | float << 8 |
 * big-endian << 9 | fill defined << 10, [4..5] the fill value's bytes (LE words). */
#include <math.h>
#include <string.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"

#define HEADER 21
#define SO_FLOAT_DSCALE 0
#define SO_INT 2

typedef struct {
    uint32_t type, nelmts, size, is_float, big_endian, fill_defined;
    int32_t factor;
    uint64_t fill; /* the fill value's bits, little-endian word */
} so_params_t;

static so_params_t so_params(const uint32_t *cd)
{
    so_params_t p;
    p.type = cd[0];
    p.factor = (int32_t)cd[1];
    p.nelmts = cd[2];
    p.size = cd[3] & 0xffu;
    p.is_float = (cd[3] >> 8) & 1u;
    p.big_endian = (cd[3] >> 9) & 1u;
    p.fill_defined = (cd[3] >> 10) & 1u;
    p.fill = (uint64_t)cd[4] | ((uint64_t)cd[5] << 32);
    return p;
}

/* Integers whose fixed minbits is the full width: HDF5 returns the chunk as it came. */
static int passes_through(const so_params_t *p)
{
    return !p->is_float && p->factor >= 0 && (uint32_t)p->factor == p->size * 8;
}

size_t fc_scaleoffset_output_size(const uint32_t *cd, size_t srclen)
{
    so_params_t p = so_params(cd);
    return passes_through(&p) ? srclen : (size_t)p.nelmts * p.size;
}

static inline uint64_t load_be64(const uint8_t *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return __builtin_bswap64(w);
}

/* n (1..57) bits at bit position pos, most significant first; bytes past len read as 0 (the
 * caller has checked the last value ends inside len). */
static inline uint64_t bits_at(const uint8_t *s, size_t len, uint64_t pos, unsigned n)
{
    size_t byte = (size_t)(pos >> 3);
    uint64_t w = 0;
    if (byte + 8 <= len) {
        w = load_be64(s + byte);
    } else {
        for (size_t i = 0; i < 8; i++)
            w = (w << 8) | (byte + i < len ? s[byte + i] : 0);
    }
    return (w << (pos & 7)) >> (64 - n);
}

/* The value of element i (minbits 1..64). */
static inline uint64_t packed_value(const uint8_t *s, size_t len, uint64_t i, unsigned minbits)
{
    uint64_t pos = i * minbits;
    if (minbits <= 57)
        return bits_at(s, len, pos, minbits);
    uint64_t hi = bits_at(s, len, pos, minbits - 32);
    return (hi << 32) | bits_at(s, len, pos + minbits - 32, 32);
}

static inline void store_element(uint8_t *d, uint64_t v, uint32_t size, uint32_t big_endian)
{
    for (uint32_t b = 0; b < size; b++)
        d[big_endian ? size - 1 - b : b] = (uint8_t)(v >> (8 * b));
}

/* One element from its packed value, as HDF5's post-decompression computes it. */
static inline uint64_t element_bits(const so_params_t *p, uint64_t v, uint64_t all_ones,
                                    uint64_t minval, float scale_f, double scale_d)
{
    if (p->fill_defined && v == all_ones)
        return p->fill;
    if (!p->is_float)
        return v + minval; /* truncated to the width by store_element: HDF5's wrap-around */
    if (p->size == 4) {
        float min, x;
        uint32_t minbits32 = (uint32_t)minval, out;
        memcpy(&min, &minbits32, 4);
        x = (float)(int32_t)(uint32_t)v / scale_f + min;
        memcpy(&out, &x, 4);
        return out;
    }
    double min, x;
    memcpy(&min, &minval, 8);
    x = (double)(int64_t)v / scale_d + min;
    uint64_t out;
    memcpy(&out, &x, 8);
    return out;
}

static void swap_elements(uint8_t *d, size_t n, uint32_t size)
{
    for (size_t i = 0; i < n; i++, d += size)
        for (uint32_t b = 0; b < size / 2; b++) {
            uint8_t t = d[b];
            d[b] = d[size - 1 - b];
            d[size - 1 - b] = t;
        }
}

int fc_scaleoffset_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                          const uint32_t *cd, fc_error_t *err)
{
    so_params_t p = so_params(cd);
    int size_ok = p.is_float ? (p.size == 4 || p.size == 8)
                             : (p.size == 1 || p.size == 2 || p.size == 4 || p.size == 8);
    if (!size_ok || p.type != (p.is_float ? SO_FLOAT_DSCALE : SO_INT))
        return fc_fail(err, FC_E_UNSUPPORTED, 0, "scaleoffset: parameters HDF5 cannot decode");
    if (passes_through(&p)) {
        if (srclen < dstlen)
            return fc_fail(err, FC_E_CORRUPT, srclen, "scaleoffset: chunk shorter than its elements");
        if (dstlen)
            memcpy(dst, src, dstlen);
        return FC_OK;
    }
    if (!p.is_float && p.factor > (int32_t)(p.size * 8))
        return fc_fail(err, FC_E_CORRUPT, 0, "scaleoffset: fixed minbits exceed the type width");
    if (dstlen != (size_t)p.nelmts * p.size)
        return fc_fail(err, FC_E_CORRUPT, 0, "scaleoffset: element count differs from the chunk size");
    if (srclen < HEADER)
        return fc_fail(err, FC_E_CORRUPT, srclen, "scaleoffset: chunk shorter than its 21-byte header");

    uint32_t minbits = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
                       (uint32_t)src[3] << 24;
    if (minbits > p.size * 8)
        return fc_fail(err, FC_E_CORRUPT, 0, "scaleoffset: minbits exceed the type width");
    unsigned minval_size = src[4] < 8 ? src[4] : 8;
    uint64_t minval = 0;
    for (unsigned i = 0; i < minval_size; i++)
        minval |= (uint64_t)src[5 + i] << (8 * i);

    const uint8_t *packed = src + HEADER;
    size_t plen = srclen - HEADER;
    if (minbits == p.size * 8) {
        /* full width: the elements as they are (little-endian) */
        if (plen < dstlen)
            return fc_fail(err, FC_E_CORRUPT, srclen, "scaleoffset: elements run past the chunk end");
        if (dstlen)
            memcpy(dst, packed, dstlen);
        if (p.big_endian)
            swap_elements(dst, p.nelmts, p.size);
        return FC_OK;
    }
    if (((uint64_t)p.nelmts * minbits + 7) / 8 > plen)
        return fc_fail(err, FC_E_CORRUPT, srclen, "scaleoffset: packed values run past the chunk end");

    uint64_t all_ones = minbits ? (~(uint64_t)0 >> (64 - minbits)) : 0;
    float scale_f = powf(10.0f, (float)p.factor);
    double scale_d = pow(10.0, (double)p.factor);
    for (uint64_t i = 0; i < p.nelmts; i++) {
        uint64_t v = minbits ? packed_value(packed, plen, i, minbits) : 0;
        store_element(dst + i * p.size, element_bits(&p, v, all_ones, minval, scale_f, scale_d),
                      p.size, p.big_endian);
    }
    return FC_OK;
}
