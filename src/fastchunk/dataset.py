"""Dataset: one stored HDF5 dataset read through the native engine, h5py-shaped. Glue only:
planning is in plan/, speed is in the native layer (through engine.py)."""
import math
import os

import h5py
import numpy as np

from . import engine, libhdf5
from .errors import ChunkReadError, UnsupportedFilterError, chunk_context
from .libhdf5 import H5_LOCK
from .node import Node
from .plan import NotSimple, boxed, make_plan, parse_selection
from .plan.chunk_index import build_index, contiguous_index, contiguous_slab, has_duplicate_coords
from .plan.filters import dtype_reason, layout_reason, pipeline_reason, read_pipeline, type_reason
from .plan.frames import FramePlanner, axis0_range, is_frame_stack
from .plan.vds import saturate
from .prefetch import prefetched
from .readahead import ReadAhead


# A contiguous read this small is one pread on the caller's thread: handing it to the engine
# costs more than the copy (see docs/benchmarks.md, "small reads").
SMALL_PREAD_BYTES = 1 << 20
# A whole dataset this small (decoded) is read by HDF5's own read call (Dataset.tiny): a native
# read first needs the filters, the index and a plan, ~100 us for a dataset just opened, where
# HDF5 reads 100 gzip-compressed doubles in ~20 us (docs/benchmarks.md, "small reads").
TINY_BYTES = 16 << 10
# Part of a chunk of at most this many decoded bytes is read by decoding the whole chunk once
# and keeping it (Dataset._cached_chunk): a 10-element read of a 100-element gzip chunk then
# costs a copy, not an inflate (HDF5's chunk cache does the same, up to 1 MiB per dataset).
CACHED_CHUNK_BYTES = 64 << 10
# A contiguous dataset this small is kept whole after its first read (Dataset._cached_contiguous):
# metadata-sized only, since every dataset object that has been read keeps its copy.
CACHED_CONTIGUOUS_BYTES = 4 << 10


def _decoded_name(name):
    """An HDF5 name as h5py gives it: str when it is UTF-8, else bytes (None if anonymous)."""
    if name is None:
        return None
    try:
        return name.decode("utf8")
    except UnicodeDecodeError:
        return name


# Filters HDF5's read of a tiny dataset may run: deflate (zlib checks its stream), shuffle and
# Fletcher-32. Not szip, scale-offset or n-bit (HDF5 returns data from some damaged chunks we
# refuse), nor plugins (some trust stored lengths and crash on damaged chunks).
TINY_FILTERS = frozenset({h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32})


def _tiny_filters_only(dcpl):
    """True when HDF5 may read a tiny dataset of this creation property list itself."""
    with H5_LOCK:
        return all(dcpl.get_filter(i)[0] in TINY_FILTERS for i in range(dcpl.get_nfilters()))


_UNSET = object()  # a lazily read property not read yet (None is a shape: h5py.Empty)


class Dataset(Node):
    """A dataset read by fastchunk; `ds[sel]` and `ds.read(sel, out=)` match h5py bit for bit.

    `native` tells whether reads run on the native engine; `reason` says why not. Metadata
    (attrs, maxshape, fillvalue, compression, dims, ...) is h5py's own.
    """

    plans_points = True  # the planner handles index lists itself (else: read the box, pick)
    _grid_ = _start = _UNSET  # computed on first use (_start: a contiguous dataset's address)
    _dsid = _tiny = _ahead = _chunk = None
    reads_rows = True  # ds[i] / ds[a:b] straight from the index (_read_rows)

    def __init__(self, h5ds, file, path=None, dsid=None, dcpl=None):
        """From an h5py Dataset, or from its low-level DatasetID (and creation property list,
        when the caller has asked for it already): the h5py object is then built only when
        something needs it, since building it costs more than reading a small dataset."""
        if h5ds is not None:
            dsid = h5ds.id
        self._dsid = dsid
        # Shape, type and name are read at open: they still answer once the file is closed.
        super().__init__(h5ds, file, path, name=None if h5ds is not None else
                         _decoded_name(h5py.h5i.get_name(dsid)))
        self.shape = dsid.shape
        self.dtype = dsid.dtype
        self._dcpl = dsid.get_create_plist() if dcpl is None else dcpl
        self._layout = self._dcpl.get_layout()
        self.chunks = self._dcpl.get_chunk() if self._layout == h5py.h5d.CHUNKED else None
        self._index = None
        self._frames = None  # FramePlanner of a frame stack, built on the first frame read
        self._layouts = {}  # output dtype -> native layouts
        self._layout_flags = 0
        # Whether and how the dataset is read natively is decided on first use: opening many
        # small datasets (metadata) must cost no more than h5py's own open.
        self._pipeline = self._reason = self._data_file = self._tiny = None
        if file.swmr:
            self._check_swmr_index()

    @property
    def ndim(self):
        return 0 if self.shape is None else len(self.shape)

    @property
    def _grid(self):
        """The grid the planner uses: the chunks, or row slabs of a contiguous dataset."""
        grid = self._grid_
        if grid is _UNSET:
            grid = self._grid_ = self.chunks or contiguous_slab(self.shape, self.dtype.itemsize)
        return grid

    @_grid.setter
    def _grid(self, grid):
        self._grid_ = grid

    @property
    def _h5(self):
        h5 = self._h5obj
        if h5 is None and self._dsid is not None:
            with H5_LOCK:
                h5 = self._h5obj = h5py.Dataset(self._dsid, readonly=True)
        return h5

    @property
    def id(self):
        """h5py's low-level identifier of the dataset."""
        return self._dsid

    @property
    def maxshape(self):
        """Largest shape the dataset may grow to (None: unlimited), as h5py says."""
        if self._dsid is None:  # a stack built from a master's data files
            return self.shape
        with H5_LOCK:
            dims = self._dsid.get_space().get_simple_extent_dims(True)
        if dims is None:
            return None
        return tuple(None if n == h5py.h5s.UNLIMITED else n for n in dims)

    def _decide(self):
        """The codec pipeline, and why the native engine cannot read the dataset ("" if it can)."""
        dcpl = self._dcpl
        with H5_LOCK:
            self._pipeline = read_pipeline(dcpl, self.dtype, engine.HAVE_DEFLATE)
            reason = (layout_reason(self, dcpl, self.shape) or dtype_reason(self.dtype)
                      or type_reason(self._dsid.get_type()))
            if not reason:
                reason, self._layout_flags = pipeline_reason(self._pipeline, dcpl, self.shape,
                                                             self.chunks, lambda: self.index)
        self._reason = reason

    @property
    def pipeline(self):
        """The dataset's filters as HDF5 stores them, and how fastchunk decodes them."""
        if self._pipeline is None:
            self._decide()
        return self._pipeline

    @property
    def reason(self):
        """Why reads go through h5py ("" when they run on the native engine)."""
        if self._reason is None:
            self._decide()
        return self._reason

    @reason.setter
    def reason(self, why):
        self._reason = why

    @property
    def native(self):
        """True when reads run on the native engine."""
        return not self.reason

    @property
    def data_file(self):
        """The file that really holds the dataset (behind an external link, not the master):
        the chunk offsets in the index belong to it."""
        if self._data_file is None:
            with H5_LOCK:  # the file's name without building an h5py.File object
                self._data_file = os.fsdecode(h5py.h5f.get_name(self._dsid))
        return self._data_file

    # -- h5py's metadata, as h5py gives it ------------------------------------------------
    def _h5py_attr(name, doc):  # noqa: N805  (builds properties below)
        def get(self):
            with H5_LOCK:
                return getattr(self._h5, name)
        return property(get, doc=doc)

    fillvalue = _h5py_attr("fillvalue", "The value unwritten elements read as.")
    compression = _h5py_attr("compression", "h5py's name of the compression filter, or None.")
    compression_opts = _h5py_attr("compression_opts", "The compression filter's options.")
    shuffle = _h5py_attr("shuffle", "True if the shuffle filter is applied.")
    fletcher32 = _h5py_attr("fletcher32", "True if chunks carry a Fletcher-32 checksum.")
    scaleoffset = _h5py_attr("scaleoffset", "The scale-offset filter's setting, or None.")
    external = _h5py_attr("external", "External raw storage files, or None.")
    is_virtual = _h5py_attr("is_virtual", "True for a virtual dataset.")
    dims = _h5py_attr("dims", "Dimension scales (h5py's DimensionManager).")
    is_scale = _h5py_attr("is_scale", "True if the dataset is a dimension scale.")
    del _h5py_attr

    def virtual_sources(self):
        """h5py's VDSmap list of a virtual dataset (RuntimeError for others, as h5py)."""
        with H5_LOCK:
            return self._h5.virtual_sources()

    def iter_chunks(self, sel=None):
        """The chunks a selection touches, as tuples of slices (h5py's iter_chunks)."""
        with H5_LOCK:
            return iter(list(self._h5.iter_chunks(sel)))

    @property
    def size(self):
        if self.shape is None:
            return None
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self):
        return 0 if self.shape is None else self.size * self.dtype.itemsize

    def len(self):
        """Length of the first axis (TypeError for a scalar, as h5py)."""
        if not self.shape:
            raise TypeError("Attempt to take len() of scalar dataset")
        return self.shape[0]

    def __len__(self):
        return self.len()

    @property
    def index(self):
        """The chunk index (built on first use, then cached)."""
        if self._index is None:
            with H5_LOCK:
                self._index = (build_index(self, engine.scan_chunks) if self.chunks else
                               contiguous_index(self, self._grid))
        return self._index

    def refresh(self):
        """Show what a SWMR writer appended since the file was opened or last refreshed: the
        shape, then the chunk index and the plans, follow the file (needs File(swmr=True))."""
        self.file.check_open()
        with H5_LOCK:
            self._h5.refresh()
            self.shape = self._h5.shape
        self._grid = self._start = _UNSET
        self._index = None
        self._frames = self._ahead = self._chunk = None
        self._layouts = {}
        self._check_swmr_index()
        return self

    def _check_swmr_index(self):
        """After a SWMR refresh of a virtual dataset's sources, HDF5 1.14 reports every chunk
        at the same coordinates: a native read would put every chunk in the first one's place.
        Such a dataset goes to h5py instead (which reads it or fails with HDF5's own error,
        never silently wrong). Checked in SWMR mode only, where the index is built at open."""
        if self.native and self.chunks and has_duplicate_coords(self.index):
            self._index = None
            self.reason = ("HDF5 reports several chunks at the same coordinates (seen after a "
                           "SWMR refresh; read through h5py)")

    def native_layouts(self, out_dtype=None):
        """Layout 0 is the chunk; a contiguous dataset's short last slab is layout 1.
        With out_dtype (another integer type), the workers convert into it."""
        out_dtype = self.dtype if out_dtype is None else np.dtype(out_dtype)
        layouts = self._layouts.get(out_dtype)
        if layouts is None:
            conv = None if out_dtype == self.dtype else (self.dtype, out_dtype)
            rest = self.shape[0] % self._grid[0] if self.chunks is None else 0
            layouts = engine.layouts(self._grid, self.dtype.itemsize, self.pipeline.native,
                                     self._layout_flags, conv, rest)
            self._layouts[out_dtype] = layouts
        return layouts

    def plan(self, s):
        """The native read plan of Selection s: rows (layout_no 0 or 1, file_no 0), regions."""
        plan = make_plan(self.index, s, self._grid, self.shape, plan_box=engine.plan_box)
        if self.chunks is None and self.shape[0] % self._grid[0]:
            plan.rows["layout_no"][plan.coords[:, 0] == self.shape[0] // self._grid[0]] = 1
        return plan

    def __getitem__(self, sel):
        return self.read(sel)

    def __array__(self, dtype=None, copy=None):
        if copy is False:  # numpy 2: a read always allocates
            raise ValueError(f"Dataset.__array__ received copy={copy} but memory allocation "
                             "cannot be avoided on read")
        if self.shape is None:
            raise TypeError("Empty datasets have no numpy representation")
        a = np.asarray(self.read(()))
        return a if dtype is None else a.astype(dtype)

    def __iter__(self):
        """Iterate over the first axis (TypeError for a scalar, as h5py)."""
        if not self.shape:
            raise TypeError("Can't iterate over a scalar dataset")
        for i in range(self.shape[0]):
            yield self[i]

    def astype(self, dtype):
        """Read with conversion, as HDF5 converts: ``ds.astype('u1')[sel]``. Integers to
        integers are converted by the native workers, saturating like HDF5; integers and floats
        to floats by numpy (the same IEEE rounding); anything else by h5py's own astype."""
        dtype = np.dtype(dtype)
        return _Converted(self, lambda sel: self._read_as(sel, dtype), dtype)

    def _read_as(self, sel, dtype):
        if self.shape is None:
            return h5py.Empty(self.dtype)  # as h5py: the stored type
        if dtype == self.dtype:
            return self[sel]
        if dtype.kind == "f" and self.dtype.kind in "iuf":
            with np.errstate(all="ignore"):  # overflow to inf, as HDF5 gives
                return _scalar_or_array(np.asarray(self[sel]).astype(dtype))
        if self.reads_rows and self.native and engine.can_convert(self.dtype, dtype):
            try:
                s = parse_selection(sel, self.shape)
            except NotSimple:
                s = None
            if s is not None and s.points is None and s.mask is None:
                dest = np.empty(s.out_shape, dtype)
                if dest.size:
                    self._run_plan(self.plan(s), s.step, s.out_shape, dest, None,
                                   self.native_layouts(dtype), saturate(self.fillvalue, dtype))
                return _scalar_or_array(dest.reshape(s.result_shape))
        with H5_LOCK:
            return self._h5.astype(dtype)[sel]

    def asstr(self, encoding=None, errors="strict"):
        """Strings read as Python str (h5py's asstr; string datasets are read by h5py)."""
        with H5_LOCK:
            return self._h5.asstr(encoding, errors)

    def fields(self, names):
        """Read only some fields of a compound dataset: ``ds.fields(['x', 'y'])[sel]``."""
        dt = self.dtype
        if dt.names is None:
            raise ValueError("Field names only allowed for compound types")
        for name in [names] if isinstance(names, str) else names:
            if name not in dt.names:
                raise ValueError(f"Field {name} does not appear in this type.")
        if isinstance(names, str):
            return _Converted(self, lambda sel: _scalar_or_array(np.asarray(self[sel])[names]),
                              dt.fields[names][0])
        sub = np.dtype([(n, dt.fields[n][0]) for n in names])
        return _Converted(self, lambda sel: _scalar_or_array(_pack_fields(np.asarray(self[sel]), sub)), sub)

    def read_direct(self, dest, source_sel=None, dest_sel=None):
        """Read source_sel of the dataset into dest[dest_sel] (h5py's read_direct)."""
        if not isinstance(dest, np.ndarray) or not dest.flags.c_contiguous:
            raise TypeError("dest must be a C-contiguous array")
        if self.shape is None:
            raise TypeError("Empty datasets have no numpy representation")
        src = () if source_sel is None else source_sel
        if dest_sel is None and dest.dtype == self.dtype and self.native:
            try:
                self.read(src, out=dest)
                return
            except (ValueError, TypeError):
                pass  # a shape h5py broadcasts: assign below
        data = self.read(src)
        try:
            dest[() if dest_sel is None else dest_sel] = data
        except ValueError as e:  # h5py's type for shapes that do not broadcast
            raise TypeError(f"Can't broadcast {np.shape(data)} -> {dest.shape}") from e

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
        self.file.check_open()
        if not self.shape and not self.file.strict:
            return self._read_scalar(sel, out)
        if out is None and (sel is Ellipsis or (type(sel) is tuple and not sel)) and self.tiny:
            got = self._read_tiny()
            if got is not None:
                return got
        if not self.native:
            if self.file.strict:
                raise UnsupportedFilterError(f"{self.file.filename}: {self.name}: {self.reason}")
            return self._read_h5py(sel, out)
        if out is None and self.reads_rows and self.shape:
            rng = axis0_range(sel, self.shape[0])
            if rng is not None:
                return self._read_rows(*rng, num_threads)
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
        self._run_plan(self.plan(s), s.step, s.out_shape, dest, num_threads)

    def _run_plan(self, plan, step, out_shape, dest, num_threads, layouts=None, fill=None):
        """Run a plan into dest (layouts: the native ones, converting if dest's type differs;
        fill: what unallocated chunks read as, the fill value by default)."""
        f = self.file
        if plan.missing:
            dest[...] = self.fillvalue if fill is None else fill
        with f.reading() as closing:
            engine.run(f, self.name, plan.rows, plan.regions, step, out_shape, dest,
                       [f.fd_for(self.data_file)], layouts or self.native_layouts(), num_threads,
                       lambda *a: self.describe_chunk(plan, *a), closing)

    def _read_rows(self, a, b, drop, num_threads):
        """ds[a:b] (ds[a] when drop) without parsing or box search: frame stacks plan from a
        table of their chunks (a loop of ds[i] reads ahead), small contiguous datasets are
        one pread."""
        frames = self.chunks is not None and is_frame_stack(self.chunks, self.shape)
        if drop and num_threads is None and frames:
            ahead = self._ahead
            if ahead is None:
                ahead = self._ahead = ReadAhead(self.shape[0],
                                                math.prod(self.shape[1:]) * self.dtype.itemsize)
            frame = ahead.frame(a, self._read_block)
            if frame is not None:
                return frame
        dest = np.empty((b - a,) + self.shape[1:], dtype=self.dtype)
        if dest.size:
            if self.chunks is None and dest.nbytes <= SMALL_PREAD_BYTES:
                if dest.nbytes * self.shape[0] // (b - a) <= CACHED_CONTIGUOUS_BYTES:
                    dest[...] = self._cached_contiguous()[a:b]
                else:
                    self._pread_rows(a, dest)
            elif not frames:
                self._read_native(parse_selection(slice(a, b), self.shape), dest, num_threads)
            else:
                if self._frames is None:
                    self._frames = FramePlanner(self.index, self.chunks, self.shape)
                planner = self._frames
                c0 = planner.c0
                k = a // c0
                if b - a < c0 and k == (b - 1) // c0 and dest.nbytes * c0 // (b - a) <= CACHED_CHUNK_BYTES:
                    dest[...] = self._cached_chunk(k)[a - k * c0:b - k * c0]
                else:
                    self._run_plan(planner.plan(a, b), planner.step, dest.shape, dest, num_threads)
        return dest[0] if drop else dest

    def _cached_contiguous(self):
        """All of a small contiguous dataset, read once and kept (as HDF5's sieve buffer
        keeps raw data, up to 64 KiB): later reads of it are a copy, not a system call."""
        cached = self._chunk
        if cached is None:
            rows = np.empty(self.shape, dtype=self.dtype)
            self._pread_rows(0, rows)
            cached = self._chunk = (None, rows)
        return cached[1]

    def _cached_chunk(self, k):
        """The rows of small chunk k of a frame stack, decoded whole and kept (the last one
        only): reads of a few elements of a small chunked dataset come from memory, as from
        HDF5's chunk cache, instead of decoding the chunk again for each."""
        cached = self._chunk
        if cached is None or cached[0] != k:
            c0 = self._frames.c0
            lo, hi = k * c0, min(k * c0 + c0, self.shape[0])
            rows = np.empty((hi - lo,) + self.shape[1:], dtype=self.dtype)
            planner = self._frames
            self._run_plan(planner.plan(lo, hi), planner.step, rows.shape, rows, None)
            cached = self._chunk = (k, rows)
        return cached[1]

    def _read_block(self, a, b):
        return self._read_rows(a, b, False, None)

    def _pread_rows(self, a, dest):
        """Rows of a contiguous dataset from a+0 on, straight into dest with one pread (from
        where HDF5 says the data start: no index of row slabs needed)."""
        start = self._start
        if start is _UNSET:
            with H5_LOCK:
                start = self._start = libhdf5.contiguous_offset(self._dsid)  # an absolute address
        if start is None:  # no storage allocated yet
            dest[...] = self.fillvalue
            return
        at = start + a * (dest.nbytes // len(dest))
        f = self.file
        with f.reading():
            got = _pread_into(f.fd_for(self.data_file), dest, at)
        if got != dest.nbytes:
            raise ChunkReadError(f"file ends before the dataset does: file {self.data_file!r}, "
                                 f"dataset {self.name!r}, {got} of {dest.nbytes} bytes at file "
                                 f"offset {at}")

    def describe_chunk(self, plan, row, at, code):
        """Error context for row `row` of plan: file, dataset, codec, chunk, offsets."""
        where = f"file {self.data_file!r}, dataset {self.name!r}, codec {self.pipeline.codec}"
        return chunk_context(where, plan, row, self._grid, at, code)

    def _read_scalar(self, sel, out):
        """A scalar's one value (or h5py.Empty): numbers straight from HDF5's read call, other
        types (strings, references, compounds of them) and every other selection by h5py."""
        dt = self.dtype
        if (self.shape is None or out is not None or dt.kind not in "iufcb" or dt.metadata
                or not (sel == () or sel is Ellipsis)):
            return self._read_h5py(sel, out)
        a = np.empty((), dtype=dt)
        with H5_LOCK:
            self._dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, a)
        return a if sel is Ellipsis else a[()]

    @property
    def tiny(self):
        """True when a whole read of the dataset goes to HDF5's own read call: plain numbers,
        at most TINY_BYTES (contiguous: CACHED_CONTIGUOUS_BYTES, then kept), no filter but
        TINY_FILTERS, not strict, not SWMR. At this size HDF5's call costs less than finding the
        filters and chunks a native read needs. Other filters stay native: damaged chunks must
        end in our error naming the chunk (tests/test_file_faults.py), never in a crash or in
        data."""
        t = self._tiny
        if t is None and not self.reads_rows:
            t = self._tiny = False  # a virtual dataset: its mappings decide
        if t is None:
            dt, f = self.dtype, self.file
            nbytes = math.prod(self.shape or ()) * dt.itemsize
            contiguous = self._layout == h5py.h5d.CONTIGUOUS
            t = self._tiny = bool(
                self.reads_rows and self.shape and dt.kind in "iufcb" and not dt.metadata
                and nbytes <= (CACHED_CONTIGUOUS_BYTES if contiguous else TINY_BYTES)
                and not f.strict and not f.swmr and not self._dcpl.get_external_count()
                and _tiny_filters_only(self._dcpl))
        return t

    def _read_tiny(self):
        """The whole dataset from HDF5's read call (a small contiguous one is kept), or None:
        the native path then reads it, or names what is wrong with it, as for any dataset.
        HDF5 reads zeros past the end of a file cut after it was opened: if the file is now
        shorter than the space HDF5 allocated in it, the native read runs and says so."""
        kept = self._chunk
        if kept is not None and kept[0] is None:
            return kept[1].copy()
        try:
            if self.file.cut_short(self.data_file, self._dsid):
                return None
            a = np.empty(self.shape, dtype=self.dtype)
            with H5_LOCK:
                self._dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, a)
        except Exception:
            return None
        if self._layout == h5py.h5d.CONTIGUOUS:
            self._chunk = (None, a.copy())
        return a

    def _read_h5py(self, sel, out):
        data = self._h5[sel]
        if out is None:
            return data
        out[...] = data
        return out

    def dask_chunks(self, target_bytes=64 << 20):
        """Default dask blocks: whole frames (everything but axis 0) when one fits in
        target_bytes, else the storage chunks' extent on those axes; along axis 0, as many
        storage chunks as fit in target_bytes (at least one)."""
        if not self.shape:
            return ()
        grid = self._grid or (1,) + tuple(self.shape[1:])
        frame = tuple(self.shape[1:])
        if int(np.prod(frame, dtype=np.int64)) * self.dtype.itemsize > target_bytes:
            frame = tuple(grid[1:])
        per_row = max(1, int(np.prod(frame, dtype=np.int64)) * self.dtype.itemsize)
        rows = max(1, target_bytes // (per_row * grid[0])) * grid[0]
        return (min(rows, max(1, self.shape[0])),) + frame

    def to_dask(self, chunks=None):
        """The dataset as a dask array whose tasks read through fastchunk (dask_chunks() by
        default). Works with every dask scheduler: datasets pickle and reopen read-only."""
        import dask.array as da
        return da.from_array(self, chunks=self.dask_chunks() if chunks is None else chunks,
                             lock=False, asarray=True, fancy=False)

    def __dask_tokenize__(self):
        """dask's name for the array: which file and dataset, and the file's state."""
        st = os.stat(self.file.filename)
        return ("fastchunk", self.file.filename, self.path, st.st_mtime_ns, st.st_size,
                str(self.dtype), self.shape)

    def iter_frames(self, batch=8, start=0, stop=None, num_threads=None):
        """Yield (first_index, frames) blocks along axis 0, reading the next block while the
        caller works on this one."""
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"iter_frames: batch must be a positive number of frames, not {batch!r}")
        if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                        or num_threads < 1):
            raise ValueError(f"iter_frames: num_threads must be a positive integer (or None for the "
                             f"file's default), not {num_threads!r}")
        if not self.shape:
            raise TypeError(f"iter_frames: {self.name} has no first axis to iterate "
                            f"({'a scalar' if self.shape == () else 'a null dataspace'})")
        stop = self.shape[0] if stop is None else min(stop, self.shape[0])
        starts = list(range(start, stop, batch))
        return prefetched(lambda i: self.read(np.s_[starts[i]:min(starts[i] + batch, stop)],
                                              num_threads=num_threads), starts)

    def __repr__(self):
        how = "native" if self.native else f"h5py: {self.reason}"
        return f"<fastchunk.Dataset {self.name!r} shape {self.shape} {self.dtype} ({how})>"


class _Converted:
    """ds.astype(...) / ds.fields(...): reads of the dataset with a conversion applied."""

    def __init__(self, ds, read, dtype):
        self._ds, self._read, self.dtype = ds, read, dtype

    def __getitem__(self, sel):
        return self._read(sel)

    def __len__(self):
        return len(self._ds)

    def __array__(self, dtype=None, copy=None):
        a = self[()]
        return a if dtype is None else a.astype(dtype)


def _scalar_or_array(a):
    """A 0-d result as the numpy scalar h5py gives."""
    return a[()] if a.ndim == 0 else a


def _pack_fields(a, sub):
    """The named fields of a structured array as a packed array of dtype sub (as h5py)."""
    out = np.empty(a.shape, sub)
    for n in sub.names:
        out[n] = a[n]
    return out


def _pread_into(fd, dest, offset):
    """Read dest.nbytes bytes at offset into dest (a writeable C-contiguous array); bytes read."""
    if _HAVE_PREADV:
        return os.preadv(fd, [dest], offset)
    data = os.pread(fd, dest.nbytes, offset)
    dest.reshape(-1).view(np.uint8)[:len(data)] = np.frombuffer(data, np.uint8)
    return len(data)


_HAVE_PREADV = hasattr(os, "preadv")  # not on macOS before Python 3.13 / macOS 11
