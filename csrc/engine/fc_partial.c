/* fc_partial.c — which bitshuffle or Blosc blocks of a chunk hold the elements a region selects.
 *
 * Bitshuffle blocks are independent: block b holds elements [b*B, (b+1)*B). A small region of
 * a big chunk (a 64x64 patch of a 4M frame, one pixel of each frame of a stack) lies in a few
 * blocks, so only those need LZ4 and the untranspose; the rest are skipped by their size
 * headers. This file marks the blocks; codecs/fc_bitshuffle.c and codecs/fc_blosc.c decode the
 * marked ones. */
#include <string.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"
#include "engine/fc_partial.h"
#include "engine/fc_region.h"

/* Mark in want[0:nblocks] the blocks (block_elems elements each) that hold an element of the
 * region (cs, cnt, with r->step) of a chunk of lay, and in want[nblocks] whether it needs the
 * raw tail (past the last block); returns how many blocks were marked. */
static size_t mark_blocks(const fc_read_t *r, const fc_layout_t *lay, const int64_t *cs,
                          const int64_t *cnt, size_t block_elems, uint8_t *want, size_t nblocks)
{
    int nd = r->ndim, ra = fc_run_axis(nd, cnt);
    int64_t stride[FC_MAX_DIMS], idx[FC_MAX_DIMS];
    size_t marked = 0;
    memset(want, 0, nblocks + 1);
    memset(idx, 0, sizeof idx);
    stride[nd - 1] = 1;
    for (int d = nd - 2; d >= 0; d--)
        stride[d] = stride[d + 1] * lay->chunk_shape[d + 1];
    int64_t be = (int64_t)block_elems, n = cnt[ra];
    int64_t step = (n > 1 ? r->step[ra] : 1) * stride[ra]; /* as in fc_scatter(): no overflow */
    for (;;) {
        int64_t first = 0;
        for (int d = 0; d < nd; d++)
            first += (cs[d] + idx[d] * r->step[d]) * stride[d];
        /* One run: n elements step apart. Wide steps mark element by element, otherwise every
         * block the run spans. Elements past the last block sit in the raw tail: want[nblocks]. */
        int64_t inc = step > be ? step : be;
        int64_t endpos = first + (n - 1) * step;
        for (int64_t e = first; e <= endpos; e += inc) {
            int64_t b = e / be;
            if (b >= (int64_t)nblocks) {
                want[nblocks] = 1;
                break;
            }
            if (!want[b]) {
                want[b] = 1;
                marked++;
            }
        }
        int64_t lastb = endpos / be < (int64_t)nblocks ? endpos / be : (int64_t)nblocks;
        if (step <= be && !want[lastb]) {
            want[lastb] = 1; /* the run's last block (or the tail), when inc skipped past it */
            marked += lastb < (int64_t)nblocks;
        }
        if (marked == nblocks) { /* every block: no run can add one (mark the tail too) */
            want[nblocks] = 1;
            return marked;
        }
        if (!fc_next_run(idx, cnt, ra))
            return marked;
    }
}

/* Blosc blocks are independent too, and found through the buffer's table of block starts. */
static int blosc_partial(const fc_read_t *r, const fc_layout_t *lay, const fc_row_t *row,
                         const int64_t *cs, const int64_t *cnt, const uint8_t *src, uint8_t *dst,
                         size_t nbytes, fc_scratch_t *s, fc_error_t *err, int *rc)
{
    size_t n = nbytes / lay->elem_size;
    size_t be = fc_blosc_block_elems(src, (size_t)row->nbytes, lay->elem_size);
    if (be == 0 || be >= n)
        return 0; /* one block, or a header the whole decode reports */
    size_t nblocks = n / be + (n % be != 0);
    if (fc_grow(&s->want, &s->want_cap, nblocks + 1)) {
        *rc = fc_fail(err, FC_E_NOMEM, 0, "partial decode scratch");
        return 1;
    }
    mark_blocks(r, lay, cs, cnt, be, s->want, nblocks);
    *rc = fc_blosc_decode_blocks(src, (size_t)row->nbytes, dst, nbytes, s->want, s, err);
    return 1;
}

int fc_partial_decode(const fc_read_t *r, const fc_layout_t *lay, const fc_row_t *row,
                      const int64_t *cs, const int64_t *cnt, const uint8_t *src, uint8_t *dst,
                      size_t nbytes, fc_scratch_t *s, fc_error_t *err, int *rc)
{
    const fc_filter_t *f = &lay->filters[0];
    if (lay->nfilters != 1 || (row->filter_mask & 1u) ||
        (f->id != FC_FILTER_BITSHUFFLE && f->id != FC_FILTER_BLOSC))
        return 0;
    size_t n = nbytes / lay->elem_size, selected = 1;
    for (int d = 0; d < r->ndim; d++)
        selected *= (size_t)cnt[d];
    if (selected * 4 > n) /* a quarter of the chunk or more: decode it whole */
        return 0;
    if (f->id == FC_FILTER_BLOSC)
        return blosc_partial(r, lay, row, cs, cnt, src, dst, nbytes, s, err, rc);
    size_t be = fc_bitshuffle_block_elems(src, (size_t)row->nbytes, f->cd[0], f->cd[1], f->cd[2]);
    if (be == 0 || f->cd[0] != lay->elem_size)
        return 0; /* a bad header: the whole decode reports it */
    size_t nblocks = n / be + ((n % be) >= 8);
    if (fc_grow(&s->want, &s->want_cap, nblocks + 1)) {
        *rc = fc_fail(err, FC_E_NOMEM, 0, "partial decode scratch");
        return 1;
    }
    mark_blocks(r, lay, cs, cnt, be, s->want, nblocks);
    *rc = fc_bitshuffle_decode_blocks(src, (size_t)row->nbytes, dst, nbytes, f->cd[0], f->cd[1],
                                      f->cd[2], s->want, nblocks + 1, 0, s, err);
    return 1;
}
