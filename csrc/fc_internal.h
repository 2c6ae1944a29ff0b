/* fc_internal.h — helpers shared by the C files; not seen by Cython. */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastchunk.h"

/* Per-thread scratch, allocated once and grown on demand; never shared between threads. */
struct fc_scratch {
    uint8_t *block;   /* one decoded (still shuffled) bitshuffle block */
    size_t block_cap;
    uint8_t *planes;  /* one block after bit-untranspose, before byte-unshuffle; szip's byte
                       * planes of 32/64-bit pixels (the two never run at once) */
    size_t planes_cap;
    uint8_t *chunk;   /* a whole decoded chunk, when it cannot go straight to its destination */
    size_t chunk_cap;
    uint8_t *stage[2]; /* ping-pong buffers between pipeline stages */
    size_t stage_cap[2];
    uint8_t *want;     /* per bitshuffle block: decode it? (partial decodes, fc_partial.c) */
    size_t want_cap;
    void *zstream;     /* zlib's z_stream, set up on first use (fc_inflate.c) */
    void *zstd;        /* the zstd decoder's state, allocated on first use (fc_zstd.c) */
};

/* Grow *buf to at least need bytes (contents not kept). Returns 0 or FC_E_NOMEM. */
int fc_grow(uint8_t **buf, size_t *cap, size_t need);

static inline uint64_t fc_load_be64(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) |
           ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

static inline uint32_t fc_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

static inline uint32_t fc_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline int fc_fail(fc_error_t *err, int code, size_t at, const char *what)
{
    if (err) {
        err->code = code;
        err->at = (int64_t)at;
        err->what = what;
    }
    return code;
}

/* Element conversion (fc_convert.c): n elements from src (every stride-th element) to dst. */
typedef void (*fc_convert_fn)(uint8_t *dst, const uint8_t *src, int64_t n, int64_t stride);
/* The converter for a layout's conv, or NULL if conv names an unknown kind. */
fc_convert_fn fc_converter(uint32_t conv);
/* Output element size of a conversion. */
uint32_t fc_conv_dst_size(uint32_t conv);

/* Bitshuffle blocks of a chunk (fc_bitshuffle.c): decode only block b with want[b] != 0 (want
 * NULL: all); want[nwant - 1] stands for the raw tail after the last block. Blocks after the
 * last wanted one are not even walked, unless the tail is wanted. The bytes of skipped blocks
 * in dst are left as they were. */
int fc_bitshuffle_decode_blocks(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                                uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                                const uint8_t *want, size_t nwant, fc_scratch_t *s,
                                fc_error_t *err);
/* Elements per block of a bitshuffle chunk: from the LZ4 header, or cd / the default; 0 if the
 * stored chunk cannot say (the full decode reports why). */
size_t fc_bitshuffle_block_elems(const uint8_t *src, size_t srclen, uint32_t elem_size,
                                 uint32_t block_elems, uint32_t compression);

/* Undo bitshuffle's transform of m elements (m % 8 == 0) of elem_size bytes, the transform of
 * a bitshuffle block and of a bit-shuffled Blosc block; planes: m * elem_size bytes of scratch
 * (unused for 1-byte elements). */
void fc_bit_untranspose(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                        uint8_t *planes);

/* Pipeline stages (one file each). */
int fc_lz4_filter_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         fc_error_t *err);
int fc_lzf_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, fc_error_t *err);
/* The *_upto decoders take any output size up to cap and say how much they produced: for a
 * stage whose output is the next filter's self-sized stream, not the chunk. */
int fc_lzf_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t cap,
                       size_t *produced, fc_error_t *err);
int fc_inflate_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t cap,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err);
/* Blosc 1 (fc_blosc.c) and the codecs only Blosc uses; the codecs report where they failed
 * in *err_at. fc_blosc_output_size is the decoded size a buffer's header claims. */
int fc_blosc_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                    fc_scratch_t *s, fc_error_t *err);
size_t fc_blosc_output_size(const uint8_t *src, size_t srclen);
/* The same decode, of only the blocks b with want[b] != 0 (want NULL: all); the bytes of the
 * others in dst are left as they were. */
int fc_blosc_decode_blocks(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           const uint8_t *want, fc_scratch_t *s, fc_error_t *err);
/* Elements per block of a Blosc buffer, 0 if it has no block table or its blocks do not hold
 * whole elements (the full decode reports a bad header). */
size_t fc_blosc_block_elems(const uint8_t *src, size_t srclen, size_t elem_size);
int fc_blosclz_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      size_t *err_at);
int fc_snappy_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                     size_t *err_at);
/* Scale-offset (fc_scaleoffset.c); cd as normalized by filters.py. */
int fc_scaleoffset_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                          const uint32_t *cd, fc_error_t *err);
size_t fc_scaleoffset_output_size(const uint32_t *cd, size_t srclen);
/* szip (fc_szip.c); cd as normalized by filters.py. */
int fc_szip_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                   const uint32_t *cd, fc_scratch_t *s, fc_error_t *err);
/* One or more zstd frames (skippable frames ignored) that decode to exactly dstlen bytes. */
int fc_zstd_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, fc_error_t *err);
/* The same with the decoder state kept in the worker's scratch; with produced non-NULL the
 * output may be shorter than dstlen (*produced says how long), as for the *_upto decoders. */
int fc_zstd_decode_scratch(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err);
int fc_shuffle_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t elem_size);
int fc_fletcher32_verify(const uint8_t *src, size_t srclen, fc_error_t *err);
int fc_inflate_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      fc_scratch_t *s, fc_error_t *err);
void fc_inflate_free(fc_scratch_t *s);

/* Portable kernels (fc_bitshuffle_generic.c), also used for the tails of the SIMD ones. */
void fc_bitplane_untranspose_generic(const uint8_t *in, uint8_t *out, size_t nrow);
void fc_byte_unshuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
/* SIMD kernels, each in its own file compiled with its own flags. */
void fc_bitplane_untranspose_sse2(const uint8_t *in, uint8_t *out, size_t nrow);
void fc_byte_unshuffle_sse2(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
void fc_bitplane_untranspose_avx2(const uint8_t *in, uint8_t *out, size_t nrow);
void fc_byte_unshuffle_avx2(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
int fc_untranspose_elems_avx2(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size);
void fc_bitplane_untranspose_avx512(const uint8_t *in, uint8_t *out, size_t nrow);
void fc_byte_unshuffle_avx512(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
int fc_untranspose_elems_avx512(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size);

/* A literal run of n <= 32 bytes (LZF, BloscLZ) that fits both buffers: two fixed 16-byte
 * moves while 32 bytes remain in both (what they overshoot is overwritten later, since the
 * output fills in order), else exactly n. */
static inline void fc_copy_short_run(uint8_t *op, const uint8_t *ip, size_t n, size_t in_left,
                                     size_t out_left)
{
    if (in_left >= 32 && out_left >= 32) {
        memcpy(op, ip, 16);
        memcpy(op + 16, ip + 16, 16);
    } else {
        memcpy(op, ip, n);
    }
}

/* LZ77 match copy (LZF, BloscLZ): n bytes from d bytes back (d >= 1), overlapping allowed.
 * Writes up to 7 bytes past op + n: the caller needs that much output room. In detector frames
 * most matches are 4-16 bytes from offset 1 (zero runs), 4 (a repeated 32-bit pixel) or 8 and
 * more, so those take no loop over bytes. */
static inline void fc_copy_back(uint8_t *op, size_t d, size_t n)
{
    const uint8_t *m = op - d;
    if (d >= 8) {
        /* each 8-byte move reads bytes written at least 8 bytes before it */
        for (size_t i = 0; i < n; i += 8)
            memcpy(op + i, m + i, 8);
        return;
    }
    /* a period that divides 8: spread it over a word with a multiply, store that repeatedly */
    uint64_t w;
    if (d == 1) {
        w = m[0] * 0x0101010101010101ULL;
    } else if (d == 4) {
        uint32_t v;
        memcpy(&v, m, 4);
        w = v * 0x0000000100000001ULL;
    } else if (d == 2) {
        uint16_t v;
        memcpy(&v, m, 2);
        w = v * 0x0001000100010001ULL;
    } else {
        for (size_t i = 0; i < n; i++) /* periods 3, 5, 6, 7: rare */
            op[i] = m[i];
        return;
    }
    for (size_t i = 0; i < n; i += 8)
        memcpy(op + i, &w, 8);
}

/* The same for a match that fits in the room left (n <= room): the fast way while 8 bytes of
 * slack remain past it, else byte by byte (exact, and right for any overlap). */
static inline void fc_copy_back_within(uint8_t *op, size_t d, size_t n, size_t room)
{
    if (n + 8 <= room) {
        fc_copy_back(op, d, n);
        return;
    }
    const uint8_t *m = op - d;
    for (size_t i = 0; i < n; i++)
        op[i] = m[i];
}

/* Transpose the 8x8 bit matrix in x: bit 8r+c moves to bit 8c+r. */
static inline uint64_t fc_transpose8x8(uint64_t x)
{
    uint64_t t;
    t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAULL;
    x = x ^ t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCULL;
    x = x ^ t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ULL;
    x = x ^ t ^ (t << 28);
    return x;
}

/* The scalar bit-untranspose of groups g0..nrow-1 (kernels use it for their tails). */
static inline void fc_bitplane_groups(const uint8_t *in, uint8_t *out, size_t nrow, size_t g0)
{
    for (size_t g = g0; g < nrow; g++) {
        uint64_t x = 0;
        /* byte b of x holds bit b of the 8 elements of group g */
        for (int b = 0; b < 8; b++)
            x |= (uint64_t)in[(size_t)b * nrow + g] << (8 * b);
        x = fc_transpose8x8(x);
        for (int k = 0; k < 8; k++)
            out[8 * g + k] = (uint8_t)(x >> (8 * k));
    }
}

/* The scalar byte-unshuffle of elements i0..n-1 (kernels use it for their tails). */
static inline void fc_unshuffle_elems(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size,
                                      size_t i0)
{
    /* Walk the output in order so writes stream; reads hop between elem_size planes. */
    for (size_t i = i0; i < n; i++)
        for (size_t j = 0; j < elem_size; j++)
            out[i * elem_size + j] = in[j * n + i];
}

#endif
