/* fc_plan_check.c — a read plan checked before anything runs (fc_plan_check.h). */
#include <errno.h>
#include <sys/stat.h>

#include "common/fc_fail.h"
#include "engine/fc_convert.h"
#include "engine/fc_plan_check.h"
#include "engine/fc_rows.h"

#define MAX_CHUNK_BYTES ((int64_t)1 << 40)

int fc_read_validate(const fc_read_t *r, fc_error_t *err)
{
    int nd = r->ndim;
    if (nd < 1 || nd > FC_MAX_DIMS || r->nlayouts < 1 || r->num_threads < 1 || !r->out ||
        r->out_elem_size == 0)
        return fc_fail(err, FC_E_INVALID, 0, "bad read parameters");
    for (int l = 0; l < r->nlayouts; l++) {
        const fc_layout_t *lay = &r->layouts[l];
        uint32_t out_size = lay->conv ? fc_conv_dst_size(lay->conv) : lay->elem_size;
        if (lay->ndim != nd || out_size != r->out_elem_size || lay->nfilters > FC_MAX_FILTERS ||
            (lay->conv && (!fc_converter(lay->conv) ||
                           (FC_CONV_SRC(lay->conv) & ~FC_INT_SIGNED) != lay->elem_size)))
            return fc_fail(err, FC_E_INVALID, 0, "layout does not match the output");
        int64_t n = lay->elem_size;
        for (int d = 0; d < nd; d++) {
            if (lay->chunk_shape[d] < 1 || lay->chunk_shape[d] > MAX_CHUNK_BYTES / n)
                return fc_fail(err, FC_E_INVALID, 0, "bad chunk shape");
            n *= lay->chunk_shape[d];
        }
    }
    for (int d = 0; d < nd; d++)
        if (r->step[d] < 1 || r->out_shape[d] < 0)
            return fc_fail(err, FC_E_INVALID, 0, "bad step or output shape");
    for (int64_t i = 0; i < r->nrows; i++) {
        const fc_row_t *row = &r->rows[i];
        err->row = i;
        if (row->file_no < 0 || row->file_no >= r->nfiles || row->layout_no < 0 ||
            row->layout_no >= r->nlayouts || row->offset < 0 || row->nbytes < 0 ||
            row->nbytes > MAX_CHUNK_BYTES || row->offset > INT64_MAX - row->nbytes)
            return fc_fail(err, FC_E_INVALID, 0, "bad plan row");
        const fc_layout_t *lay = &r->layouts[row->layout_no];
        const int64_t *cs = r->regions + i * 3 * nd, *os = cs + nd, *cnt = os + nd;
        /* Written so that no sum or product can overflow: a wrapped one would pass. */
        for (int d = 0; d < nd; d++) {
            if (cnt[d] < 1 || cs[d] < 0 || os[d] < 0 || cs[d] >= lay->chunk_shape[d] ||
                cnt[d] - 1 > (lay->chunk_shape[d] - 1 - cs[d]) / r->step[d] ||
                os[d] > r->out_shape[d] - cnt[d])
                return fc_fail(err, FC_E_INVALID, 0, "plan region outside the chunk or the output");
        }
    }
    err->row = -1;
    return FC_OK;
}

/* The most stored bytes a chunk can take under its active filters: the worst expansion of
 * each (LZ4 32004 with 1-byte blocks stored raw: 5x; bitshuffle+LZ4 with 8-byte blocks: 2x;
 * deflate: stored blocks add 5 bytes per 64 kB) plus slack for headers and checksums. */
static int64_t max_stored_bytes(const fc_layout_t *lay, const fc_row_t *row)
{
    int64_t b = fc_chunk_elems(lay) * (int64_t)lay->elem_size;
    int unfiltered = (lay->flags & FC_LAYOUT_DONT_FILTER_PARTIAL) && (row->flags & FC_ROW_PARTIAL);
    for (uint32_t f = 0; f < lay->nfilters && !unfiltered; f++) {
        if ((row->filter_mask >> f) & 1u)
            continue;
        const fc_filter_t *flt = &lay->filters[f];
        if (flt->id == FC_FILTER_LZ4)
            b *= 5;
        else if (flt->id == FC_FILTER_DEFLATE || flt->id == FC_FILTER_LZF || flt->id == FC_FILTER_ZSTD ||
                 (flt->id == FC_FILTER_BITSHUFFLE && flt->cd[2] != FC_BSHUF_NONE))
            b *= 2;
        else if (flt->id != FC_FILTER_SHUFFLE && flt->id != FC_FILTER_BITSHUFFLE &&
                 flt->id != FC_FILTER_FLETCHER32 && flt->id != FC_FILTER_SCALEOFFSET)
            b *= 8; /* a filter we do not decode: the decode will say so; do not judge its size */
        if (b > MAX_CHUNK_BYTES)
            return MAX_CHUNK_BYTES;
    }
    return b + ((int64_t)1 << 20);
}

int fc_rows_check(const fc_read_t *r, int64_t i, int64_t j, fc_error_t *err)
{
    int64_t file_end = INT64_MAX;
    int file_no = -1;
    for (int64_t k = i; k < j; k++) {
        const fc_row_t *row = &r->rows[k];
        err->row = k;
        if (row->nbytes > max_stored_bytes(&r->layouts[row->layout_no], row))
            return fc_fail(err, FC_E_CORRUPT, 0, "stored size is implausible for the chunk (damaged chunk index?)");
        if (row->file_no != file_no) {
            struct stat st;
            file_no = row->file_no;
            if (fstat(r->fds[file_no], &st) != 0) {
                err->sys_errno = errno;
                return fc_fail(err, FC_E_IO, (size_t)row->offset, "cannot stat the file");
            }
            file_end = S_ISREG(st.st_mode) ? (int64_t)st.st_size : INT64_MAX;
        }
        /* Say so before allocating anything for bytes that are not there. */
        if (row->offset + row->nbytes > file_end)
            return fc_fail(err, FC_E_SHORT_READ, (size_t)file_end,
                           "the chunk lies past the end of the file (file cut short, or a damaged chunk index)");
    }
    return FC_OK;
}
