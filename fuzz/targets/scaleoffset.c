/* scaleoffset.c — fuzz target: HDF5 scale-offset filter 6 (fc_scaleoffset_decode).
 * Input: 6 x u32 normalized cd (filters.py: type, factor, elements, flags, fill lo, fill hi) |
 * stored chunk, decoded into the size the parameters give. */
#include "codecs/fc_codecs.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    uint32_t cd[6];
    for (int i = 0; i < 6; i++)
        cd[i] = (uint32_t)fuzz_take(&in, 4);
    cd[2] %= (uint32_t)(FUZZ_MAX_OUT / 8 + 1); /* elements: keep the output within bounds */
    size_t dstlen = fc_scaleoffset_output_size(cd, in.left);
    if (dstlen > FUZZ_MAX_OUT)
        dstlen = FUZZ_MAX_OUT;
    uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);
    fc_error_t err;
    if (src && dst)
        fc_scaleoffset_decode(src, in.left, dst, dstlen, cd, &err);
    free(src);
    free(dst);
    return 0;
}
