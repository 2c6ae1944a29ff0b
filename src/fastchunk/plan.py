"""Selection x chunk index -> plan rows for the native read (pure numpy)."""
import operator
from dataclasses import dataclass

import numpy as np

from ._native import ROW_DTYPE

FLAG_PARTIAL = 1  # FC_ROW_PARTIAL: edge chunk sticking out of the dataset


class NotSimple(Exception):
    """The selection is valid for h5py but not a plain per-axis slice (read through h5py)."""


@dataclass
class Selection:
    """Per-axis start, step and count; `drop` marks axes indexed by an integer."""

    start: np.ndarray
    step: np.ndarray
    count: np.ndarray
    drop: tuple

    @property
    def out_shape(self):
        return tuple(int(c) for c in self.count)

    @property
    def result_shape(self):
        return tuple(int(c) for c, d in zip(self.count, self.drop) if not d)


def parse_selection(sel, shape):
    """Turn ints, slices (step >= 1) and Ellipsis into a Selection, with h5py's errors."""
    if not isinstance(sel, tuple):
        sel = (sel,)
    if any(s is Ellipsis for s in sel):
        if sum(s is Ellipsis for s in sel) > 1:
            raise ValueError("Only one ellipsis may be used.")
        i = next(i for i, s in enumerate(sel) if s is Ellipsis)
        fill = len(shape) - (len(sel) - 1)
        sel = sel[:i] + (slice(None),) * max(fill, 0) + sel[i + 1:]
    if len(sel) > len(shape):
        raise IndexError(f"Index ({sel}) out of range for dataset of rank {len(shape)}")
    sel = sel + (slice(None),) * (len(shape) - len(sel))
    start, step, count, drop = [], [], [], []
    for s, n in zip(sel, shape):
        if isinstance(s, slice):
            st = 1 if s.step is None else operator.index(s.step)
            if st < 1:
                raise ValueError(f"Step must be >= 1 (got {st})")
            a, b, _ = slice(s.start, s.stop, st).indices(n)
            start.append(a)
            step.append(st)
            count.append(max(0, -(-(b - a) // st)))
            drop.append(False)
        elif isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)):
            i = int(s)
            if i < -n or i >= n:
                raise IndexError(f"Index ({i}) out of range for (0-{n - 1})")
            start.append(i % n if n else 0)
            step.append(1)
            count.append(1)
            drop.append(True)
        else:
            raise NotSimple(type(s).__name__)
    as64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    return Selection(as64(start), as64(step), as64(count), tuple(drop))


@dataclass
class Plan:
    rows: np.ndarray      # ROW_DTYPE, in I/O order
    regions: np.ndarray   # (nrows, 3, ndim) int64: chunk start, out start, count
    coords: np.ndarray    # (nrows, ndim) chunk grid coordinates, for error messages
    missing: bool         # some selected chunk is not allocated: fill first


def _axis_overlap(c, chunk, start, step, count):
    """Per chunk index c along one axis: first selected k, last selected k (arrays)."""
    lo = c * chunk
    hi = lo + chunk - 1
    k0 = np.maximum(0, -(-(lo - start) // step))
    k1 = np.minimum(count - 1, (hi - start) // step)
    return k0, k1


def _grid_chunks_touched(sel, chunks):
    """How many chunks of the grid hold at least one selected element."""
    total = 1
    for a, st, n, cs in zip(sel.start, sel.step, sel.count, chunks):
        if n == 0:
            return 0
        if st >= cs:
            total *= int(n)  # each selected element in its own chunk
        else:
            total *= int((a + (n - 1) * st) // cs - a // cs + 1)
    return total


def make_plan(index, sel, chunks, shape, file_no=0, layout_no=0):
    """Rows for the allocated chunks that hold selected elements, sorted by file offset."""
    chunks = np.asarray(chunks, dtype=np.int64)
    shape = np.asarray(shape, dtype=np.int64)
    ndim = len(chunks)
    keep = np.ones(len(index), dtype=bool)
    k0s, k1s = [], []
    for d in range(ndim):
        k0, k1 = _axis_overlap(index.coords[:, d], chunks[d], sel.start[d], sel.step[d], sel.count[d])
        keep &= k0 <= k1
        k0s.append(k0)
        k1s.append(k1)
    n = int(keep.sum())
    k0 = np.stack(k0s, axis=1)[keep]
    k1 = np.stack(k1s, axis=1)[keep]
    coords = index.coords[keep]
    regions = np.empty((n, 3, ndim), dtype=np.int64)
    regions[:, 0] = sel.start + k0 * sel.step - coords * chunks
    regions[:, 1] = k0
    regions[:, 2] = k1 - k0 + 1
    rows = np.zeros(n, dtype=ROW_DTYPE)
    rows["offset"] = index.offset[keep]
    rows["nbytes"] = index.nbytes[keep]
    rows["file_no"] = file_no
    rows["layout_no"] = layout_no
    rows["filter_mask"] = index.filter_mask[keep]
    partial = ((coords + 1) * chunks > shape).any(axis=1)
    rows["flags"] = np.where(partial, FLAG_PARTIAL, 0)
    missing = n < _grid_chunks_touched(sel, chunks)
    return Plan(rows, regions, coords, missing)
