"""The demo file behind `fastchunk bench`: a cached Eiger file (bitshuffle+LZ4), written once
per shape and dtype into the user's cache directory and renamed into place when complete."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from .detector import DEMO_SHAPE, FORMAT_VERSION, check_dtype, check_shape
from .writers import DEMO_FRAMES, write_eiger_file

__all__ = ["demo_path", "ensure_demo_file"]


def _cache_dir() -> pathlib.Path:
    """$FASTCHUNK_CACHE, else $XDG_CACHE_HOME/fastchunk, else ~/.cache/fastchunk."""
    if os.environ.get("FASTCHUNK_CACHE"):
        return pathlib.Path(os.environ["FASTCHUNK_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return root / "fastchunk"


def demo_path(n_frames=DEMO_FRAMES, shape=DEMO_SHAPE, dtype=np.uint32) -> pathlib.Path:
    """Return the cache path of a demo file.

    Parameters
    ----------
    n_frames : int, optional
        Number of frames.
    shape : tuple of int, optional
        Frame shape.
    dtype : numpy dtype, optional
        Pixel type.

    Returns
    -------
    pathlib.Path
        ``<cache>/eiger_v<FORMAT_VERSION>_<n>x<rows>x<cols>_<dtype>_bslz4.h5`` where
        ``<cache>`` is ``$FASTCHUNK_CACHE``, ``$XDG_CACHE_HOME/fastchunk`` or
        ``~/.cache/fastchunk``. The file may not exist yet.
    """
    rows, cols = check_shape(shape)
    dtype = check_dtype(dtype)
    name = f"eiger_v{FORMAT_VERSION}_{int(n_frames)}x{rows}x{cols}_{dtype.name}_bslz4.h5"
    return _cache_dir() / name


def ensure_demo_file(n_frames=DEMO_FRAMES, shape=DEMO_SHAPE, dtype=np.uint32, progress=None) -> pathlib.Path:
    """Return the demo file path, writing the file first if it is absent.

    The file is written under a temporary name in the cache directory and
    renamed into place at the end, so an interrupted run never leaves a
    partial demo file behind.

    Parameters
    ----------
    n_frames : int, optional
        Number of frames.
    shape : tuple of int, optional
        Frame shape.
    dtype : numpy dtype, optional
        Pixel type.
    progress : callable, optional
        ``progress(done_frames, total_frames)``, e.g. :func:`fastchunk.testing.text_progress`.

    Returns
    -------
    pathlib.Path
        Same as :func:`demo_path`.
    """
    final = demo_path(n_frames, shape, dtype)
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    # Unique hidden name next to the target (same file system, so os.replace is
    # atomic); h5py creates it, so the permissions follow the umask.
    tmp = final.with_name(f".{final.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    try:
        write_eiger_file(tmp, n_frames, shape, dtype, compression="bslz4", progress=progress)
        os.replace(tmp, final)
    except BaseException:
        # Also on KeyboardInterrupt: never leave temporary files in the cache.
        tmp.unlink(missing_ok=True)
        raise
    return final
