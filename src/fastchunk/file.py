"""File and Group: the h5py-shaped entry points. Indexing a group wraps what h5py finds in
fastchunk objects; the File owns the descriptors native reads use and their lifetime."""
import contextlib
import os
import threading
import weakref

import h5py

from .dataset import Dataset
from .engine import default_num_threads
from .errors import ExternalLinkError, FileClosedError
from .libhdf5 import H5_LOCK
from .plan.sources import explain_missing_link
from .virtual import VirtualDataset


class Group:
    """A group: indexing returns fastchunk Datasets and Groups."""

    def __init__(self, h5group, file):
        self._h5 = h5group
        self.file = file
        self.name = h5group.name

    def __getitem__(self, name):
        self.file.check_open()
        with H5_LOCK:
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
        with H5_LOCK:
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

    @contextlib.contextmanager
    def reading(self):
        """Hold the file open for one read: yields the event that says close() was called.

        close() from another thread does not pull descriptors out from under a read in progress
        (a number reused by the next open() would make the read take another file's bytes):
        the read is told to stop, and the last reader out closes them."""
        with self._lock:
            self.check_open()
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
            self.check_open()
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
        return f"<fastchunk.File {self.filename!r}>"


def _close_all(fds):
    """Close and forget every descriptor of a File's cache."""
    for fd in fds.values():
        os.close(fd)
    fds.clear()


def _wrap(obj, file):
    """fastchunk object for an h5py one; callers hold H5_LOCK (Dataset() calls h5py)."""
    if isinstance(obj, h5py.Dataset):
        if obj.is_virtual:
            return VirtualDataset(obj, file)
        return Dataset(obj, file)
    if isinstance(obj, h5py.Group):
        return Group(obj, file)
    return obj


def read(path, name, sel=(), out=None, num_threads=None):
    """One-shot read: open path, read dataset name's selection, close."""
    with File(path, num_threads=num_threads) as f:
        return f[name].read(sel, out=out)
