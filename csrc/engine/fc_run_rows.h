/* fc_run_rows.h — decoding plan rows into `out`, on whichever thread runs them. */
#ifndef FC_RUN_ROWS_H
#define FC_RUN_ROWS_H

#include <stdint.h>

#include "engine/fc_state.h"

/* Decode row i's chunk from its stored bytes src and put its region into `out`. reuse: the
 * chunk is already decoded in s->chunk (the row before, on this thread, named the same chunk).
 * A row whose chunk the next row needs is decoded whole; otherwise a small region decodes only
 * its blocks (fc_partial.h). Sets *in_scratch to whether the decoded chunk is left in
 * s->chunk. */
int fc_row_decode(const fc_read_t *r, int64_t i, const uint8_t *src, fc_scratch_t *s, int reuse,
                  int *in_scratch, fc_error_t *err);
/* Decode every row of a task into the output (worker thread, no lock held). */
int fc_task_run(fc_job_t *job, const fc_task_t *t, fc_scratch_t *s, fc_error_t *err);

#endif
