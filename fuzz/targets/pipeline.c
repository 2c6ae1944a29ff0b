/* pipeline.c — fuzz target: a whole chunk pipeline (fc_chunk_decode), as a worker runs it.
 * Input: u8 pipeline | u8 element size - 1 | u24 elements | u8 filter_mask | u8 flags
 *        | stored chunk.
 * Pipelines are the ones real files use (write order, as in fc_layout_t); flags bit 0 marks
 * the chunk unfiltered (a partial edge chunk with DONT_FILTER_PARTIAL), bits 1-2 pick the
 * kernel set, bits 3+ are the bitshuffle block size for uncompressed bitshuffle. */
#include "target.h"

#define BS_LZ4 {FC_FILTER_BITSHUFFLE, 5, {0, 0, FC_BSHUF_LZ4}}
#define BS_RAW {FC_FILTER_BITSHUFFLE, 3, {0, 0, FC_BSHUF_NONE}}
#define LZ4 {FC_FILTER_LZ4, 1, {0}}
#define DEFL {FC_FILTER_DEFLATE, 1, {4}}
#define SHUF {FC_FILTER_SHUFFLE, 1, {0}}
#define F32 {FC_FILTER_FLETCHER32, 0, {0}}
#define LZF {FC_FILTER_LZF, 0, {0}}
#define BS_ZSTD {FC_FILTER_BITSHUFFLE, 5, {0, 0, FC_BSHUF_ZSTD}}
#define ZSTD {FC_FILTER_ZSTD, 1, {3}}
#define SZIP {FC_FILTER_SZIP, 4, {FC_SZIP_NN, 8, 0, 64}} /* bits per pixel: the element's */
#define BLOSC {FC_FILTER_BLOSC, 0, {0}}

static const struct {
    uint32_t n;
    fc_filter_t f[4];
} pipelines[] = {
    {1, {BS_LZ4}}, {1, {BS_RAW}}, {1, {LZ4}}, {1, {DEFL}}, {1, {SHUF}}, {1, {F32}},
    {2, {SHUF, DEFL}}, {3, {SHUF, DEFL, F32}}, {2, {DEFL, F32}}, {2, {LZ4, F32}},
    {2, {SHUF, LZ4}}, {2, {BS_LZ4, F32}}, {2, {SHUF, F32}}, {2, {BS_RAW, LZ4}},
    {2, {BS_RAW, DEFL}}, {3, {SHUF, BS_LZ4, DEFL}}, {0, {{0}}}, {1, {LZF}}, {2, {SHUF, LZF}},
    {3, {SHUF, LZF, F32}}, {1, {BS_ZSTD}}, {1, {ZSTD}}, {3, {SHUF, ZSTD, F32}}, {1, {SZIP}},
    {3, {SHUF, SZIP, F32}}, {2, {SZIP, DEFL}}, {1, {BLOSC}}, {3, {SHUF, BLOSC, F32}},
};
#define NPIPE (sizeof pipelines / sizeof *pipelines)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fc_scratch_t *s; /* a worker's scratch outlives its chunks */
    if (!s && !(s = fc_scratch_new()))
        return 0;
    fuzz_in_t in = {data, size};
    unsigned pick = (unsigned)fuzz_take(&in, 1) % NPIPE;
    uint32_t es = 1 + (uint32_t)fuzz_take(&in, 1) % 16;
    size_t n = (size_t)fuzz_take(&in, 3);
    uint32_t mask = (uint32_t)fuzz_take(&in, 1);
    unsigned flags = (unsigned)fuzz_take(&in, 1);
    fuzz_pick_kernels(flags >> 1);
    if (n * es > FUZZ_MAX_OUT)
        n = FUZZ_MAX_OUT / es;

    fc_layout_t lay;
    memset(&lay, 0, sizeof lay);
    lay.ndim = 1;
    lay.elem_size = es;
    lay.chunk_shape[0] = (int64_t)n;
    lay.nfilters = pipelines[pick].n;
    for (uint32_t i = 0; i < lay.nfilters; i++) {
        lay.filters[i] = pipelines[pick].f[i];
        if (lay.filters[i].id == FC_FILTER_BITSHUFFLE) {
            lay.filters[i].cd[0] = es;
            lay.filters[i].cd[1] = (flags >> 3) * 8;
        }
        if (lay.filters[i].id == FC_FILTER_SHUFFLE)
            lay.filters[i].cd[0] = es;
        if (lay.filters[i].id == FC_FILTER_SZIP)
            lay.filters[i].cd[2] = es * 8;
    }
    size_t dstlen = n * es;
    uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);
    fc_error_t err;
    if (src && dst)
        fc_chunk_decode(&lay, mask, (int)(flags & 1), in.left ? src : NULL, in.left, dst, dstlen,
                        (int)(flags >> 1 & 1), s, &err);
    free(src);
    free(dst);
    return 0;
}
