/* fc_rows.c — what a plan row says about its chunk (fc_rows.h). */
#include "engine/fc_rows.h"

/* Unfiltered chunks smaller than this are coalesced by the I/O thread and copied instead of
 * read one pread each: 300,000 one-element chunks as 300,000 preads cost 0.2 s. */
#define DIRECT_READ_MIN ((int64_t)64 << 10)

int64_t fc_row_direct_read(const fc_read_t *r, int64_t i)
{
    const fc_row_t *row = &r->rows[i];
    const fc_layout_t *lay = &r->layouts[row->layout_no];
    if (lay->conv)
        return -1;
    for (uint32_t f = 0; f < lay->nfilters; f++)
        if (!((row->filter_mask >> f) & 1u))
            return -1;
    if (row->nbytes != fc_chunk_elems(lay) * (int64_t)lay->elem_size || row->nbytes < DIRECT_READ_MIN)
        return -1;
    const int64_t *cs = r->regions + i * 3 * r->ndim, *os = cs + r->ndim, *cnt = os + r->ndim;
    int64_t off = fc_row_direct_offset(r, lay, cs, os, cnt);
    return off < 0 ? -1 : off * (int64_t)lay->elem_size;
}
