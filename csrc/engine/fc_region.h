/* fc_region.h — walking a row's region of a chunk run by run (scatter, partial decode). */
#ifndef FC_REGION_H
#define FC_REGION_H

#include <stdint.h>

/* Step idx to the next run of a region with counts cnt: an odometer over axes [0, last), axis
 * `last` being one run the caller handles (idx stays 0 on the axes after it). Returns 0 once
 * every run was visited. */
static inline int fc_next_run(int64_t *idx, const int64_t *cnt, int last)
{
    for (int d = last - 1; d >= 0; d--) {
        if (++idx[d] < cnt[d])
            return 1;
        idx[d] = 0;
    }
    return 0;
}

/* The axis a region's runs go along: the last one with more than one element (the axes after
 * it have one), so a slab across the last axis is 64 runs of 64 elements, not 4096 runs of 1. */
static inline int fc_run_axis(int nd, const int64_t *cnt)
{
    int a = nd - 1;
    while (a > 0 && cnt[a] == 1)
        a--;
    return a;
}

#endif
