/* fc_cache.c — read buffers and scratches kept for the next read (fc_cache.h). */
#include <stdlib.h>

#include "engine/fc_cache.h"

#define BUF_CACHE_MAX ((size_t)512 << 20) /* idle read buffers kept for reuse */
#define SCRATCH_CACHE 8                   /* idle scratches kept for inline reads */

fc_buf_t *fc_cache_take_buf(fc_pool_t *p, size_t need)
{
    /* Best fit from the cache: reused memory is already faulted in (fresh memory is slow). */
    pthread_mutex_lock(&p->mu);
    fc_buf_t **best = NULL;
    for (fc_buf_t **b = &p->free_bufs; *b; b = &(*b)->next)
        if ((*b)->cap >= need && (!best || (*b)->cap < (*best)->cap))
            best = b;
    fc_buf_t *buf = NULL;
    if (best) {
        buf = *best;
        *best = buf->next;
        p->cached_bytes -= buf->cap;
    }
    pthread_mutex_unlock(&p->mu);
    if (buf)
        return buf;
    buf = malloc(sizeof *buf);
    if (!buf)
        return NULL;
    buf->cap = need < 65536 ? 65536 : need;
    buf->data = malloc(buf->cap);
    if (!buf->data) {
        free(buf);
        return NULL;
    }
    return buf;
}

void fc_cache_release_buf(fc_pool_t *p, fc_buf_t *buf)
{
    /* Caller holds p->mu. */
    if (!buf)
        return;
    if (p->cached_bytes + buf->cap > BUF_CACHE_MAX) {
        free(buf->data);
        free(buf);
        return;
    }
    buf->next = p->free_bufs;
    p->free_bufs = buf;
    p->cached_bytes += buf->cap;
}

fc_scratch_t *fc_cache_take_scratch(fc_pool_t *p)
{
    fc_scratch_t *s = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nscratch > 0)
        s = p->scratch[--p->nscratch];
    pthread_mutex_unlock(&p->mu);
    return s ? s : fc_scratch_new();
}

void fc_cache_release_scratch(fc_pool_t *p, fc_scratch_t *s)
{
    pthread_mutex_lock(&p->mu);
    if (p->nscratch < SCRATCH_CACHE) {
        p->scratch[p->nscratch++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    fc_scratch_free(s);
}
