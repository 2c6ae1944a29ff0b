"""fastchunk: read chunked HDF5 datasets (Eiger bitshuffle+LZ4 and friends) on every core.

    import fastchunk
    with fastchunk.File("data.h5") as f:
        frames = f["/entry/data/data"][100:200]

The layers, from the top: the Face (file.py, dataset.py, virtual.py, nxmx.py, cli/) is what
users call; Plan (plan/) turns a selection into rows of chunks in pure Python + numpy + h5py;
the Bridge (_native.pyx) hands the rows to the C engine (csrc/). The Face is imported on first
use, so Plan and the errors can be imported where the extension is not built.
"""
import importlib

from .errors import (ChunkDecodeError, ChunkReadError, ExternalLinkError, FastchunkError,
                     FileClosedError, NativeError, NotHDF5Error, UnsupportedFilterError)

__version__ = "0.1.0"

# public name -> the Face module that defines it
_FACE = {"File": "file", "Group": "file", "read": "file", "Dataset": "dataset",
         "VirtualDataset": "virtual", "Frames": "nxmx", "open_nxmx": "nxmx",
         "default_num_threads": "engine", "show_config": "config", "refs": "refs"}


def __getattr__(name):
    if name in _FACE:
        value = getattr(importlib.import_module(f".{_FACE[name]}", __name__), name)
        globals()[name] = value  # once is enough
        return value
    raise AttributeError(f"module 'fastchunk' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_FACE))


def simd_kernel():
    """Name of the SIMD kernel set in use ('generic', 'sse2', 'avx2', 'avx512')."""
    from . import _native
    return _native.simd_kernel()


__all__ = ["File", "Group", "Dataset", "VirtualDataset", "Frames", "open_nxmx", "read", "refs",
           "default_num_threads", "simd_kernel", "show_config",
           "FastchunkError", "ChunkReadError", "ChunkDecodeError", "UnsupportedFilterError",
           "ExternalLinkError", "FileClosedError", "NativeError", "NotHDF5Error"]
