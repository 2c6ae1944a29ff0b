/* fc_codecs.h — the codecs' entry points (one decoder per file in codecs/), for the pipeline,
 * the engine's partial decodes and each other. Codecs know no threads: all they keep between
 * calls lives in the caller's scratch. The public ones (LZ4 blocks, bitshuffle) are in
 * fastchunk.h. */
#ifndef FC_CODECS_H
#define FC_CODECS_H

#include <stddef.h>
#include <stdint.h>

#include "common/fc_scratch.h"
#include "fastchunk.h"

/* Bitshuffle blocks of a chunk (fc_bitshuffle.c): decode only block b with want[b] != 0 (want
 * NULL: all); want[nwant - 1] stands for the raw tail after the last block. Blocks after the
 * last wanted one are not even walked, unless the tail is wanted. The bytes of skipped blocks
 * in dst are left as they were. dst_final as for fc_chunk_decode. */
int fc_bitshuffle_decode_blocks(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                                uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                                const uint8_t *want, size_t nwant, int dst_final,
                                fc_scratch_t *s, fc_error_t *err);
/* Elements per block of a bitshuffle chunk: from the LZ4 header, or cd / the default; 0 if the
 * stored chunk cannot say (the full decode reports why). */
/* Part `part` of `nparts` of a bitshuffle chunk: its share of the blocks (in order), and the raw
 * tail with the last part. nparts threads given parts 0..nparts-1 of one chunk decode it side by
 * side, each writing only its blocks' bytes of dst; together they check what one whole decode
 * checks (the last part walks every block header and the tail). A header the whole decode would
 * refuse is reported by part 0; the other parts then do nothing. */
int fc_bitshuffle_decode_part(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                              uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                              size_t part, size_t nparts, int dst_final, fc_scratch_t *s,
                              fc_error_t *err);
size_t fc_bitshuffle_block_elems(const uint8_t *src, size_t srclen, uint32_t elem_size,
                                 uint32_t block_elems, uint32_t compression);
/* Undo bitshuffle's transform of m elements (m % 8 == 0) of elem_size bytes, the transform of
 * a bitshuffle block and of a bit-shuffled Blosc block; planes: m * elem_size bytes of scratch
 * (unused for 1-byte elements). */
void fc_bit_untranspose(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                        uint8_t *planes);

/* HDF5 LZ4 filter 32004 (fc_lz4_filter.c). */
int fc_lz4_filter_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         fc_error_t *err);
/* LZF (fc_lzf.c). The *_upto decoders take any output size up to cap and say how much they
 * produced: for a stage whose output is the next filter's self-sized stream, not the chunk. */
int fc_lzf_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, fc_error_t *err);
int fc_lzf_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t cap,
                       size_t *produced, fc_error_t *err);
/* deflate (fc_inflate.c); fc_inflate_free releases the decode tables kept in the scratch. */
int fc_inflate_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      fc_scratch_t *s, fc_error_t *err);
int fc_inflate_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t cap,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err);
void fc_inflate_free(fc_scratch_t *s);

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

/* Scale-offset (fc_scaleoffset.c); cd as normalized by plan/filters.py. */
int fc_scaleoffset_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                          const uint32_t *cd, fc_error_t *err);
size_t fc_scaleoffset_output_size(const uint32_t *cd, size_t srclen);
/* szip (fc_szip.c); cd as normalized by plan/filters.py. */
int fc_szip_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                   const uint32_t *cd, fc_scratch_t *s, fc_error_t *err);

/* One or more zstd frames (fc_zstd.c; skippable frames ignored) that decode to exactly dstlen
 * bytes. */
int fc_zstd_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, fc_error_t *err);
/* The same with the decoder state kept in the worker's scratch; with produced non-NULL the
 * output may be shorter than dstlen (*produced says how long), as for the *_upto decoders. */
int fc_zstd_decode_scratch(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err);

/* HDF5 shuffle filter 2 (fc_shuffle.c), through the selected byte-unshuffle kernel. */
int fc_shuffle_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t elem_size);
/* Fletcher-32 checksum filter 3 (fc_fletcher32.c): check the last 4 bytes against the rest. */
int fc_fletcher32_verify(const uint8_t *src, size_t srclen, fc_error_t *err);

#endif
