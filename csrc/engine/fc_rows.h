/* fc_rows.h — what a plan row says about its chunk: its size, whether the row before names the
 * same stored chunk, whether it lands in `out` as one run. */
#ifndef FC_ROWS_H
#define FC_ROWS_H

#include <stdint.h>

#include "fastchunk.h"

/* Elements in one chunk of lay. */
static inline int64_t fc_chunk_elems(const fc_layout_t *lay)
{
    int64_t n = 1;
    for (int d = 0; d < lay->ndim; d++)
        n *= lay->chunk_shape[d];
    return n;
}

/* 1 when rows i-1 and i name the same stored chunk (a chunk hit by several regions of one
 * selection: the planner puts them next to each other; it is read and decoded once). */
int fc_row_same_chunk(const fc_read_t *r, int64_t i);
/* Element offset in `out` of the region (cs, os, cnt) if the whole chunk lands there as one
 * contiguous run of the stored type (a same-size conversion is then done in place); -1
 * otherwise. */
int64_t fc_row_direct_offset(const fc_read_t *r, const fc_layout_t *lay, const int64_t *cs,
                             const int64_t *os, const int64_t *cnt);
/* Byte offset in `out` where row i's stored bytes can be read straight to (unfiltered, whole
 * chunk, one contiguous run of `out`, big enough to be worth its own pread), or -1. */
int64_t fc_row_direct_read(const fc_read_t *r, int64_t i);

#endif
