/* fc_plan_check.h — a read plan checked before anything runs, so the workers can index
 * without checks of their own. */
#ifndef FC_PLAN_CHECK_H
#define FC_PLAN_CHECK_H

#include <stdint.h>

#include "fastchunk.h"

/* Every index the workers will compute stays inside the chunk and inside `out`: FC_OK or
 * FC_E_INVALID (err->row names a bad row). */
int fc_read_validate(const fc_read_t *r, fc_error_t *err);
/* Check rows [i, j) before anything is allocated for them: a stored size no filter chain
 * could produce (FC_E_CORRUPT), or bytes past the end of a regular file (FC_E_SHORT_READ).
 * err->row names the row. */
int fc_rows_check(const fc_read_t *r, int64_t i, int64_t j, fc_error_t *err);

#endif
