/* fastchunk.h — the only header Cython sees: plan structs, decoders, the threaded read. */
#ifndef FASTCHUNK_H
#define FASTCHUNK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FC_MAX_DIMS 32    /* HDF5's own limit (H5S_MAX_RANK) */
#define FC_MAX_FILTERS 8

/* Status codes: >= 0 fine, < 0 one of these. fc_strerror() gives the text. */
enum {
    FC_OK = 0,
    FC_E_NOMEM = -1,       /* malloc failed */
    FC_E_IO = -2,          /* pread failed; fc_error_t.sys_errno says why */
    FC_E_SHORT_READ = -3,  /* the file ends before the chunk does */
    FC_E_CORRUPT = -4,     /* stored bytes are inconsistent; .at is the byte offset in the chunk */
    FC_E_UNSUPPORTED = -5, /* filter or parameter the native path does not decode */
    FC_E_INVALID = -6,     /* the plan itself is wrong (a bug in the caller) */
    FC_E_CANCELLED = -7,   /* fc_job_cancel() was called */
    FC_E_THREAD = -8,      /* a thread could not be started */
    FC_E_CHECKSUM = -9,    /* a stored checksum does not match the data */
};
const char *fc_strerror(int code);

/* HDF5 filter ids the native path knows. */
#define FC_FILTER_DEFLATE 1
#define FC_FILTER_SHUFFLE 2
#define FC_FILTER_FLETCHER32 3
#define FC_FILTER_SZIP 4
#define FC_FILTER_SCALEOFFSET 6
#define FC_FILTER_LZF 32000
#define FC_FILTER_BLOSC 32001
#define FC_FILTER_LZ4 32004
#define FC_FILTER_BITSHUFFLE 32008
#define FC_FILTER_ZSTD 32015

/* Bitshuffle compression codes (cd_values[4]). */
#define FC_BSHUF_NONE 0
#define FC_BSHUF_LZ4 2
#define FC_BSHUF_ZSTD 3

/* szip flags (cd[0] as filters.py normalizes it). */
#define FC_SZIP_MSB 1u
#define FC_SZIP_NN 2u

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
#define FC_LAYOUT_DONT_FILTER_PARTIAL 1u /* H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS */
typedef struct {
    int32_t ndim;
    uint32_t elem_size;                   /* stored element size */
    uint32_t nfilters;
    uint32_t flags;                       /* FC_LAYOUT_* */
    uint32_t conv;                        /* FC_CONV(...) into the output type, or 0 */
    int64_t chunk_shape[FC_MAX_DIMS];
    fc_filter_t filters[FC_MAX_FILTERS];  /* pipeline (write) order; decode runs them reversed */
} fc_layout_t;

/* One chunk to read. Must match ROW_DTYPE in src/fastchunk/plan.py (32 bytes). */
#define FC_ROW_PARTIAL 1u   /* an edge chunk that sticks out of the dataset */
typedef struct {
    int64_t offset;       /* byte offset in the file */
    int64_t nbytes;       /* stored bytes */
    int32_t file_no;      /* index into fc_read_t.fds */
    int32_t layout_no;    /* index into fc_read_t.layouts */
    uint32_t filter_mask; /* bit i set: filter i was skipped for this chunk */
    uint32_t flags;       /* FC_ROW_* */
} fc_row_t;

/* A box selection for fc_plan_box: elements start + k * step (k < count) on each axis. */
typedef struct {
    int32_t ndim;
    const int64_t *chunk; /* chunk shape */
    const int64_t *shape; /* dataset shape: chunks reaching past it get FC_ROW_PARTIAL */
    const int64_t *start, *step, *count;
} fc_box_t;

/* A chunk index (ChunkIndex in index.py): n rows of grid coords (n x ndim), offset, nbytes,
 * filter_mask, sorted by offset. */
typedef struct {
    const int64_t *coords;
    const int64_t *offset;
    const int64_t *nbytes;
    const uint32_t *filter_mask;
} fc_index_t;

/* Plan rows of a box selection: for each index row cand[k] (k < ncand; cand NULL: row k) whose
 * chunk holds a selected element, in that order, its fc_row_t, its region (3*ndim int64 as in
 * fc_read_t.regions) and its index row in take. Arrays hold ncand entries; returns how many
 * were filled. */
int64_t fc_plan_box(const fc_box_t *box, const fc_index_t *idx, const int64_t *cand,
                    int64_t ncand, int32_t file_no, int32_t layout_no, fc_row_t *rows,
                    int64_t *regions, int64_t *take);
/* How many chunks of the grid hold a selected element (allocated or not), saturating. */
int64_t fc_plan_touched(const fc_box_t *box);

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

/* ---- threaded read (fc_job.c) ---------------------------------------------------------
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
int64_t fc_job_missed_wakeups(void);
/* Worker threads currently in the pool (grows to one less than the largest num_threads asked
 * for: a read's caller decodes too). */
int fc_pool_size(void);

/* ---- decoders (each thread-safe given its own scratch) -------------------------------- */
typedef struct fc_scratch fc_scratch_t;
fc_scratch_t *fc_scratch_new(void);
void fc_scratch_free(fc_scratch_t *s);

/* Undo a chunk's pipeline (skipping filters whose filter_mask bit is set, all of them when
 * unfiltered != 0) from src[0:srclen] into exactly dstlen bytes at dst. */
int fc_chunk_decode(const fc_layout_t *lay, uint32_t filter_mask, int unfiltered,
                    const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                    fc_scratch_t *s, fc_error_t *err);

/* One raw LZ4 block (no frame) that must decode to exactly dstlen bytes and use all of src.
 * _pixels gives the same result and is faster on LZ4 over unshuffled pixels (filter 32004):
 * it has a loop of its own for the literal-free short matches that make most of such data. */
int fc_lz4_block_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                        size_t *err_at);
int fc_lz4_block_decode_pixels(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                               size_t *err_at);

/* Bitshuffle (filter 32008) stage: src is the stored chunk, dst gets exactly dstlen bytes. */
int fc_bitshuffle_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         uint32_t elem_size, uint32_t block_elems, uint32_t compression,
                         fc_scratch_t *s, fc_error_t *err);

/* 1 if this build decodes deflate (zlib was found at build time). */
int fc_inflate_available(void);

/* ---- SIMD kernels (fc_cpu.c picks them once) ------------------------------------------ */
/* in: 8 bit-rows of nrow bytes; out: 8*nrow bytes, byte k of group g = element 8g+k. */
typedef void (*fc_bitplane_fn)(const uint8_t *in, uint8_t *out, size_t nrow);
/* in: elem_size planes of n bytes; out: n elements of elem_size bytes. */
typedef void (*fc_unshuffle_fn)(const uint8_t *in, uint8_t *out, size_t n, size_t elem_size);
/* in: one bitshuffle block of m elements (m % 8 == 0), its elem_size byte planes of 8 bit-rows
 * each; out: the m elements. Returns 0, writing nothing, for sizes it does not handle. */
typedef int (*fc_elems_fn)(const uint8_t *in, uint8_t *out, size_t m, size_t elem_size);
typedef struct {
    const char *name;
    fc_bitplane_fn bitplane_untranspose;
    fc_unshuffle_fn byte_unshuffle;
    fc_elems_fn untranspose_elems; /* one pass for both steps, or NULL */
} fc_kernels_t;
/* The kernels in use: FASTCHUNK_SIMD=generic|sse2|avx2|avx512 forces one (if the CPU has it). */
const fc_kernels_t *fc_kernels(void);
/* Force a kernel set by name; returns 0, or -1 if unknown or the CPU lacks it. Not thread-safe
 * with reads in flight (tests call it between reads). */
int fc_kernels_select(const char *name);
/* Comma-separated names this CPU can run, best last. */
const char *fc_kernels_available(void);

#ifdef __cplusplus
}
#endif
#endif
