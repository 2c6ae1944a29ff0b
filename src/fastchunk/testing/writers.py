"""HDF5 writers of the test and demo files: a chunked dataset with any filter pipeline named
by a short string, and a NeXus-style file of synthetic Eiger frames (one chunk per frame)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import h5py
import numpy as np

from .detector import DEMO_SHAPE, FORMAT_VERSION, check_dtype, check_shape, eiger_frames

__all__ = [
    "DEMO_FRAMES",
    "DEMO_DATASET",
    "DEFLATE_LEVEL",
    "filter_kwargs",
    "nexus_attrs",
    "write_eiger_file",
    "write_dataset",
]

DEMO_FRAMES = 50
DEMO_DATASET = "/entry/data/data"

#: gzip level used by the "deflate" compression names: level 1 is the fastest
#: and stores these Poisson-like counts within ~10% of the h5py default (4).
DEFLATE_LEVEL = 1

_BATCH = 4  # frames generated per write, to bound memory


def _compressor_kwargs(name: str, block_size: int) -> dict:
    """h5py keywords for one compressor name."""
    if name in ("deflate", "gzip"):
        return {"compression": "gzip", "compression_opts": DEFLATE_LEVEL}
    if name == "lzf":
        return {"compression": "lzf"}
    import hdf5plugin  # registers the plugin filters with HDF5

    if name == "bslz4":
        return dict(hdf5plugin.Bitshuffle(nelems=block_size, cname="lz4"))
    if name == "bitshuffle":
        return dict(hdf5plugin.Bitshuffle(nelems=block_size, cname="none"))
    return dict(hdf5plugin.LZ4(nbytes=block_size))  # name == "lz4"


_COMPRESSORS = ("bslz4", "bitshuffle", "lz4", "lzf", "deflate", "gzip")
_FLAGS = ("shuffle", "fletcher32")


def filter_kwargs(compression, block_size: int = 0) -> dict:
    """Translate a compression name into h5py create_dataset keywords.

    Names are filters joined by "+" (e.g. "shuffle+deflate+fletcher32"); h5py
    orders the pipeline shuffle -> compressor -> fletcher32. A Mapping (such as
    an hdf5plugin filter object) is passed through unchanged.
    """
    if compression is None:
        return {}
    if isinstance(compression, Mapping):
        return dict(compression)
    kwargs: dict = {}
    tokens = [t.strip().lower() for t in str(compression).split("+")]
    compressors = [t for t in tokens if t in _COMPRESSORS]
    unknown = [t for t in tokens if t not in _COMPRESSORS + _FLAGS]
    if unknown or len(compressors) > 1 or len(set(tokens)) != len(tokens):
        raise ValueError(
            f"bad compression {compression!r}: use None or '+'-joined names from "
            f"{_COMPRESSORS + _FLAGS} with at most one compressor"
        )
    for flag in _FLAGS:
        if flag in tokens:
            kwargs[flag] = True
    if compressors:
        kwargs.update(_compressor_kwargs(compressors[0], int(block_size)))
    return kwargs


def nexus_attrs(f: h5py.File, dataset: str) -> None:
    """Mark the dataset's parents as NeXus NXentry / NXdata groups."""
    parts = [p for p in dataset.split("/") if p]
    f.attrs["NX_class"] = "NXroot"
    f.attrs["creator"] = "fastchunk.testing"
    if len(parts) >= 3:
        f["/" + parts[0]].attrs["NX_class"] = "NXentry"
    if len(parts) >= 2:
        parent = f["/" + "/".join(parts[:-1])]
        parent.attrs["NX_class"] = "NXdata"
        parent.attrs["signal"] = parts[-1]


def write_eiger_file(
    path,
    n_frames=DEMO_FRAMES,
    shape=DEMO_SHAPE,
    dtype=np.uint32,
    *,
    compression="bslz4",
    block_size=0,
    seed=0,
    dataset=DEMO_DATASET,
    progress=None,
) -> pathlib.Path:
    """Write synthetic Eiger frames to an HDF5 file, one chunk per frame.

    Frames are generated and written a few at a time, so the whole stack is
    never in memory.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; overwritten if it exists.
    n_frames : int, optional
        Number of frames.
    shape : tuple of int, optional
        Frame shape; chunks are ``(1, *shape)``.
    dtype : numpy dtype, optional
        Integer pixel type, see :func:`eiger_frames`.
    compression : str, Mapping or None, optional
        "bslz4" (bitshuffle + LZ4), "bitshuffle" (no LZ4), "lz4", "deflate"
        (gzip level :data:`DEFLATE_LEVEL`), "shuffle+deflate", any other name
        accepted by :func:`write_dataset`, or None for no filter.
    block_size : int, optional
        Bitshuffle block size in elements, or LZ4 block size in bytes for
        "lz4"; 0 selects the filter default.
    seed : int, optional
        Seed passed to :func:`eiger_frames`.
    dataset : str, optional
        Dataset path; its parent groups get NeXus ``NX_class`` attributes.
    progress : callable, optional
        Called as ``progress(done_frames, total_frames)`` after each batch.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = pathlib.Path(path)
    shape = check_shape(shape)
    dtype = check_dtype(dtype)
    n_frames = int(n_frames)
    kwargs = filter_kwargs(compression, block_size)
    if n_frames == 0:
        kwargs["maxshape"] = (None, *shape)  # HDF5 rejects chunks larger than a fixed shape
    with h5py.File(path, "w") as f:
        dset = f.create_dataset(
            dataset, shape=(n_frames, *shape), dtype=dtype, chunks=(1, *shape), **kwargs
        )
        nexus_attrs(f, dataset)
        f.attrs["fastchunk_format_version"] = FORMAT_VERSION
        f.attrs["fastchunk_seed"] = int(seed)
        for lo in range(0, n_frames, _BATCH):
            hi = min(lo + _BATCH, n_frames)
            dset[lo:hi] = eiger_frames(hi - lo, shape, dtype, seed=seed, start=lo)
            if progress is not None:
                progress(hi, n_frames)
    return path


def write_dataset(
    path, name, data, chunks, compression=None, *, block_size=0, fillvalue=None, mode="a", **h5kw
) -> pathlib.Path:
    """Create one chunked dataset in an HDF5 file and write data to it.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file; with the default mode "a" several datasets can share it.
    name : str
        Dataset path inside the file; an existing dataset of that name is replaced.
    data : array_like or None
        Values to write. None creates the dataset without writing any chunk
        (pass ``shape`` and ``dtype`` in `h5kw`), so reads see `fillvalue`.
    chunks : tuple of int, True or None
        Chunk shape, passed to h5py.
    compression : str, Mapping or None, optional
        Filters joined by "+": one compressor of "bslz4", "bitshuffle", "lz4", "lzf",
        "deflate" (alias "gzip") plus optional "shuffle" and "fletcher32",
        e.g. "shuffle+deflate+fletcher32". A Mapping (e.g. an hdf5plugin
        filter object) is passed to h5py as is. Bitshuffle accepts any element
        size, so fixed-length strings such as 'S10' work with "bslz4".
    block_size : int, optional
        Bitshuffle block size in elements, or LZ4 block size in bytes; 0 is the default.
    fillvalue : scalar, optional
        Value of unwritten elements.
    mode : str, optional
        h5py file mode.
    **h5kw
        Extra ``create_dataset`` keywords (``maxshape``, ``compression_opts``...);
        they override the ones derived from `compression`.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = pathlib.Path(path)
    kwargs = filter_kwargs(compression, block_size)
    kwargs.update(h5kw)
    if data is not None:
        kwargs["data"] = np.asarray(data)
    with h5py.File(path, mode) as f:
        if name in f:
            del f[name]
        f.create_dataset(name, chunks=chunks, fillvalue=fillvalue, **kwargs)
    return path
