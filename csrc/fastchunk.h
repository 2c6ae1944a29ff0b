/* fastchunk.h — the only header Cython sees: the named constants, plan structs, decoders, the
 * threaded read.
 *
 * Every constant Python needs is defined here once, in an X-macro table: X(name, value) makes
 * FC_<name>. setup.py reads the same tables into src/fastchunk/_constants.py, and _native
 * exports what the compiled tables say and refuses to import if the two differ. */
#ifndef FASTCHUNK_H
#define FASTCHUNK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FC_ENUM_CONSTANT(name, value) FC_##name = (value),
#define FC_ENUM_ERROR(name, code, message) FC_##name = (code),

#define FC_LIMITS(X)                                         \
    X(MAX_DIMS, 32)   /* HDF5's own limit (H5S_MAX_RANK) */ \
    X(MAX_FILTERS, 8)
enum { FC_LIMITS(FC_ENUM_CONSTANT) };

/* Status codes: FC_OK or >= 0 is fine, < 0 one of FC_ERRORS. X(name, code, message): the
 * message is what fc_strerror() returns and what Python's exception for the code says. */
#define FC_STATUS(X) X(OK, 0)
#define FC_ERRORS(X)                                                                         \
    X(E_NOMEM, -1, "out of memory")                                                          \
    X(E_IO, -2, "read failed")                       /* fc_error_t.sys_errno says why */     \
    X(E_SHORT_READ, -3, "file ends before the chunk does")                                   \
    X(E_CORRUPT, -4, "corrupt chunk")                /* .at: the byte offset in the chunk */ \
    X(E_UNSUPPORTED, -5, "filter not supported natively") /* or one of its parameters */     \
    X(E_INVALID, -6, "invalid read plan")            /* a bug in the caller */               \
    X(E_CANCELLED, -7, "cancelled")                  /* fc_job_cancel() was called */        \
    X(E_THREAD, -8, "cannot start a thread")                                                 \
    X(E_CHECKSUM, -9, "checksum mismatch")           /* a stored checksum disagrees */
enum { FC_STATUS(FC_ENUM_CONSTANT) FC_ERRORS(FC_ENUM_ERROR) };
const char *fc_strerror(int code);

/* HDF5 filter ids the native path knows. */
#define FC_FILTER_IDS(X)        \
    X(FILTER_DEFLATE, 1)        \
    X(FILTER_SHUFFLE, 2)        \
    X(FILTER_FLETCHER32, 3)     \
    X(FILTER_SZIP, 4)           \
    X(FILTER_SCALEOFFSET, 6)    \
    X(FILTER_LZF, 32000)        \
    X(FILTER_BLOSC, 32001)      \
    X(FILTER_LZ4, 32004)        \
    X(FILTER_BITSHUFFLE, 32008) \
    X(FILTER_ZSTD, 32015)
enum { FC_FILTER_IDS(FC_ENUM_CONSTANT) };

/* Bitshuffle compression codes (cd_values[4]). */
#define FC_BSHUF_CODES(X) X(BSHUF_NONE, 0) X(BSHUF_LZ4, 2) X(BSHUF_ZSTD, 3)
enum { FC_BSHUF_CODES(FC_ENUM_CONSTANT) };

/* szip flags (cd[0] as plan/filters.py normalizes it). */
#define FC_SZIP_FLAGS(X) X(SZIP_MSB, 1) X(SZIP_NN, 2)
enum { FC_SZIP_FLAGS(FC_ENUM_CONSTANT) };

/* One filter of a pipeline. cd holds the HDF5 cd_values the decoder needs:
 * bitshuffle: cd[0] elem size, cd[1] block elems (0 = default), cd[2] compression;
 * shuffle: cd[0] elem size; scaleoffset: see fc_scaleoffset.c; szip: see fc_szip.c. */
typedef struct {
    uint32_t id;
    uint32_t ncd;
    uint32_t cd[6];
} fc_filter_t;

/* Integer conversion from the stored type to the output's (a VDS over sources of another
 * integer type). A kind is the size in bytes, | FC_INT_SIGNED; conv = src kind << 8 | dst kind,
 * 0 for none. Out-of-range values saturate, as HDF5's conversions do. */
#define FC_INT_SIGNED 0x10u
#define FC_CONV(src_kind, dst_kind) (((uint32_t)(src_kind) << 8) | (uint32_t)(dst_kind))
#define FC_CONV_SRC(conv) (((conv) >> 8) & 0xffu)
#define FC_CONV_DST(conv) ((conv) & 0xffu)

/* How the chunks of one stored dataset look. */
#define FC_LAYOUT_FLAGS(X) \
    X(LAYOUT_DONT_FILTER_PARTIAL, 1) /* H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS */
enum { FC_LAYOUT_FLAGS(FC_ENUM_CONSTANT) };
typedef struct {
    int32_t ndim;
    uint32_t elem_size;                   /* stored element size */
    uint32_t nfilters;
    uint32_t flags;                       /* FC_LAYOUT_* */
    uint32_t conv;                        /* FC_CONV(...) into the output type, or 0 */
    int64_t chunk_shape[FC_MAX_DIMS];
    fc_filter_t filters[FC_MAX_FILTERS];  /* pipeline (write) order; decode runs them reversed */
} fc_layout_t;

/* One chunk to read. Python's row dtype is made from FC_ROW_FIELDS (X(C type, name)):
 * _constants.ROW_FIELDS by setup.py, _native.ROW_DTYPE from this struct's offsets. */
#define FC_ROW_FLAGS(X) X(ROW_PARTIAL, 1) /* an edge chunk that sticks out of the dataset */
enum { FC_ROW_FLAGS(FC_ENUM_CONSTANT) };
#define FC_ROW_FIELDS(X)                                                            \
    X(int64_t, offset)       /* byte offset in the file */                         \
    X(int64_t, nbytes)       /* stored bytes */                                    \
    X(int32_t, file_no)      /* index into fc_read_t.fds */                        \
    X(int32_t, layout_no)    /* index into fc_read_t.layouts */                    \
    X(uint32_t, filter_mask) /* bit i set: filter i was skipped for this chunk */  \
    X(uint32_t, flags)       /* FC_ROW_* */
#define FC_ROW_MEMBER(type, name) type name;
typedef struct {
    FC_ROW_FIELDS(FC_ROW_MEMBER)
} fc_row_t;

/* The tables above as data, for the Python side (common/fc_tables.c). */
#define FC_NAMED_CONSTANTS(X)                                                           \
    FC_LIMITS(X) FC_STATUS(X) FC_FILTER_IDS(X) FC_BSHUF_CODES(X) FC_SZIP_FLAGS(X)   \
    FC_LAYOUT_FLAGS(X) FC_ROW_FLAGS(X)
typedef struct {
    const char *name; /* without FC_ */
    int64_t value;
} fc_constant_t;
typedef struct {
    const char *name; /* without FC_ */
    int code;
} fc_error_name_t;
typedef struct {
    const char *name;
    size_t offset, size;
    int is_signed;
} fc_field_t;
extern const fc_constant_t fc_constants[];   /* FC_NAMED_CONSTANTS */
extern const int fc_nconstants;
extern const fc_error_name_t fc_errors[];    /* FC_ERRORS; their messages: fc_strerror */
extern const int fc_nerrors;
extern const fc_field_t fc_row_fields[];     /* FC_ROW_FIELDS, as laid out in fc_row_t */
extern const int fc_nrow_fields;

/* A box selection for fc_plan_box: elements start + k * step (k < count) on each axis. */
typedef struct {
    int32_t ndim;
    const int64_t *chunk; /* chunk shape */
    const int64_t *shape; /* dataset shape: chunks reaching past it get FC_ROW_PARTIAL */
    const int64_t *start, *step, *count;
} fc_box_t;

/* A chunk index (plan/chunk_index.py): n rows of grid coords (n x ndim), offset, nbytes,
 * filter_mask, sorted by offset. */
typedef struct {
    const int64_t *coords;
    const int64_t *offset;
    const int64_t *nbytes;
    const uint32_t *filter_mask;
} fc_index_t;

/* ---- planning (plan/) ------------------------------------------------------------------ */
/* Plan rows of a box selection: for each index row cand[k] (k < ncand; cand NULL: row k) whose
 * chunk holds a selected element, in that order, its fc_row_t, its region (3*ndim int64 as in
 * fc_read_t.regions) and its index row in take. Arrays hold ncand entries; returns how many
 * were filled. */
int64_t fc_plan_box(const fc_box_t *box, const fc_index_t *idx, const int64_t *cand,
                    int64_t ncand, int32_t file_no, int32_t layout_no, fc_row_t *rows,
                    int64_t *regions, int64_t *take);
/* How many chunks of the grid hold a selected element (allocated or not), saturating. */
int64_t fc_plan_touched(const fc_box_t *box);

/* Chunk records collected from HDF5's H5Dchunk_iter, which calls fc_index_visit with a sink as
 * op_data: a C callback costs nanoseconds where a Python one costs a call (300,000 for a
 * tiny-chunk file). */
typedef struct {
    int64_t *data;  /* per chunk: ndim element offsets, address, stored size, filter mask */
    int64_t n, cap; /* records held / allocated */
    int ndim;
} fc_index_sink_t;
void fc_index_sink_init(fc_index_sink_t *s, int ndim);
void fc_index_sink_free(fc_index_sink_t *s);
/* HDF5's H5D_chunk_iter_op_t as h5py declares it for HDF5 >= 1.12.3 (hsize_t and haddr_t are
 * 64-bit unsigned): append one record to the sink op. Returns 0, or -1 (H5_ITER_ERROR: the
 * iteration fails and the caller falls back) when the records cannot grow. HDF5 is never
 * called from here. */
int fc_index_visit(const uint64_t *offset, unsigned filter_mask, uint64_t addr, uint64_t size,
                   void *op);

/* The first error of a read (or of one decode call). */
typedef struct {
    int code;          /* FC_E_* */
    int sys_errno;     /* errno for FC_E_IO */
    int64_t row;       /* plan row, -1 if none */
    int64_t at;        /* byte offset inside the stored chunk, or file offset for I/O errors */
    const char *what;  /* static text: what exactly was wrong */
} fc_error_t;

/* A whole read. rows are in I/O order (file_no, offset). regions holds, per row,
 * 3*ndim int64: the chunk-local start (elements), the start in out, and the count per axis;
 * the chunk elements used are start + i*step[d]. out is C-contiguous with shape out_shape. */
typedef struct {
    const fc_row_t *rows;
    int64_t nrows;
    const int64_t *regions;
    const int64_t *step;
    const int64_t *out_shape;
    int32_t ndim;
    uint32_t out_elem_size;
    uint8_t *out;
    const int *fds;
    int32_t nfiles;
    const fc_layout_t *layouts;
    int32_t nlayouts;
    int32_t num_threads;        /* workers this read may use (>= 1) */
    int64_t io_inflight_bytes;  /* read-ahead bound (<= 0: default) */
} fc_read_t;

/* ---- threaded read (engine/) ----------------------------------------------------------
 * fc_job_start: validate req, start its I/O thread and hand chunks to the process-wide pool.
 *   req and every buffer it points to must stay alive until fc_job_finish. Returns FC_OK or
 *   FC_E_INVALID / FC_E_NOMEM / FC_E_THREAD (then *job is NULL and err says why).
 * fc_job_wait: wait up to timeout_ms; 1 when the job is complete, 0 on timeout. No GIL needed.
 * fc_job_cancel: ask the job to stop at the next chunk (any thread).
 * fc_job_finish: wait until done, free the job, return its status (first error wins in err).
 * fc_job_decoded: chunks the job has decoded so far (each stored chunk once however many rows
 *   name it); call it before fc_job_finish (tests check a shared chunk is decoded once).
 * fc_read_sync: start + finish, for callers that need no interruption.
 * fc_job_missed_wakeups: waits, in this process, that ran out their timeout on a job already
 *   complete (a lost wake-up; always 0 unless the pool has a bug).
 * Several jobs may run at once from different threads; they share the pool. */
typedef struct fc_job fc_job_t;
int fc_job_start(const fc_read_t *req, fc_job_t **job, fc_error_t *err);
int fc_job_wait(fc_job_t *job, int timeout_ms);
void fc_job_cancel(fc_job_t *job);
int fc_job_finish(fc_job_t *job, fc_error_t *err);
int64_t fc_job_decoded(const fc_job_t *job);
int fc_read_sync(const fc_read_t *req, fc_error_t *err);

/* ---- decode_many (engine/fc_many.c) ------------------------------------------------------
 * n stored chunks already in memory (a detector stream's frames), one layout, decoded on the
 * process-wide pool: buffer i into out + i * the layout's chunk bytes, skipping the filters
 * masks[i] names. fc_many_start validates and queues them; then fc_job_wait / fc_job_cancel /
 * fc_job_finish as for a read (err.row is the index of the failing buffer). Every pointer must
 * stay valid until fc_job_finish. parts > 1 splits every buffer into that many tasks of its
 * blocks (a one-filter bitshuffle layout and masks of 0 only): one big frame on every core. */
typedef struct {
    const fc_layout_t *layout;
    const uint8_t *const *srcs;
    const int64_t *lens;
    const uint32_t *masks;
    uint8_t *out;
    int64_t n;
    int32_t num_threads;
    int32_t parts;
} fc_many_t;
int fc_many_start(const fc_many_t *req, fc_job_t **job, fc_error_t *err);
int64_t fc_job_missed_wakeups(void);
/* Worker threads currently in the pool (grows to one less than the largest num_threads asked
 * for: a read's caller decodes too). */
int fc_pool_size(void);

/* ---- decoders (each thread-safe given its own scratch) -------------------------------- */
typedef struct fc_scratch fc_scratch_t;
fc_scratch_t *fc_scratch_new(void);
void fc_scratch_free(fc_scratch_t *s);

/* Undo a chunk's pipeline (skipping filters whose filter_mask bit is set, all of them when
 * unfiltered != 0) from src[0:srclen] into exactly dstlen bytes at dst. dst_final: dst is where
 * the caller keeps the result, not scratch it reads back at once, so a big chunk may be written
 * past the cache. */
int fc_chunk_decode(const fc_layout_t *lay, uint32_t filter_mask, int unfiltered,
                    const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                    int dst_final, fc_scratch_t *s, fc_error_t *err);

/* One raw LZ4 block (no frame) that must decode to exactly dstlen bytes and use all of src.
 * _pixels gives the same result and is faster on LZ4 over unshuffled pixels (filter 32004):
 * it has a loop of its own for the literal-free short matches that make most of such data. */
int fc_lz4_block_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                        size_t *err_at);
int fc_lz4_block_decode_pixels(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                               size_t *err_at);

/* Bitshuffle (filter 32008) stage: src is the stored chunk, dst gets exactly dstlen bytes
 * (dst_final as for fc_chunk_decode). */
int fc_bitshuffle_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                         int dst_final, fc_scratch_t *s, fc_error_t *err);

/* 1 if this build decodes deflate (zlib was found at build time). */
int fc_inflate_available(void);

/* ---- SIMD kernels (simd/fc_cpu.c picks them once) ------------------------------------- */
/* in: 8 bit-rows of nrow bytes; out: 8*nrow bytes, byte k of group g = element 8g+k. */
typedef void (*fc_bitplane_fn)(const uint8_t *in, uint8_t *out, size_t nrow);
/* in: elem_size planes of n bytes; out: n elements of elem_size bytes. */
typedef void (*fc_unshuffle_fn)(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
/* in: one bitshuffle block of m elements (m % 8 == 0), its elem_size byte planes of 8 bit-rows
 * each; out: the m elements. stream: out is the caller's final array and too big to stay in
 * cache, so a kernel may write it with non-temporal stores. Returns 0, writing nothing, for
 * sizes it does not handle. */
typedef int (*fc_elems_fn)(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size,
                           int stream);
typedef struct {
    const char *name;
    fc_bitplane_fn bitplane_untranspose;
    fc_unshuffle_fn byte_unshuffle;
    fc_elems_fn untranspose_elems; /* one pass for both steps, or NULL */
} fc_kernels_t;
/* The kernels in use: FASTCHUNK_SIMD=generic|sse2|avx2|avx512 forces one (if the build has it
 * and the CPU can run it). */
const fc_kernels_t *fc_kernels(void);
/* Force a kernel set by name; returns 0, or -1 if unknown, not built or the CPU lacks it. Not
 * thread-safe with reads in flight (tests call it between reads). */
int fc_kernels_select(const char *name);
/* Comma-separated names this build and CPU can run, best last. */
const char *fc_kernels_available(void);

#ifdef __cplusplus
}
#endif
#endif
