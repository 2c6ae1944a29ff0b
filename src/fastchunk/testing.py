"""Deterministic writers of realistic chunked HDF5 test and demo files (synthetic Eiger 4M data)."""

from __future__ import annotations

import functools
import os
import pathlib
import sys
from collections.abc import Mapping

import h5py
import numpy as np

__all__ = [
    "DEMO_SHAPE",
    "DEMO_FRAMES",
    "DEMO_DATASET",
    "DEFLATE_LEVEL",
    "FORMAT_VERSION",
    "eiger_frames",
    "write_eiger_file",
    "write_dataset",
    "demo_path",
    "ensure_demo_file",
    "text_progress",
]

DEMO_SHAPE = (2167, 2070)  # Eiger 4M frame
DEMO_FRAMES = 50
DEMO_DATASET = "/entry/data/data"

#: gzip level used by the "deflate" compression names: level 1 is the fastest
#: and stores these Poisson-like counts within ~10% of the h5py default (4).
DEFLATE_LEVEL = 1

#: Bump whenever eiger_frames() output changes, so cached demo files are regenerated.
FORMAT_VERSION = 1

# Eiger 4M module layout, in pixels: (rows, cols) per module, gaps between modules.
_EIGER_SHAPE = (2167, 2070)
_MODULE = (514, 1030)
_GAP = (37, 10)

# Background model: counts/pixel at the detector edge plus an air-scatter bump at the beam.
_BG_FLOOR = 0.7
_BG_AIR = 1.8
_N_RINGS = 7
_N_LEVELS = 64  # mean-count levels of the Poisson lookup table
_U_BITS = 16  # uniform bits per pixel fed to the lookup table
_SPOT_RADIUS = 5  # spot patches are (2R+1)^2 pixels
_SPOT_DENSITY = 6e-5  # mean spots per pixel per frame (~270 on an Eiger 4M)
_BAD_DENSITY = 2e-5  # static dead/masked pixels per pixel
_BATCH = 4  # frames generated per write, to bound memory

# Stream tags so the geometry and the frames use unrelated random streams.
_TAG_GEOMETRY = 0x6E0
_TAG_FRAME = 0xF4A


# --------------------------------------------------------------------------- random


def _bitgen(*key: int) -> np.random.PCG64:
    """PCG64 seeded from integer key; only raw bits are used because numpy
    guarantees bit-generator streams across versions, not distribution methods."""
    return np.random.PCG64(np.random.SeedSequence([int(k) for k in key]))


def _uniform(bitgen: np.random.PCG64, n: int) -> np.ndarray:
    """n float64 uniforms in [0, 1) from raw 64-bit draws."""
    return (bitgen.random_raw(n) >> np.uint64(11)) * (1.0 / (1 << 53))


def _normal(bitgen: np.random.PCG64, n: int) -> np.ndarray:
    """n standard normals (Box-Muller) from raw draws."""
    u = _uniform(bitgen, 2 * n).reshape(2, n)
    return np.sqrt(-2.0 * np.log1p(-u[0])) * np.cos(2.0 * np.pi * u[1])


def _uniform_u16(bitgen: np.random.PCG64, n: int) -> np.ndarray:
    """n uniform uint16 values (little-endian view of raw draws, platform independent)."""
    raw = bitgen.random_raw((n + 3) // 4).astype("<u8", copy=False)
    return raw.view("<u2")[:n]


# --------------------------------------------------------------------------- geometry


def _check_shape(shape) -> tuple[int, int]:
    """Validate a 2-D frame shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"frame shape must be two positive ints, got {shape!r}")
    return shape


def _check_dtype(dtype) -> np.dtype:
    """Validate an integer pixel dtype."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "ui":
        raise ValueError(f"eiger frames need an integer dtype, got {dtype}")
    return dtype


def _gap_index(n: int, axis: int) -> np.ndarray:
    """Indices of gap rows (axis 0) or columns (axis 1) for a frame n pixels long,
    mapping each pixel centre onto the real Eiger 4M layout."""
    full = (np.arange(n) + 0.5) * (_EIGER_SHAPE[axis] / n)
    period = _MODULE[axis] + _GAP[axis]
    return np.flatnonzero(np.floor(full) % period >= _MODULE[axis])


def _radial_profile(r: np.ndarray, rmax: float, scale: float, bitgen) -> np.ndarray:
    """Mean counts versus radius: air-scatter background plus Gaussian powder rings."""
    rn = r / rmax
    lam = _BG_FLOOR + _BG_AIR * np.exp(-rn / 0.3)
    u = _uniform(bitgen, 3 * _N_RINGS).reshape(3, _N_RINGS)
    radii = np.sort(0.08 + 0.8 * u[0]) * rmax
    widths = np.maximum(0.8, (2.0 + 5.0 * u[1]) * scale)
    amps = 1.0 + 4.0 * u[2]
    for r0, w, a in zip(radii, widths, amps):
        # Outer rings are weaker, as in real powder patterns.
        lam += a * (1.0 - 0.5 * r0 / rmax) * np.exp(-0.5 * ((r - r0) / w) ** 2)
    return lam


def _mean_counts(shape: tuple[int, int], bitgen) -> np.ndarray:
    """Expected counts per pixel (float32 frame): rings, background and a beamstop."""
    h, w = shape
    cy, cx = (np.array(shape) * (0.5 + 0.06 * (_uniform(bitgen, 2) - 0.5)))
    y = (np.arange(h, dtype=np.float32) + 0.5 - cy)[:, None]
    x = (np.arange(w, dtype=np.float32) + 0.5 - cx)[None, :]
    r = np.sqrt(y * y + x * x)
    rmax = 0.5 * float(np.hypot(h, w))
    # Tabulate the profile at 1/4 pixel and look it up: far cheaper than exp per pixel.
    step = 4.0
    grid = np.arange(int(rmax * 2 * step) + 2) / step
    profile = _radial_profile(grid, rmax, min(shape) / min(_EIGER_SHAPE), bitgen)
    lam = profile.astype(np.float32).take((r * step + 0.5).astype(np.intp))
    # Beamstop disk and its supporting arm towards the right edge cast a shadow.
    stop = max(1.0, 0.035 * rmax)
    shadow = (r < stop) | ((np.abs(y) < 0.3 * stop) & (x > 0))
    lam[shadow] *= 0.03
    return lam


def _poisson_table(lam_levels: np.ndarray) -> np.ndarray:
    """uint8 table[level, u]: inverse Poisson CDF of uniform u (16 bits) for each mean."""
    kmax = 96  # far beyond any tabulated mean; uint8 holds it
    q = (np.arange(1 << _U_BITS) + 0.5) / (1 << _U_BITS)
    table = np.empty((len(lam_levels), 1 << _U_BITS), np.uint8)
    for i, lam in enumerate(lam_levels):
        pmf = np.empty(kmax)
        pmf[0] = np.exp(-lam)
        pmf[1:] = lam / np.arange(1, kmax)
        cdf = np.cumsum(np.cumprod(pmf))
        cdf[-1] = 1.0  # keep every u inside the table
        table[i] = np.searchsorted(cdf, q, side="left")
    return table


class _Geometry:
    """Static, per-(shape, seed) detector state shared by all frames."""

    def __init__(self, shape: tuple[int, int], seed: int):
        bitgen = _bitgen(seed, _TAG_GEOMETRY)
        lam = _mean_counts(shape, bitgen)
        # Quantise sqrt(mean): uniform steps in noise level, fine at low counts.
        lo, hi = float(np.sqrt(lam.min())), float(np.sqrt(lam.max()))
        span = max(hi - lo, 1e-6)
        levels = np.rint((np.sqrt(lam.ravel()) - lo) * ((_N_LEVELS - 1) / span))
        self.table = _poisson_table(np.linspace(lo, hi, _N_LEVELS) ** 2)
        self.base = levels.astype(np.int64) << _U_BITS  # row offset into the table
        self.gap_rows = _gap_index(shape[0], 0)
        self.gap_cols = _gap_index(shape[1], 1)
        n_pix = shape[0] * shape[1]
        n_bad = int(round(_BAD_DENSITY * n_pix))
        self.bad = np.unique(bitgen.random_raw(n_bad) % np.uint64(n_pix)).astype(np.intp)
        fits = min(shape) > 2 * _SPOT_RADIUS + 1
        self.spots_mean = max(1.0, _SPOT_DENSITY * n_pix) if fits else 0.0
        for a in (self.table, self.base, self.gap_rows, self.gap_cols, self.bad):
            a.setflags(write=False)


@functools.lru_cache(maxsize=2)
def _geometry(shape: tuple[int, int], seed: int) -> _Geometry:
    """Cached geometry: it costs more than a frame and is identical for all frames."""
    return _Geometry(shape, seed)


# --------------------------------------------------------------------------- frames


def _spot_pixels(bitgen, shape: tuple[int, int], n: int):
    """Flat indices and Poisson-ish counts of n Gaussian Bragg spots."""
    h, w = shape
    rad = _SPOT_RADIUS
    u = _uniform(bitgen, 4 * n).reshape(4, n, 1, 1)
    cy = rad + u[0] * (h - 2 * rad - 1)
    cx = rad + u[1] * (w - 2 * rad - 1)
    sigma = 0.6 + 0.7 * u[2]
    peak = 150.0 * 40.0 ** u[3]  # log-uniform 150 .. 6000 counts
    d = np.arange(-rad, rad + 1)
    iy = np.floor(cy).astype(np.intp) + d[:, None]
    ix = np.floor(cx).astype(np.intp) + d[None, :]
    dist2 = (iy + 0.5 - cy) ** 2 + (ix + 0.5 - cx) ** 2
    mean = (peak * np.exp(-dist2 / (2.0 * sigma**2))).ravel()
    # Normal approximation of Poisson noise; fine for bright spot pixels.
    counts = np.floor(mean + np.sqrt(mean) * _normal(bitgen, mean.size) + 0.5)
    return (iy * w + ix).ravel(), np.maximum(counts, 0.0)


def _add_spots(flat: np.ndarray, idx: np.ndarray, counts: np.ndarray, top: int) -> None:
    """Add spot counts onto a flat frame, summing overlaps and saturating at top."""
    uniq, inv = np.unique(idx, return_inverse=True)
    total = flat[uniq].astype(np.float64) + np.bincount(inv, weights=counts)
    flat[uniq] = np.minimum(total, top).astype(flat.dtype)


def _fill_frame(out: np.ndarray, geo: _Geometry, seed: int, index: int, scratch) -> None:
    """Write frame number `index` into the 2-D array out."""
    bitgen = _bitgen(seed, _TAG_FRAME, index)
    flat = out.reshape(-1)
    top = int(np.iinfo(out.dtype).max)
    # Background and rings: per-pixel table lookup turns uniforms into Poisson counts.
    idx, counts = scratch
    np.add(geo.base, _uniform_u16(bitgen, flat.size), out=idx)
    np.take(geo.table, idx, out=counts)
    flat[...] = counts
    n_spots = int(geo.spots_mean * (0.6 + 0.8 * _uniform(bitgen, 1)[0]) + 0.5)
    if geo.spots_mean and n_spots:
        # Saturated pixels stay below the gap value, as the detector does.
        _add_spots(flat, *_spot_pixels(bitgen, out.shape, n_spots), top - 1)
    out[geo.gap_rows, :] = top
    out[:, geo.gap_cols] = top
    flat[geo.bad] = top


def eiger_frames(n_frames, shape=DEMO_SHAPE, dtype=np.uint32, seed=0, start=0) -> np.ndarray:
    """Generate deterministic Eiger-like diffraction frames.

    Each frame holds Poisson counts on a low background (~0.5-2 counts/pixel
    with air scatter near the beam and a beamstop shadow), a few powder rings
    (a few counts), Bragg spots (Gaussian blobs peaking at hundreds to
    thousands of counts, different in every frame), a handful of dead pixels
    and the Eiger 4M module gaps (1030x514 px modules, 10 and 37 px gaps,
    scaled to `shape`) set to the dtype maximum.

    Parameters
    ----------
    n_frames : int
        Number of frames to generate.
    shape : tuple of int, optional
        Frame shape (rows, columns); default is the Eiger 4M frame.
    dtype : numpy dtype, optional
        Integer pixel type (uint8, uint16, uint32, int32, ...). Counts
        saturate at ``max - 1``; gaps and dead pixels are ``iinfo(dtype).max``.
    seed : int, optional
        Selects the experiment: ring geometry, beam centre and noise.
    start : int, optional
        Index of the first frame.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n_frames, *shape)``. Frame ``i`` depends only on
        ``(seed, start + i)``, so ``eiger_frames(10, start=5)`` equals
        ``eiger_frames(15)[5:]``.
    """
    shape = _check_shape(shape)
    dtype = _check_dtype(dtype)
    n_frames, seed, start = int(n_frames), int(seed), int(start)
    if n_frames < 0 or seed < 0 or start < 0:
        raise ValueError("n_frames, seed and start must be non-negative")
    out = np.empty((n_frames, *shape), dtype)
    if n_frames == 0:
        return out
    geo = _geometry(shape, seed)
    n_pix = shape[0] * shape[1]
    scratch = (np.empty(n_pix, np.int64), np.empty(n_pix, np.uint8))
    for i in range(n_frames):
        _fill_frame(out[i], geo, seed, start + i, scratch)
    return out


# --------------------------------------------------------------------------- writers


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


def _filter_kwargs(compression, block_size: int = 0) -> dict:
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


def _nexus_attrs(f: h5py.File, dataset: str) -> None:
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
    shape = _check_shape(shape)
    dtype = _check_dtype(dtype)
    n_frames = int(n_frames)
    kwargs = _filter_kwargs(compression, block_size)
    if n_frames == 0:
        kwargs["maxshape"] = (None, *shape)  # HDF5 rejects chunks larger than a fixed shape
    with h5py.File(path, "w") as f:
        dset = f.create_dataset(
            dataset, shape=(n_frames, *shape), dtype=dtype, chunks=(1, *shape), **kwargs
        )
        _nexus_attrs(f, dataset)
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
    kwargs = _filter_kwargs(compression, block_size)
    kwargs.update(h5kw)
    if data is not None:
        kwargs["data"] = np.asarray(data)
    with h5py.File(path, mode) as f:
        if name in f:
            del f[name]
        f.create_dataset(name, chunks=chunks, fillvalue=fillvalue, **kwargs)
    return path


# --------------------------------------------------------------------------- demo file cache


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
    rows, cols = _check_shape(shape)
    dtype = _check_dtype(dtype)
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
        ``progress(done_frames, total_frames)``, see :func:`text_progress`.

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


def text_progress(stream=None, label="writing demo file", width=30):
    """Make a progress callback drawing a one-line text progress bar.

    Parameters
    ----------
    stream : file-like, optional
        Where to draw; None means ``sys.stderr`` at call time (so redirection
        done later, e.g. by pytest, is honoured).
    label : str, optional
        Text before the bar.
    width : int, optional
        Bar width in characters.

    Returns
    -------
    callable
        ``progress(done, total)`` drawing e.g.
        ``writing demo file [#####.....] 25/50 frames`` with a carriage
        return, and a newline once ``done >= total``.
    """

    def progress(done, total):
        out = sys.stderr if stream is None else stream
        filled = width * done // total if total > 0 else width
        filled = min(max(filled, 0), width)
        bar = "#" * filled + "." * (width - filled)
        out.write(f"\r{label} [{bar}] {done}/{total} frames")
        if done >= total:
            out.write("\n")
        out.flush()

    return progress


# Master + data file writers live in their own module; imported last (they use the above).
from .testing_masters import write_dectris_master, write_diamond_master  # noqa: E402

__all__ += ["write_dectris_master", "write_diamond_master"]
