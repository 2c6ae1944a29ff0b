/* fc_cpu.c — pick the kernel set once from the CPU's features (FASTCHUNK_SIMD overrides).
 *
 * setup.py defines FC_HAVE_SSE2 / FC_HAVE_AVX2 / FC_HAVE_AVX512 when the compiler accepted the
 * flags of those kernel files and built them (each set only if the one before it was: AVX2's
 * unshuffle falls back to SSE2's, AVX-512 uses AVX2's). A set not built is not named here at
 * all, so a compiler without x86 SIMD flags (ARM64) builds the portable set alone. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fastchunk.h"
#include "simd/fc_bitplane.h"
#include "simd/fc_unshuffle.h"

static const fc_kernels_t generic_kernels = {
    "generic", fc_bitplane_untranspose_generic, fc_byte_unshuffle_generic, NULL};
#if FC_HAVE_SSE2
static const fc_kernels_t sse2_kernels = {
    "sse2", fc_bitplane_untranspose_sse2, fc_byte_unshuffle_sse2, NULL};
#endif
#if FC_HAVE_AVX2
static const fc_kernels_t avx2_kernels = {
    "avx2", fc_bitplane_untranspose_avx2, fc_byte_unshuffle_avx2,
    fc_untranspose_elems_avx2};
#endif
#if FC_HAVE_AVX512
static const fc_kernels_t avx512_kernels = {
    "avx512", fc_bitplane_untranspose_avx512, fc_byte_unshuffle_avx2,
    fc_untranspose_elems_avx512};
#endif

/* Every set this build has, best last. */
static const fc_kernels_t *const built[] = {
    &generic_kernels,
#if FC_HAVE_SSE2
    &sse2_kernels,
#endif
#if FC_HAVE_AVX2
    &avx2_kernels,
#endif
#if FC_HAVE_AVX512
    &avx512_kernels,
#endif
};
#define NBUILT (sizeof built / sizeof built[0])

static const fc_kernels_t *selected;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

/* Whether this CPU (and OS) can run a set this build has. */
static int kernel_usable(const fc_kernels_t *k)
{
    if (k == &generic_kernels)
        return 1;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
#if FC_HAVE_SSE2
    if (k == &sse2_kernels)
        return __builtin_cpu_supports("sse2");
#endif
#if FC_HAVE_AVX2
    if (k == &avx2_kernels)
        return __builtin_cpu_supports("avx2");
#endif
#if FC_HAVE_AVX512
    if (k == &avx512_kernels) /* libgcc also checks that the OS saves the zmm registers */
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("gfni");
#endif
#endif
    return 0;
}

static const fc_kernels_t *by_name(const char *name)
{
    for (size_t i = 0; i < NBUILT; i++)
        if (!strcmp(name, built[i]->name))
            return built[i];
    return NULL;
}

static void detect(void)
{
    const char *env = getenv("FASTCHUNK_SIMD");
    const fc_kernels_t *k = env && *env ? by_name(env) : NULL;
    if (k && kernel_usable(k)) {
        selected = k;
        return;
    }
    /* An unknown or unusable FASTCHUNK_SIMD falls back to the best kernel; Python warns. */
    for (size_t i = NBUILT; i-- > 0;)
        if (kernel_usable(built[i])) {
            selected = built[i];
            return;
        }
}

const fc_kernels_t *fc_kernels(void)
{
    pthread_once(&detect_once, detect);
    return __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
}

int fc_kernels_select(const char *name)
{
    const fc_kernels_t *k = by_name(name);
    pthread_once(&detect_once, detect);
    if (!k || !kernel_usable(k))
        return -1;
    __atomic_store_n(&selected, k, __ATOMIC_RELEASE);
    return 0;
}

const char *fc_kernels_available(void)
{
    static char names[64];
    names[0] = '\0';
    for (size_t i = 0; i < NBUILT; i++) {
        if (!kernel_usable(built[i]))
            continue;
        if (names[0])
            strcat(names, ",");
        strcat(names, built[i]->name);
    }
    return names;
}
