/* fc_run_rows.c — decoding plan rows into `out`.
 *
 * A chunk that maps onto one contiguous run of `out` is decoded straight there; any other is
 * decoded into the thread's scratch and the needed part scattered. 1 or N threads give the
 * same bytes. */
#include "common/fc_fail.h"
#include "common/fc_scratch.h"
#include "engine/fc_convert.h"
#include "engine/fc_partial.h"
#include "engine/fc_pread.h"
#include "engine/fc_rows.h"
#include "engine/fc_run_rows.h"
#include "engine/fc_scatter.h"

int fc_row_decode(const fc_read_t *r, int64_t i, const uint8_t *src, fc_scratch_t *s, int reuse,
                  int *in_scratch, fc_error_t *err)
{
    const fc_row_t *row = &r->rows[i];
    const fc_layout_t *lay = &r->layouts[row->layout_no];
    const int64_t *cs = r->regions + i * 3 * r->ndim, *os = cs + r->ndim, *cnt = os + r->ndim;
    *in_scratch = 0;
    if (reuse) {
        fc_scatter(r, lay, s->chunk, cs, os, cnt);
        *in_scratch = 1;
        return FC_OK;
    }
    size_t nbytes = (size_t)fc_chunk_elems(lay) * lay->elem_size;
    int unfiltered = (lay->flags & FC_LAYOUT_DONT_FILTER_PARTIAL) && (row->flags & FC_ROW_PARTIAL);
    int64_t direct = fc_row_direct_offset(r, lay, cs, os, cnt);
    uint8_t *dst;
    if (direct >= 0) {
        dst = r->out + direct * (int64_t)lay->elem_size;
    } else {
        if (fc_grow(&s->chunk, &s->chunk_cap, nbytes))
            return fc_fail(err, FC_E_NOMEM, 0, "chunk scratch");
        dst = s->chunk;
    }
    int rc;
    int shared = i + 1 < r->nrows && fc_row_same_chunk(r, i + 1);
    if (direct >= 0 || unfiltered || shared ||
        !fc_partial_decode(r, lay, row, cs, cnt, src, dst, nbytes, s, err, &rc))
        rc = fc_chunk_decode(lay, row->filter_mask, unfiltered, src, (size_t)row->nbytes, dst,
                             nbytes, direct >= 0 && !lay->conv, s, err);
    if (rc != FC_OK)
        return rc;
    if (direct < 0) {
        fc_scatter(r, lay, s->chunk, cs, os, cnt);
        *in_scratch = 1;
    } else if (lay->conv) {
        fc_converter(lay->conv)(dst, dst, fc_chunk_elems(lay), 1); /* same size: in place */
    }
    return FC_OK;
}

int fc_task_run(fc_job_t *job, const fc_task_t *t, fc_scratch_t *s, fc_error_t *err)
{
    const fc_read_t *r = &job->req;
    if (!t->buf) {
        /* Unfiltered bytes that land as one run of `out`: the worker reads them straight there,
         * so big contiguous reads are split over the pool. */
        const fc_row_t *row = &r->rows[t->row0];
        err->row = t->row0;
        __atomic_add_fetch(&job->decoded, 1, __ATOMIC_RELAXED);
        return fc_pread_full(r->fds[row->file_no], r->out + t->file_offset,
                             (size_t)row->nbytes, row->offset, err);
    }
    int in_scratch = 0;
    for (int64_t i = t->row0; i < t->row1; i++) {
        if (i > t->row0 && __atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE))
            return FC_OK; /* someone else's error or a cancel: it is already recorded */
        const uint8_t *src = t->buf->data + (r->rows[i].offset - t->file_offset);
        int reuse = i > t->row0 && in_scratch && fc_row_same_chunk(r, i);
        if (!reuse)
            __atomic_add_fetch(&job->decoded, 1, __ATOMIC_RELAXED);
        int rc = fc_row_decode(r, i, src, s, reuse, &in_scratch, err);
        if (rc != FC_OK) {
            err->row = i;
            return rc;
        }
    }
    return FC_OK;
}
