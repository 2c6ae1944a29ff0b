# cython: language_level=3
# What _native.pyx uses of csrc/fastchunk.h, the one header it sees (the C side says what each
# declaration means).
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef extern from "fastchunk.h" nogil:
    enum:
        FC_MAX_DIMS
        FC_MAX_FILTERS
        FC_OK
        FC_E_CANCELLED

    ctypedef struct fc_constant_t:
        const char *name
        int64_t value
    ctypedef struct fc_error_name_t:
        const char *name
        int code
    ctypedef struct fc_field_t:
        const char *name
        size_t offset
        size_t size
        int is_signed
    const fc_constant_t fc_constants[]
    const int fc_nconstants
    const fc_error_name_t fc_errors[]
    const int fc_nerrors
    const fc_field_t fc_row_fields[]
    const int fc_nrow_fields
    const char *fc_strerror(int code)

    ctypedef struct fc_filter_t:
        uint32_t id
        uint32_t ncd
        uint32_t cd[6]

    ctypedef struct fc_layout_t:
        int32_t ndim
        uint32_t elem_size
        uint32_t nfilters
        uint32_t flags
        uint32_t conv
        int64_t chunk_shape[FC_MAX_DIMS]
        fc_filter_t filters[FC_MAX_FILTERS]

    ctypedef struct fc_row_t:
        int64_t offset
        int64_t nbytes
        int32_t file_no
        int32_t layout_no
        uint32_t filter_mask
        uint32_t flags

    ctypedef struct fc_error_t:
        int code
        int sys_errno
        int64_t row
        int64_t at
        const char *what

    ctypedef struct fc_read_t:
        const fc_row_t *rows
        int64_t nrows
        const int64_t *regions
        const int64_t *step
        const int64_t *out_shape
        int32_t ndim
        uint32_t out_elem_size
        uint8_t *out
        const int *fds
        int32_t nfiles
        const fc_layout_t *layouts
        int32_t nlayouts
        int32_t num_threads
        int64_t io_inflight_bytes

    ctypedef struct fc_many_t:
        const fc_layout_t *layout
        const uint8_t *const *srcs
        const int64_t *lens
        const uint32_t *masks
        uint8_t *out
        int64_t n
        int32_t num_threads
        int32_t parts

    ctypedef struct fc_job_t:
        pass
    ctypedef struct fc_scratch_t:
        pass

    ctypedef struct fc_box_t:
        int32_t ndim
        const int64_t *chunk
        const int64_t *shape
        const int64_t *start
        const int64_t *step
        const int64_t *count

    ctypedef struct fc_index_t:
        const int64_t *coords
        const int64_t *offset
        const int64_t *nbytes
        const uint32_t *filter_mask

    int64_t fc_plan_box(const fc_box_t *box, const fc_index_t *idx, const int64_t *cand,
                        int64_t ncand, int32_t file_no, int32_t layout_no, fc_row_t *rows,
                        int64_t *regions, int64_t *take)
    int64_t fc_plan_touched(const fc_box_t *box)

    ctypedef struct fc_index_sink_t:
        int64_t *data
        int64_t n
        int64_t cap
        int ndim
    void fc_index_sink_init(fc_index_sink_t *s, int ndim)
    void fc_index_sink_free(fc_index_sink_t *s)
    int fc_index_visit(const uint64_t *offset, unsigned filter_mask, uint64_t addr,
                       uint64_t size, void *op)

    int fc_job_start(const fc_read_t *req, fc_job_t **job, fc_error_t *err)
    int fc_job_wait(fc_job_t *job, int timeout_ms)
    void fc_job_cancel(fc_job_t *job)
    int fc_job_finish(fc_job_t *job, fc_error_t *err)
    int64_t fc_job_decoded(const fc_job_t *job)
    int fc_many_start(const fc_many_t *req, fc_job_t **job, fc_error_t *err)
    int fc_pool_size()
    int64_t fc_job_missed_wakeups()
    int fc_inflate_available()

    fc_scratch_t *fc_scratch_new()
    void fc_scratch_free(fc_scratch_t *s)
    int fc_chunk_decode(const fc_layout_t *lay, uint32_t filter_mask, int unfiltered,
                        const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                        int dst_final, fc_scratch_t *s, fc_error_t *err)
    int fc_lz4_block_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                            size_t *err_at)
    int fc_lz4_block_decode_pixels(const uint8_t *src, size_t srclen, uint8_t *dst,
                                   size_t dstlen, size_t *err_at)

    ctypedef struct fc_kernels_t:
        const char *name
    const fc_kernels_t *fc_kernels()
    int fc_kernels_select(const char *name)
    const char *fc_kernels_available()
