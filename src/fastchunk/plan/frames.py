"""Plans of axis-0 reads of a frame stack straight from the chunk index.

A frame stack is a chunked dataset whose chunks hold whole frames (every axis but the first
is one chunk wide), as detectors write it. `ds[i]` and `ds[a:b]` of such a dataset need no
selection parsing and no box search: the chunks are those whose first coordinate lies in
[a // c0, (b - 1) // c0], found in a table built once per index. This is what makes a loop of
single-frame reads of small frames cost about as much as the decode.
"""
import numpy as np

from .. import _constants as C
from .rows import ROW_DTYPE, Plan


def is_frame_stack(chunks, shape):
    """True when every chunk holds whole frames (and there is a first axis to index)."""
    return bool(chunks) and len(shape) >= 1 and tuple(chunks[1:]) == tuple(shape[1:])


def axis0_range(sel, n):
    """(a, b, drop) when sel is one integer or one step-1 slice along axis 0 (optionally in a
    1-tuple or followed by Ellipsis) selecting rows [a, b) of n, drop saying whether the axis
    goes away; else None (the general planner takes it, and h5py raises for bad ones)."""
    if sel is Ellipsis or (type(sel) is tuple and not sel):
        return (0, n, False) if n else None
    if type(sel) is tuple:
        if len(sel) == 2 and sel[1] is Ellipsis:
            sel = sel[0]
        elif len(sel) == 1:
            sel = sel[0]
        else:
            return None
    if isinstance(sel, slice):
        if sel.step not in (None, 1):
            return None
        a, b, _ = sel.indices(n)
        return (a, b, False) if a < b else None
    if isinstance(sel, (int, np.integer)) and not isinstance(sel, (bool, np.bool_)):
        i = int(sel) + n if sel < 0 else int(sel)
        return (i, i + 1, True) if 0 <= i < n else None
    return None


class FramePlanner:
    """Plans rows [a, b) of a frame stack from a table of its allocated chunks."""

    def __init__(self, index, chunks, shape):
        self.c0 = int(chunks[0])
        self.shape = tuple(int(n) for n in shape)
        grid0 = -(-self.shape[0] // self.c0) if self.shape[0] else 0
        self.row_of = np.full(grid0, -1, dtype=np.int64)  # first chunk coordinate -> index row
        c = index.coords[:, 0]
        keep = c < grid0
        self.row_of[c[keep]] = np.flatnonzero(keep)
        table = np.zeros(len(index), dtype=ROW_DTYPE)
        table["offset"] = index.offset
        table["nbytes"] = index.nbytes
        table["filter_mask"] = index.filter_mask
        table["flags"] = np.where((c + 1) * self.c0 > self.shape[0], C.ROW_PARTIAL, 0)
        self.table = table
        self.coords = index.coords
        ndim = len(self.shape)
        self.step = np.ones(ndim, dtype=np.int64)
        # The region of one whole chunk of one frame: the common case, built once.
        self.one = np.zeros((1, 3, ndim), dtype=np.int64)
        self.one[0, 2] = (1,) + self.shape[1:]

    def plan(self, a, b):
        """The Plan of rows [a, b) (0 <= a < b <= shape[0]) into an out of b - a frames."""
        c0 = self.c0
        first = a // c0
        if first == (b - 1) // c0:  # one chunk: plain integers, no array arithmetic
            r = int(self.row_of[first])
            if r < 0:
                return Plan(self.table[:0], self.one[:0], self.coords[:0], True)
            if b - a == c0 == 1:
                regions = self.one
            else:
                regions = self.one.copy()
                regions[0, 0, 0] = a - first * c0
                regions[0, 2, 0] = b - a
            return Plan(self.table[r:r + 1], regions, self.coords[r:r + 1], False)
        c = np.arange(a // c0, (b - 1) // c0 + 1, dtype=np.int64)
        rows = self.row_of[c]
        have = rows >= 0
        c, rows = c[have], rows[have]
        order = np.argsort(rows, kind="stable")  # index rows are in file-offset order
        c, rows = c[order], rows[order]
        lo = np.maximum(a, c * c0)
        hi = np.minimum(b, (c + 1) * c0)
        regions = np.zeros((len(c), 3, len(self.shape)), dtype=np.int64)
        regions[:, 0, 0] = lo - c * c0
        regions[:, 1, 0] = lo - a
        regions[:, 2, 0] = hi - lo
        regions[:, 2, 1:] = self.shape[1:]
        return Plan(self.table[rows], regions, self.coords[rows], not have.all())
