/* fc_fail.h — recording the first error of a decode or a read in its fc_error_t. */
#ifndef FC_FAIL_H
#define FC_FAIL_H

#include "fastchunk.h"

/* Fill err (if any) and return code, so a failing check is one line: return fc_fail(...). */
static inline int fc_fail(fc_error_t *err, int code, size_t at, const char *what)
{
    if (err) {
        err->code = code;
        err->at = (int64_t)at;
        err->what = what;
    }
    return code;
}

#endif
