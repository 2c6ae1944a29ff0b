/* fc_scatter.c — the selected part of a decoded chunk copied into `out` (fc_scatter.h). */
#include <string.h>

#include "engine/fc_convert.h"
#include "engine/fc_region.h"
#include "engine/fc_scatter.h"

/* n elements of es bytes, src elements sstep apart, dst elements dstep apart; es is a
 * constant at each call in copy_strided, so each size gets its own loop of plain moves. */
static inline __attribute__((always_inline)) void copy_elems(uint8_t *dst, int64_t dstep,
                                                             const uint8_t *src, int64_t sstep,
                                                             int64_t n, const int64_t es)
{
    for (int64_t k = 0; k < n; k++)
        memcpy(dst + k * dstep * es, src + k * sstep * es, (size_t)es);
}

static void copy_strided(uint8_t *dst, int64_t dstep, const uint8_t *src, int64_t sstep,
                         int64_t n, int64_t es)
{
    if (sstep == 1 && dstep == 1)
        memcpy(dst, src, (size_t)(n * es));
    else if (es == 1)
        copy_elems(dst, dstep, src, sstep, n, 1);
    else if (es == 2)
        copy_elems(dst, dstep, src, sstep, n, 2);
    else if (es == 4)
        copy_elems(dst, dstep, src, sstep, n, 4);
    else if (es == 8)
        copy_elems(dst, dstep, src, sstep, n, 8);
    else
        copy_elems(dst, dstep, src, sstep, n, es);
}

void fc_scatter(const fc_read_t *r, const fc_layout_t *lay, const uint8_t *chunk,
                const int64_t *cs, const int64_t *os, const int64_t *cnt)
{
    int nd = r->ndim, ra = fc_run_axis(nd, cnt);
    int64_t es = lay->elem_size, oes = r->out_elem_size;
    fc_convert_fn convert = lay->conv ? fc_converter(lay->conv) : NULL;
    int64_t cstride[FC_MAX_DIMS], ostride[FC_MAX_DIMS], idx[FC_MAX_DIMS];
    cstride[nd - 1] = ostride[nd - 1] = 1;
    for (int d = nd - 2; d >= 0; d--) {
        cstride[d] = cstride[d + 1] * lay->chunk_shape[d + 1];
        ostride[d] = ostride[d + 1] * r->out_shape[d + 1];
    }
    /* A run of one element has no step: fc_read_validate() bounds the step only where
     * count > 1, and step * stride of a huge step (ds[::2**62, 5]) would overflow. */
    int64_t n = cnt[ra], sstep = (n > 1 ? r->step[ra] : 1) * cstride[ra], dstep = ostride[ra];
    memset(idx, 0, sizeof idx);
    for (;;) {
        int64_t ci = 0, oi = 0;
        for (int d = 0; d < nd; d++) {
            ci += (cs[d] + idx[d] * r->step[d]) * cstride[d];
            oi += (os[d] + idx[d]) * ostride[d];
        }
        const uint8_t *src = chunk + ci * es;
        uint8_t *dst = r->out + oi * oes;
        if (!convert)
            copy_strided(dst, dstep, src, sstep, n, es);
        else if (dstep == 1)
            convert(dst, src, n, sstep);
        else
            for (int64_t k = 0; k < n; k++)
                convert(dst + k * dstep * oes, src + k * sstep * es, 1, 1);
        if (!fc_next_run(idx, cnt, ra))
            return;
    }
}
