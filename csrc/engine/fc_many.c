/* fc_many.c — decode_many: stored chunks already in memory (a detector stream's frames, a list
 * of buffers) decoded on the process-wide pool into one output, first error wins.
 *
 * Nothing is read, so there is no I/O thread: the caller queues every task at once and then
 * decodes too while it waits (fc_job_wait). Small frames share a task, so a 192x192 frame does
 * not pay a pool round trip of its own; a big bitshuffle frame can be split into parts of its
 * blocks, so one frame uses every core. Task rows are buffer * parts + part. */
#include <stdlib.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"
#include "engine/fc_cache.h"
#include "engine/fc_job.h"
#include "engine/fc_job_signal.h"
#include "engine/fc_pool.h"
#include "engine/fc_rows.h"

#define TASK_DECODED ((int64_t)256 << 10) /* decoded bytes per task, as reads batch small chunks */

static size_t buffer_bytes(const fc_many_t *m)
{
    return (size_t)fc_chunk_elems(m->layout) * m->layout->elem_size;
}

static int64_t parts_of(const fc_many_t *m) { return m->parts > 1 ? m->parts : 1; }

/* Buffers [t->row0, t->row1) into their places in out. */
static int run_buffers(fc_job_t *job, const fc_task_t *t, fc_scratch_t *s, fc_error_t *err)
{
    const fc_many_t *m = &job->many;
    size_t bytes = buffer_bytes(m);
    int64_t parts = parts_of(m);
    const fc_filter_t *f = &m->layout->filters[0];
    for (int64_t r = t->row0; r < t->row1; r++) {
        if (r > t->row0 && __atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE))
            return FC_OK; /* someone else's error or a cancel: it is already recorded */
        int64_t i = r / parts, part = r % parts;
        if (part == 0)
            __atomic_add_fetch(&job->decoded, 1, __ATOMIC_RELAXED);
        int rc = parts == 1
                     ? fc_chunk_decode(m->layout, m->masks[i], 0, m->srcs[i], (size_t)m->lens[i],
                                       m->out + (size_t)i * bytes, bytes, 1, s, err)
                     : fc_bitshuffle_decode_part(m->srcs[i], (size_t)m->lens[i],
                                                 m->out + (size_t)i * bytes, bytes, f->cd[0],
                                                 f->cd[1], f->cd[2], (size_t)part, (size_t)parts,
                                                 1, s, err);
        if (rc != FC_OK) {
            err->row = i;
            return rc;
        }
    }
    return FC_OK;
}

static int check_request(const fc_many_t *m, fc_error_t *err)
{
    const fc_layout_t *lay = m->layout;
    if (!lay || m->n < 0 || m->num_threads < 1 || lay->ndim < 1 || lay->ndim > FC_MAX_DIMS ||
        lay->nfilters > FC_MAX_FILTERS || lay->conv || lay->elem_size == 0)
        return fc_fail(err, FC_E_INVALID, 0, "bad decode_many parameters");
    for (int d = 0; d < lay->ndim; d++)
        if (lay->chunk_shape[d] < 1 || lay->chunk_shape[d] > ((int64_t)1 << 40))
            return fc_fail(err, FC_E_INVALID, 0, "bad chunk shape");
    if (m->n && (!m->srcs || !m->lens || !m->masks || !m->out))
        return fc_fail(err, FC_E_INVALID, 0, "bad decode_many parameters");
    for (int64_t i = 0; i < m->n; i++)
        if (m->lens[i] < 0 || (m->lens[i] && !m->srcs[i])) {
            err->row = i;
            return fc_fail(err, FC_E_INVALID, 0, "bad buffer");
        }
    if (m->parts > 1) {
        if (m->parts > 4096)
            return fc_fail(err, FC_E_INVALID, 0, "more than 4096 parts per buffer");
        if (lay->nfilters != 1 || lay->filters[0].id != FC_FILTER_BITSHUFFLE ||
            lay->filters[0].cd[0] != lay->elem_size)
            return fc_fail(err, FC_E_INVALID, 0, "parts need a one-filter bitshuffle layout");
        for (int64_t i = 0; i < m->n; i++)
            if (m->masks[i])
                return fc_fail(err, FC_E_INVALID, 0, "parts need buffers that skip no filter");
    }
    return FC_OK;
}

/* Every buffer on the caller's thread, now (small totals). */
static void decode_inline(fc_job_t *job)
{
    fc_scratch_t *s = fc_cache_take_scratch(job->pool);
    fc_task_t all = {NULL, 0, job->many.n * parts_of(&job->many), NULL, 0, 0};
    int rc = s ? run_buffers(job, &all, s, &job->err) : fc_fail(&job->err, FC_E_NOMEM, 0, "scratch");
    if (s)
        fc_cache_release_scratch(job->pool, s);
    fc_job_ran_inline(job, rc);
}

int fc_many_start(const fc_many_t *req, fc_job_t **out_job, fc_error_t *err)
{
    *out_job = NULL;
    *err = (fc_error_t){0, 0, -1, 0, NULL};
    int rc = check_request(req, err);
    if (rc != FC_OK)
        return rc;
    fc_job_t *job = fc_job_new(run_buffers);
    if (!job)
        return fc_fail(err, FC_E_NOMEM, 0, "job");
    job->many = *req;
    job->req.num_threads = req->num_threads;
    *out_job = job;
    int64_t bytes = (int64_t)buffer_bytes(req);
    /* Only small totals run here at once: bigger ones are queued even for one thread, so the
     * caller decodes them in fc_job_wait's slices and Ctrl-C is seen between them. */
    if (req->n * bytes <= (int64_t)FC_INLINE_BYTES) {
        decode_inline(job);
        return FC_OK;
    }
    int64_t rows = req->n * parts_of(req);
    int64_t per_task = bytes >= TASK_DECODED || rows > req->n ? 1 : TASK_DECODED / bytes;
    /* Tasks are made before any is queued, so running out of memory leaves nothing queued. */
    fc_task_t *head = NULL, **tail = &head;
    for (int64_t i = 0; i < rows; i += per_task) {
        fc_task_t *t = malloc(sizeof *t);
        if (!t) {
            while (head) {
                fc_task_t *next = head->next;
                free(head);
                head = next;
            }
            fc_job_ran_inline(job, fc_fail(&job->err, FC_E_NOMEM, 0, "decode_many tasks"));
            return FC_OK;
        }
        *t = (fc_task_t){NULL, i, i + per_task < rows ? i + per_task : rows, NULL, 0, 0};
        *tail = t;
        tail = &t->next;
    }
    fc_pool_ensure_workers(job->pool, req->num_threads - 1); /* the caller is the last decoder */
    pthread_mutex_lock(&job->pool->mu);
    fc_job_add_locked(job);
    while (head) {
        fc_task_t *t = head;
        head = t->next;
        t->next = NULL;
        fc_job_enqueue_locked(job, t);
    }
    job->io_done = 1;
    pthread_mutex_unlock(&job->pool->mu);
    return FC_OK;
}
