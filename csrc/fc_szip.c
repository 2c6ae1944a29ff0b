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
 *
 * cd (normalized by filters.py): [0] flags (FC_SZIP_MSB | FC_SZIP_NN), [1] pixels per block,
 * [2] bits per pixel, [3] pixels per scanline. */
#include <string.h>

#include "fc_internal.h"

#define HEADER 4
#define ROS 5              /* the zero-block count that means "to the end of the segment" */
#define SE_MAX 90          /* the largest second-extension code: diagonal 12 */
#define MAX_BLOCK 64

typedef struct {
    const uint8_t *p, *end;
    uint64_t acc; /* the low `nbits` bits are the next bits of the stream */
    int nbits;
} bitreader_t;

static inline void refill(bitreader_t *b)
{
    if (b->nbits > 55)
        return;
    if (b->end - b->p >= 8) {
        uint64_t w;
        memcpy(&w, b->p, 8);
        w = __builtin_bswap64(w);
        int take = (63 - b->nbits) >> 3; /* whole bytes that fit (1..7): nbits ends in 56..63 */
        b->acc = (b->acc << (8 * take)) | (w >> (64 - 8 * take));
        b->p += take;
        b->nbits += 8 * take;
        return;
    }
    while (b->nbits <= 55 && b->p < b->end) {
        b->acc = (b->acc << 8) | *b->p++;
        b->nbits += 8;
    }
}

/* n (1..32) bits; -1 when the stream ends first. */
static inline int get_bits(bitreader_t *b, int n, uint32_t *v)
{
    refill(b);
    if (b->nbits < n)
        return -1;
    b->nbits -= n;
    *v = (uint32_t)((b->acc >> b->nbits) & (~(uint64_t)0 >> (64 - n)));
    return 0;
}

/* A fundamental sequence: the count of 0 bits before the next 1. */
static inline int get_fs(bitreader_t *b, uint32_t *v)
{
    uint64_t zeros = 0;
    for (;;) {
        refill(b);
        if (b->nbits == 0)
            return -1;
        uint64_t live = b->acc & (~(uint64_t)0 >> (64 - b->nbits));
        if (live) {
            int top = 63 - __builtin_clzll(live); /* the 1 ending the sequence */
            zeros += (uint64_t)(b->nbits - 1 - top);
            b->nbits = top;
            if (zeros > UINT32_MAX)
                return -1;
            *v = (uint32_t)zeros;
            return 0;
        }
        zeros += (uint64_t)b->nbits;
        b->nbits = 0;
    }
}

/* Where decoded samples go: NN post-processing, padding dropped, bytes written. */
typedef struct {
    uint8_t *dst;
    size_t need;      /* stream samples that reach the output (the last block may be cut) */
    size_t done;      /* stream samples so far */
    size_t rsi_len;   /* samples per RSI: one padded scanline */
    size_t scanline;  /* pixels per scanline: columns at or past it are padding */
    size_t col;       /* column of the next sample in its RSI */
    size_t out;       /* output samples written */
    int pixel, msb, nn;
    uint32_t xmax, med, last;
    size_t words, plane, word; /* 32/64-bit pixels: plane (byte) and pixel of the next byte */
    uint32_t word_size;
} sink_t;

static inline uint32_t unmap(const sink_t *k, uint32_t x, uint32_t d)
{
    uint32_t half = (d >> 1) + (d & 1);
    uint32_t mask = (x & k->med) ? k->xmax : 0; /* theta is xmax - x above the middle, else x */
    if (half <= (mask ^ x))
        return x + ((d >> 1) ^ (~((d & 1) - 1))); /* + d/2, or - (d + 1)/2 for odd d */
    return mask ^ d;
}

/* Take one sample; returns 1 once every sample the output needs has come. */
static inline int emit(sink_t *k, uint32_t v)
{
    if (k->nn) {
        v = k->col == 0 ? v : unmap(k, k->last, v);
        k->last = v;
    }
    if (k->col < k->scanline) {
        if (k->word_size) {
            k->dst[k->word * k->word_size + k->plane] = (uint8_t)v;
            if (++k->word == k->words) {
                k->word = 0;
                k->plane++;
            }
        } else {
            uint8_t *d = k->dst + k->out * (size_t)k->pixel;
            for (int i = 0; i < k->pixel; i++)
                d[k->msb ? k->pixel - 1 - i : i] = (uint8_t)(v >> (8 * i));
        }
        k->out++;
    }
    if (++k->col == k->rsi_len)
        k->col = 0;
    return ++k->done == k->need;
}

static int truncated(const bitreader_t *b, const uint8_t *src, fc_error_t *err)
{
    return fc_fail(err, FC_E_CORRUPT, (size_t)(b->p - src), "szip: stream ends before the chunk does");
}

int fc_szip_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                   const uint32_t *cd, fc_error_t *err)
{
    uint32_t J = cd[1], bpp = cd[2], scanline = cd[3];
    if (J < 2 || J > MAX_BLOCK || J % 2 || scanline == 0 ||
        !((bpp >= 1 && bpp <= 32) || bpp == 64))
        return fc_fail(err, FC_E_UNSUPPORTED, 0, "szip: parameters libaec cannot decode either");
    if (srclen < HEADER)
        return fc_fail(err, FC_E_CORRUPT, srclen, "szip: chunk shorter than its 4-byte header");
    uint32_t stored = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
                      (uint32_t)src[3] << 24;
    if (stored != dstlen)
        return fc_fail(err, FC_E_CORRUPT, 0, "szip: stored size differs from the chunk size");

    sink_t k = {0};
    int n = (int)bpp;
    if (bpp == 32 || bpp == 64) {
        k.word_size = bpp / 8;
        n = 8;
        if (dstlen % k.word_size)
            return fc_fail(err, FC_E_CORRUPT, 0, "szip: chunk size is not a whole number of pixels");
        k.words = dstlen / k.word_size;
    }
    k.pixel = n > 16 ? 4 : n > 8 ? 2 : 1;
    if (dstlen % (size_t)k.pixel)
        return fc_fail(err, FC_E_CORRUPT, 0, "szip: chunk size is not a whole number of pixels");
    size_t nsamples = dstlen / (size_t)k.pixel;
    if (nsamples == 0)
        return FC_OK;
    k.dst = dst;
    k.msb = (cd[0] & FC_SZIP_MSB) != 0;
    k.nn = (cd[0] & FC_SZIP_NN) != 0;
    k.scanline = scanline;
    k.rsi_len = ((size_t)scanline + J - 1) / J * J;
    k.need = (nsamples - 1) / scanline * k.rsi_len + (nsamples - 1) % scanline + 1;
    k.xmax = (uint32_t)(~(uint64_t)0 >> (64 - n));
    k.med = k.xmax / 2 + 1;
    int id_len = n > 16 ? 5 : n > 8 ? 4 : 3;
    uint32_t id_raw = (1u << id_len) - 1;
    size_t rsi_blocks = k.rsi_len / J;

    bitreader_t b = {src + HEADER, src + srclen, 0, 0};
    uint32_t high[MAX_BLOCK];
    for (;;) {
        int ref = k.nn && k.col == 0; /* this block opens an RSI: reference sample first */
        uint32_t id, v;
        if (get_bits(&b, id_len, &id))
            return truncated(&b, src, err);
        if (id == id_raw) {
            for (uint32_t i = 0; i < J; i++) {
                if (get_bits(&b, n, &v))
                    return truncated(&b, src, err);
                if (emit(&k, v))
                    return FC_OK;
            }
            continue;
        }
        uint32_t second_ext = 0;
        if (id == 0 && get_bits(&b, 1, &second_ext))
            return truncated(&b, src, err);
        if (ref) {
            if (get_bits(&b, n, &v))
                return truncated(&b, src, err);
            if (emit(&k, v))
                return FC_OK;
        }
        if (id == 0 && second_ext) {
            for (uint32_t i = (uint32_t)ref; i < J;) {
                uint32_t m, diag = 0;
                if (get_fs(&b, &m))
                    return truncated(&b, src, err);
                if (m > SE_MAX)
                    return fc_fail(err, FC_E_CORRUPT, (size_t)(b.p - src),
                                   "szip: second-extension code out of range");
                while ((diag + 1) * (diag + 2) / 2 <= m)
                    diag++;
                uint32_t y = m - diag * (diag + 1) / 2;
                if (i % 2 == 0) {
                    if (emit(&k, diag - y))
                        return FC_OK;
                    i++;
                }
                if (emit(&k, y))
                    return FC_OK;
                i++;
            }
        } else if (id == 0) {
            uint32_t f;
            if (get_fs(&b, &f))
                return truncated(&b, src, err);
            size_t blocks = (size_t)f + 1;
            size_t used = k.col / J; /* whole blocks of this RSI before this one */
            if (blocks == ROS) {
                size_t to_rsi = rsi_blocks - used, to_segment = 64 - used % 64;
                blocks = to_rsi < to_segment ? to_rsi : to_segment;
            } else if (blocks > ROS) {
                blocks--;
            }
            if (blocks > rsi_blocks - used)
                return fc_fail(err, FC_E_CORRUPT, (size_t)(b.p - src),
                               "szip: zero blocks run past the end of their scanline");
            for (size_t i = blocks * J - (size_t)ref; i; i--)
                if (emit(&k, 0))
                    return FC_OK;
        } else {
            int kbits = (int)id - 1;
            uint32_t count = J - (uint32_t)ref;
            for (uint32_t i = 0; i < count; i++) {
                if (get_fs(&b, &high[i]))
                    return truncated(&b, src, err);
                high[i] <<= kbits;
            }
            for (uint32_t i = 0; i < count; i++) {
                uint32_t low = 0;
                if (kbits && get_bits(&b, kbits, &low))
                    return truncated(&b, src, err);
                if (emit(&k, high[i] + low))
                    return FC_OK;
            }
        }
    }
}
