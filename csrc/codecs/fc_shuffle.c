/* fc_shuffle.c — HDF5 shuffle filter 2: undo the byte transpose of a whole chunk.
 *
 * Stored: all first bytes of the elements, then all second bytes, ...; the
 * len % elem_size trailing bytes are stored as they are. */
#include <string.h>

#include "codecs/fc_codecs.h"

int fc_shuffle_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t elem_size)
{
    if (elem_size <= 1 || len < elem_size) {
        if (len) /* src may be NULL when len is 0 */
            memcpy(dst, src, len);
        return FC_OK;
    }
    size_t n = len / elem_size;
    fc_kernels()->byte_unshuffle(src, dst, n, elem_size);
    memcpy(dst + n * elem_size, src + n * elem_size, len - n * elem_size);
    return FC_OK;
}
