/* fc_bitshuffle_generic.c — portable bit-untranspose and byte-unshuffle kernels. */
#include <string.h>

#include "fc_internal.h"

void fc_bitplane_untranspose_generic(const uint8_t *in, uint8_t *out, size_t nrow)
{
    fc_bitplane_groups(in, out, nrow, 0);
}

void fc_byte_unshuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size)
{
    if (elem_size == 1)
        memcpy(out, in, n);
    else
        fc_unshuffle_elems(in, out, n, elem_size, 0);
}
