/* fc_pool.c — the process-wide worker pool, its buffer cache, and fork safety.
 *
 * One mutex guards the pool and every job's queue: tasks are whole chunks (or runs of small
 * chunks), so a lock per task is noise next to the decode. Workers are created lazily up to
 * one less than the largest num_threads any read asked for and live as long as the process;
 * a job limits itself to its own num_threads, counting its caller, which decodes too while it
 * waits (so no worker sleeps while every slot of a job is busy, to be woken for nothing).
 * Each running read has an I/O thread of its own; finished ones park for the next read. After
 * fork() the child forgets the parent's pool (its threads do not exist there) and builds a
 * new one on its first read. */
#include <pthread.h>
#include <string.h>

#include "fc_job.h"

#define BUF_CACHE_MAX ((size_t)512 << 20) /* idle read buffers kept for reuse */
#define SCRATCH_CACHE 8                   /* idle scratches kept for inline reads */
#define MAX_WORKERS 1024

static fc_pool_t *the_pool;
static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_pool_in_child(void)
{
    /* The parent's workers are gone here; its memory is leaked on purpose (its mutexes may
     * have been held at fork time, so touching them could deadlock). */
    the_pool = NULL;
    pthread_mutex_init(&create_mu, NULL);
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, forget_pool_in_child); }

fc_pool_t *fc_pool_get(void)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&create_mu);
    if (!the_pool) {
        fc_pool_t *p = calloc(1, sizeof *p);
        if (p) {
            pthread_mutex_init(&p->mu, NULL);
            pthread_cond_init(&p->work_cv, NULL);
            the_pool = p;
        }
    }
    fc_pool_t *p = the_pool;
    pthread_mutex_unlock(&create_mu);
    return p;
}

int fc_pool_size(void)
{
    fc_pool_t *p = fc_pool_get();
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    int n = p->nworkers;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Next task any worker may take: from the first job with work and a free worker slot. */
static fc_job_t *pick_job(fc_pool_t *p)
{
    for (fc_job_t *j = p->jobs; j; j = j->next)
        if (j->head && j->active < j->req.num_threads)
            return j;
    return NULL;
}

/* Start a thread nobody joins (workers and I/O threads live on); pthread_create's status. */
static int start_detached(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return e;
}

void fc_pool_run_task_locked(fc_pool_t *p, fc_job_t *job, fc_scratch_t *s)
{
    fc_task_t *t = job->head;
    job->head = t->next;
    if (!job->head)
        job->tail = NULL;
    job->active++;
    pthread_mutex_unlock(&p->mu);

    if (!__atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE)) {
        fc_error_t e = {0, 0, -1, 0, NULL};
        int rc = s ? fc_task_run(job, t, s, &e) : fc_fail(&e, FC_E_NOMEM, 0, "worker scratch");
        if (rc != FC_OK)
            fc_job_fail(job, &e);
    }

    pthread_mutex_lock(&p->mu);
    fc_pool_release_buf(p, t->buf);
    job->inflight -= (int64_t)t->len;
    job->active--;
    job->outstanding--;
    free(t);
    pthread_cond_signal(&job->io_cv);
    if (job->io_done && job->outstanding == 0)
        pthread_cond_broadcast(&job->done_cv);
    fc_job_wake_locked(job, 1); /* this thread takes the next task of this job itself */
}

void fc_job_wake_locked(fc_job_t *job, int64_t spare)
{
    int64_t queued = job->outstanding - job->active - spare;
    if (queued <= 0)
        return;
    if (job->caller_waiting) {
        job->caller_waiting = 0;
        pthread_cond_signal(&job->done_cv);
        queued--;
    }
    if (queued > 0 && job->active + spare < job->req.num_threads)
        pthread_cond_signal(&job->pool->work_cv);
}

static void *worker_main(void *arg)
{
    fc_pool_t *p = arg;
    fc_scratch_t *s = fc_scratch_new(); /* this worker's own, reused for every task */
    fc_job_t *job = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* Stay with the read of the task just run while it has work (fc_job_wake_locked
         * counts on it). It is still alive: its caller frees it only after taking p->mu,
         * which this thread has held since that task's end. */
        if (!job || !job->head || job->active >= job->req.num_threads)
            job = pick_job(p);
        if (job)
            fc_pool_run_task_locked(p, job, s);
        else
            pthread_cond_wait(&p->work_cv, &p->mu);
    }
    return NULL; /* not reached: workers live as long as the process */
}

#define MAX_IDLE_IO 8 /* parked I/O threads kept; more concurrent reads start new ones */

static void *io_thread_main(void *arg)
{
    fc_io_thread_t *t = arg;
    fc_pool_t *p = t->job->pool;
    for (;;) {
        fc_io_main(t->job); /* touches the job no more once it has set io_done */
        pthread_mutex_lock(&p->mu);
        t->job = NULL;
        if (p->nidle_io >= MAX_IDLE_IO)
            break;
        t->next = p->idle_io;
        p->idle_io = t;
        p->nidle_io++;
        while (!t->job)
            pthread_cond_wait(&t->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    return NULL;
}

int fc_pool_start_io(fc_pool_t *p, fc_job_t *job)
{
    pthread_mutex_lock(&p->mu);
    fc_io_thread_t *t = p->idle_io;
    if (t) {
        p->idle_io = t->next;
        p->nidle_io--;
        t->job = job;
        pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (t)
        return FC_OK;
    t = calloc(1, sizeof *t);
    if (!t)
        return FC_E_THREAD;
    pthread_cond_init(&t->cv, NULL);
    t->job = job;
    if (start_detached(io_thread_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        free(t);
        return FC_E_THREAD;
    }
    return FC_OK;
}

void fc_pool_ensure_workers(fc_pool_t *p, int n)
{
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    pthread_mutex_lock(&p->mu);
    /* A read's caller decodes too: fewer workers than asked for, even none, only slow it. */
    while (p->nworkers < n && start_detached(worker_main, p) == 0)
        p->nworkers++;
    pthread_mutex_unlock(&p->mu);
}

fc_buf_t *fc_pool_take_buf(fc_pool_t *p, size_t need)
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

void fc_pool_release_buf(fc_pool_t *p, fc_buf_t *buf)
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

fc_scratch_t *fc_pool_take_scratch(fc_pool_t *p)
{
    fc_scratch_t *s = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nscratch > 0)
        s = p->scratch[--p->nscratch];
    pthread_mutex_unlock(&p->mu);
    return s ? s : fc_scratch_new();
}

void fc_pool_release_scratch(fc_pool_t *p, fc_scratch_t *s)
{
    pthread_mutex_lock(&p->mu);
    if (p->nscratch < SCRATCH_CACHE) {
        p->scratch[p->nscratch++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    fc_scratch_free(s);
}
