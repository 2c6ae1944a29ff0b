/* fc_cpu.c — pick the kernel set once from the CPU's features (FASTCHUNK_SIMD overrides). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fc_internal.h"

/* setup.py defines these when the compiler accepted -msse2 / -mavx2 for the kernel files. */
#ifndef FC_HAVE_SSE2
#define FC_HAVE_SSE2 0
#endif
#ifndef FC_HAVE_AVX2
#define FC_HAVE_AVX2 0
#endif
#ifndef FC_HAVE_AVX512
#define FC_HAVE_AVX512 0
#endif

static const fc_kernels_t generic_kernels = {
    "generic", fc_bitplane_untranspose_generic, fc_byte_unshuffle_generic, NULL};
static const fc_kernels_t sse2_kernels = {
    "sse2", fc_bitplane_untranspose_sse2, fc_byte_unshuffle_sse2, NULL};
static const fc_kernels_t avx2_kernels = {
    "avx2", fc_bitplane_untranspose_avx2, fc_byte_unshuffle_avx2,
    fc_untranspose_elems_avx2};
static const fc_kernels_t avx512_kernels = {
    "avx512", fc_bitplane_untranspose_avx512, fc_byte_unshuffle_avx512,
    fc_untranspose_elems_avx512};

static const fc_kernels_t *selected;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

/* Whether the compiler built the kernel AND this CPU (and OS) can run it. */
static int kernel_usable(const fc_kernels_t *k)
{
    if (k == &generic_kernels)
        return 1;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (k == &sse2_kernels)
        return FC_HAVE_SSE2 && __builtin_cpu_supports("sse2");
    if (k == &avx2_kernels)
        return FC_HAVE_AVX2 && __builtin_cpu_supports("avx2");
    if (k == &avx512_kernels) /* libgcc also checks that the OS saves the zmm registers */
        return FC_HAVE_AVX512 && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("gfni");
#endif
    return 0;
}

static const fc_kernels_t *by_name(const char *name)
{
    if (!strcmp(name, "generic"))
        return &generic_kernels;
    if (!strcmp(name, "sse2"))
        return &sse2_kernels;
    if (!strcmp(name, "avx2"))
        return &avx2_kernels;
    if (!strcmp(name, "avx512"))
        return &avx512_kernels;
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
    if (kernel_usable(&avx512_kernels))
        selected = &avx512_kernels;
    else if (kernel_usable(&avx2_kernels))
        selected = &avx2_kernels;
    else if (kernel_usable(&sse2_kernels))
        selected = &sse2_kernels;
    else
        selected = &generic_kernels;
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
    const fc_kernels_t *all[] = {&generic_kernels, &sse2_kernels, &avx2_kernels,
                                  &avx512_kernels};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!kernel_usable(all[i]))
            continue;
        if (names[0])
            strcat(names, ",");
        strcat(names, all[i]->name);
    }
    return names;
}
