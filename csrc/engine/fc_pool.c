/* fc_pool.c — the process-wide worker pool: its workers, how one of a job's tasks is run, and
 * fork safety.
 *
 * One mutex guards the pool and every job's queue: tasks are whole chunks (or runs of small
 * chunks), so a lock per task is noise next to the decode. Workers are created lazily up to
 * one less than the largest num_threads any read asked for and live as long as the process;
 * a job limits itself to its own num_threads, counting its caller, which decodes too while it
 * waits (so no worker sleeps while every slot of a job is busy, to be woken for nothing).
 * After fork() the child forgets the parent's pool (its threads do not exist there) and builds
 * a new one on its first read. */
#include <pthread.h>
#include <stdlib.h>

#include "common/fc_fail.h"
#include "engine/fc_cache.h"
#include "engine/fc_job_signal.h"
#include "engine/fc_pool.h"
#include "engine/fc_thread.h"

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
        int rc = s ? job->run(job, t, s, &e) : fc_fail(&e, FC_E_NOMEM, 0, "worker scratch");
        if (rc != FC_OK)
            fc_job_fail(job, &e);
    }

    pthread_mutex_lock(&p->mu);
    fc_cache_release_buf(p, t->buf);
    job->inflight -= (int64_t)t->len;
    job->active--;
    job->outstanding--;
    free(t);
    pthread_cond_signal(&job->io_cv);
    if (job->io_done && job->outstanding == 0)
        pthread_cond_broadcast(&job->done_cv);
    fc_job_wake_locked(job, 1); /* this thread takes the next task of this job itself */
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

void fc_pool_ensure_workers(fc_pool_t *p, int n)
{
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    pthread_mutex_lock(&p->mu);
    /* A read's caller decodes too: fewer workers than asked for, even none, only slow it. */
    while (p->nworkers < n && fc_start_detached(worker_main, p) == 0)
        p->nworkers++;
    pthread_mutex_unlock(&p->mu);
}
