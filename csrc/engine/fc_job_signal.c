/* fc_job_signal.c — telling a job's threads what happened (fc_job_signal.h). */
#include "engine/fc_job_signal.h"

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

void fc_job_enqueue_locked(fc_job_t *job, fc_task_t *t)
{
    if (job->tail)
        job->tail->next = t;
    else
        job->head = t;
    job->tail = t;
    job->outstanding++;
    fc_job_wake_locked(job, 0);
}
