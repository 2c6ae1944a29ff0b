/* fc_scratch.h — a decoding thread's scratch memory, and the rule it grows by.
 *
 * Codecs and the engine both keep buffers here; fc_scratch_new/free are the pipeline's
 * (pipeline/fc_pipeline_scratch.c), since freeing a scratch frees each codec's state too. */
#ifndef FC_SCRATCH_H
#define FC_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

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
    uint8_t *want;     /* per bitshuffle block: decode it? (partial decodes, engine/fc_partial.c) */
    size_t want_cap;
    void *zstream;     /* inflate's decode tables, allocated on first use (codecs/fc_inflate.c) */
    void *zstd;        /* the zstd decoder's state, allocated on first use (codecs/fc_zstd.c) */
};

/* Grow *buf to at least need bytes (contents not kept). Returns 0 or FC_E_NOMEM. */
int fc_grow(uint8_t **buf, size_t *cap, size_t need);

#endif
