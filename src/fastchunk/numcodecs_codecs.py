"""numcodecs codecs on fastchunk's decoders, for zarr (v2 metadata, zarr-python 2 and 3) and
kerchunk references.

zarr v2 hands a codec the chunk's bytes and nothing else, while an HDF5 filter needs the
element size and the chunk's byte count (bitshuffle, shuffle, scale-offset, szip; LZ4 and
bitshuffle check their header against it). So each codec's config carries them:

- ``{"id": "fastchunk.hdf5", "filters": [[32008, [0, 2, 4, 0, 2]]], "elem_size": 4,
  "chunks": [1, 2167, 2070]}``: a whole HDF5 filter pipeline (filter ids and cd_values as
  the file stores them, write order), decoded in one native call. ``fastchunk refs`` writes
  this one, as the zarr ``compressor`` (``filters`` null).
- One codec per filter fastchunk decodes natively, for metadata written by hand:
  ``fastchunk.bslz4``, ``fastchunk.lz4``, ``fastchunk.lzf``, ``fastchunk.szip``,
  ``fastchunk.scaleoffset``, ``fastchunk.blosc``, ``fastchunk.zstd``, ``fastchunk.deflate``,
  ``fastchunk.shuffle``, ``fastchunk.fletcher32``: ``{"id": "fastchunk.bslz4",
  "elem_size": 4, "chunks": [1, 2167, 2070]}`` (``cd_values`` optional where a default exists;
  szip and scale-offset need the file's). Each turns one stored chunk into the chunk's
  bytes, so chain filters with ``fastchunk.hdf5`` rather than one codec per stage.

An optional ``"dtype"`` makes ``decode`` return an array of that dtype and the chunk's shape
(else a flat uint8 array: zarr views it as its own dtype). ``encode`` runs HDF5 itself (the
chunk written into an in-memory HDF5 file with the same filters, hdf5plugin's filters
registered), so it writes what h5py would: slow, but exact.

The codecs are registered with numcodecs when this module is imported, and through the
``numcodecs.codecs`` entry points of an installed fastchunk (``numcodecs.get_codec(config)``
finds them without an import).
"""
import itertools
import threading

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray
from numcodecs.registry import register_codec

from . import _constants as C
from . import codecs as _codecs
from .buffers import POOL

__all__ = ["HDF5Codec", "Bslz4", "LZ4", "LZF", "Szip", "ScaleOffset", "Blosc", "Zstd", "Deflate",
           "Shuffle", "Fletcher32", "CODECS"]


def _dtype_str(dtype):
    """A JSON-able form of a dtype (its str, or its descr for a structured one)."""
    dt = np.dtype(dtype)
    return dt.str if dt.fields is None else [list(f) for f in dt.descr]


def _load_dtype(value):
    return np.dtype([tuple(f) for f in value] if isinstance(value, list) else value)


_SLOTS = []
_SLOTS_LOCK = threading.Lock()


def _decoding():
    """At most fastchunk.default_num_threads() decodes at once, however many threads call:
    zarr runs up to async.concurrency (10) chunk decodes side by side, and more decoders than
    cores, each faulting in a fresh chunk, read 3x slower on 2 cores than 2 at a time."""
    if not _SLOTS:
        from .engine import default_num_threads
        with _SLOTS_LOCK:
            if not _SLOTS:
                _SLOTS.append(threading.BoundedSemaphore(default_num_threads()))
    return _SLOTS[0]


class HDF5Codec(Codec):
    """A whole HDF5 filter pipeline (filters: [[filter_id, cd_values], ...] in write order)
    over chunks of `chunks` elements of `elem_size` bytes."""

    codec_id = "fastchunk.hdf5"

    def __init__(self, filters, elem_size, chunks, dtype=None):
        entries = _codecs._entries(filters)
        self.filters = [[fid, list(cd)] for fid, cd in entries]
        self.elem_size = int(elem_size)
        self.chunks = [int(n) for n in ([chunks] if np.isscalar(chunks) else chunks)]
        self.dtype = None if dtype is None else _dtype_str(dtype)
        if self.elem_size < 1:
            raise ValueError(f"elem_size must be at least 1, got {elem_size}")
        if any(n < 0 for n in self.chunks):
            raise ValueError(f"chunks {self.chunks} has a negative length")
        self._np_dtype = None if dtype is None else _load_dtype(self.dtype)
        if self._np_dtype is not None and self._np_dtype.itemsize != self.elem_size:
            raise ValueError(f"dtype {self._np_dtype} is not {self.elem_size} bytes")
        self._entries = entries
        self._nbytes = int(np.prod(self.chunks, dtype=np.int64)) * self.elem_size
        self._job = None

    # -- config ----------------------------------------------------------------------
    def get_config(self):
        config = {"id": self.codec_id, "filters": self.filters, "elem_size": self.elem_size,
                  "chunks": self.chunks}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return config

    def __reduce__(self):  # by config: the native layout it caches does not pickle
        return _from_config, (self.get_config(),)

    def __repr__(self):
        cfg = self.get_config()
        cfg.pop("id")
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"

    # -- decode ----------------------------------------------------------------------
    def _native_job(self):
        if self._job is None:  # normalized once: UnsupportedFilterError names the filter
            self._job = _codecs._Job(self._entries, (self._nbytes // self.elem_size,),
                                     f"V{self.elem_size}")
        return self._job

    def decode(self, buf, out=None):
        job = self._native_job()
        src = _codecs._as_bytes(buf)
        with _decoding():
            if out is not None:
                dest = ensure_contiguous_ndarray(out).reshape(-1).view(np.uint8)
                if dest.nbytes != self._nbytes:
                    raise ValueError(f"out holds {dest.nbytes} bytes, a chunk {self._nbytes}")
                job.run(src, dest, 0)
                return out
            dest = POOL.lease(self._nbytes)  # memory faulted in once, not per chunk
            job.run(src, dest, 0)
        if self._np_dtype is not None:
            return dest.view(self._np_dtype).reshape(self.chunks)
        return dest

    # -- encode: HDF5 itself ---------------------------------------------------------
    def encode(self, buf):
        data = ensure_contiguous_ndarray(buf).reshape(-1).view(np.uint8)
        if data.nbytes != self._nbytes:
            raise ValueError(f"{data.nbytes} bytes to encode, a chunk holds {self._nbytes}")
        if self._np_dtype is not None:
            dtype = self._np_dtype
        else:
            dtype = np.dtype({1: "u1", 2: "u2", 4: "u4", 8: "u8"}.get(self.elem_size, f"S{self.elem_size}"))
        return _hdf5_encode(data.view(dtype).reshape(self.chunks or [1]), self._entries)


def _from_config(config):
    """A codec from its get_config() (what a pickled codec holds)."""
    config = dict(config)
    cls = {c.codec_id: c for c in CODECS}[config.pop("id")]
    return cls.from_config(config)


_ENCODE_LOCK = threading.Lock()
_NAMES = itertools.count()


def _hdf5_encode(array, entries):
    """The chunk as HDF5 stores it: array written as the one chunk of a dataset with these
    filters in an in-memory file, read back with read_direct_chunk."""
    import h5py
    import hdf5plugin  # noqa: F401  (registers the plugin filters with HDF5)

    if array.size == 0:
        raise ValueError("HDF5 cannot store a chunk of no elements")
    with _ENCODE_LOCK:
        name = f"fastchunk-encode-{next(_NAMES)}.h5"
        with h5py.File(name, "w", driver="core", backing_store=False) as f:
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk(array.shape)
            for fid, cd in entries:
                if not h5py.h5z.filter_avail(fid):
                    raise NotImplementedError(f"HDF5 filter {fid} is not available to encode "
                                              "with (hdf5plugin registers the common ones)")
                dcpl.set_filter(fid, h5py.h5z.FLAG_MANDATORY, _user_cd(fid, cd))
            space = h5py.h5s.create_simple(array.shape)
            tid = h5py.h5t.py_create(array.dtype)
            dset = h5py.h5d.create(f.id, b"x", tid, space, dcpl=dcpl)
            dset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(array))
            mask, raw = dset.read_direct_chunk((0,) * array.ndim)
    if mask:
        raise NotImplementedError(f"HDF5 skipped filters (mask {mask:#x}) when encoding this chunk")
    return raw


def _user_cd(fid, cd):
    """cd_values as H5Pset_filter takes them, from those the file stores: bitshuffle's
    set_local puts version and element size in front of the user's (block, compression);
    scale-offset's keeps the user's first two and computes the other 18."""
    if fid == C.FILTER_BITSHUFFLE:
        return tuple(cd[3:])
    if fid == C.FILTER_SCALEOFFSET:
        return tuple(cd[:2])
    return tuple(cd)


class _OneFilter(HDF5Codec):
    """One HDF5 filter over chunks of `chunks` elements of `elem_size` bytes."""

    filter_id = None

    def __init__(self, elem_size, chunks, cd_values=None, dtype=None):
        cd = self.default_cd(int(elem_size)) if cd_values is None else cd_values
        if cd is None:
            raise ValueError(f"{self.codec_id} needs cd_values (the file's, as h5py's "
                             f"dcpl.get_filter reports them)")
        super().__init__([(self.filter_id, cd)], elem_size, chunks, dtype)

    @staticmethod
    def default_cd(elem_size):
        return ()

    def get_config(self):
        config = {"id": self.codec_id, "elem_size": self.elem_size, "chunks": self.chunks,
                  "cd_values": self.filters[0][1]}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return config


def _one(name, fid, default_cd, doc):
    cls = type(name, (_OneFilter,), {"codec_id": f"fastchunk.{name.lower()}", "filter_id": fid,
                                     "default_cd": staticmethod(default_cd), "__doc__": doc})
    cls.__module__ = __name__
    return cls


Bslz4 = _one("Bslz4", C.FILTER_BITSHUFFLE, lambda es: (0, 4, es, 0, C.BSHUF_LZ4),
             "bitshuffle + LZ4 (HDF5 filter 32008; also DECTRIS's bslz4 frames).")
LZ4 = _one("LZ4", C.FILTER_LZ4, lambda es: (0,), "LZ4 as HDF5 filter 32004 frames it.")
LZF = _one("LZF", C.FILTER_LZF, lambda es: (), "LZF (HDF5 filter 32000, h5py's lzf).")
Szip = _one("Szip", C.FILTER_SZIP, lambda es: None, "szip / libaec (HDF5 filter 4); cd_values needed.")
ScaleOffset = _one("ScaleOffset", C.FILTER_SCALEOFFSET, lambda es: None,
                   "HDF5 scale-offset (filter 6); the file's 20 cd_values needed.")
Blosc = _one("Blosc", C.FILTER_BLOSC, lambda es: (), "Blosc 1 as hdf5-blosc stores it (32001).")
Zstd = _one("Zstd", C.FILTER_ZSTD, lambda es: (), "Zstandard (HDF5 filter 32015).")
Deflate = _one("Deflate", C.FILTER_DEFLATE, lambda es: (4,), "HDF5 deflate (filter 1, zlib stream).")
Shuffle = _one("Shuffle", C.FILTER_SHUFFLE, lambda es: (es,), "HDF5 byte shuffle (filter 2).")
Fletcher32 = _one("Fletcher32", C.FILTER_FLETCHER32, lambda es: (),
                  "HDF5 Fletcher-32 checksum (filter 3): checked, then dropped.")

CODECS = (HDF5Codec, Bslz4, LZ4, LZF, Szip, ScaleOffset, Blosc, Zstd, Deflate, Shuffle, Fletcher32)

for _cls in CODECS:
    register_codec(_cls)
del _cls


# -- zarr v3 metadata and virtualizarr ---------------------------------------------------
def codecs_for_h5py(dataset):
    """The codecs of an h5py dataset's chunks: [HDF5Codec] of its whole pipeline, or [] for
    none. It has the signature of virtualizarr's HDF parser's codecs_from_dataset, which
    translates filter by filter and knows no bitshuffle, LZ4 32004, szip, LZF or scale-offset:
    ``virtualizarr.parsers.hdf.hdf.codecs_from_dataset = codecs_for_h5py`` (with
    register_zarr3()) makes it read those through fastchunk."""
    dcpl = dataset.id.get_create_plist()
    filters = [dcpl.get_filter(i) for i in range(dcpl.get_nfilters())]
    if not filters:
        return []
    return [HDF5Codec([(f[0], f[2]) for f in filters], dataset.dtype.itemsize,
                      dataset.chunks or dataset.shape)]


_ZARR3 = {}


def register_zarr3():
    """Register the codecs with zarr-python 3 (>= 3.1.3) for zarr v3 metadata, named
    ``numcodecs.fastchunk.hdf5`` etc. as zarr names numcodecs' own; returns name -> class.
    zarr warns (ZarrUserWarning) that numcodecs codecs are not in the v3 specification."""
    if _ZARR3:
        return dict(_ZARR3)
    from zarr.codecs.numcodecs._codecs import _NumcodecsBytesBytesCodec  # zarr's own adapter
    from zarr.registry import register_codec as register_v3

    for cls in CODECS:
        v3 = type(f"{cls.__name__}Zarr3", (_NumcodecsBytesBytesCodec,), {"__module__": __name__},
                  codec_name=cls.codec_id)
        register_v3(v3.codec_name, v3)
        _ZARR3[v3.codec_name] = v3
    return dict(_ZARR3)
