/* fc_plan.c — plan rows of a box selection (start, step, count per axis) over a chunk index.
 *
 * The Python planner (fastchunk.plan) does the same with numpy, and still does for index-list
 * selections; this loop, handed to it as a function, is its fast path for the common case: a
 * 16-chunk slab is planned in ~2 us instead of ~50 us of numpy calls, time during which the
 * other cores sit idle between small reads. */
#include "fastchunk.h"

/* Floor and ceiling of a / b for b > 0 (C division truncates toward zero). */
static inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

/* a * b for non-negative a, b, saturating at INT64_MAX (grids of over 2^63 chunks exist only
 * in hostile files, but the count must not wrap). */
static int64_t mul_sat(int64_t a, int64_t b)
{
    return b != 0 && a > INT64_MAX / b ? INT64_MAX : a * b;
}

int64_t fc_plan_touched(const fc_box_t *box)
{
    int64_t total = 1;
    for (int d = 0; d < box->ndim; d++) {
        int64_t a = box->start[d], st = box->step[d], n = box->count[d], cs = box->chunk[d];
        if (n == 0)
            return 0;
        int64_t along = st >= cs ? n : (a + (n - 1) * st) / cs - a / cs + 1;
        total = mul_sat(total, along);
    }
    return total;
}

int64_t fc_plan_box(const fc_box_t *box, const fc_index_t *idx, const int64_t *cand,
                    int64_t ncand, int32_t file_no, int32_t layout_no, fc_row_t *rows,
                    int64_t *regions, int64_t *take)
{
    const int nd = box->ndim;
    int64_t n = 0;
    for (int64_t k = 0; k < ncand; k++) {
        int64_t i = cand ? cand[k] : k;
        const int64_t *c = idx->coords + i * nd;
        int64_t *reg = regions + n * 3 * nd;
        uint32_t flags = 0;
        int d = 0;
        for (; d < nd; d++) {
            int64_t lo = c[d] * box->chunk[d], hi = lo + box->chunk[d] - 1;
            int64_t k0 = ceil_div(lo - box->start[d], box->step[d]);
            int64_t k1 = floor_div(hi - box->start[d], box->step[d]);
            if (k0 < 0)
                k0 = 0;
            if (k1 > box->count[d] - 1)
                k1 = box->count[d] - 1;
            if (k0 > k1)
                break; /* no selected element in this chunk */
            reg[d] = box->start[d] + k0 * box->step[d] - lo;
            reg[nd + d] = k0;
            reg[2 * nd + d] = k1 - k0 + 1;
            if (hi >= box->shape[d])
                flags |= FC_ROW_PARTIAL;
        }
        if (d < nd)
            continue;
        rows[n] = (fc_row_t){idx->offset[i], idx->nbytes[i], file_no, layout_no,
                             idx->filter_mask[i], flags};
        take[n++] = i;
    }
    return n;
}
