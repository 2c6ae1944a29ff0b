/* blosc.c — fuzz target: a Blosc 1 buffer, HDF5 filter 32001 (fc_blosc_decode, with BloscLZ,
 * Snappy, LZ4, zlib and zstd streams inside).
 * Input: u8 kernel set | stored chunk. The decoded size is the header's, cut to FUZZ_MAX_OUT
 * and written back into it, so the block table and the streams are what gets fuzzed. */
#include "codecs/fc_codecs.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fc_scratch_t *s; /* a worker's scratch outlives its chunks */
    if (!s && !(s = fc_scratch_new()))
        return 0;
    fuzz_in_t in = {data, size};
    fuzz_pick_kernels((unsigned)fuzz_take(&in, 1));
    uint8_t *src = fuzz_rest(&in);
    size_t dstlen = 0;
    if (src && in.left >= 16) {
        dstlen = ((size_t)src[4] | (size_t)src[5] << 8 | (size_t)src[6] << 16) % (FUZZ_MAX_OUT + 1);
        for (int i = 0; i < 4; i++)
            src[4 + i] = (uint8_t)(dstlen >> (8 * i));
    }
    uint8_t *dst = malloc(dstlen ? dstlen : 1);
    fc_error_t err;
    if (src && dst)
        fc_blosc_decode(src, in.left, dst, dstlen, s, &err);
    free(src);
    free(dst);
    return 0;
}
