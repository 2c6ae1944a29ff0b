/* fc_rows.h — what a plan row says about its chunk: its size, whether the row before names the
 * same stored chunk, whether it lands in `out` as one run. The small ones are inline: they run
 * once or twice per row, and 300,000 tiny chunks make that a hot loop. */
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
static inline int fc_row_same_chunk(const fc_read_t *r, int64_t i)
{
    if (i < 1)
        return 0;
    const fc_row_t *a = &r->rows[i - 1], *b = &r->rows[i];
    return a->offset == b->offset && a->nbytes == b->nbytes && a->file_no == b->file_no &&
           a->layout_no == b->layout_no && a->filter_mask == b->filter_mask && a->flags == b->flags;
}

/* Element offset in `out` of the region (cs, os, cnt) if the whole chunk lands there as one
 * contiguous run of the stored type (a same-size conversion is then done in place); -1
 * otherwise. */
static inline int64_t fc_row_direct_offset(const fc_read_t *r, const fc_layout_t *lay,
                                           const int64_t *cs, const int64_t *os, const int64_t *cnt)
{
    int nd = r->ndim, first_wide = nd;
    if (lay->elem_size != r->out_elem_size)
        return -1;
    for (int d = 0; d < nd; d++) {
        if (cs[d] != 0 || cnt[d] != lay->chunk_shape[d] || (cnt[d] > 1 && r->step[d] != 1))
            return -1;
        if (cnt[d] > 1 && first_wide == nd)
            first_wide = d;
    }
    for (int d = first_wide + 1; d < nd; d++)
        if (cnt[d] != r->out_shape[d])
            return -1;
    int64_t off = 0;
    for (int d = 0; d < nd; d++)
        off = off * r->out_shape[d] + os[d];
    return off;
}

/* Byte offset in `out` where row i's stored bytes can be read straight to (unfiltered, whole
 * chunk, one contiguous run of `out`, big enough to be worth its own pread), or -1. */
int64_t fc_row_direct_read(const fc_read_t *r, int64_t i);

#endif
