/* fc_index_sink.c — chunk records from HDF5's H5Dchunk_iter, collected by a C callback
 * (fastchunk.h says why). HDF5 calls fc_index_visit; nothing here calls HDF5. */
#include <stdlib.h>

#include "fastchunk.h"

void fc_index_sink_init(fc_index_sink_t *s, int ndim)
{
    s->data = NULL;
    s->n = s->cap = 0;
    s->ndim = ndim;
}

void fc_index_sink_free(fc_index_sink_t *s)
{
    free(s->data);
    fc_index_sink_init(s, s->ndim);
}

int fc_index_visit(const uint64_t *offset, unsigned filter_mask, uint64_t addr, uint64_t size,
                   void *op)
{
    fc_index_sink_t *s = op;
    int64_t w = s->ndim + 3;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *grown = realloc(s->data, (size_t)(cap * w) * sizeof(int64_t));
        if (!grown)
            return -1; /* H5_ITER_ERROR: H5Dchunk_iter fails, the caller falls back */
        s->data = grown;
        s->cap = cap;
    }
    int64_t *rec = s->data + s->n * w;
    for (int d = 0; d < s->ndim; d++)
        rec[d] = (int64_t)offset[d];
    rec[s->ndim] = (int64_t)addr;
    rec[s->ndim + 1] = (int64_t)size;
    rec[s->ndim + 2] = filter_mask;
    s->n++;
    return 0;
}
