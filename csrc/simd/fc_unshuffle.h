/* fc_unshuffle.h — the byte-unshuffle kernels, one file per instruction set (fc_cpu.c picks
 * one), and the scalar loop they use for their tails.
 *
 * Byte-shuffled data (HDF5's shuffle filter, Blosc's byte shuffle, szip's 32/64-bit pixels,
 * bitshuffle after its bit step) is elem_size planes of n bytes; a kernel interleaves them back
 * into n elements (fc_unshuffle_fn in fastchunk.h). A kernel falls back to the one below it
 * for sizes it has no loop for: AVX2 to SSE2, SSE2 to the portable one. */
#ifndef FC_UNSHUFFLE_H
#define FC_UNSHUFFLE_H

#include <stddef.h>
#include <stdint.h>

void fc_byte_unshuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
void fc_byte_unshuffle_sse2(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
void fc_byte_unshuffle_avx2(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);

/* The scalar byte-unshuffle of elements i0..n-1 (kernels use it for their tails). */
static inline void fc_unshuffle_elems(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size,
                                      size_t i0)
{
    /* Walk the output in order so writes stream; reads hop between elem_size planes. */
    for (size_t i = i0; i < n; i++)
        for (size_t j = 0; j < elem_size; j++)
            out[i * elem_size + j] = in[j * n + i];
}

#endif
