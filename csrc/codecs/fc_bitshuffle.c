/* fc_bitshuffle.c — bitshuffle filter 32008: framing, LZ4 or zstd per block, untranspose per
 * block.
 *
 * Stored chunk with LZ4 or zstd (all header fields big-endian):
 *   u64 uncompressed bytes | u32 block size in bytes | { u32 C | C bytes of one LZ4 block or
 *   zstd frame } ... | (n % 8) elements copied raw.
 * Without compression there is no header and the blocks follow each other uncompressed.
 * Each block is decoded into per-thread scratch that stays in L1/L2 and untransposed
 * straight into the destination (one fused pass per block). */
#include <string.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"
#include "common/fc_load.h"

/* The bitshuffle library's default: 8 kB worth of elements, a multiple of 8, at least 128. */
static size_t default_block_elems(size_t elem_size)
{
    size_t b = 8192 / elem_size / 8 * 8;
    return b < 128 ? 128 : b;
}

/* A chunk at least this big, decoded whole into the caller's array, is written with
 * non-temporal stores where the kernel has them: not reading each output line before writing
 * it made one real Eiger 4M u32 frame (18 MB) decode 1.12-1.18x faster on one core, and a
 * 2-thread read of 4M frames ~5 % faster (docs/benchmarks.md, "bslz4 on one core"). 1M u16
 * frames (2 MB) gained nothing measurable and fit in L3 for whatever reads them next, so
 * smaller chunks keep plain stores. */
#define STREAM_MIN_BYTES ((size_t)4 << 20)

/* Undo the bit transpose of one block of m elements (m % 8 == 0) of elem_size bytes. */
static void untranspose_block(const fc_kernels_t *k, const uint8_t *in, uint8_t *out, size_t m,
                              size_t elem_size, uint8_t *planes, int stream)
{
    if (elem_size == 1) {
        k->bitplane_untranspose(in, out, m / 8);
        return;
    }
    if (k->untranspose_elems && k->untranspose_elems(in, out, m, elem_size, stream))
        return; /* one pass, no planes in between */
    /* Shuffled layout is [byte][bit][m/8]: each byte position is one independent plane. */
    for (size_t j = 0; j < elem_size; j++)
        k->bitplane_untranspose(in + j * m, planes + j * m, m / 8);
    k->byte_unshuffle(planes, out, m, elem_size);
}

void fc_bit_untranspose(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                        uint8_t *planes)
{
    untranspose_block(fc_kernels(), in, out, m, elem_size, planes, 0);
}

/* Elements in the block starting at element done: full blocks, then the rest rounded down to 8. */
static inline size_t block_len(size_t n, size_t done, size_t be)
{
    size_t left = n - done;
    return left >= be ? be : left - left % 8;
}

/* Is block b wanted? (want NULL: every block; want[nwant - 1] is the raw tail) */
static inline int wanted(const uint8_t *want, size_t nwant, size_t b)
{
    return !want || (b < nwant - 1 && want[b]);
}

/* Blocks to walk: all of them (SIZE_MAX) when the tail is wanted, else up to the last wanted. */
static size_t blocks_to_walk(const uint8_t *want, size_t nwant)
{
    if (!want || want[nwant - 1])
        return SIZE_MAX;
    size_t b = nwant - 1;
    while (b > 0 && !want[b - 1])
        b--;
    return b;
}

static int decode_raw(const uint8_t *src, size_t srclen, uint8_t *dst, size_t n, size_t es,
                      size_t be, const uint8_t *want, size_t nwant, int stream, fc_scratch_t *s,
                      fc_error_t *err)
{
    const fc_kernels_t *k = fc_kernels();
    if (srclen != n * es)
        return fc_fail(err, FC_E_CORRUPT, srclen, "bitshuffle (uncompressed): stored size is not the chunk size");
    size_t first = block_len(n, 0, be);
    if (es > 1 && fc_grow(&s->planes, &s->planes_cap, first * es))
        return fc_fail(err, FC_E_NOMEM, 0, "bitshuffle scratch");
    size_t done = 0, b = 0, walk = blocks_to_walk(want, nwant);
    for (size_t m; (m = block_len(n, done, be)) > 0; done += m, b++) {
        if (b >= walk)
            return FC_OK;
        if (wanted(want, nwant, b))
            untranspose_block(k, src + done * es, dst + done * es, m, es, s->planes, stream);
    }
    if (n > done) /* src is NULL for an empty chunk (found by fuzz/pipeline) */
        memcpy(dst + done * es, src + done * es, (n - done) * es);
    return FC_OK;
}

/* One compressed block of m bytes into out; err->at is made relative to the chunk. */
static int decode_block(uint32_t compression, const uint8_t *src, size_t pos, size_t c,
                        uint8_t *out, size_t m, fc_scratch_t *s, fc_error_t *err)
{
    if (compression == FC_BSHUF_ZSTD) {
        int rc = fc_zstd_decode_scratch(src + pos, c, out, m, NULL, s, err);
        if (rc != FC_OK && err)
            err->at += (int64_t)pos;
        return rc;
    }
    size_t at = 0;
    if (fc_lz4_block_decode(src + pos, c, out, m, &at) != FC_OK)
        return fc_fail(err, FC_E_CORRUPT, pos + at, "bitshuffle: LZ4 block is corrupt");
    return FC_OK;
}

static int decode_compressed(const uint8_t *src, size_t srclen, uint8_t *dst, size_t n, size_t es,
                             uint32_t compression, const uint8_t *want, size_t nwant,
                             int stream, fc_scratch_t *s, fc_error_t *err)
{
    const fc_kernels_t *k = fc_kernels();
    if (srclen < 12)
        return fc_fail(err, FC_E_CORRUPT, 0, "bitshuffle: chunk shorter than its 12-byte header");
    if (fc_load_be64(src) != (uint64_t)(n * es))
        return fc_fail(err, FC_E_CORRUPT, 0, "bitshuffle: header size disagrees with the chunk size");
    uint32_t block_bytes = fc_load_be32(src + 8);
    if (block_bytes == 0 || block_bytes % (8 * es))
        return fc_fail(err, FC_E_CORRUPT, 8, "bitshuffle: block size is not a multiple of 8 elements");
    size_t be = block_bytes / es;
    /* Scratch never needs more than one block of this chunk, whatever the header claims. */
    size_t first = block_len(n, 0, be);
    if (fc_grow(&s->block, &s->block_cap, first * es) ||
        (es > 1 && fc_grow(&s->planes, &s->planes_cap, first * es)))
        return fc_fail(err, FC_E_NOMEM, 0, "bitshuffle scratch");
    size_t pos = 12, done = 0, b = 0, walk = blocks_to_walk(want, nwant);
    for (size_t m; (m = block_len(n, done, be)) > 0; done += m, b++) {
        if (b >= walk)
            return FC_OK; /* nothing wanted from here on */
        if (srclen - pos < 4)
            return fc_fail(err, FC_E_CORRUPT, pos, "bitshuffle: chunk ends before a block header");
        size_t c = fc_load_be32(src + pos);
        pos += 4;
        if (c > srclen - pos)
            return fc_fail(err, FC_E_CORRUPT, pos - 4, "bitshuffle: compressed block runs past the end of the chunk");
        if (!wanted(want, nwant, b)) { /* a partial decode skips it by its size header */
            pos += c;
            continue;
        }
        int rc = decode_block(compression, src, pos, c, s->block, m * es, s, err);
        if (rc != FC_OK)
            return rc;
        untranspose_block(k, s->block, dst + done * es, m, es, s->planes, stream);
        pos += c;
    }
    size_t tail = (n - done) * es;
    if (srclen - pos != tail)
        return fc_fail(err, FC_E_CORRUPT, pos, "bitshuffle: bytes after the last block do not match the raw tail");
    memcpy(dst + done * es, src + pos, tail);
    return FC_OK;
}

int fc_bitshuffle_decode_blocks(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                                uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                                const uint8_t *want, size_t nwant, int dst_final,
                                fc_scratch_t *s, fc_error_t *err)
{
    if (elem_size == 0 || dstlen % elem_size)
        return fc_fail(err, FC_E_INVALID, 0, "bitshuffle: chunk size is not a whole number of elements");
    size_t n = dstlen / elem_size;
    int stream = dst_final && dstlen >= STREAM_MIN_BYTES; /* partial decodes pass dst_final 0 */
    if (compression == FC_BSHUF_LZ4 || compression == FC_BSHUF_ZSTD)
        return decode_compressed(src, srclen, dst, n, elem_size, compression, want, nwant, stream,
                                 s, err);
    if (compression == FC_BSHUF_NONE) {
        size_t be = block_elems ? block_elems : default_block_elems(elem_size);
        if (be % 8)
            return fc_fail(err, FC_E_UNSUPPORTED, 0, "bitshuffle: block size is not a multiple of 8");
        return decode_raw(src, srclen, dst, n, elem_size, be, want, nwant, stream, s, err);
    }
    return fc_fail(err, FC_E_UNSUPPORTED, 0, "bitshuffle: compression other than LZ4, zstd or none");
}

int fc_bitshuffle_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                         int dst_final, fc_scratch_t *s, fc_error_t *err)
{
    return fc_bitshuffle_decode_blocks(src, srclen, dst, dstlen, elem_size, block_elems,
                                       compression, NULL, 0, dst_final, s, err);
}

int fc_bitshuffle_decode_part(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                              uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                              size_t part, size_t nparts, int dst_final, fc_scratch_t *s,
                              fc_error_t *err)
{
    size_t be = fc_bitshuffle_block_elems(src, srclen, elem_size, block_elems, compression);
    size_t n = be ? dstlen / elem_size : 0;
    size_t nblocks = be ? n / be + ((n % be) >= 8) : 0;
    if (nparts <= 1 || nblocks == 0 || dstlen % elem_size) {
        if (part != 0)
            return FC_OK; /* part 0 decodes it whole, or reports what is wrong */
        return fc_bitshuffle_decode_blocks(src, srclen, dst, dstlen, elem_size, block_elems,
                                           compression, NULL, 0, dst_final, s, err);
    }
    size_t b0 = part * nblocks / nparts, b1 = (part + 1) * nblocks / nparts;
    if (fc_grow(&s->want, &s->want_cap, nblocks + 1))
        return fc_fail(err, FC_E_NOMEM, 0, "bitshuffle scratch");
    memset(s->want, 0, nblocks + 1);
    memset(s->want + b0, 1, b1 - b0);
    s->want[nblocks] = part + 1 == nparts; /* the raw tail, and the walk to the end */
    return fc_bitshuffle_decode_blocks(src, srclen, dst, dstlen, elem_size, block_elems,
                                       compression, s->want, nblocks + 1, dst_final, s, err);
}

size_t fc_bitshuffle_block_elems(const uint8_t *src, size_t srclen, uint32_t elem_size,
                                 uint32_t block_elems, uint32_t compression)
{
    if (elem_size == 0)
        return 0;
    if (compression == FC_BSHUF_LZ4 || compression == FC_BSHUF_ZSTD) {
        if (srclen < 12)
            return 0;
        uint32_t bytes = fc_load_be32(src + 8);
        return bytes == 0 || bytes % (8 * elem_size) ? 0 : bytes / elem_size;
    }
    if (compression == FC_BSHUF_NONE) {
        size_t be = block_elems ? block_elems : default_block_elems(elem_size);
        return be % 8 ? 0 : be;
    }
    return 0;
}
