"""fastchunk: read chunked HDF5 datasets (Eiger bitshuffle+LZ4 and friends) on every core.

    import fastchunk
    with fastchunk.File("data.h5") as f:
        frames = f["/entry/data/data"][100:200]
"""
from . import _native
from .dataset import Dataset, File, Group, default_num_threads, read
from .errors import (ChunkDecodeError, ChunkReadError, ExternalLinkError, FastchunkError,
                     FileClosedError, NativeError, UnsupportedFilterError)
from .nxmx import Frames, open_nxmx
from .virtual import VirtualDataset

__version__ = "0.1.0"


def simd_kernel():
    """Name of the SIMD kernel set in use ('generic', 'sse2', 'avx2', 'avx512')."""
    return _native.simd_kernel()


__all__ = ["File", "Group", "Dataset", "VirtualDataset", "Frames", "open_nxmx", "read",
           "default_num_threads", "simd_kernel",
           "FastchunkError", "ChunkReadError", "ChunkDecodeError", "UnsupportedFilterError",
           "ExternalLinkError", "FileClosedError", "NativeError"]
