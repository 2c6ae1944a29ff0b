/* fc_scatter.h — the selected part of a decoded chunk copied into `out`. */
#ifndef FC_SCATTER_H
#define FC_SCATTER_H

#include <stdint.h>

#include "fastchunk.h"

/* Copy (converting, if the layout says so) the region (cs, os, cnt, with r->step) of a decoded
 * chunk of lay into `out`. Regions of different rows are disjoint (the plan checks guarantee
 * it), so workers write into `out` without locks. */
void fc_scatter(const fc_read_t *r, const fc_layout_t *lay, const uint8_t *chunk,
                const int64_t *cs, const int64_t *os, const int64_t *cnt);

#endif
