/* fc_io.c — what a read's I/O thread does: pread in file-offset order, bounded bytes ahead,
 * and queue the bytes as tasks for the workers.
 *
 * Small neighbouring chunks are read together (this is what makes 100k tiny chunks fast);
 * big chunks are read one by one into reused buffers so the workers can start early. */
#include <stdlib.h>

#include "common/fc_fail.h"
#include "engine/fc_cache.h"
#include "engine/fc_io.h"
#include "engine/fc_job_signal.h"
#include "engine/fc_plan_check.h"
#include "engine/fc_pread.h"
#include "engine/fc_rows.h"

#define DEFAULT_INFLIGHT ((int64_t)64 << 20)
#define COALESCE_MAX ((int64_t)1 << 20) /* bytes one coalesced read may cover */
#define COALESCE_GAP 4096               /* unused bytes between chunks worth reading through */
#define SMALL_CHUNK ((int64_t)256 << 10)
#define TASK_DECODED ((int64_t)256 << 10) /* decoded bytes per task, so small chunks still spread */

static int64_t decoded_bytes(const fc_read_t *r, const fc_row_t *row)
{
    const fc_layout_t *lay = &r->layouts[row->layout_no];
    return fc_chunk_elems(lay) * lay->elem_size;
}

/* Rows after j-1 that name the same stored chunk: they must stay in j-1's task, so the chunk
 * is read and decoded once (fc_task_run scatters each of their regions). */
static int64_t same_chunk_end(const fc_read_t *r, int64_t j)
{
    while (j < r->nrows && fc_row_same_chunk(r, j))
        j++;
    return j;
}

/* End (exclusive) of the run of rows starting at i that one read (and one task) should cover. */
static int64_t coalesce(const fc_read_t *r, int64_t i, int64_t *start, int64_t *end)
{
    const fc_row_t *a = &r->rows[i];
    *start = a->offset;
    *end = a->offset + a->nbytes;
    int64_t j = same_chunk_end(r, i + 1), decoded = decoded_bytes(r, a);
    if (a->nbytes >= SMALL_CHUNK)
        return j;
    for (; j < r->nrows; j = same_chunk_end(r, j + 1)) {
        const fc_row_t *b = &r->rows[j];
        if (b->file_no != a->file_no || b->nbytes >= SMALL_CHUNK || fc_row_direct_read(r, j) >= 0)
            break;
        decoded += decoded_bytes(r, b);
        if (decoded > TASK_DECODED)
            break;
        if (b->offset < *start || b->offset > *end + COALESCE_GAP)
            break;
        int64_t e = b->offset + b->nbytes > *end ? b->offset + b->nbytes : *end;
        if (e - *start > COALESCE_MAX)
            break;
        *end = e;
    }
    return j;
}

/* The row of [i, j) that holds file offset at (for error messages). */
static int64_t row_at(const fc_read_t *r, int64_t i, int64_t j, int64_t at)
{
    for (int64_t k = i; k < j; k++)
        if (at < r->rows[k].offset + r->rows[k].nbytes)
            return k;
    return j - 1;
}

/* Hand one direct-read row to the workers (no buffer: they pread into `out`). */
static int queue_direct(fc_job_t *job, int64_t i, int64_t out_offset)
{
    fc_pool_t *p = job->pool;
    fc_task_t *t = malloc(sizeof *t);
    if (!t) {
        fc_error_t e = {FC_E_NOMEM, 0, i, 0, "task"};
        fc_job_fail(job, &e);
        return FC_E_NOMEM;
    }
    *t = (fc_task_t){NULL, i, i + 1, NULL, out_offset, 0};
    pthread_mutex_lock(&p->mu);
    int stop = __atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE);
    if (!stop)
        fc_job_enqueue_locked(job, t);
    pthread_mutex_unlock(&p->mu);
    if (stop)
        free(t);
    return stop ? FC_E_CANCELLED : FC_OK;
}

void fc_io_run(fc_job_t *job)
{
    fc_pool_t *p = job->pool;
    const fc_read_t *r = &job->req;
    int64_t limit = r->io_inflight_bytes > 0 ? r->io_inflight_bytes : DEFAULT_INFLIGHT;

    for (int64_t i = 0, j; i < r->nrows; i = j) {
        int64_t start, end;
        int64_t direct = fc_row_direct_read(r, i);
        j = direct >= 0 ? i + 1 : coalesce(r, i, &start, &end);
        fc_error_t ce = {0, 0, i, 0, NULL};
        if (fc_rows_check(r, i, j, &ce) != FC_OK) {
            fc_job_fail(job, &ce);
            break;
        }
        if (direct >= 0) {
            if (queue_direct(job, i, direct) != FC_OK)
                break;
            continue;
        }
        size_t len = (size_t)(end - start);

        pthread_mutex_lock(&p->mu);
        while (job->inflight > 0 && job->inflight + (int64_t)len > limit &&
               !__atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE))
            pthread_cond_wait(&job->io_cv, &p->mu);
        int stop = __atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE);
        if (!stop)
            job->inflight += (int64_t)len;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;

        fc_error_t e = {0, 0, i, 0, NULL};
        fc_task_t *t = malloc(sizeof *t);
        fc_buf_t *buf = t ? fc_cache_take_buf(p, len) : NULL;
        int rc = buf ? fc_pread_full(r->fds[r->rows[i].file_no], buf->data, len, start, &e)
                     : fc_fail(&e, FC_E_NOMEM, 0, "read buffer");
        pthread_mutex_lock(&p->mu);
        if (rc != FC_OK) {
            job->inflight -= (int64_t)len;
            fc_cache_release_buf(p, buf);
            pthread_mutex_unlock(&p->mu);
            free(t);
            if (rc != FC_E_NOMEM)
                e.row = row_at(r, i, j, e.at);
            fc_job_fail(job, &e);
            break;
        }
        *t = (fc_task_t){NULL, i, j, buf, start, len};
        fc_job_enqueue_locked(job, t);
        pthread_mutex_unlock(&p->mu);
    }

    pthread_mutex_lock(&p->mu);
    job->io_done = 1;
    if (job->outstanding == 0)
        pthread_cond_broadcast(&job->done_cv);
    pthread_mutex_unlock(&p->mu);
}
