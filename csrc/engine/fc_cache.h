/* fc_cache.h — read buffers and scratches kept in the pool for the next read: reused memory is
 * already faulted in, fresh memory is slow. */
#ifndef FC_CACHE_H
#define FC_CACHE_H

#include <stddef.h>

#include "engine/fc_state.h"

/* A buffer of at least need bytes (the best fit the cache has, else a new one), or NULL. */
fc_buf_t *fc_cache_take_buf(fc_pool_t *p, size_t need);
/* Give a buffer (or NULL) back; caller holds p->mu. */
void fc_cache_release_buf(fc_pool_t *p, fc_buf_t *buf);
/* A scratch for a read's caller (workers keep their own), or NULL. */
fc_scratch_t *fc_cache_take_scratch(fc_pool_t *p);
void fc_cache_release_scratch(fc_pool_t *p, fc_scratch_t *s);

#endif
