/* fc_job_signal.h — telling a job's threads what happened: it failed (or was cancelled), or it
 * has tasks queued for them. */
#ifndef FC_JOB_SIGNAL_H
#define FC_JOB_SIGNAL_H

#include <stdint.h>

#include "engine/fc_state.h"

/* Record the first error and cancel the job (takes p->mu). */
void fc_job_fail(fc_job_t *job, const fc_error_t *e);
/* Append a task to the job's queue and wake a thread for it. Holds p->mu. */
void fc_job_enqueue_locked(fc_job_t *job, fc_task_t *t);
/* Wake threads for the job's queued tasks, less `spare` that a thread awake will take: the
 * read's caller first if it sleeps (it decodes too), then one worker, only while the job has a
 * free slot. A worker woken with every slot busy finds nothing and sleeps again, and on a
 * loaded machine that wake-up takes a core from a thread that is decoding. Holds p->mu. */
void fc_job_wake_locked(fc_job_t *job, int64_t spare);

#endif
