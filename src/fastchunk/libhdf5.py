"""The one place fastchunk talks to libhdf5 directly, and the locks around HDF5.

h5py wraps almost everything the planner needs; four calls it does not wrap are made here
through ctypes, on the very libhdf5 h5py loaded: H5Pget_chunk_opts, H5Dget_chunk_index_type,
H5Fget_eoa and H5Dchunk_iter (with a C callback, so a 300,000-chunk index costs no Python call
per chunk).

The library is found through h5py's own extension module: opening it with ctypes gives a handle
whose symbol lookup also searches the libraries it links (dlsym's rule on Linux and macOS), so
it works for system, conda and wheel-bundled libhdf5 alike. Where it cannot be found, every
call here returns None and callers fall back (read through h5py, or h5py's chunk_iter).
"""
import ctypes
import functools
import threading

import h5py
from h5py._objects import phil  # h5py's own lock: HDF5 here is not built thread-safe

# Opening, closing and wrapping objects is serialised here: with HDF5 2.0, h5py calls racing a
# file close in another thread fail with "no VOL object wrap context" (seen in the tests).
H5_LOCK = threading.RLock()

H5P_DEFAULT = 0  # H5Ppublic.h: (hid_t)0
EARRAY_INDEX = 4  # H5D_CHUNK_IDX_EARRAY in H5D_chunk_index_t
# H5D_chunk_index_t (H5Dpublic.h) -> what the index is.
INDEX_TYPES = {0: "v1 B-tree", 1: "single chunk", 2: "implicit (no index)", 3: "fixed array",
               4: "extensible array", 5: "v2 B-tree"}


@functools.lru_cache(maxsize=1)
def library():
    """The libhdf5 h5py loaded, as a ctypes library, or None if it cannot be reached."""
    import h5py.defs  # an extension module linked against libhdf5
    try:
        return ctypes.CDLL(h5py.defs.__file__)
    except OSError:
        return None


def why_unavailable():
    """Why direct libhdf5 calls cannot be made here ("" when they can)."""
    return "" if library() is not None else "cannot reach the libhdf5 h5py uses through ctypes"


@functools.lru_cache(maxsize=None)
def _function(name, argtypes):
    lib = library()
    fn = getattr(lib, name, None) if lib is not None else None
    if fn is not None:
        fn.argtypes = list(argtypes)
        fn.restype = ctypes.c_int
    return fn


def _get(name, hid, ctype):
    """What getter `name` (herr_t f(hid_t, ctype *out)) says about identifier hid, or None."""
    fn = _function(name, (ctypes.c_int64, ctypes.POINTER(ctype)))
    if fn is None:
        return None
    out = ctype(0)
    with phil:  # ctypes drops the GIL
        if fn(hid, ctypes.byref(out)) < 0:
            return None
    return out.value


def chunk_opts(dcpl):
    """H5Pget_chunk_opts of a dataset creation property list, or None if it cannot be asked."""
    return _get("H5Pget_chunk_opts", dcpl.id, ctypes.c_uint)


def chunk_index_type(dsid):
    """The chunk index type (H5D_chunk_index_t) of an open h5py DatasetID, or None if unknown."""
    return _get("H5Dget_chunk_index_type", dsid.id, ctypes.c_int)


def index_type_name(dsid):
    """Name of a chunked dataset's index structure, or None if HDF5 cannot say."""
    kind = chunk_index_type(dsid)
    return None if kind is None else INDEX_TYPES.get(kind, f"index type {kind}")


def end_of_allocation(fid):
    """H5Fget_eoa of an open h5py FileID: where the space HDF5 allocated in the file ends
    (relative to the end of a user block), or None if it cannot be asked."""
    return _get("H5Fget_eoa", fid.id, ctypes.c_uint64)


def chunk_iter(dsid, visit_address, op_address):
    """H5Dchunk_iter(dsid, H5P_DEFAULT, visit, op) with a C visitor (H5D_chunk_iter_op_t);
    its status, or None when it cannot be called (h5py's own chunk_iter gates the same HDF5)."""
    if not callable(getattr(dsid, "chunk_iter", None)):
        return None
    fn = _function("H5Dchunk_iter", (ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p))
    if fn is None:
        return None
    with phil:
        return fn(dsid.id, H5P_DEFAULT, visit_address, op_address)


def version():
    """The HDF5 version h5py was built with, as text."""
    return h5py.version.hdf5_version


def contiguous_offset(dsid):
    """File offset of a contiguous dataset's data, or None when no storage is allocated.
    H5Dget_offset adds the user block to HDF5's undefined address (2**64 - 1), so in a file with
    a 512-byte user block it says 511 for a dataset never written; its storage size says 0."""
    offset = dsid.get_offset()
    if offset is None or dsid.get_storage_size() == 0:
        return None
    return offset
