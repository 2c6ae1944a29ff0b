/* szip.c — fuzz target: HDF5 szip filter 4 (fc_szip_decode).
 * Input: 4 x u32 normalized cd (filters.py: flags, pixels per block, bits per pixel, pixels per
 * scanline) | stored chunk: u32 LE decoded size, then the coded stream. The decoded size is cut
 * to FUZZ_MAX_OUT and written back into the header, so the stream itself is what gets fuzzed. */
#include "codecs/fc_codecs.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fc_scratch_t *s; /* a worker's scratch outlives its chunks */
    if (!s && !(s = fc_scratch_new()))
        return 0;
    fuzz_in_t in = {data, size};
    uint32_t cd[6] = {0};
    for (int i = 0; i < 4; i++)
        cd[i] = (uint32_t)fuzz_take(&in, 4);
    uint8_t *src = fuzz_rest(&in);
    size_t dstlen = 0;
    if (src && in.left >= 4) {
        dstlen = ((size_t)src[0] | (size_t)src[1] << 8 | (size_t)src[2] << 16) % (FUZZ_MAX_OUT + 1);
        for (int i = 0; i < 4; i++)
            src[i] = (uint8_t)(dstlen >> (8 * i));
    }
    uint8_t *dst = malloc(dstlen ? dstlen : 1);
    fc_error_t err;
    if (src && dst)
        fc_szip_decode(src, in.left, dst, dstlen, cd, s, &err);
    free(src);
    free(dst);
    return 0;
}
