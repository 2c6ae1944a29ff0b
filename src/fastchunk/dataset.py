"""File / Group / Dataset: the h5py-shaped public API. Glue only: planning is in plan.py,
speed is in the native layer."""
import contextlib
import os
import threading
import weakref

import h5py
import numpy as np

from . import _native
from .errors import ExternalLinkError, FileClosedError, UnsupportedFilterError
from .filters import DONT_FILTER_PARTIAL_CHUNKS, chunk_opts, dtype_reason, layout_reason, read_pipeline, type_reason
from .index import build_index, contiguous_index
from .plan import make_plan
from .selection import NotSimple, boxed, parse_selection
from .sources import explain_missing_link


# Opening, closing and wrapping objects is serialised here: with HDF5 2.0, h5py calls racing a
# file close in another thread fail with "no VOL object wrap context" (seen in the tests).
_H5_LOCK = threading.RLock()

SLAB_BYTES = 4 << 20  # a contiguous dataset is read in row slabs of about this size


def contiguous_slab(shape, itemsize):
    """Slab shape that splits a contiguous dataset along axis 0 for parallel reads."""
    if not shape or 0 in shape:
        return None
    row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    return (max(1, min(shape[0], SLAB_BYTES // max(row, 1))),) + tuple(shape[1:])


def default_num_threads():
    """FASTCHUNK_NUM_THREADS, else the CPUs this process may run on."""
    env = os.environ.get("FASTCHUNK_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Group:
    """A group: indexing returns fastchunk Datasets and Groups."""

    def __init__(self, h5group, file):
        self._h5 = h5group
        self.file = file
        self.name = h5group.name

    def __getitem__(self, name):
        self.file._check_open()
        with _H5_LOCK:
            try:
                obj = self._h5[name]
            except KeyError:
                link = self._h5.get(name, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    raise ExternalLinkError(explain_missing_link(self.file.filename, name, link)) from None
                raise
            return _wrap(obj, self.file)

    def __contains__(self, name):
        return name in self._h5

    def keys(self):
        return self._h5.keys()

    def __iter__(self):
        return iter(self._h5)

    def __repr__(self):
        return f"<fastchunk.Group {self.name!r}>"


class File(Group):
    """An HDF5 file opened read-only, whose datasets read through the native engine.

    Parameters
    ----------
    path : str or os.PathLike
    num_threads : int, optional
        Decoder threads per read (default: FASTCHUNK_NUM_THREADS or the usable CPUs).
    strict : bool
        Raise UnsupportedFilterError instead of reading through h5py when a dataset is
        not native.
    io_inflight_bytes : int
        Bytes the I/O thread may read ahead of the decoders (0: the default, 64 MiB).
    swmr : bool
        Open for reading while a SWMR writer appends (h5py's swmr=True, for this file and the
        source files of its virtual datasets); `ds.refresh()` then shows what was appended.
    """

    def __init__(self, path, num_threads=None, strict=False, io_inflight_bytes=0, swmr=False):
        self.filename = os.fspath(path)
        self.num_threads = num_threads or default_num_threads()
        self.strict = strict
        self.io_inflight_bytes = io_inflight_bytes
        self.swmr = swmr
        with _H5_LOCK:
            try:
                self._h5 = h5py.File(self.filename, "r", swmr=swmr)
            except OSError as e:
                if swmr or "already open for write" not in str(e):
                    raise
                raise OSError(f"{self.filename}: {e}; if a SWMR writer is appending to it, open it "
                              "with fastchunk.File(path, swmr=True)") from e
        self.file = self
        self.name = "/"
        self._fds = {}
        self._sources = {}  # path -> h5py.File of VDS source files
        self._lock = threading.Lock()  # guards _fds, _readers and _closed
        self._readers = 0              # reads in progress; the last one out closes the fds
        self._closed = False
        self._closing = threading.Event()  # tells native reads in progress to stop
        # A File dropped without close() still gives its descriptors back (h5py does the same).
        self._finalizer = weakref.finalize(self, _close_all, self._fds)

    def source_file(self, path):
        """h5py.File of a VDS source file, opened once per File (caller holds _H5_LOCK)."""
        key = os.path.realpath(path)
        h5 = self._sources.get(key)
        if h5 is None:
            h5 = self._sources[key] = h5py.File(path, "r", swmr=self.swmr)
        return h5

    def _check_open(self):
        if self._closed:
            raise FileClosedError(f"{self.filename}: the file is closed")

    @contextlib.contextmanager
    def reading(self):
        """Hold the file open for one read: yields the event that says close() was called.

        close() from another thread does not pull descriptors out from under a read in progress
        (a number reused by the next open() would make the read take another file's bytes):
        the read is told to stop, and the last reader out closes them."""
        with self._lock:
            self._check_open()
            self._readers += 1
        try:
            yield self._closing
        except Exception as e:
            if self._closed and not isinstance(e, FileClosedError):  # h5py objects went away under us
                raise FileClosedError(f"{self.filename}: the file was closed during the read") from e
            raise
        finally:
            with self._lock:
                self._readers -= 1
                if self._closed and not self._readers:
                    _close_all(self._fds)

    def fd_for(self, filename):
        """A read-only descriptor of a file this one's datasets live in (cached); call it
        inside reading(), which keeps it open until the read is done."""
        with self._lock:
            self._check_open()
            fd = self._fds.get(filename)
            if fd is None:
                fd = self._fds[filename] = os.open(filename, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            return fd

    def _close_fds(self):
        _close_all(self._fds)

    @property
    def h5(self):
        """The underlying h5py.File."""
        return self._h5

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Close the file. Reads in progress in other threads stop and raise FileClosedError;
        later reads of its datasets raise it too. Closing twice is fine."""
        with self._lock:
            self._closed = True
            self._closing.set()
            if not self._readers:
                self._close_fds()
        with _H5_LOCK:
            for h5 in self._sources.values():
                h5.close()
            self._sources.clear()
            self._h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<fastchunk.File {self.filename!r}>"


def _close_all(fds):
    """Close and forget every descriptor of a File's cache."""
    for fd in fds.values():
        os.close(fd)
    fds.clear()


def _wrap(obj, file):
    """fastchunk object for an h5py one; callers hold _H5_LOCK (Dataset() calls h5py)."""
    if isinstance(obj, h5py.Dataset):
        if obj.is_virtual:
            from .virtual import VirtualDataset  # virtual.py builds on this module
            return VirtualDataset(obj, file)
        return Dataset(obj, file)
    if isinstance(obj, h5py.Group):
        return Group(obj, file)
    return obj


class Dataset:
    """A dataset read by fastchunk; `ds[sel]` and `ds.read(sel, out=)` match h5py bit for bit.

    `native` tells whether reads run on the native engine; `reason` says why not.
    """

    plans_points = True  # the planner handles index lists itself (else: read the box, pick)

    def __init__(self, h5ds, file):
        self._h5 = h5ds
        self.file = file
        self.name = h5ds.name
        self.shape = h5ds.shape
        self.dtype = h5ds.dtype
        self.chunks = h5ds.chunks
        # The grid the planner uses: the chunks, or row slabs of a contiguous dataset.
        self._grid = h5ds.chunks or contiguous_slab(self.shape, self.dtype.itemsize)
        self.ndim = len(self.shape)
        self._index = None
        self._layouts = {}  # output dtype -> native layouts
        self._layout_flags = 0
        dcpl = h5ds.id.get_create_plist()
        self.pipeline = read_pipeline(dcpl, self.dtype)
        self.reason = (layout_reason(h5ds) or dtype_reason(self.dtype) or type_reason(h5ds.id.get_type())
                       or self._pipeline_reason(dcpl))
        self.native = not self.reason
        # Offsets in the index belong to the file that really holds the dataset.
        self.data_file = h5ds.file.filename
        if file.swmr:
            self._check_swmr_index()

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def __len__(self):
        return self.shape[0]

    @property
    def index(self):
        """The chunk index (built on first use, then cached)."""
        if self._index is None:
            with _H5_LOCK:
                    self._index = (build_index(self._h5) if self.chunks else
                               contiguous_index(self._h5, self._grid))
        return self._index

    def refresh(self):
        """Show what a SWMR writer appended since the file was opened or last refreshed: the
        shape, then the chunk index and the plans, follow the file (needs File(swmr=True))."""
        self.file._check_open()
        with _H5_LOCK:
            self._h5.refresh()
            self.shape = self._h5.shape
        self._grid = self.chunks or contiguous_slab(self.shape, self.dtype.itemsize)
        self._index = None
        self._layouts = {}
        self._check_swmr_index()
        return self

    def _check_swmr_index(self):
        """After a SWMR refresh of a virtual dataset's sources, HDF5 1.14 reports every chunk
        at coordinates (0, ..., 0) (h5py's get_chunk_info too), though the addresses are right:
        a native read would put every chunk in the first one's place. Such a dataset goes to
        h5py instead (which reads it or fails with HDF5's own error, never silently wrong).
        Checked in SWMR mode only, where the index is built at open: a sort per index."""
        if not (self.native and self.chunks):
            return
        coords = self.index.coords
        if len(coords) > 1 and len(np.unique(coords, axis=0)) < len(coords):
            self._index = None
            self.native = False
            self.reason = ("HDF5 reports several chunks at the same coordinates (seen after a "
                           "SWMR refresh; read through h5py)")

    def _pipeline_reason(self, dcpl):
        """Why the filters stop a native read ("" if they do not); sets the layout flags."""
        p = self.pipeline
        if p.unsupported:
            # Chunks whose filter_mask skips every unknown filter are plain bytes to us.
            need = p.unsupported_mask()
            if not ((self.index.filter_mask & need) == need).all():
                return p.reason
        if p.filters:
            opts = chunk_opts(dcpl)
            if opts is None and any(n % c for n, c in zip(self.shape, self.chunks)):
                return "cannot ask HDF5 whether partial edge chunks are filtered (H5Pget_chunk_opts)"
            if opts and opts & DONT_FILTER_PARTIAL_CHUNKS:
                self._layout_flags = 1  # FC_LAYOUT_DONT_FILTER_PARTIAL
        return ""

    def native_layouts(self, out_dtype=None):
        """Layout 0 is the chunk; a contiguous dataset's short last slab is layout 1.
        With out_dtype (another integer type), the workers convert into it."""
        out_dtype = self.dtype if out_dtype is None else np.dtype(out_dtype)
        layouts = self._layouts.get(out_dtype)
        if layouts is None:
            es = self.dtype.itemsize
            conv = None if out_dtype == self.dtype else (self.dtype, out_dtype)
            layouts = [_native.Layout(self._grid, es, self.pipeline.native, self._layout_flags, conv)]
            rest = self.shape[0] % self._grid[0] if self.chunks is None else 0
            if rest:
                layouts.append(_native.Layout((rest,) + self._grid[1:], es, convert=conv))
            self._layouts[out_dtype] = layouts
        return layouts

    def plan(self, s):
        """The native read plan of Selection s: rows (layout_no 0 or 1, file_no 0), regions."""
        plan = make_plan(self.index, s, self._grid, self.shape)
        if self.chunks is None and self.shape[0] % self._grid[0]:
            plan.rows["layout_no"][plan.coords[:, 0] == self.shape[0] // self._grid[0]] = 1
        return plan

    def __getitem__(self, sel):
        return self.read(sel)

    def __array__(self, dtype=None, copy=None):
        a = self.read(())
        return a if dtype is None else a.astype(dtype)

    def read(self, sel=(), out=None, num_threads=None):
        """Read a selection into a new array or into `out`, like h5py's ``ds[sel]``.

        Parameters
        ----------
        sel : selection
            Anything h5py's ``ds[sel]`` reads: integers (negative too), slices with a step
            >= 1, Ellipsis, one increasing list / integer array / 1-D boolean array along one
            axis, or a boolean mask of the dataset's shape (a 1-D result). fastchunk plans these
            itself; any other selection, and every invalid one, goes to h5py, which returns its
            result or raises its own error.
        out : numpy.ndarray, optional
            Writeable, of the dataset's dtype and of the result's shape (integer-indexed axes
            dropped, or kept with length 1). A C-contiguous `out` is filled in place by the
            decoders; any other layout (a strided view, Fortran order) is filled through a
            temporary array and one copy.
        num_threads : int, optional
            Decoder threads for this read.

        Returns
        -------
        numpy.ndarray or numpy scalar
            `out` when given, else a new array (a numpy scalar when every axis is indexed by
            an integer, as h5py does).
        """
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise ValueError(f"num_threads must be a positive integer, not {num_threads!r}")
        self.file._check_open()
        if not self.native:
            if self.file.strict:
                raise UnsupportedFilterError(f"{self.file.filename}: {self.name}: {self.reason}")
            return self._read_h5py(sel, out)
        try:
            s = parse_selection(sel, self.shape)
        except NotSimple:
            return self._read_h5py(sel, out)
        pick = None
        if s.mask is not None or (s.points is not None and not self.plans_points):
            self._check_out(out, s, allocate=False)
            s, pick = boxed(s)  # read the bounding box, then pick the points out of it
            dest = np.empty(s.out_shape, self.dtype)
        else:
            dest = self._check_out(out, s)
        if dest.size:
            self._read_native(s, dest, num_threads)
        result = pick(dest) if pick else dest.reshape(s.result_shape)
        if out is None:
            return result[()] if result.ndim == 0 else result  # h5py gives a numpy scalar
        if pick or not out.flags.c_contiguous:
            out[...] = result.reshape(out.shape)
        return out

    def _check_out(self, out, s, allocate=True):
        """Check `out` against selection s; the C-contiguous array of s.out_shape to read into
        (`out` itself when it is C-contiguous, else a new array)."""
        if out is None:
            return np.empty(s.out_shape, dtype=self.dtype) if allocate else None
        if not isinstance(out, np.ndarray):
            raise TypeError("out must be a numpy array")
        if out.dtype != self.dtype:
            raise TypeError(f"out has dtype {out.dtype}, the dataset {self.dtype}")
        if not out.flags.writeable:
            raise ValueError("out must be writeable")
        if out.shape not in (s.out_shape, s.result_shape) or (s.mask is not None and out.shape != s.result_shape):
            raise ValueError(f"out has shape {out.shape}, the selection {s.result_shape}")
        if not allocate:
            return None
        if s.mask is not None or not out.flags.c_contiguous:
            return np.empty(s.out_shape, dtype=self.dtype)
        return out.reshape(s.out_shape)

    def _read_native(self, s, dest, num_threads):
        f = self.file
        with f.reading() as closing:
            plan = self.plan(s)
            if plan.missing:
                dest[...] = self._h5.fillvalue
            fd = f.fd_for(self.data_file)
            done = _native.read(plan.rows, plan.regions, s.step, s.out_shape, dest, [fd],
                                self.native_layouts(), f.num_threads if num_threads is None else num_threads,
                                f.io_inflight_bytes, describe=lambda *a: self.describe_chunk(plan, *a),
                                stop=closing)
        if done is None:
            raise FileClosedError(f"{f.filename}: the file was closed during the read of {self.name!r}")

    def describe_chunk(self, plan, row, at, code):
        """Error context for row `row` of plan: file, dataset, codec, chunk, offsets."""
        where = f"file {self.data_file!r}, dataset {self.name!r}, codec {self.pipeline.codec}"
        if row < 0 or row >= len(plan.rows):
            return where
        r = plan.rows[row]
        coords = tuple(int(c) * n for c, n in zip(plan.coords[row], self._grid))
        pos = f"at file offset {at}" if code in (-2, -3) else f"at byte {at} of the chunk"
        return (f"{where}, chunk at element {coords} (file offset {int(r['offset'])}, "
                f"{int(r['nbytes'])} stored bytes), {pos}")

    def _read_h5py(self, sel, out):
        data = self._h5[sel]
        if out is None:
            return data
        out[...] = data
        return out

    def iter_frames(self, batch=8, start=0, stop=None, num_threads=None):
        """Yield (first_index, frames) blocks along axis 0, reading the next block while the
        caller works on this one."""
        stop = self.shape[0] if stop is None else min(stop, self.shape[0])
        starts = list(range(start, stop, batch))
        if not starts:
            return
        result = {}

        def fetch(i):
            a = starts[i]
            try:
                result[i] = self.read(np.s_[a:min(a + batch, stop)], num_threads=num_threads)
            except BaseException as e:  # handed to the consumer below
                result[i] = e

        worker = threading.Thread(target=fetch, args=(0,), daemon=True)
        worker.start()
        for i, a in enumerate(starts):
            worker.join()
            if isinstance(result[i], BaseException):
                raise result.pop(i)
            if i + 1 < len(starts):
                worker = threading.Thread(target=fetch, args=(i + 1,), daemon=True)
                worker.start()
            # No local keeps the block: once the caller drops it, its memory can be reused.
            yield a, result.pop(i)

    def __repr__(self):
        how = "native" if self.native else f"h5py: {self.reason}"
        return f"<fastchunk.Dataset {self.name!r} shape {self.shape} {self.dtype} ({how})>"


def read(path, name, sel=(), out=None, num_threads=None):
    """One-shot read: open path, read dataset name's selection, close."""
    with File(path, num_threads=num_threads) as f:
        return f[name].read(sel, out=out)
