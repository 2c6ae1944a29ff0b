/* fc_io_thread.h — the threads that run reads' I/O, parked between reads. */
#ifndef FC_IO_THREAD_H
#define FC_IO_THREAD_H

#include "engine/fc_state.h"

/* Run job's I/O on a parked I/O thread, or on a new one: FC_OK or FC_E_THREAD. A thread costs
 * ~35 us to create and join here, as much as a small read's decode. */
int fc_io_start(fc_pool_t *p, fc_job_t *job);

#endif
