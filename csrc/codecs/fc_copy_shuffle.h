/* fc_copy_shuffle.h — the first 16 bytes of an LZ77 match in one store, whatever its distance
 * (inflate and LZ4 share it).
 *
 * A match copies len bytes from d bytes back; when d < len the copy reads bytes it is itself
 * writing, so the usual copy branches on d (a wide move for d >= 8 or 16, a broadcast for d = 1,
 * a pattern for the rest). In detector data the distance of consecutive matches changes with
 * every pixel, so those branches mispredict often. Instead: load the 16 bytes at out - d and
 * shuffle them with copy_masks[min(d, 16)][i] = i % d, which repeats the first d bytes when
 * d < 16 and leaves the window as it is otherwise; one pshufb and no branch on d for every match
 * of up to 16 bytes. The window's bytes past `out` (d < 16) are loaded but never used, so the
 * caller needs 16 readable bytes from out - d and 16 writable bytes from out.
 *
 * It needs a variable byte shuffle: GCC's __builtin_shuffle, which becomes pshufb in a function
 * compiled with target("ssse3"). Callers compile a variant with that target and pick it at run
 * time (FC_SHUFFLE_COPY says whether this compiler and CPU family can). */
#ifndef FC_COPY_SHUFFLE_H
#define FC_COPY_SHUFFLE_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__)) && \
    !defined(FC_NO_X86_DISPATCH)
#define FC_SHUFFLE_COPY 1
#else
#define FC_SHUFFLE_COPY 0
#endif

#if FC_SHUFFLE_COPY
typedef uint8_t fc_v16u8 __attribute__((vector_size(16)));

#define FC_CM(p)                                                                                  \
    {0 % p, 1 % p, 2 % p, 3 % p, 4 % p, 5 % p, 6 % p, 7 % p,                                      \
     8 % p, 9 % p, 10 % p, 11 % p, 12 % p, 13 % p, 14 % p, 15 % p}
static const fc_v16u8 fc_copy_masks[17] __attribute__((aligned(16), unused)) = {
    FC_CM(1), FC_CM(1),  FC_CM(2),  FC_CM(3),  FC_CM(4),  FC_CM(5),  FC_CM(6),  FC_CM(7), FC_CM(8),
    FC_CM(9), FC_CM(10), FC_CM(11), FC_CM(12), FC_CM(13), FC_CM(14), FC_CM(15), FC_CM(16)};
#undef FC_CM

/* fc_copy_steps[d]: the largest multiple of d that is <= 16, for d < 16. Storing the shuffled
 * window again every that many bytes continues the pattern in phase. */
static const uint8_t fc_copy_steps[16] __attribute__((unused)) = {
    0, 16, 16, 15, 16, 15, 12, 14, 16, 9, 10, 11, 12, 13, 14, 15};

/* Write the first 16 bytes of the match at out from d >= 1 bytes back; returns the window
 * (the pattern of period d, for d < 16). Inline only into target("ssse3") functions. */
static inline __attribute__((always_inline)) fc_v16u8 fc_copy16_shuffled(uint8_t *out, size_t d)
{
    fc_v16u8 v;
    memcpy(&v, out - d, 16);
    v = __builtin_shuffle(v, fc_copy_masks[d < 16 ? d : 16]);
    memcpy(out, &v, 16);
    return v;
}
#endif

#endif
