/* fc_job.h — making a job, for the two kinds the pool runs: a read of plan rows (fc_job.c) and
 * decode_many's buffers already in memory (fc_many.c). */
#ifndef FC_JOB_H
#define FC_JOB_H

#include "engine/fc_state.h"

/* Below this many decoded bytes a job runs on its caller's thread: waking the I/O thread and a
 * worker costs ~20-40 us each on a VM, about what decoding 64-128 KiB costs one core. */
#define FC_INLINE_BYTES (128u << 10)

/* A job with nothing queued whose workers run `run` on each task; NULL when out of memory. */
fc_job_t *fc_job_new(int (*run)(fc_job_t *, const fc_task_t *, fc_scratch_t *, fc_error_t *));
/* Record the status of a job its caller ran to the end itself (nothing queued). */
void fc_job_ran_inline(fc_job_t *job, int rc);
/* Put the job in the pool's list, where workers look for tasks. Holds p->mu. */
void fc_job_add_locked(fc_job_t *job);

#endif
