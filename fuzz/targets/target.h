/* target.h — what every fuzz target shares: a parameter prefix and exact-size buffers.
 *
 * An input is a few parameter bytes (element size, decoded size, SIMD kernel...) followed by
 * the stored bytes the decoder sees. The seed builder (fuzz/corpus.py) writes real chunks in
 * this form, so mutating the prefix explores parameters around real data. */
#ifndef FUZZ_TARGET_H
#define FUZZ_TARGET_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastchunk.h"

#define FUZZ_MAX_OUT ((size_t)1 << 20) /* decoded bytes a target asks for at most */

typedef struct {
    const uint8_t *p;
    size_t left;
} fuzz_in_t;

/* Take n little-endian bytes (missing bytes read as 0). */
static inline uint64_t fuzz_take(fuzz_in_t *in, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        if (in->left) {
            v |= (uint64_t)in->p[0] << (8 * i);
            in->p++;
            in->left--;
        }
    return v;
}

/* The rest of the input in a buffer of exactly its size (ASan sees any over-read). */
static inline uint8_t *fuzz_rest(fuzz_in_t *in)
{
    uint8_t *b = malloc(in->left ? in->left : 1);
    if (b && in->left)
        memcpy(b, in->p, in->left);
    return b;
}

/* A whole target for a decoder of one stored chunk into an exact-size output, called as
 * decode(src, srclen, dst, dstlen, &err). Input: u24 decoded size | stored chunk. */
#define FUZZ_CHUNK_DECODER(decode)                                                      \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                        \
    {                                                                                   \
        fuzz_in_t in = {data, size};                                                    \
        size_t dstlen = (size_t)fuzz_take(&in, 3) % (FUZZ_MAX_OUT + 1);                 \
        uint8_t *src = fuzz_rest(&in), *dst = malloc(dstlen ? dstlen : 1);              \
        fc_error_t err;                                                                 \
        if (src && dst)                                                                 \
            decode(src, in.left, dst, dstlen, &err);                                    \
        free(src);                                                                      \
        free(dst);                                                                      \
        return 0;                                                                       \
    }

/* Kernel set from a parameter byte: generic, sse2, avx2 or avx512 where this CPU has them. */
static inline void fuzz_pick_kernels(unsigned v)
{
    static const char *names[] = {"generic", "sse2", "avx2", "avx512"};
    if (fc_kernels_select(names[v % 4]) != 0)
        fc_kernels_select("generic");
}

#endif
