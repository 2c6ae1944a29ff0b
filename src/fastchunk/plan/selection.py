"""h5py-style selections -> per-axis regions for the planner: integers, slices (step >= 1),
Ellipsis, one increasing index list or 1-D boolean array along one axis, and a boolean mask of
the dataset's whole shape.

Anything else, and every invalid selection, raises NotSimple: the caller then hands the very
same selection to h5py, which returns its result or raises its own error (type and message),
so fastchunk never has to imitate h5py's error texts.
"""
import operator
from dataclasses import dataclass

import numpy as np


class NotSimple(Exception):
    """Not a selection fastchunk plans itself (read through h5py, which also raises its errors)."""


@dataclass
class Selection:
    """Per-axis start, step and count; `drop` marks axes indexed by an integer.

    points: sorted, distinct indices along axis `axis` (an index list or 1-D boolean array);
    that axis's start/step are then unused and its count is len(points).
    mask: a boolean mask of the dataset's shape, cropped to the box start/step/count describe;
    the result is box[mask], one dimension, in C order like h5py's point selection.
    """

    start: np.ndarray
    step: np.ndarray
    count: np.ndarray
    drop: tuple
    points: np.ndarray = None
    axis: int = -1
    mask: np.ndarray = None

    @property
    def out_shape(self):
        """Shape of the box the native read fills."""
        return tuple(int(c) for c in self.count)

    @property
    def result_shape(self):
        """Shape of what `ds[sel]` returns."""
        if self.mask is not None:
            return (int(np.count_nonzero(self.mask)),)
        return tuple(int(c) for c, d in zip(self.count, self.drop) if not d)


def _is_int(s):
    return isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))


def _points(s, n):
    """Sorted distinct indices in [0, n) of an index list / 1-D array along one axis."""
    if isinstance(s, range):
        s = np.arange(s.start, s.stop, s.step, dtype=np.int64)
    if isinstance(s, list):
        if not s:
            return np.zeros(0, np.int64)
        if all(isinstance(v, (bool, np.bool_)) for v in s):
            s = np.array(s, dtype=bool)
        elif all(_is_int(v) for v in s):
            s = np.array([int(v) for v in s], dtype=object)
            if s.min() < -(1 << 62) or s.max() > (1 << 62):
                raise NotSimple("index out of range")
            s = s.astype(np.int64)
        else:
            raise NotSimple("list of mixed types")
    if s.ndim != 1:
        raise NotSimple("not a 1-D array")
    if s.dtype.kind == "b":
        if len(s) != n:
            raise NotSimple("boolean array of the wrong length")
        return np.flatnonzero(s).astype(np.int64)
    if s.dtype.kind not in "iu":
        raise NotSimple("index array of a non-integer dtype")
    if len(s) and s.dtype.kind == "u" and s.max() >= n:
        raise NotSimple("index out of range")
    idx = s.astype(np.int64)
    if len(idx) and (idx.min() < -n or idx.max() >= n):
        raise NotSimple("index out of range")
    idx = np.where(idx < 0, idx + n, idx)
    if len(idx) > 1 and (np.diff(idx) <= 0).any():
        raise NotSimple("indices not increasing")
    return idx


def _mask_selection(mask, shape):
    """The bounding box of a whole-shape boolean mask, with the mask cropped to it."""
    nz = [np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != d)))
          for d in range(mask.ndim)]
    if any(len(z) == 0 for z in nz):
        start = np.zeros(len(shape), np.int64)
        count = np.zeros(len(shape), np.int64)
        crop = np.zeros((0,) * len(shape), bool)
    else:
        start = np.array([z[0] for z in nz], np.int64)
        count = np.array([z[-1] + 1 - z[0] for z in nz], np.int64)
        crop = mask[tuple(slice(a, a + c) for a, c in zip(start, count))]
    return Selection(start, np.ones(len(shape), np.int64), count, (False,) * len(shape), mask=crop)


def parse_selection(sel, shape):
    """A Selection for what h5py's `ds[sel]` accepts and fastchunk reads natively.

    Raises NotSimple for anything else, invalid selections included (h5py then decides).
    """
    if not isinstance(sel, tuple):
        sel = (sel,)
    if len(sel) == 1 and isinstance(sel[0], np.ndarray) and sel[0].dtype.kind == "b" \
            and sel[0].shape == tuple(shape) and len(shape) > 1:
        return _mask_selection(sel[0], shape)
    if any(s is Ellipsis for s in sel):
        if sum(s is Ellipsis for s in sel) > 1:
            raise NotSimple("two ellipses")
        i = next(i for i, s in enumerate(sel) if s is Ellipsis)
        fill = len(shape) - (len(sel) - 1)
        sel = sel[:i] + (slice(None),) * max(fill, 0) + sel[i + 1:]
    if len(sel) > len(shape):
        raise NotSimple("too many indices")
    sel = sel + (slice(None),) * (len(shape) - len(sel))
    start, step, count, drop = [], [], [], []
    points, axis = None, -1
    for d, (s, n) in enumerate(zip(sel, shape)):
        if isinstance(s, np.ndarray) and s.ndim == 0 and s.dtype.kind in "iu":
            s = s[()]  # h5py takes a 0-d integer array as an integer
        if isinstance(s, slice):
            try:
                st = 1 if s.step is None else operator.index(s.step)
                a, b, _ = slice(s.start, s.stop, st).indices(n) if st >= 1 else (0, 0, 0)
            except TypeError:
                raise NotSimple("slice of non-integers") from None
            if st < 1:
                raise NotSimple("step < 1")
            start.append(a)
            step.append(st)
            count.append(max(0, -(-(b - a) // st)))
            drop.append(False)
        elif _is_int(s):
            i = int(s)
            if i < -n or i >= n:
                raise NotSimple("index out of range")
            start.append(i % n if n else 0)
            step.append(1)
            count.append(1)
            drop.append(True)
        elif isinstance(s, (list, np.ndarray, range)):
            if points is not None:
                raise NotSimple("more than one index array")
            points, axis = _points(s, n), d
            start.append(0)
            step.append(1)
            count.append(len(points))
            drop.append(False)
        else:
            raise NotSimple(type(s).__name__)
    as64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    return Selection(as64(start), as64(step), as64(count), tuple(drop), points, axis)


def point_pieces(points, chunk):
    """Split sorted indices along one axis into runs of consecutive indices inside one chunk.

    Returns (chunk index, chunk-local start, out start, count) arrays, ordered by chunk.
    """
    if len(points) == 0:
        z = np.zeros(0, np.int64)
        return z, z, z, z
    c = points // chunk
    new = np.ones(len(points), dtype=bool)
    new[1:] = (np.diff(points) != 1) | (c[1:] != c[:-1])
    first = np.flatnonzero(new)
    count = np.diff(np.append(first, len(points)))
    return c[first], points[first] - c[first] * chunk, first, count


def boxed(s):
    """(a plain Selection of the box around s's points or mask, pick) where pick(box array)
    gives the result: for planners that only know per-axis slices (virtual datasets) and for
    masks, which are read as their bounding box."""
    if s.mask is not None:
        box = Selection(s.start, s.step, s.count, s.drop)
        return box, lambda a: a[s.mask]
    if s.points is None:
        return s, lambda a: a.reshape(s.result_shape)
    start, count = s.start.copy(), s.count.copy()
    lo = int(s.points[0]) if len(s.points) else 0
    start[s.axis] = lo
    count[s.axis] = int(s.points[-1]) + 1 - lo if len(s.points) else 0
    box = Selection(start, s.step, count, s.drop)
    return box, lambda a: np.take(a, s.points - lo, axis=s.axis).reshape(s.result_shape)
