/* shuffle.c — fuzz target: HDF5 shuffle filter 2 (fc_shuffle_decode).
 * Input: u8 element size | u8 kernel | stored chunk (decoded to the same size). */
#include "codecs/fc_codecs.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    size_t es = (size_t)fuzz_take(&in, 1);
    fuzz_pick_kernels((unsigned)fuzz_take(&in, 1));
    uint8_t *src = fuzz_rest(&in), *dst = malloc(in.left ? in.left : 1);
    if (src && dst)
        fc_shuffle_decode(src, in.left, dst, es);
    free(src);
    free(dst);
    return 0;
}
