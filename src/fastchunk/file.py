"""File and Group: the h5py-shaped entry points, read-only. Indexing a group wraps what h5py
finds in fastchunk objects; the File owns the descriptors native reads use and their lifetime."""
import os
import posixpath
import threading
import weakref

import h5py
import hdf5plugin  # noqa: F401  (datasets read through h5py need its filters registered)

from .dataset import Dataset
from .engine import default_num_threads
from .errors import ExternalLinkError, FileClosedError, NotHDF5Error
from . import libhdf5
from .libhdf5 import H5_LOCK
from .many import read_many
from .node import Node
from .plan.sources import explain_missing_link
from .superblock import diagnose
from .virtual import VirtualDataset

WRITING_MODES = ("r+", "w", "w-", "x", "a")


class Group(Node):
    """A group, as h5py's: indexing, get, keys/values/items, visit, visititems, attrs; the
    objects it gives are fastchunk Datasets and Groups."""

    def __init__(self, h5group, file, path=None):
        super().__init__(h5group, file, path)

    def _child_path(self, name):
        return posixpath.normpath(name if name.startswith("/") else posixpath.join(self.path, name))

    def __getitem__(self, name):
        self.file.check_open()
        if type(name) is str and name:
            obj = self._open_fast(name)
            if obj is not None:
                return obj
        with H5_LOCK:
            try:
                obj = self._h5[name]
            except KeyError:
                link = self._h5.get(name, getlink=True) if isinstance(name, (str, bytes)) else None
                if isinstance(link, h5py.ExternalLink):
                    raise ExternalLinkError(explain_missing_link(self.file.filename, name, link)) from None
                raise
            path = self._child_path(name) if isinstance(name, str) else None
            return _wrap(obj, self.file, path)

    def _open_fast(self, name):
        """The dataset or group at name opened through h5py's low-level API, or None to take
        the general path (anything else, and every error, which that path reports as h5py).
        h5py's Group.__getitem__ builds an h5py.Dataset and asks for the file's mode, which a
        read does not need; the h5py object is built here only when something asks for it."""
        with H5_LOCK:
            try:
                oid = h5py.h5o.open(self._h5.id, name.encode("utf8"), lapl=self._h5._lapl)
            except Exception:
                return None
            kind = type(oid)
            if kind is h5py.h5g.GroupID:
                return Group(h5py.Group(oid), self.file, self._child_path(name))
            if kind is h5py.h5d.DatasetID:
                dcpl = oid.get_create_plist()
                if dcpl.get_layout() != h5py.h5d.VIRTUAL:
                    return Dataset(None, self.file, self._child_path(name), dsid=oid, dcpl=dcpl)
        return None

    def get(self, name, default=None, getclass=False, getlink=False):
        """h5py's Group.get: the object, or default if there is none; with getclass or getlink,
        h5py's classes and link objects (h5py.SoftLink, h5py.ExternalLink, h5py.HardLink)."""
        self.file.check_open()
        if getclass or getlink:
            with H5_LOCK:
                return self._h5.get(name, default, getclass, getlink)
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name):
        self.file.check_open()
        with H5_LOCK:
            return name in self._h5

    def keys(self):
        self.file.check_open()
        return self._h5.keys()

    def values(self):
        """The objects of the group, in h5py's order (None for a dangling link, as h5py)."""
        return [self.get(name) for name in self]

    def items(self):
        """(name, object) pairs, in h5py's order."""
        return [(name, self.get(name)) for name in self]

    def __iter__(self):
        self.file.check_open()
        with H5_LOCK:
            names = list(self._h5)
        return iter(names)

    def __len__(self):
        self.file.check_open()
        with H5_LOCK:
            return len(self._h5)

    def visit(self, func):
        """Call func(name) for every object below the group (h5py's order); stop at the first
        result that is not None and return it."""
        self.file.check_open()
        with H5_LOCK:
            return self._h5.visit(func)

    def visititems(self, func):
        """Call func(name, object) with fastchunk objects for everything below the group."""
        self.file.check_open()
        with H5_LOCK:
            return self._h5.visititems(lambda name, obj: func(name, _wrap(obj, self.file,
                                                                          self._child_path(name))))

    def read_many(self, names=None):
        """Read many datasets in one call: a dict name -> exactly what ``group[name][()]``
        gives (h5py.Empty included), names relative to this group. Without names, every
        dataset below the group. Small plain datasets are read from their object headers
        without opening them through HDF5 (many.py); the chunks of the other small 1-D
        datasets go into one native read. A missing name raises KeyError naming it."""
        self.file.check_open()
        if names is None:  # h5o.visit with info: no h5py object per node, as visititems makes
            found = []

            def collect(name, info):
                if info.type == h5py.h5o.TYPE_DATASET:
                    found.append(name.decode("utf8"))
            with H5_LOCK:
                h5py.h5o.visit(self._h5.id, collect, info=True)
            names = found
        return read_many(self, list(names))

    def __repr__(self):
        if self.file.closed:
            return "<Closed fastchunk.Group>"
        return f"<fastchunk.Group {self.name!r} ({len(self)} members)>"


class File(Group):
    """An HDF5 file opened read-only, whose datasets read through the native engine.

    Parameters
    ----------
    name : str or os.PathLike
    mode : str
        "r", the only mode: every writing mode raises ValueError before the file is touched.
    num_threads : int, optional
        Decoder threads per read (default: FASTCHUNK_NUM_THREADS, else the usable CPUs divided
        among a dask worker's threads when running inside one).
    strict : bool
        Raise UnsupportedFilterError instead of reading through h5py when a dataset is
        not native.
    io_inflight_bytes : int
        Bytes the I/O thread may read ahead of the decoders (0: the default, 64 MiB).
    swmr : bool
        Open for reading while a SWMR writer appends (h5py's swmr=True, for this file and the
        source files of its virtual datasets); `ds.refresh()` then shows what was appended.
    **h5py_kwargs
        h5py.File's read-side options (driver, libver, locking, rdcc_nbytes, rdcc_nslots,
        rdcc_w0, page_buf_size, ...), passed to h5py as they are.
    """

    def __init__(self, name, mode="r", *, num_threads=None, strict=False, io_inflight_bytes=0,
                 swmr=False, **h5py_kwargs):
        if mode in WRITING_MODES:
            raise ValueError(f"fastchunk reads only: mode {mode!r} would write to {os.fspath(name)!r}; "
                             "use h5py to write")
        if mode != "r":
            raise ValueError(f"invalid mode {mode!r}: fastchunk opens files with mode 'r'")
        if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                        or num_threads < 1):
            raise ValueError(f"num_threads must be a positive integer, not {num_threads!r}")
        self.filename = os.fsdecode(os.fspath(name))
        self._num_threads = num_threads
        self.strict = strict
        self.io_inflight_bytes = io_inflight_bytes
        self.swmr = swmr
        self._h5py_kwargs = h5py_kwargs
        with H5_LOCK:
            try:
                h5 = h5py.File(self.filename, "r", swmr=swmr, **h5py_kwargs)
            except OSError as e:
                why = None if isinstance(e, FileNotFoundError) else diagnose(self.filename)
                if why:
                    raise NotHDF5Error(self.filename, why, str(e)) from e
                if swmr or "already open for write" not in str(e):
                    raise
                raise OSError(f"{self.filename}: {e}; if a SWMR writer is appending to it, open it "
                              "with fastchunk.File(path, swmr=True)") from e
        super().__init__(h5, self, "/")
        self._fds = {}
        self._allocated = {}  # file name -> where HDF5's allocated space in it ends
        self._sources = {}  # path -> h5py.File of VDS source files
        self._lock = threading.Lock()  # guards _fds, _readers and _closed
        self._readers = 0              # reads in progress; the last one out closes the fds
        self._closed = False
        self._closing = threading.Event()  # tells native reads in progress to stop
        # A File dropped without close() still gives its descriptors back (h5py does the same).
        self._finalizer = weakref.finalize(self, _close_all, self._fds)

    @property
    def num_threads(self):
        """Decoder threads a read uses unless it asks for a number itself."""
        return self._num_threads or default_num_threads()

    @property
    def options(self):
        """The keyword arguments this File was opened with (what a pickled copy reopens with)."""
        return dict(num_threads=self._num_threads, strict=self.strict,
                    io_inflight_bytes=self.io_inflight_bytes, swmr=self.swmr, **self._h5py_kwargs)

    @classmethod
    def open_object(cls, filename, options, path="/"):
        """Open filename read-only with options and return the object at path (unpickling)."""
        f = cls(filename, **options)
        return f if path == "/" else f[path]

    def __reduce__(self):
        if self.closed:
            raise FileClosedError(f"{self.filename}: cannot pickle a closed file")
        return type(self).open_object, (self.filename, self.options)

    mode = "r"

    @property
    def driver(self):
        return self._h5.driver

    @property
    def libver(self):
        return self._h5.libver

    @property
    def userblock_size(self):
        return self._h5.userblock_size

    @property
    def parent(self):
        return self

    def source_file(self, path):
        """h5py.File of a VDS source file, opened once per File (caller holds H5_LOCK)."""
        key = os.path.realpath(path)
        h5 = self._sources.get(key)
        if h5 is None:
            h5 = self._sources[key] = h5py.File(path, "r", swmr=self.swmr)
        return h5

    def check_open(self):
        """Raise FileClosedError if the file is closed."""
        if self._closed:
            raise FileClosedError(f"{self.filename}: the file is closed")

    def reading(self):
        """Hold the file open for one read (a context manager): yields the event that says
        close() was called.

        close() from another thread does not pull descriptors out from under a read in progress
        (a number reused by the next open() would make the read take another file's bytes):
        the read is told to stop, and the last reader out closes them."""
        return _Reading(self)

    def fd_for(self, filename):
        """A read-only descriptor of a file this one's datasets live in (cached); call it
        inside reading(), which keeps it open until the read is done."""
        with self._lock:
            self.check_open()
            fd = self._fds.get(filename)
            if fd is None:
                fd = self._fds[filename] = os.open(filename, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            return fd

    def cut_short(self, filename, obj_id):
        """True if `filename` (the file holding object obj_id) is now shorter than the space
        HDF5 had allocated in it when it was opened, or if that cannot be asked: reads that
        trust HDF5 must then not run (it reads zeros past the end of a cut file)."""
        end = self._allocated.get(filename)
        if end is None:
            with H5_LOCK:
                fid = h5py.h5i.get_file_id(obj_id)
                eoa = libhdf5.end_of_allocation(fid)
                end = -1 if eoa is None else eoa + fid.get_create_plist().get_userblock()
            self._allocated[filename] = end
        return end < 0 or os.path.getsize(filename) < end

    def _close_fds(self):
        _close_all(self._fds)

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
        with H5_LOCK:
            for h5 in self._sources.values():
                h5.close()
            self._sources.clear()
            self._h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self.closed:
            return "<Closed fastchunk.File>"
        return f"<fastchunk.File {self.filename!r} (mode r)>"


class _Reading:
    """File.reading()'s context (a class: a generator-based one costs microseconds per read)."""

    __slots__ = ("file",)

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        f = self.file
        with f._lock:
            f.check_open()
            f._readers += 1
        return f._closing

    def __exit__(self, kind, e, tb):
        f = self.file
        with f._lock:
            f._readers -= 1
            if f._closed and not f._readers:
                _close_all(f._fds)
        if e is not None and isinstance(e, Exception) and f._closed and not isinstance(e, FileClosedError):
            raise FileClosedError(f"{f.filename}: the file was closed during the read") from e
        return False


def _close_all(fds):
    """Close and forget every descriptor of a File's cache."""
    for fd in fds.values():
        os.close(fd)
    fds.clear()


def _wrap(obj, file, path=None):
    """fastchunk object for an h5py one reached at path; callers hold H5_LOCK (Dataset()
    calls h5py)."""
    if isinstance(obj, h5py.Dataset):
        if obj.is_virtual:
            return VirtualDataset(obj, file, path=path)
        return Dataset(obj, file, path)
    if isinstance(obj, h5py.Group):
        return Group(obj, file, path)
    return obj


def read(path, name, sel=(), out=None, num_threads=None):
    """One-shot read: open path, read dataset name's selection, close."""
    with File(path, num_threads=num_threads) as f:
        return f[name].read(sel, out=out)
