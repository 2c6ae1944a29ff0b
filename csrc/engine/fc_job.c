/* fc_job.c — one read's life: checked, started on the pool (or run on the caller's thread when
 * it is small), waited for (the caller decodes too while it waits), cancelled, finished. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/fc_fail.h"
#include "engine/fc_cache.h"
#include "engine/fc_io_thread.h"
#include "engine/fc_job.h"
#include "engine/fc_job_signal.h"
#include "engine/fc_plan_check.h"
#include "engine/fc_pool.h"
#include "engine/fc_pread.h"
#include "engine/fc_rows.h"
#include "engine/fc_run_rows.h"

/* A small read runs on the caller's thread: one chunk (maybe hit by several regions), or
 * chunks whose decoded bytes together stay under FC_INLINE_BYTES (fc_job.h); below that,
 * handing the work out makes the read slower, not faster (docs/benchmarks.md, "small reads":
 * a 100-element gzip dataset in two 50-element chunks). */

static int small_read(const fc_read_t *r)
{
    int64_t bytes = 0;
    for (int64_t i = 0; i < r->nrows; i++) {
        if (i > 0 && fc_row_same_chunk(r, i))
            continue;
        const fc_layout_t *lay = &r->layouts[r->rows[i].layout_no];
        int64_t n = lay->elem_size;
        for (int d = 0; d < lay->ndim; d++)
            n *= lay->chunk_shape[d];
        bytes += n;
        if (i > 0 && bytes > (int64_t)FC_INLINE_BYTES)
            return 0;
    }
    return 1;
}

/* The rows [i, j) that name one stored chunk: read it once, decode it for each of them. */
static int run_chunk(const fc_read_t *r, int64_t i, int64_t j, fc_buf_t *buf, fc_scratch_t *s,
                     int64_t *decoded, fc_error_t *err)
{
    const fc_row_t *row = &r->rows[i];
    int rc = fc_pread_full(r->fds[row->file_no], buf->data, (size_t)row->nbytes, row->offset, err);
    int in_scratch = 0;
    for (int64_t k = i; rc == FC_OK && k < j; k++) {
        int reuse = k > i && in_scratch;
        *decoded += !reuse;
        rc = fc_row_decode(r, k, buf->data, s, reuse, &in_scratch, err);
        if (rc != FC_OK)
            err->row = k;
    }
    if (rc != FC_OK && err->row < i)
        err->row = i;
    return rc;
}

static int run_inline(const fc_read_t *r, fc_pool_t *p, int64_t *decoded, fc_error_t *err)
{
    if (r->nrows == 0)
        return FC_OK;
    int rc = fc_rows_check(r, 0, r->nrows, err); /* lying sizes are refused before allocating */
    if (rc != FC_OK)
        return rc;
    int64_t most = 0;
    for (int64_t i = 0; i < r->nrows; i++)
        most = r->rows[i].nbytes > most ? r->rows[i].nbytes : most;
    fc_buf_t *buf = fc_cache_take_buf(p, (size_t)most);
    fc_scratch_t *s = fc_cache_take_scratch(p);
    rc = buf && s ? FC_OK : fc_fail(err, FC_E_NOMEM, 0, "inline read buffers");
    for (int64_t i = 0, j; rc == FC_OK && i < r->nrows; i = j) {
        for (j = i + 1; j < r->nrows && fc_row_same_chunk(r, j); j++)
            ;
        rc = run_chunk(r, i, j, buf, s, decoded, err);
    }
    pthread_mutex_lock(&p->mu);
    if (buf)
        fc_cache_release_buf(p, buf);
    pthread_mutex_unlock(&p->mu);
    if (s)
        fc_cache_release_scratch(p, s);
    return rc;
}

fc_job_t *fc_job_new(int (*run)(fc_job_t *, const fc_task_t *, fc_scratch_t *, fc_error_t *))
{
    fc_pool_t *p = fc_pool_get();
    fc_job_t *job = p ? calloc(1, sizeof *job) : NULL;
    if (!job)
        return NULL;
    job->pool = p;
    job->run = run;
    job->err = (fc_error_t){0, 0, -1, 0, NULL};
    pthread_cond_init(&job->io_cv, NULL);
    pthread_cond_init(&job->done_cv, NULL);
    return job;
}

void fc_job_ran_inline(fc_job_t *job, int rc)
{
    job->failed = rc != FC_OK;
    if (job->failed)
        job->err.code = rc;
    job->io_done = 1;
}

void fc_job_add_locked(fc_job_t *job)
{
    job->next = job->pool->jobs;
    job->pool->jobs = job;
}

int fc_job_start(const fc_read_t *req, fc_job_t **out_job, fc_error_t *err)
{
    *out_job = NULL;
    *err = (fc_error_t){0, 0, -1, 0, NULL};
    int rc = fc_read_validate(req, err);
    if (rc != FC_OK)
        return rc;
    fc_job_t *job = fc_job_new(fc_task_run);
    if (!job)
        return fc_fail(err, FC_E_NOMEM, 0, "job");
    fc_pool_t *p = job->pool;
    job->req = *req;

    if (small_read(req)) {
        fc_job_ran_inline(job, run_inline(req, p, &job->decoded, &job->err));
        *out_job = job;
        return FC_OK;
    }
    fc_pool_ensure_workers(p, req->num_threads - 1); /* the caller is the last decoder */
    pthread_mutex_lock(&p->mu);
    fc_job_add_locked(job);
    pthread_mutex_unlock(&p->mu);
    if (fc_io_start(p, job) != FC_OK) {
        fc_error_t e = {FC_E_THREAD, errno, -1, 0, "cannot start the I/O thread"};
        fc_job_fail(job, &e);
        pthread_mutex_lock(&p->mu);
        job->io_done = 1;
        pthread_mutex_unlock(&p->mu);
    }
    *out_job = job;
    return FC_OK;
}

static int past(const struct timespec *until)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > until->tv_sec || (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

/* Waits that timed out on a job already done: a lost wake-up (tests expect none). */
static int64_t missed_wakeups;

int64_t fc_job_missed_wakeups(void) { return __atomic_load_n(&missed_wakeups, __ATOMIC_RELAXED); }

int fc_job_wait(fc_job_t *job, int timeout_ms)
{
    fc_pool_t *p = job->pool;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    int done, tried_scratch = job->caller_scratch != NULL;
    while (!(done = job->io_done && job->outstanding == 0)) {
        /* Decode while waiting: the caller's thread is awake already, and a worker woken
         * instead would take ~20 us to run. It takes one of the job's num_threads slots. */
        if (job->head && job->active < job->req.num_threads) {
            if (!tried_scratch) {
                pthread_mutex_unlock(&p->mu);
                fc_scratch_t *s = fc_cache_take_scratch(p);
                pthread_mutex_lock(&p->mu);
                job->caller_scratch = s; /* NULL: the task fails with FC_E_NOMEM */
                tried_scratch = 1;
                /* Look again: without p->mu the workers may have taken every task and
                 * finished the job, whose one broadcast this thread has then missed. */
                continue;
            }
            fc_pool_run_task_locked(p, job, job->caller_scratch);
            if (timeout_ms >= 0 && past(&until))
                break;
            continue;
        }
        job->caller_waiting = 1;
        int rc = timeout_ms < 0 ? pthread_cond_wait(&job->done_cv, &p->mu)
                                : pthread_cond_timedwait(&job->done_cv, &p->mu, &until);
        job->caller_waiting = 0;
        if (rc == ETIMEDOUT) {
            if (job->io_done && job->outstanding == 0) /* done, and nobody said so */
                __atomic_add_fetch(&missed_wakeups, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    done = job->io_done && job->outstanding == 0;
    pthread_mutex_unlock(&p->mu);
    return done;
}

void fc_job_cancel(fc_job_t *job)
{
    fc_error_t e = {FC_E_CANCELLED, 0, -1, 0, "cancelled"};
    fc_job_fail(job, &e);
}

int fc_job_finish(fc_job_t *job, fc_error_t *err)
{
    fc_pool_t *p = job->pool;
    fc_job_wait(job, -1); /* once io_done is set the I/O thread no longer touches the job */
    if (job->caller_scratch)
        fc_cache_release_scratch(p, job->caller_scratch);
    pthread_mutex_lock(&p->mu);
    for (fc_job_t **j = &p->jobs; *j; j = &(*j)->next)
        if (*j == job) {
            *j = job->next;
            break;
        }
    pthread_mutex_unlock(&p->mu);
    int rc = job->failed ? job->err.code : FC_OK;
    *err = job->err;
    pthread_cond_destroy(&job->io_cv);
    pthread_cond_destroy(&job->done_cv);
    free(job);
    return rc;
}

int64_t fc_job_decoded(const fc_job_t *job)
{
    return __atomic_load_n(&job->decoded, __ATOMIC_RELAXED);
}

int fc_read_sync(const fc_read_t *req, fc_error_t *err)
{
    fc_job_t *job;
    int rc = fc_job_start(req, &job, err);
    return rc != FC_OK ? rc : fc_job_finish(job, err);
}
