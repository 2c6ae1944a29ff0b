/* fc_szip.c — HDF5's szip filter (id 4): the CCSDS 121.0-B adaptive entropy coder as libaec's
 * szlib interface writes it (the library HDF5 builds against), safe on hostile bytes.
 *
 * A chunk is its decoded size (u32 little-endian), then one bit stream, most significant bit
 * first. The stream codes samples of n bits (n = bits per pixel; 32- and 64-bit pixels are
 * coded as 8-bit samples of their bytes, plane by plane: byte 0 of every pixel, then byte 1...)
 * in blocks of J samples (pixels per block), a reference sample interval (RSI) being one
 * scanline of pixels rounded up to whole blocks (the rounding is padding, dropped on output).
 * Each block starts with an option id of 3 (n <= 8), 4 (n <= 16) or 5 bits:
 *   0, then 1 bit   0: zero block: a fundamental sequence (FS: count of 0 bits before a 1) f
 *                      gives f + 1 all-zero blocks, except 4 (ROS): zeros to the end of the RSI
 *                      or of the current group of 64 blocks, and f > 4: f blocks;
 *                   1: second extension: FS codes m, each a pair (i - y, y) for the diagonal
 *                      i(i + 1)/2 <= m with y = m - i(i + 1)/2 (m <= 90);
 *   max (all ones)  J samples of n bits as they are;
 *   otherwise       split with k = id - 1: J FS codes (the high parts), then J k-bit low parts.
 * With the nearest-neighbour option (NN) every RSI's first block starts with a raw n-bit
 * reference sample (an uncompressed block counts it among its J) and the other samples are
 * mapped prediction errors d, undone against the previous sample x with
 * theta = min(x, xmax - x): d <= 2 theta gives x + d/2 (d even) or x - (d + 1)/2 (d odd),
 * else d (x below the middle) or xmax - d. Samples are written in pixel_size = 1, 2 or 4 bytes
 * (n <= 8, <= 16, more), most significant byte first when the MSB option is set.
 * Arithmetic is libaec's (32-bit, wrapping) so hostile streams decode the same bytes too.
 * 32/64-bit pixels decode their byte planes into scratch; fc_shuffle_decode then puts them
 * together (the planes are exactly HDF5 shuffle's layout).
 *
 * cd (normalized by plan/filters.py): [0] flags (FC_SZIP_MSB | FC_SZIP_NN), [1] pixels per
 * block, [2] bits per pixel, [3] pixels per scanline. */
#include <string.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"
#include "common/fc_load.h"

#define HEADER 4
#define ROS 5              /* the zero-block count that means "to the end of the segment" */
#define SE_MAX 90          /* the largest second-extension code: diagonal 12 */
#define MAX_BLOCK 64

/* The diagonal i of a second-extension code m: i(i + 1)/2 <= m < (i + 1)(i + 2)/2. */
static const uint8_t SE_DIAGONAL[SE_MAX + 1] = {
    0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11,
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12};

typedef struct {
    const uint8_t *s;
    size_t len;
    uint64_t pos, end; /* bit positions: the next bit, and the stream's end */
} bitreader_t;

/* The 57 or more bits from pos on, first bit at the top (bytes past the end read as 0). */
static inline uint64_t peek(const bitreader_t *b)
{
    size_t byte = (size_t)(b->pos >> 3);
    uint64_t w = 0;
    if (byte + 8 <= b->len) {
        w = fc_load_be64(b->s + byte);
    } else {
        for (size_t i = 0; i < 8; i++)
            w = (w << 8) | (byte + i < b->len ? b->s[byte + i] : 0);
    }
    return w << (b->pos & 7);
}

/* n (1..32) bits; -1 when the stream ends first. */
static inline int get_bits(bitreader_t *b, int n, uint32_t *v)
{
    if (b->end - b->pos < (uint64_t)n)
        return -1;
    *v = (uint32_t)(peek(b) >> (64 - n));
    b->pos += (uint64_t)n;
    return 0;
}

/* A fundamental sequence: the count of 0 bits before the next 1. */
static inline int get_fs(bitreader_t *b, uint32_t *v)
{
    uint64_t zeros = 0;
    for (;;) {
        uint64_t left = b->end - b->pos, valid = left < 57 ? left : 57;
        if (valid == 0)
            return -1;
        uint64_t w = peek(b);
        int z = w ? __builtin_clzll(w) : 64;
        if ((uint64_t)z < valid) {
            zeros += (uint64_t)z;
            b->pos += (uint64_t)z + 1;
            if (zeros > UINT32_MAX)
                return -1;
            *v = (uint32_t)zeros;
            return 0;
        }
        zeros += valid;
        b->pos += valid;
    }
}

/* Add the next n-bit values (n 1..32) to v[0..count): several from each 64-bit window. Returns
 * how many were read (fewer than count where the stream ends). */
static inline uint32_t add_bits_run(bitreader_t *b, uint32_t *v, uint32_t count, int n)
{
    uint64_t left = b->end - b->pos;
    if ((uint64_t)count * (uint64_t)n > left)
        count = (uint32_t)(left / (uint64_t)n); /* the stream ends inside this run (rare) */
    for (uint32_t i = 0; i < count;) {
        uint64_t w = peek(b);
        uint32_t m = (uint32_t)(64 - (b->pos & 7)) / (uint32_t)n; /* whole values in w */
        if (m > count - i)
            m = count - i;
        for (uint32_t j = 0; j < m; j++, i++) {
            v[i] += (uint32_t)(w >> (64 - n));
            w <<= n;
        }
        b->pos += (uint64_t)m * (uint64_t)n;
    }
    return count;
}

/* count fundamental sequences into v, each shifted left by k: as many from one 64-bit window as
 * it holds (the chain from one code to the next is then a shift and a count, not a load).
 * Returns how many were read (fewer where the stream ends or a sequence is implausible). */
static inline uint32_t get_fs_run(bitreader_t *b, uint32_t *v, uint32_t count, int k)
{
    uint32_t i = 0;
    while (i < count) {
        /* w holds 64 - (pos & 7) bits; one fewer is used, or a sequence filling all 64 would
         * shift w by 64 (found by fuzz/targets/szip.c) */
        uint64_t left = b->end - b->pos, valid = 63 - (b->pos & 7);
        if (valid > left)
            valid = left;
        uint64_t w = peek(b), used = 0;
        while (i < count && w) {
            uint64_t z = (uint64_t)__builtin_clzll(w);
            if (used + z + 1 > valid)
                break;
            v[i++] = (uint32_t)z << k;
            w <<= z + 1; /* z + 1 <= valid < 64: w's low bits fill with 0 */
            used += z + 1;
        }
        b->pos += used;
        if (i < count && used == 0) { /* a sequence longer than the window */
            if (get_fs(b, &v[i]))
                return i;
            v[i++] <<= k;
        }
    }
    return i;
}

/* Where decoded samples go: NN post-processing, padding dropped, bytes written. Blocks are
 * taken whole (a block never straddles two RSIs), each step in its own tight loop. */
typedef struct {
    uint8_t *dst;     /* the chunk, or for 32/64-bit pixels their byte planes */
    size_t need;      /* stream samples that reach the output (the last block may be cut) */
    size_t done;      /* stream samples so far */
    size_t rsi_len;   /* samples per RSI: one padded scanline */
    size_t scanline;  /* pixels per scanline: columns at or past it are padding */
    size_t col;       /* column of the next sample in its RSI */
    size_t out;       /* output samples written */
    int pixel, msb, nn;
    uint32_t xmax, med, last;
} sink_t;

static inline uint32_t unmap(uint32_t x, uint32_t d, uint32_t xmax, uint32_t med)
{
    uint32_t half = (d >> 1) + (d & 1);
    uint32_t mask = (x & med) ? xmax : 0; /* theta is xmax - x above the middle, else x */
    uint32_t near = x + ((d >> 1) ^ (~((d & 1) - 1))); /* + d/2, or - (d + 1)/2 for odd d */
    uint32_t far = mask ^ d;
    /* Selected without a branch: near zero (the common pixel) either may come. */
    uint32_t take_near = 0u - (uint32_t)(half <= (mask ^ x));
    return (near & take_near) | (far & ~take_near);
}

/* NN: mapped differences to samples, in place; an RSI's first sample is its reference. */
static void unmap_run(sink_t *k, uint32_t *v, size_t n)
{
    size_t i = 0;
    uint32_t x = k->last;
    if (k->col == 0 && n) {
        x = v[0];
        i = 1;
    }
    for (; i < n; i++)
        v[i] = x = unmap(x, v[i], k->xmax, k->med);
    k->last = x;
}

static void write_run(sink_t *k, const uint32_t *v, size_t n)
{
    uint8_t *d = k->dst + k->out * (size_t)k->pixel;
    if (k->pixel == 1) {
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)v[i];
    } else if (k->pixel == 2) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        for (size_t i = 0; i < n; i++, d += 2) { /* one 16-bit store, not two byte stores */
            uint16_t w = k->msb ? __builtin_bswap16((uint16_t)v[i]) : (uint16_t)v[i];
            memcpy(d, &w, 2);
        }
#else
        int hi = k->msb ? 0 : 1; /* where the high byte goes */
        for (size_t i = 0; i < n; i++, d += 2) {
            d[hi] = (uint8_t)(v[i] >> 8);
            d[1 - hi] = (uint8_t)v[i];
        }
#endif
    } else if (k->msb) {
        for (size_t i = 0; i < n; i++, d += 4) {
            d[0] = (uint8_t)(v[i] >> 24);
            d[1] = (uint8_t)(v[i] >> 16);
            d[2] = (uint8_t)(v[i] >> 8);
            d[3] = (uint8_t)v[i];
        }
    } else {
        for (size_t i = 0; i < n; i++, d += 4) {
            d[0] = (uint8_t)v[i];
            d[1] = (uint8_t)(v[i] >> 8);
            d[2] = (uint8_t)(v[i] >> 16);
            d[3] = (uint8_t)(v[i] >> 24);
        }
    }
}

/* Of the next n samples (cut to what the output still needs), how many are columns of the
 * scanline rather than padding. */
static inline size_t columns(const sink_t *k, size_t *n)
{
    if (*n > k->need - k->done)
        *n = k->need - k->done;
    if (k->col >= k->scanline)
        return 0;
    return k->scanline - k->col < *n ? k->scanline - k->col : *n;
}

/* Move past n samples, of which keep were written; returns 1 once every sample the output
 * needs has come. */
static inline int advance(sink_t *k, size_t n, size_t keep)
{
    k->out += keep;
    k->col += n;
    if (k->col == k->rsi_len)
        k->col = 0;
    k->done += n;
    return k->done == k->need;
}

/* Take the n samples of one block (or fewer, a block the stream cut short). */
static int put_samples(sink_t *k, uint32_t *v, size_t n)
{
    size_t keep = columns(k, &n);
    if (k->nn)
        unmap_run(k, v, n);
    write_run(k, v, keep);
    return advance(k, n, keep);
}

/* Take n copies of one sample that needs no NN step (a zero run): a block's worth or more,
 * never past the end of the RSI. */
static int put_constant(sink_t *k, uint32_t value, size_t n)
{
    size_t keep = columns(k, &n);
    uint8_t *d = k->dst + k->out * (size_t)k->pixel;
    if (k->pixel == 1) {
        memset(d, (int)(uint8_t)value, keep);
    } else if (keep) {
        uint32_t one[1] = {value};
        write_run(k, one, 1);
        for (size_t i = 1; i < keep; i++)
            memcpy(d + i * (size_t)k->pixel, d, (size_t)k->pixel);
    }
    if (n)
        k->last = value;
    return advance(k, n, keep);
}

static int truncated(const bitreader_t *b, fc_error_t *err)
{
    return fc_fail(err, FC_E_CORRUPT, HEADER + (size_t)(b->pos >> 3),
                   "szip: stream ends before the chunk does");
}

/* The stream ended after c samples of a block: fine if those were all the output needs (libaec
 * takes such a stream too), else an error. */
static int cut_short(sink_t *k, uint32_t *v, size_t c, const bitreader_t *b, fc_error_t *err)
{
    if (k->done + c >= k->need) {
        put_samples(k, v, c);
        return FC_OK;
    }
    return truncated(b, err);
}

/* Decode blocks into k until it has every sample it needs. */
static int decode_blocks(sink_t *k, bitreader_t *b, uint32_t J, int n, fc_error_t *err)
{
    int id_len = n > 16 ? 5 : n > 8 ? 4 : 3;
    uint32_t id_raw = (1u << id_len) - 1;
    size_t rsi_blocks = k->rsi_len / J;
    uint32_t v[MAX_BLOCK];
    for (;;) {
        uint32_t ref = k->nn && k->col == 0; /* this block opens an RSI: reference sample first */
        uint32_t id, second_ext = 0, c = 0;
        if (get_bits(b, id_len, &id))
            return truncated(b, err);
        if (id == id_raw) {
            memset(v, 0, J * sizeof *v);
            c = add_bits_run(b, v, J, n);
            if (c < J)
                return cut_short(k, v, c, b, err);
            if (put_samples(k, v, J))
                return FC_OK;
            continue;
        }
        if (id == 0 && get_bits(b, 1, &second_ext))
            return truncated(b, err);
        if (ref && get_bits(b, n, &v[c++]))
            return truncated(b, err);
        if (id == 0 && second_ext) {
            uint32_t m[MAX_BLOCK / 2], codes = J / 2; /* with a reference, its pair is half */
            uint32_t got = get_fs_run(b, m, codes, 0);
            for (uint32_t i = 0; i < got; i++) {
                if (m[i] > SE_MAX)
                    return fc_fail(err, FC_E_CORRUPT, HEADER + (size_t)(b->pos >> 3),
                                   "szip: second-extension code out of range");
                uint32_t diag = SE_DIAGONAL[m[i]], y = m[i] - diag * (diag + 1) / 2;
                if (c % 2 == 0)
                    v[c++] = diag - y;
                v[c++] = y;
            }
            if (got < codes)
                return cut_short(k, v, c, b, err);
        } else if (id == 0) {
            uint32_t f;
            if (get_fs(b, &f))
                return cut_short(k, v, c, b, err);
            size_t blocks = (size_t)f + 1;
            size_t used = k->col / J; /* whole blocks of this RSI before this one */
            if (blocks == ROS) {
                size_t to_rsi = rsi_blocks - used, to_segment = 64 - used % 64;
                blocks = to_rsi < to_segment ? to_rsi : to_segment;
            } else if (blocks > ROS) {
                blocks--;
            }
            if (blocks > rsi_blocks - used)
                return fc_fail(err, FC_E_CORRUPT, HEADER + (size_t)(b->pos >> 3),
                               "szip: zero blocks run past the end of their scanline");
            /* Zero differences repeat the previous sample (NN), or are zeros. */
            uint32_t value = !k->nn ? 0 : ref ? v[0] : k->last;
            if (put_constant(k, value, blocks * J))
                return FC_OK;
            continue;
        } else {
            int kbits = (int)id - 1;
            uint32_t first = c;
            if (get_fs_run(b, v + first, J - first, kbits) < J - first)
                return cut_short(k, v, first, b, err);
            if (kbits && (c = first + add_bits_run(b, v + first, J - first, kbits)) < J)
                return cut_short(k, v, c, b, err);
        }
        if (put_samples(k, v, J))
            return FC_OK;
    }
}

int fc_szip_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                   const uint32_t *cd, fc_scratch_t *s, fc_error_t *err)
{
    uint32_t J = cd[1], bpp = cd[2], scanline = cd[3];
    if (J < 2 || J > MAX_BLOCK || J % 2 || scanline == 0 ||
        !((bpp >= 1 && bpp <= 32) || bpp == 64))
        return fc_fail(err, FC_E_UNSUPPORTED, 0, "szip: parameters libaec cannot decode either");
    if (srclen < HEADER)
        return fc_fail(err, FC_E_CORRUPT, srclen, "szip: chunk shorter than its 4-byte header");
    uint32_t stored = fc_load_le32(src);
    if (stored != dstlen)
        return fc_fail(err, FC_E_CORRUPT, 0, "szip: stored size differs from the chunk size");

    sink_t k = {0};
    int n = (int)bpp;
    size_t word_size = 0; /* 32/64-bit pixels: coded as 8-bit samples, byte plane by plane */
    if (bpp == 32 || bpp == 64) {
        word_size = bpp / 8;
        n = 8;
        if (dstlen % word_size)
            return fc_fail(err, FC_E_CORRUPT, 0, "szip: chunk size is not a whole number of pixels");
    }
    k.pixel = n > 16 ? 4 : n > 8 ? 2 : 1;
    if (dstlen % (size_t)k.pixel)
        return fc_fail(err, FC_E_CORRUPT, 0, "szip: chunk size is not a whole number of pixels");
    size_t nsamples = dstlen / (size_t)k.pixel;
    if (nsamples == 0)
        return FC_OK;
    k.dst = dst;
    if (word_size) { /* the planes go to scratch, then the SIMD unshuffle puts pixels together */
        if (fc_grow(&s->planes, &s->planes_cap, dstlen))
            return fc_fail(err, FC_E_NOMEM, 0, "szip: byte planes");
        k.dst = s->planes;
    }
    k.msb = (cd[0] & FC_SZIP_MSB) != 0;
    k.nn = (cd[0] & FC_SZIP_NN) != 0;
    k.scanline = scanline;
    k.rsi_len = ((size_t)scanline + J - 1) / J * J;
    k.need = (nsamples - 1) / scanline * k.rsi_len + (nsamples - 1) % scanline + 1;
    k.xmax = (uint32_t)(~(uint64_t)0 >> (64 - n));
    k.med = k.xmax / 2 + 1;

    bitreader_t b = {src + HEADER, srclen - HEADER, 0, (uint64_t)(srclen - HEADER) * 8};
    int rc = decode_blocks(&k, &b, J, n, err);
    if (rc == FC_OK && word_size)
        fc_shuffle_decode(k.dst, dstlen, dst, word_size);
    return rc;
}
