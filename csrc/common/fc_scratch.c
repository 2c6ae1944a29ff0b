/* fc_scratch.c — how scratch buffers grow. */
#include <stdlib.h>

#include "common/fc_scratch.h"

int fc_grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return FC_OK;
    /* Grow-only and no realloc: contents are scratch, and copying them would be wasted. */
    uint8_t *p = malloc(need);
    if (!p)
        return FC_E_NOMEM;
    free(*buf);
    *buf = p;
    *cap = need;
    return FC_OK;
}
