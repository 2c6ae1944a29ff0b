# cython: language_level=3
"""The one Cython module: plan arrays -> C, GIL released, status -> exception.

Policy lives in Python; speed lives in C (csrc/). This file only translates: it checks and pins
buffers, fills the C structs (declared in _native.pxd) and turns the returned status into an
exception. The named constants, error messages and row dtype are the compiled header's
(csrc/fastchunk.h); importing fails if src/fastchunk/_constants.py, which setup.py writes from
the same header, says otherwise (a stale generated file).
"""
import sys

from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release,
                            PyObject_GetBuffer)
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

import numpy as np

from . import _constants
from .errors import error_from_status


def _header():
    """Every name _constants has, as the compiled fastchunk.h has it."""
    values = {fc_constants[i].name.decode(): fc_constants[i].value for i in range(fc_nconstants)}
    errors = {}
    for i in range(fc_nerrors):
        name, code = fc_errors[i].name.decode(), fc_errors[i].code
        values[name] = code
        errors[code] = (name, fc_strerror(code).decode())
    order = "<" if sys.byteorder == "little" else ">"
    values["ERRORS"] = errors
    values["ROW_FIELDS"] = [
        (fc_row_fields[i].name.decode(),
         f"{order}{'i' if fc_row_fields[i].is_signed else 'u'}{fc_row_fields[i].size}")
        for i in range(fc_nrow_fields)]
    return values


def _row_dtype(fields):
    """fc_row_t as a numpy dtype, with the struct's own offsets and size."""
    return np.dtype({"names": [name for name, _ in fields],
                     "formats": [fmt for _, fmt in fields],
                     "offsets": [fc_row_fields[i].offset for i in range(fc_nrow_fields)],
                     "itemsize": sizeof(fc_row_t)})


_HEADER = _header()
_names = set(_HEADER) | {n for n in vars(_constants) if not n.startswith("_")}
_stale = sorted(n for n in _names if getattr(_constants, n, None) != _HEADER.get(n))
if _stale:
    raise ImportError(f"fastchunk/_constants.py disagrees with the compiled csrc/fastchunk.h on "
                      f"{', '.join(_stale)}: it is stale (python setup.py build_ext --inplace "
                      f"writes it again)")
globals().update(_HEADER)  # MAX_DIMS, FILTER_*, SZIP_MSB, E_*, ERRORS, ROW_FIELDS ...
ROW_DTYPE = _row_dtype(_HEADER["ROW_FIELDS"])
HAVE_ZLIB = bool(fc_inflate_available())
cdef int WAIT_SLICE_MS = 50  # how often a waiting caller looks for Ctrl-C


cdef class Layout:
    """How the chunks of one stored dataset look: chunk shape, element size, filter pipeline.

    filters: sequence of (filter_id, cd_values) in pipeline (write) order.
    convert: (stored dtype, output dtype) of integers the workers convert between, saturating
    like HDF5 (a VDS over sources of another integer type); None if they are the same.
    """
    cdef fc_layout_t c

    def __init__(self, chunk_shape, int elem_size, filters=(), unsigned flags=0, convert=None):
        memset(&self.c, 0, sizeof(fc_layout_t))
        if not 1 <= len(chunk_shape) <= FC_MAX_DIMS:
            raise ValueError(f"chunk rank {len(chunk_shape)} not in 1..{FC_MAX_DIMS}")
        if len(filters) > FC_MAX_FILTERS:
            raise ValueError(f"more than {FC_MAX_FILTERS} filters")
        self.c.ndim = len(chunk_shape)
        self.c.elem_size = elem_size
        self.c.flags = flags
        if convert is not None:
            src, dst = (np.dtype(t) for t in convert)
            if src.itemsize != elem_size:
                raise ValueError(f"stored dtype {src} is not {elem_size} bytes")
            self.c.conv = (_int_kind(src) << 8) | _int_kind(dst)
        for d, n in enumerate(chunk_shape):
            self.c.chunk_shape[d] = n
        self.c.nfilters = len(filters)
        for i, (fid, cd) in enumerate(filters):
            self.c.filters[i].id = fid
            cd = list(cd)[:6]
            self.c.filters[i].ncd = len(cd)
            for k, v in enumerate(cd):
                self.c.filters[i].cd[k] = v

    @property
    def chunk_bytes(self):
        n = self.c.elem_size
        for d in range(self.c.ndim):
            n *= self.c.chunk_shape[d]
        return n


def _int_kind(dtype):
    """FC_INT kind of a native-endian integer dtype: its size, | 0x10 if signed."""
    if dtype.kind not in "iu" or not dtype.isnative or dtype.itemsize not in (1, 2, 4, 8):
        raise ValueError(f"no native conversion for {dtype}")
    return dtype.itemsize | (0x10 if dtype.kind == "i" else 0)


def can_convert(src, dst):
    """True if the workers convert src elements into dst (integers, native byte order)."""
    src, dst = np.dtype(src), np.dtype(dst)
    return all(t.kind in "iu" and t.isnative and t.itemsize in (1, 2, 4, 8) for t in (src, dst))


cdef object _raise(fc_error_t *err, describe):
    """The one place a native status becomes an exception."""
    if err.code == FC_E_CANCELLED:
        raise KeyboardInterrupt
    what = err.what.decode() if err.what != NULL else ""
    if err.sys_errno:
        import os
        what = f"{what} ({os.strerror(err.sys_errno)})"
    context = describe(err.row, err.at, err.code) if describe is not None else ""
    raise error_from_status(err.code, what, context)


cdef object _I8 = np.dtype(np.int64)


cdef int _finish(fc_job_t *job, fc_error_t *err, stop, int64_t *decoded) except -1:
    """Wait for a started job, the caller's thread decoding too, then free it and raise its
    first error. Ctrl-C cancels it and raises KeyboardInterrupt; stop (with is_set(), or None)
    once set cancels it: returns 1 then, else 0."""
    cdef int done = 0, rc
    try:
        while not done:
            with nogil:
                done = fc_job_wait(job, WAIT_SLICE_MS)
            if not done:
                PyErr_CheckSignals()  # raises KeyboardInterrupt on Ctrl-C: cancelled below
            if not done and stop is not None and stop.is_set():
                fc_job_cancel(job)
                with nogil:
                    fc_job_finish(job, err)
                return 1
    except BaseException:
        fc_job_cancel(job)
        with nogil:
            fc_job_finish(job, err)
        raise
    if decoded != NULL:
        decoded[0] = fc_job_decoded(job)
    with nogil:
        rc = fc_job_finish(job, err)
    err.code = rc
    return 0


cdef int _pin(object a, Py_buffer *view, int flags, Py_ssize_t nbytes, what) except -1:
    """Pin numpy array a's memory (C-contiguous; writeable with PyBUF_WRITABLE) and check it
    holds nbytes. The buffer protocol directly: a typed memoryview parses the format string
    of every array on every call, which costs more than a small read's decode."""
    PyObject_GetBuffer(a, view, flags | PyBUF_C_CONTIGUOUS)
    if view.len != nbytes:
        PyBuffer_Release(view)
        raise ValueError(f"{what} has {view.len} bytes, the plan needs {nbytes}")
    return 0


cdef int _int64s(object seq, int64_t *dst, int n, what) except -1:
    """A short sequence of integers (step, shape) into dst[n]."""
    if len(seq) != n:
        raise ValueError(f"{what} has {len(seq)} entries, out has {n} axes")
    for d in range(n):
        dst[d] = seq[d]
    return 0


def read(rows, regions, step, out_shape, out, fds, layouts, int num_threads,
         long long io_inflight_bytes=0, describe=None, stop=None):
    """Run a read plan: decode every row's chunk into its region of `out`.

    rows: ROW_DTYPE array in I/O order; regions: int64 (nrows, 3, ndim); out: C-contiguous,
    writeable. describe(row, at, code) -> str names file/dataset/chunk for error messages.
    Ctrl-C cancels the read (the pool stays usable) and raises KeyboardInterrupt.
    Returns the number of chunks decoded (rows naming the same chunk count once).
    stop: an object with is_set() (a threading.Event), looked at every wait slice; once set the
    read is cancelled and read() returns None.
    """
    if not isinstance(rows, np.ndarray) or not (rows.dtype is ROW_DTYPE or rows.dtype == ROW_DTYPE):
        raise TypeError("rows must be a C-contiguous ROW_DTYPE array")
    if not (isinstance(out, np.ndarray) and out.flags.c_contiguous and out.flags.writeable):
        raise TypeError("out must be a writeable C-contiguous numpy array")
    cdef int ndim = len(out_shape)
    cdef Py_ssize_t nrows = len(rows)
    if nrows == 0:
        return 0
    if ndim < 1 or ndim > FC_MAX_DIMS:
        raise ValueError(f"out has {ndim} axes")
    if not (isinstance(regions, np.ndarray) and regions.dtype == _I8):
        regions = np.ascontiguousarray(regions, dtype=np.int64)
    if regions.shape != (nrows, 3, ndim):
        raise ValueError(f"regions shape {regions.shape} != {(nrows, 3, ndim)}")
    cdef int64_t step_c[FC_MAX_DIMS]
    cdef int64_t shape_c[FC_MAX_DIMS]
    _int64s(step, step_c, ndim, "step")
    _int64s(out_shape, shape_c, ndim, "out_shape")
    cdef int64_t elems = 1
    cdef int d
    for d in range(ndim):
        elems *= shape_c[d]
    if elems != out.size:
        raise ValueError("out_shape does not match out")
    if elems == 0:
        return 0
    cdef Py_ssize_t nfiles = len(fds)
    cdef int fds_small[8]
    cdef int *fds_c = &fds_small[0] if nfiles <= 8 else <int *>malloc(nfiles * sizeof(int))
    cdef int nlayouts = len(layouts)
    cdef fc_layout_t *lays = <fc_layout_t *>malloc(max(nlayouts, 1) * sizeof(fc_layout_t))
    cdef Py_buffer rows_b, reg_b, out_b
    cdef int pinned = 0
    cdef fc_read_t req
    cdef fc_error_t err
    cdef fc_job_t *job = NULL
    cdef int rc
    cdef int64_t decoded = 0
    cdef Layout lay
    try:
        if lays == NULL or fds_c == NULL:
            raise MemoryError
        for d in range(nfiles):
            fds_c[d] = fds[d]
        for d in range(nlayouts):
            lay = layouts[d]
            lays[d] = lay.c
        _pin(rows, &rows_b, PyBUF_SIMPLE, nrows * sizeof(fc_row_t), "rows")
        pinned = 1
        _pin(regions, &reg_b, PyBUF_SIMPLE, nrows * 3 * ndim * 8, "regions")
        pinned = 2
        _pin(out, &out_b, PyBUF_WRITABLE, elems * out.dtype.itemsize, "out")
        pinned = 3
        req.rows = <const fc_row_t *>rows_b.buf
        req.nrows = nrows
        req.regions = <const int64_t *>reg_b.buf
        req.step = &step_c[0]
        req.out_shape = &shape_c[0]
        req.ndim = ndim
        req.out_elem_size = out.dtype.itemsize
        req.out = <uint8_t *>out_b.buf
        req.fds = fds_c if nfiles else NULL
        req.nfiles = nfiles
        req.layouts = lays
        req.nlayouts = nlayouts
        req.num_threads = max(1, num_threads)
        req.io_inflight_bytes = io_inflight_bytes

        with nogil:
            rc = fc_job_start(&req, &job, &err)
        if rc != FC_OK:
            _raise(&err, describe)
        if _finish(job, &err, stop, &decoded):
            return None
        if err.code != FC_OK:
            _raise(&err, describe)
    finally:
        if pinned >= 3:
            PyBuffer_Release(&out_b)
        if pinned >= 2:
            PyBuffer_Release(&reg_b)
        if pinned >= 1:
            PyBuffer_Release(&rows_b)
        if fds_c != &fds_small[0]:
            free(fds_c)
        free(lays)
    return decoded


def decode_many(Layout layout, list srcs, out, masks, int num_threads, describe=None,
                int parts=1):
    """Decode stored chunks srcs[i] (uint8 arrays) into out (C-contiguous, writeable, holding
    len(srcs) chunks of the layout, back to back) on the process-wide pool, skipping the
    filters masks[i] (a uint32 array) names. Ctrl-C cancels and raises KeyboardInterrupt; the
    first error is raised with describe(index, byte offset, code) as its context. parts > 1
    splits each buffer into that many tasks of its blocks (one-filter bitshuffle layouts and
    zero masks only)."""
    cdef Py_ssize_t n = len(srcs), i, got = 0
    cdef Py_ssize_t chunk = layout.chunk_bytes
    cdef Py_buffer out_b, mask_b
    cdef Py_buffer *views = <Py_buffer *>malloc(max(n, 1) * sizeof(Py_buffer))
    cdef const uint8_t **ptrs = <const uint8_t **>malloc(max(n, 1) * sizeof(uint8_t *))
    cdef int64_t *lens = <int64_t *>malloc(max(n, 1) * sizeof(int64_t))
    cdef fc_many_t req
    cdef fc_job_t *job = NULL
    cdef fc_error_t err
    cdef int rc, pinned = 0
    if views == NULL or ptrs == NULL or lens == NULL:
        free(views); free(ptrs); free(lens)
        raise MemoryError
    try:
        _pin(out, &out_b, PyBUF_WRITABLE, n * chunk, "out")
        pinned = 1
        _pin(masks, &mask_b, PyBUF_SIMPLE, n * 4, "masks")
        pinned = 2
        for i in range(n):
            PyObject_GetBuffer(srcs[i], &views[i], PyBUF_SIMPLE | PyBUF_C_CONTIGUOUS)
            got += 1
            ptrs[i] = <const uint8_t *>views[i].buf
            lens[i] = views[i].len
        req.layout = &layout.c
        req.srcs = ptrs
        req.lens = lens
        req.masks = <const uint32_t *>mask_b.buf
        req.out = <uint8_t *>out_b.buf
        req.n = n
        req.num_threads = max(1, num_threads)
        req.parts = max(1, parts)
        with nogil:
            rc = fc_many_start(&req, &job, &err)
        if rc != FC_OK:
            _raise(&err, describe)
        _finish(job, &err, None, NULL)
        if err.code != FC_OK:
            _raise(&err, describe)
    finally:
        for i in range(got):
            PyBuffer_Release(&views[i])
        if pinned >= 2:
            PyBuffer_Release(&mask_b)
        if pinned >= 1:
            PyBuffer_Release(&out_b)
        free(views)
        free(ptrs)
        free(lens)
    return out


def plan_box(index, cand, start, step, count, chunks, shape, int file_no=0, int layout_no=0):
    """Plan rows of a box selection over a ChunkIndex (the fast path of plan.make_plan).

    cand: the index rows to look at (ascending int64), or None for all of them.
    Returns (rows, regions, take, touched): ROW_DTYPE rows, their (n, 3, ndim) regions, the
    index row of each, and how many grid chunks hold a selected element (allocated or not).
    """
    cdef const int64_t[:, ::1] coords = index.coords
    cdef const int64_t[::1] offset = index.offset
    cdef const int64_t[::1] nbytes = index.nbytes
    cdef const uint32_t[::1] fmask = index.filter_mask
    cdef int ndim = len(chunks)
    cdef const int64_t[::1] c_chunk = np.ascontiguousarray(chunks, dtype=np.int64)
    cdef const int64_t[::1] c_shape = np.ascontiguousarray(shape, dtype=np.int64)
    cdef const int64_t[::1] c_start = np.ascontiguousarray(start, dtype=np.int64)
    cdef const int64_t[::1] c_step = np.ascontiguousarray(step, dtype=np.int64)
    cdef const int64_t[::1] c_count = np.ascontiguousarray(count, dtype=np.int64)
    if not (0 < ndim <= FC_MAX_DIMS and coords.shape[1] == ndim and c_shape.shape[0] == ndim and
            c_start.shape[0] == ndim and c_step.shape[0] == ndim and c_count.shape[0] == ndim):
        raise ValueError("plan_box: index, selection and chunk shape disagree in rank")
    cdef int d
    for d in range(ndim):
        if c_step[d] < 1 or c_chunk[d] < 1 or c_start[d] < 0 or c_count[d] < 0:
            raise ValueError("plan_box: steps and chunk sizes must be positive, starts and counts not negative")
    cdef Py_ssize_t nidx = offset.shape[0]
    if coords.shape[0] != nidx or nbytes.shape[0] != nidx or fmask.shape[0] != nidx:
        raise ValueError("plan_box: index arrays differ in length")
    cdef const int64_t[::1] c_cand
    cdef const int64_t *cand_p = NULL
    cdef Py_ssize_t ncand = nidx, k
    if cand is not None:
        c_cand = np.ascontiguousarray(cand, dtype=np.int64)
        ncand = c_cand.shape[0]
        for k in range(ncand):
            if c_cand[k] < 0 or c_cand[k] >= nidx:
                raise IndexError("plan_box: candidate row out of range")
        cand_p = &c_cand[0] if ncand else NULL
    cdef fc_box_t box
    box.ndim = ndim
    box.chunk = &c_chunk[0]
    box.shape = &c_shape[0]
    box.start = &c_start[0]
    box.step = &c_step[0]
    box.count = &c_count[0]
    cdef int64_t touched = fc_plan_touched(&box)
    rows = np.empty(ncand, dtype=ROW_DTYPE)
    regions = np.empty((ncand, 3, ndim), dtype=np.int64)
    take = np.empty(ncand, dtype=np.int64)
    if ncand == 0:
        return rows, regions, take, touched
    cdef unsigned char[::1] rows_v = rows.view(np.uint8)
    cdef int64_t[:, :, ::1] reg_v = regions
    cdef int64_t[::1] take_v = take
    cdef fc_index_t idx
    idx.coords = &coords[0, 0] if nidx else NULL
    idx.offset = &offset[0] if nidx else NULL
    idx.nbytes = &nbytes[0] if nidx else NULL
    idx.filter_mask = &fmask[0] if nidx else NULL
    cdef int64_t n = fc_plan_box(&box, &idx, cand_p, ncand, file_no, layout_no,
                                 <fc_row_t *>&rows_v[0], &reg_v[0, 0, 0], &take_v[0])
    return rows[:n], regions[:n], take[:n], touched


def decode_chunk(Layout layout, const unsigned char[::1] src, out, unsigned filter_mask=0,
                 bint unfiltered=False):
    """Undo a chunk's pipeline on this thread (codecs, tests, fuzzing, single-thread
    benchmarks) into out, which the caller keeps (a chunk of 4 MiB or more may be written past
    the cache: even zarr, which copies it on at once, read 4M frames 1.5x faster so)."""
    cdef unsigned char[::1] out_v = out.reshape(-1).view(np.uint8)
    if out_v.shape[0] != layout.chunk_bytes:
        raise ValueError(f"out has {out_v.shape[0]} bytes, the chunk {layout.chunk_bytes}")
    cdef fc_scratch_t *s = fc_scratch_new()
    if s == NULL:
        raise MemoryError
    cdef fc_error_t err
    cdef int rc
    err.row = -1
    err.sys_errno = 0
    with nogil:
        rc = fc_chunk_decode(&layout.c, filter_mask, unfiltered,
                             &src[0] if src.shape[0] else NULL, src.shape[0],
                             &out_v[0], out_v.shape[0], 1, s, &err)
    fc_scratch_free(s)
    if rc != FC_OK:
        err.code = rc
        _raise(&err, lambda row, at, code: f"byte offset {at}")
    return out


def lz4_block_decode(const unsigned char[::1] src, Py_ssize_t dstlen, bint pixels=False):
    """Decode one raw LZ4 block that must expand to exactly dstlen bytes (pixels: with the
    decoder variant filter 32004 uses)."""
    out = np.empty(dstlen, dtype=np.uint8)
    cdef unsigned char[::1] out_v = out
    cdef size_t at = 0
    cdef int rc
    with nogil:
        if pixels:
            rc = fc_lz4_block_decode_pixels(&src[0] if src.shape[0] else NULL, src.shape[0],
                                            &out_v[0] if dstlen else NULL, dstlen, &at)
        else:
            rc = fc_lz4_block_decode(&src[0] if src.shape[0] else NULL, src.shape[0],
                                     &out_v[0] if dstlen else NULL, dstlen, &at)
    if rc != FC_OK:
        raise error_from_status(rc, "LZ4 block is corrupt", f"byte offset {at}")
    return out.tobytes()


def simd_kernel():
    """Name of the SIMD kernel set in use."""
    return fc_kernels().name.decode()


def simd_available():
    """Kernel sets this CPU can run, best last."""
    return fc_kernels_available().decode().split(",")


def simd_select(name):
    """Force a kernel set (between reads): 'generic', 'sse2', 'avx2' or 'avx512'."""
    if fc_kernels_select(name.encode()) != 0:
        raise ValueError(f"SIMD kernel {name!r} is not available here (have {simd_available()})")


def pool_size():
    """Worker threads in the process-wide pool."""
    return fc_pool_size()


def missed_wakeups():
    """Waits for a read that ran out a wait slice although the read was done: lost wake-ups
    (tests require none)."""
    return fc_job_missed_wakeups()


# ---- chunk index sink -------------------------------------------------------------------
# The engine hands chunk_visit_address() to HDF5's H5Dchunk_iter (through ctypes, under h5py's
# lock) with an IndexSink's address as op_data: the callback and its records are C
# (fc_index_visit in csrc/plan/fc_index_sink.c); this class only owns and copies them.

def chunk_visit_address():
    """Address of the C chunk visitor, for H5Dchunk_iter's op argument."""
    return <size_t>&fc_index_visit


cdef class IndexSink:
    """Where fc_index_visit collects one dataset's chunk records (pass `address` as op_data)."""

    cdef fc_index_sink_t s

    def __cinit__(self, int ndim):
        if ndim < 1 or ndim > FC_MAX_DIMS:
            raise ValueError(f"bad rank {ndim}")
        fc_index_sink_init(&self.s, ndim)

    def __dealloc__(self):
        fc_index_sink_free(&self.s)

    @property
    def address(self):
        return <size_t>&self.s

    def to_array(self):
        """The records as an (n, ndim + 3) int64 array (a copy)."""
        cdef Py_ssize_t w = self.s.ndim + 3
        out = np.empty((self.s.n, w), dtype=np.int64)
        cdef int64_t[:, ::1] v = out
        if self.s.n:
            memcpy(&v[0, 0], self.s.data, self.s.n * w * sizeof(int64_t))
        return out
