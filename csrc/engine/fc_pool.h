/* fc_pool.h — the process-wide worker pool every read shares. */
#ifndef FC_POOL_H
#define FC_POOL_H

#include "engine/fc_state.h"

/* The pool, made on first use (again in a forked child); NULL if out of memory. */
fc_pool_t *fc_pool_get(void);
/* Start workers until there are n (or as many as the system allows). */
void fc_pool_ensure_workers(fc_pool_t *p, int n);
/* Take the job's next task and run it like a worker would (a free slot and a task: the caller
 * checks both); caller holds p->mu, which is released while the task runs. */
void fc_pool_run_task_locked(fc_pool_t *p, fc_job_t *job, fc_scratch_t *s);

#endif
