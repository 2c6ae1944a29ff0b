/* fc_io.h — what a read's I/O thread does. */
#ifndef FC_IO_H
#define FC_IO_H

#include "engine/fc_state.h"

/* Read the job's rows and queue them as tasks until done, failed or cancelled; sets
 * job->io_done last and touches the job no more after that. */
void fc_io_run(fc_job_t *job);

#endif
