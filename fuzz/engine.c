/* engine.c — a small coverage-guided fuzzer for gcc, driving libFuzzer-style targets.
 *
 * Why our own: clang (and so libFuzzer) is not on the build machines, and atheris only sees
 * Python coverage unless the extension is built by clang. gcc does have the compiler half of
 * SanitizerCoverage: -fsanitize-coverage=trace-pc calls __sanitizer_cov_trace_pc() at the
 * start of every basic block, and trace-cmp reports the operands of every comparison. This
 * file is the runtime half: it turns those callbacks into AFL-style edge coverage (hashed
 * previous-block -> block pairs with bucketed hit counts) and a table of compared values, and
 * runs the usual loop: pick an input from the corpus, mutate it, run the target, keep it if
 * it reached something new. Targets define LLVMFuzzerTestOneInput, so the same files also
 * build with clang -fsanitize=fuzzer where clang exists.
 *
 * Only the decoders are built with trace-pc/trace-cmp; this file and the targets are not, so
 * the map sees our C and nothing else. Errors are found by ASan/UBSan (the process dies; a
 * death callback saves the input first) and by a watchdog thread for inputs that hang.
 *
 * Usage (flags spelled as libFuzzer's):
 *   fuzz-TARGET [-max_total_time=S] [-runs=N] [-seed=N] [-max_len=N] [-timeout=S]
 *               [-artifact_prefix=DIR/] CORPUS_DIR [SEED_DIR...]   fuzz; new inputs -> CORPUS_DIR
 *   fuzz-TARGET FILE...                                            run each file once */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define HAVE_DEATH_CALLBACK 1
#endif

/* ---- coverage map (written by the instrumented decoders) --------------------------- */

#define MAP_BITS 16
#define MAP_SIZE (1u << MAP_BITS)
static uint8_t hits[MAP_SIZE];   /* this run: hit count per hashed edge */
static uint8_t blocks[MAP_SIZE]; /* ever: 1 per hashed basic block */
static uint8_t seen[MAP_SIZE];   /* ever: one bit per hit-count bucket per edge */
/* Per thread: a read's I/O thread and workers run traced code beside the caller, and one
 * shared previous block would pair blocks of different threads into edges no input decides. */
static __thread uintptr_t prev_block;

static inline uintptr_t mix(uintptr_t x)
{
    x ^= x >> 17;
    x *= 0xed5ad4bbu;
    x ^= x >> 11;
    return x;
}

void __sanitizer_cov_trace_pc(void)
{
    uintptr_t b = mix((uintptr_t)__builtin_return_address(0));
    uint8_t *h = &hits[(b ^ prev_block) & (MAP_SIZE - 1)];
    if (*h != 255)
        (*h)++;
    blocks[b & (MAP_SIZE - 1)] = 1;
    prev_block = b >> 1; /* A->B and B->A hash differently */
}

/* ---- compared values (trace-cmp): what the decoder wanted to see ------------------- */

#define CMP_SLOTS 512
typedef struct {
    uint64_t a, b;
    uint8_t size;
} cmp_pair_t;
static cmp_pair_t cmps[CMP_SLOTS];
static unsigned cmp_next, cmp_count;

static inline void record_cmp(uint64_t a, uint64_t b, uint8_t size)
{
    if (a == b || size < 2)
        return;
    cmp_pair_t *c = &cmps[cmp_next++ % CMP_SLOTS];
    c->a = a;
    c->b = b;
    c->size = size;
    if (cmp_count < CMP_SLOTS)
        cmp_count++;
}

void __sanitizer_cov_trace_cmp1(uint8_t a, uint8_t b) { (void)a, (void)b; }
void __sanitizer_cov_trace_const_cmp1(uint8_t a, uint8_t b) { (void)a, (void)b; }
void __sanitizer_cov_trace_cmp2(uint16_t a, uint16_t b) { record_cmp(a, b, 2); }
void __sanitizer_cov_trace_const_cmp2(uint16_t a, uint16_t b) { record_cmp(b, a, 2); }
void __sanitizer_cov_trace_cmp4(uint32_t a, uint32_t b) { record_cmp(a, b, 4); }
void __sanitizer_cov_trace_const_cmp4(uint32_t a, uint32_t b) { record_cmp(b, a, 4); }
void __sanitizer_cov_trace_cmp8(uint64_t a, uint64_t b) { record_cmp(a, b, 8); }
void __sanitizer_cov_trace_const_cmp8(uint64_t a, uint64_t b) { record_cmp(b, a, 8); }
void __sanitizer_cov_trace_cmpf(float a, float b) { (void)a, (void)b; }
void __sanitizer_cov_trace_cmpd(double a, double b) { (void)a, (void)b; }
void __sanitizer_cov_trace_switch(uint64_t val, void *cases_)
{
    const uint64_t *cases = cases_;
    for (uint64_t i = 0; i < cases[0]; i++)
        record_cmp(val, cases[2 + i], (uint8_t)(cases[1] / 8));
}

/* ---- random numbers (deterministic for a given -seed) ------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* ---- corpus ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *data;
    size_t size;
} input_t;
static input_t *corpus;
static size_t ncorpus, corpus_cap;
static const char *corpus_dir;
static const char *artifact_prefix = "./";
static size_t max_len = 1 << 17;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void save(const char *dir_or_prefix, const char *kind, const uint8_t *p, size_t n,
                 int is_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s%016llx", dir_or_prefix, is_dir ? "/" : "", kind,
             (unsigned long long)fnv1a(p, n));
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(p, 1, n, f);
    fclose(f);
    if (!is_dir)
        fprintf(stderr, "engine: input written to %s\n", path);
}

static void add_to_corpus(const uint8_t *p, size_t n, int write_out)
{
    if (ncorpus == corpus_cap) {
        corpus_cap = corpus_cap ? 2 * corpus_cap : 256;
        corpus = realloc(corpus, corpus_cap * sizeof *corpus);
        if (!corpus)
            abort();
    }
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, p, n);
    corpus[ncorpus++] = (input_t){copy, n};
    if (write_out && corpus_dir)
        save(corpus_dir, "", p, n, 1);
}

/* ---- running one input --------------------------------------------------------------- */

static const uint8_t *current;
static size_t current_size;
static volatile int64_t run_started_ms; /* 0 when no run is in progress */
static int timeout_s = 10;
static int replaying; /* replay mode: the input is a file already, do not save it again */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_death(void)
{
    static int saved;
    if (current && !replaying && !saved++) {
        fprintf(stderr, "engine: CRASH on an input of %zu bytes\n", current_size);
        save(artifact_prefix, "crash-", current, current_size, 0);
    }
}

/* UBSan (a separate runtime in gcc) does not call ASan's death callback: with
 * abort_on_error=1 both end in abort(), so save the input there too. */
static void on_abort(int sig)
{
    on_death();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        sleep(1);
        int64_t t = run_started_ms;
        if (t && now_ms() - t > (int64_t)timeout_s * 1000) {
            fprintf(stderr, "engine: TIMEOUT: one input ran over %d s\n", timeout_s);
            if (current)
                save(artifact_prefix, "timeout-", current, current_size, 0);
            _exit(70);
        }
    }
    return NULL;
}

static const uint8_t bucket_of[256] = {
    [0] = 0, [1] = 1, [2] = 2, [3] = 4,
    [4 ... 7] = 8, [8 ... 15] = 16, [16 ... 31] = 32, [32 ... 127] = 64, [128 ... 255] = 128};

/* Run data once; return how many new (edge, bucket) features it reached. */
static size_t run_one(const uint8_t *data, size_t size)
{
    memset(hits, 0, sizeof hits);
    prev_block = 0;
    /* Hand the target an exact-size copy, so ASan sees a read one byte past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    current = copy;
    current_size = size;
    run_started_ms = now_ms();
    LLVMFuzzerTestOneInput(size ? copy : NULL, size);
    run_started_ms = 0;
    current = NULL;
    free(copy);
    size_t fresh = 0;
    const uint64_t *w = (const uint64_t *)hits;
    for (size_t i = 0; i < MAP_SIZE / 8; i++) {
        if (!w[i])
            continue;
        for (size_t k = 8 * i; k < 8 * i + 8; k++) {
            uint8_t b = bucket_of[hits[k]];
            if (b & ~seen[k]) {
                seen[k] |= b;
                fresh++;
            }
        }
    }
    return fresh;
}

static size_t count_edges(void)
{
    size_t n = 0;
    for (size_t i = 0; i < MAP_SIZE; i++)
        n += seen[i] != 0;
    return n;
}

static size_t count_blocks(void)
{
    size_t n = 0;
    for (size_t i = 0; i < MAP_SIZE; i++)
        n += blocks[i];
    return n;
}

/* ---- mutations ----------------------------------------------------------------------- */

static const int64_t interesting[] = {0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 31, 32, 63, 64, 127, 128,
                                      255, 256, 511, 512, 1023, 1024, 4095, 4096, 8191, 8192,
                                      65535, 65536, 0x7fffffff, 0x80000000LL, 0xffffffffLL, -1,
                                      -2, 0x7fffffffffffffffLL, (int64_t)0x8000000000000000ULL};

static void put_int(uint8_t *p, uint64_t v, int size, int big_endian)
{
    for (int i = 0; i < size; i++)
        p[big_endian ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_int(const uint8_t *p, int size, int big_endian)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v |= (uint64_t)p[big_endian ? size - 1 - i : i] << (8 * i);
    return v;
}

/* Replace a value the decoder compared against with the value it wanted (or beside it). */
static int mutate_cmp(uint8_t *buf, size_t len)
{
    if (!cmp_count)
        return 0;
    const cmp_pair_t *c = &cmps[below(cmp_count)];
    int size = c->size, be = (int)(rnd() & 1);
    if ((size_t)size > len)
        return 0;
    uint64_t want = c->b + (uint64_t)((int64_t)below(3) - 1) * (below(4) == 0);
    size_t start = below(len - (size_t)size + 1);
    for (size_t k = 0; k + (size_t)size <= len; k++) {
        size_t i = (start + k) % (len - (size_t)size + 1);
        for (int e = 0; e < 2; e++)
            if (get_int(buf + i, size, e) == c->a) {
                put_int(buf + i, want, size, e);
                return 1;
            }
    }
    put_int(buf + start, want, size, be);
    return 1;
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    int n = 1 << below(4);
    for (int m = 0; m < n; m++) {
        switch (below(12)) {
        case 0: /* flip a bit */
            if (len)
                buf[below(len)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* a random byte */
            if (len)
                buf[below(len)] = (uint8_t)rnd();
            break;
        case 2: /* nudge a byte */
            if (len)
                buf[below(len)] += (uint8_t)(below(33) - 16);
            break;
        case 3:
        case 4: { /* an interesting integer, little or big endian (headers here are BE) */
            int size = 1 << below(4);
            if ((size_t)size <= len)
                put_int(buf + below(len - (size_t)size + 1),
                        (uint64_t)interesting[below(sizeof interesting / sizeof *interesting)],
                        size, (int)(rnd() & 1));
            break;
        }
        case 5: { /* delete a range */
            if (len < 2)
                break;
            size_t at = below(len), n2 = 1 + below(len - at < 64 ? len - at : 64);
            memmove(buf + at, buf + at + n2, len - at - n2);
            len -= n2;
            break;
        }
        case 6: { /* insert random or repeated bytes */
            size_t n2 = 1 + below(16), at = below(len + 1);
            if (len + n2 > cap)
                break;
            memmove(buf + at + n2, buf + at, len - at);
            uint8_t v = (uint8_t)rnd();
            for (size_t i = 0; i < n2; i++)
                buf[at + i] = rnd() & 1 ? v : (uint8_t)rnd();
            len += n2;
            break;
        }
        case 7: { /* copy a range of the input over another place */
            if (len < 2)
                break;
            size_t from = below(len), to = below(len), n2 = 1 + below(len - (from > to ? from : to));
            memmove(buf + to, buf + from, n2);
            break;
        }
        case 8: { /* splice in a piece of another corpus input */
            const input_t *o = &corpus[below(ncorpus)];
            if (!o->size || !len)
                break;
            size_t from = below(o->size), to = below(len);
            size_t n2 = 1 + below(o->size - from);
            if (to + n2 > cap)
                n2 = cap - to;
            memcpy(buf + to, o->data + from, n2);
            if (to + n2 > len)
                len = to + n2;
            break;
        }
        case 9:
        case 10: /* a value the decoder compared with */
            mutate_cmp(buf, len);
            break;
        case 11: /* cut the end off */
            if (len)
                len = below(len + 1);
            break;
        }
    }
    return len;
}

/* ---- driver -------------------------------------------------------------------------- */

static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    uint8_t *buf = malloc(max_len);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t n = fread(buf, 1, max_len, f);
        fclose(f);
        if (run_one(buf, n) || ncorpus == 0)
            add_to_corpus(buf, n, 0);
    }
    closedir(d);
    free(buf);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int replay(int argc, char **argv)
{
    uint8_t *buf = malloc(max_len);
    int n = 0;
    replaying = 1;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "engine: cannot open %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        size_t len = fread(buf, 1, max_len, f);
        fclose(f);
        fprintf(stderr, "engine: running %s\n", argv[i]);
        run_one(buf, len);
        n++;
    }
    printf("REPLAYED inputs=%d edges=%zu blocks=%zu\n", n, count_edges(), count_blocks());
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    double max_time = 0;
    uint64_t max_runs = 0;
    const char *dirs[64];
    int ndirs = 0, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "-max_total_time=", 16))
            max_time = atof(a + 16);
        else if (!strncmp(a, "-runs=", 6))
            max_runs = strtoull(a + 6, NULL, 10);
        else if (!strncmp(a, "-seed=", 6))
            rng_state = strtoull(a + 6, NULL, 10) * 0x9E3779B97F4A7C15ull | 1;
        else if (!strncmp(a, "-max_len=", 9))
            max_len = strtoull(a + 9, NULL, 10);
        else if (!strncmp(a, "-timeout=", 9))
            timeout_s = atoi(a + 9);
        else if (!strncmp(a, "-artifact_prefix=", 17))
            artifact_prefix = a + 17;
        else if (a[0] == '-')
            fprintf(stderr, "engine: ignoring unknown flag %s\n", a);
        else if (is_dir(a) && ndirs < 64)
            dirs[ndirs++] = a;
        else
            nfiles++;
    }
#ifdef HAVE_DEATH_CALLBACK
    __sanitizer_set_death_callback(on_death);
#endif
    signal(SIGABRT, on_abort);
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog, NULL);
    if (nfiles && !ndirs)
        return replay(argc, argv);
    if (!ndirs) {
        fprintf(stderr, "usage: %s [flags] CORPUS_DIR [SEED_DIR...] | %s FILE...\n", argv[0], argv[0]);
        return 2;
    }
    corpus_dir = dirs[0];
    for (int i = 0; i < ndirs; i++)
        load_dir(dirs[i]);
    if (!ncorpus) {
        uint8_t zero = 0;
        run_one(&zero, 0);
        add_to_corpus(&zero, 0, 0);
    }
    size_t initial = ncorpus;
    fprintf(stderr, "engine: %zu inputs loaded, %zu edges\n", initial, count_edges());

    uint8_t *buf = malloc(max_len);
    int64_t t0 = now_ms(), last_report = t0;
    uint64_t runs = 0;
    for (;;) {
        int64_t t = now_ms();
        if ((max_time > 0 && t - t0 >= (int64_t)(max_time * 1000)) || (max_runs && runs >= max_runs))
            break;
        if (t - last_report >= 10000) {
            fprintf(stderr, "engine: #%llu %.0f exec/s, %zu edges, %zu blocks, corpus %zu\n",
                    (unsigned long long)runs, runs * 1000.0 / (double)(t - t0 + 1), count_edges(),
                    count_blocks(), ncorpus);
            last_report = t;
        }
        /* Favour recent finds a little: they sit at the frontier of what is covered. */
        size_t pick = below(4) == 0 ? ncorpus - 1 - below(ncorpus < 16 ? ncorpus : 16) : below(ncorpus);
        const input_t *in = &corpus[pick];
        size_t len = in->size < max_len ? in->size : max_len;
        memcpy(buf, in->data, len);
        len = mutate(buf, len, max_len);
        runs++;
        if (run_one(buf, len))
            add_to_corpus(buf, len, 1);
    }
    double secs = (double)(now_ms() - t0) / 1000.0;
    printf("FUZZ-STATS execs=%llu seconds=%.1f execs_per_s=%.0f edges=%zu blocks=%zu "
           "corpus=%zu new=%zu crashes=0\n",
           (unsigned long long)runs, secs, secs > 0 ? runs / secs : 0.0, count_edges(),
           count_blocks(), ncorpus, ncorpus - initial);
    free(buf);
    return 0;
}
