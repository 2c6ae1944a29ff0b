/* fc_job.c — one read: validate the plan, run it on the pool, decode each chunk into `out`.
 *
 * Output regions of different rows are disjoint (the planner guarantees it and validate()
 * checks the bounds), so workers write into `out` without locks; 1 or N threads give the same
 * bytes. A chunk that maps onto one contiguous run of `out` is decoded straight there;
 * any other is decoded into the worker's scratch and the needed part scattered. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fc_job.h"

#define MAX_CHUNK_BYTES ((int64_t)1 << 40)
/* Unfiltered chunks smaller than this are coalesced by the I/O thread and copied instead of
 * read one pread each: 300,000 one-element chunks as 300,000 preads cost 0.2 s. */
#define DIRECT_READ_MIN ((int64_t)64 << 10)

static int64_t chunk_elems(const fc_layout_t *lay)
{
    int64_t n = 1;
    for (int d = 0; d < lay->ndim; d++)
        n *= lay->chunk_shape[d];
    return n;
}

/* Every index the workers will compute stays inside the chunk and inside `out`. */
static int validate(const fc_read_t *r, fc_error_t *err)
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

/* Element offset in `out` of the region's start, if the whole chunk lands there as one
 * contiguous run of the stored type (a same-size conversion is then done in place); -1
 * otherwise. */
static int64_t direct_offset(const fc_read_t *r, const fc_layout_t *lay, const int64_t *cs,
                             const int64_t *os, const int64_t *cnt)
{
    int nd = r->ndim, first_wide = nd;
    if (lay->elem_size != r->out_elem_size)
        return -1;
    for (int d = 0; d < nd; d++) {
        if (cs[d] != 0 || cnt[d] != lay->chunk_shape[d] || (cnt[d] > 1 && r->step[d] != 1))
            return -1;
        if (cnt[d] > 1 && first_wide == nd)
            first_wide = d;
    }
    for (int d = first_wide + 1; d < nd; d++)
        if (cnt[d] != r->out_shape[d])
            return -1;
    int64_t off = 0;
    for (int d = 0; d < nd; d++)
        off = off * r->out_shape[d] + os[d];
    return off;
}

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

/* Copy (converting, if the layout says so) the selected part of a decoded chunk into `out`. */
static void scatter(const fc_read_t *r, const fc_layout_t *lay, const uint8_t *chunk,
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
    /* A run of one element has no step: validate() bounds the step only where count > 1,
     * and step * stride of a huge step (ds[::2**62, 5]) would overflow. */
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

/* Decode row i's chunk and put its region into `out`. reuse: the chunk is already decoded
 * in s->chunk (the previous row of this worker named the same chunk). A row whose chunk the
 * next row needs is decoded whole; otherwise a small region decodes only its bitshuffle
 * blocks. Sets *in_scratch to whether the decoded chunk is left in s->chunk. */
static int process_row(const fc_read_t *r, int64_t i, const uint8_t *src, fc_scratch_t *s,
                       int reuse, int *in_scratch, fc_error_t *err)
{
    const fc_row_t *row = &r->rows[i];
    const fc_layout_t *lay = &r->layouts[row->layout_no];
    const int64_t *cs = r->regions + i * 3 * r->ndim, *os = cs + r->ndim, *cnt = os + r->ndim;
    *in_scratch = 0;
    if (reuse) {
        scatter(r, lay, s->chunk, cs, os, cnt);
        *in_scratch = 1;
        return FC_OK;
    }
    size_t nbytes = (size_t)chunk_elems(lay) * lay->elem_size;
    int unfiltered = (lay->flags & FC_LAYOUT_DONT_FILTER_PARTIAL) && (row->flags & FC_ROW_PARTIAL);
    int64_t direct = direct_offset(r, lay, cs, os, cnt);
    uint8_t *dst;
    if (direct >= 0) {
        dst = r->out + direct * (int64_t)lay->elem_size;
    } else {
        if (fc_grow(&s->chunk, &s->chunk_cap, nbytes))
            return fc_fail(err, FC_E_NOMEM, 0, "chunk scratch");
        dst = s->chunk;
    }
    int rc;
    int shared = i + 1 < r->nrows && fc_row_same_chunk(r, i + 1);
    if (direct >= 0 || unfiltered || shared ||
        !fc_partial_decode(r, lay, row, cs, cnt, src, dst, nbytes, s, err, &rc))
        rc = fc_chunk_decode(lay, row->filter_mask, unfiltered, src, (size_t)row->nbytes, dst,
                             nbytes, s, err);
    if (rc != FC_OK)
        return rc;
    if (direct < 0) {
        scatter(r, lay, s->chunk, cs, os, cnt);
        *in_scratch = 1;
    } else if (lay->conv) {
        fc_converter(lay->conv)(dst, dst, chunk_elems(lay), 1); /* same size: in place */
    }
    return FC_OK;
}

int fc_row_same_chunk(const fc_read_t *r, int64_t i)
{
    if (i < 1)
        return 0;
    const fc_row_t *a = &r->rows[i - 1], *b = &r->rows[i];
    return a->offset == b->offset && a->nbytes == b->nbytes && a->file_no == b->file_no &&
           a->layout_no == b->layout_no && a->filter_mask == b->filter_mask && a->flags == b->flags;
}

/* The most stored bytes a chunk can take under its active filters: the worst expansion of
 * each (LZ4 32004 with 1-byte blocks stored raw: 5x; bitshuffle+LZ4 with 8-byte blocks: 2x;
 * deflate: stored blocks add 5 bytes per 64 kB) plus slack for headers and checksums. */
static int64_t max_stored_bytes(const fc_layout_t *lay, const fc_row_t *row)
{
    int64_t b = chunk_elems(lay) * (int64_t)lay->elem_size;
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

int64_t fc_row_direct_read(const fc_read_t *r, int64_t i)
{
    const fc_row_t *row = &r->rows[i];
    const fc_layout_t *lay = &r->layouts[row->layout_no];
    if (lay->conv)
        return -1;
    for (uint32_t f = 0; f < lay->nfilters; f++)
        if (!((row->filter_mask >> f) & 1u))
            return -1;
    if (row->nbytes != chunk_elems(lay) * (int64_t)lay->elem_size || row->nbytes < DIRECT_READ_MIN)
        return -1;
    const int64_t *cs = r->regions + i * 3 * r->ndim, *os = cs + r->ndim, *cnt = os + r->ndim;
    int64_t off = direct_offset(r, lay, cs, os, cnt);
    return off < 0 ? -1 : off * (int64_t)lay->elem_size;
}

int fc_task_run(fc_job_t *job, const fc_task_t *t, fc_scratch_t *s, fc_error_t *err)
{
    const fc_read_t *r = &job->req;
    if (!t->buf) {
        /* Unfiltered bytes that land as one run of `out`: the worker reads them straight there,
         * so big contiguous reads are split over the pool. */
        const fc_row_t *row = &r->rows[t->row0];
        err->row = t->row0;
        __atomic_add_fetch(&job->decoded, 1, __ATOMIC_RELAXED);
        return fc_pread_full(r->fds[row->file_no], r->out + t->file_offset,
                             (size_t)row->nbytes, row->offset, err);
    }
    int in_scratch = 0;
    for (int64_t i = t->row0; i < t->row1; i++) {
        if (i > t->row0 && __atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE))
            return FC_OK; /* someone else's error or a cancel: it is already recorded */
        const uint8_t *src = t->buf->data + (r->rows[i].offset - t->file_offset);
        int reuse = i > t->row0 && in_scratch && fc_row_same_chunk(r, i);
        if (!reuse)
            __atomic_add_fetch(&job->decoded, 1, __ATOMIC_RELAXED);
        int rc = process_row(r, i, src, s, reuse, &in_scratch, err);
        if (rc != FC_OK) {
            err->row = i;
            return rc;
        }
    }
    return FC_OK;
}

void fc_job_fail(fc_job_t *job, const fc_error_t *e)
{
    pthread_mutex_lock(&job->pool->mu);
    if (!job->failed) {
        job->failed = 1;
        job->err = *e;
    }
    __atomic_store_n(&job->cancel, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&job->io_cv);
    pthread_mutex_unlock(&job->pool->mu);
}

/* A read of one chunk (maybe hit by several regions) runs on the caller's thread: waking the
 * pool would cost more. */
static int one_chunk(const fc_read_t *r)
{
    for (int64_t i = 1; i < r->nrows; i++)
        if (!fc_row_same_chunk(r, i))
            return 0;
    return 1;
}

static int run_inline(const fc_read_t *r, fc_pool_t *p, int64_t *decoded, fc_error_t *err)
{
    if (r->nrows == 0)
        return FC_OK;
    const fc_row_t *row = &r->rows[0];
    int rc = fc_rows_check(r, 0, 1, err); /* every row names this chunk */
    if (rc != FC_OK)
        return rc;
    fc_buf_t *buf = fc_pool_take_buf(p, (size_t)row->nbytes);
    fc_scratch_t *s = fc_pool_take_scratch(p);
    rc = buf && s ? FC_OK : fc_fail(err, FC_E_NOMEM, 0, "inline read buffers");
    if (rc == FC_OK)
        rc = fc_pread_full(r->fds[row->file_no], buf->data, (size_t)row->nbytes, row->offset, err);
    int in_scratch = 0;
    int64_t i = 0;
    for (; rc == FC_OK && i < r->nrows; i++) {
        int reuse = i > 0 && in_scratch;
        *decoded += !reuse;
        rc = process_row(r, i, buf->data, s, reuse, &in_scratch, err);
    }
    pthread_mutex_lock(&p->mu);
    if (buf)
        fc_pool_release_buf(p, buf);
    pthread_mutex_unlock(&p->mu);
    if (s)
        fc_pool_release_scratch(p, s);
    if (rc != FC_OK)
        err->row = i > 0 ? i - 1 : 0;
    return rc;
}

int fc_job_start(const fc_read_t *req, fc_job_t **out_job, fc_error_t *err)
{
    *out_job = NULL;
    *err = (fc_error_t){0, 0, -1, 0, NULL};
    int rc = validate(req, err);
    if (rc != FC_OK)
        return rc;
    fc_pool_t *p = fc_pool_get();
    fc_job_t *job = calloc(1, sizeof *job);
    if (!p || !job) {
        free(job);
        return fc_fail(err, FC_E_NOMEM, 0, "job");
    }
    job->req = *req;
    job->pool = p;
    job->err = (fc_error_t){0, 0, -1, 0, NULL};
    pthread_cond_init(&job->io_cv, NULL);
    pthread_cond_init(&job->done_cv, NULL);

    if (one_chunk(req)) {
        rc = run_inline(req, p, &job->decoded, &job->err);
        job->failed = rc != FC_OK;
        if (job->failed)
            job->err.code = rc;
        job->io_done = 1;
        *out_job = job;
        return FC_OK;
    }
    fc_pool_ensure_workers(p, req->num_threads - 1); /* the caller is the last decoder */
    pthread_mutex_lock(&p->mu);
    job->next = p->jobs;
    p->jobs = job;
    pthread_mutex_unlock(&p->mu);
    if (fc_pool_start_io(p, job) != FC_OK) {
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
                fc_scratch_t *s = fc_pool_take_scratch(p);
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
        fc_pool_release_scratch(p, job->caller_scratch);
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
