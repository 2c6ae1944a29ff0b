/* fc_partial.h — decoding only the blocks of a chunk that a small region needs. */
#ifndef FC_PARTIAL_H
#define FC_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "fastchunk.h"

/* Decode only the bitshuffle or Blosc blocks a small region (cs, cnt) of a one-filter chunk
 * needs, into the chunk-sized dst: returns 1 with the status in *rc, or 0 if the row does not
 * qualify (decode it whole). Blocks not needed are skipped by their size headers or the block
 * table, so their bytes are not checked. */
int fc_partial_decode(const fc_read_t *r, const fc_layout_t *lay, const fc_row_t *row,
                      const int64_t *cs, const int64_t *cnt, const uint8_t *src, uint8_t *dst,
                      size_t nbytes, fc_scratch_t *s, fc_error_t *err, int *rc);

#endif
