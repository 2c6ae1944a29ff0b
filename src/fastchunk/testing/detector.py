"""The Eiger-like detector model: deterministic synthetic diffraction frames (Poisson
background with air scatter and a beamstop shadow, powder rings, Bragg spots, dead pixels and
the Eiger 4M module gaps), the same on every platform and numpy version."""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["DEMO_SHAPE", "FORMAT_VERSION", "eiger_frames", "check_shape", "check_dtype"]

DEMO_SHAPE = (2167, 2070)  # Eiger 4M frame

#: Bump whenever eiger_frames() output changes, so cached demo files are regenerated.
FORMAT_VERSION = 1

# Eiger 4M module layout, in pixels: (rows, cols) per module, gaps between modules.
_EIGER_SHAPE = DEMO_SHAPE
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


def check_shape(shape) -> tuple[int, int]:
    """Validate a 2-D frame shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"frame shape must be two positive ints, got {shape!r}")
    return shape


def check_dtype(dtype) -> np.dtype:
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
    shape = check_shape(shape)
    dtype = check_dtype(dtype)
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
