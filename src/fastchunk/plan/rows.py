"""Selection x chunk index -> plan rows for the native read (pure numpy)."""
from dataclasses import dataclass

import numpy as np

from .. import _constants as C
from .selection import point_pieces

ROW_DTYPE = np.dtype(C.ROW_FIELDS)  # fc_row_t of csrc/fastchunk.h


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
    """How many chunks of the grid hold at least one selected element. Counted, not listed as
    _touched_chunk_coords does: on a sparse grid (tbigdims.h5: 4 M chunks along one axis, 2
    allocated) the lists would be huge; they are built only within a lookup's grid."""
    total = 1
    for d, (a, st, n, cs) in enumerate(zip(sel.start, sel.step, sel.count, chunks)):
        if n == 0:
            return 0
        if d == sel.axis:
            total *= len(np.unique(sel.points // cs))
        elif st >= cs:
            total *= int(n)  # each selected element in its own chunk
        else:
            total *= int((a + (n - 1) * st) // cs - a // cs + 1)
    return total


def _touched_chunk_coords(sel, chunks, grid):
    """Per axis, the sorted chunk coordinates below grid that hold a selected element."""
    per_axis = []
    for d, (a, st, n, cs, g) in enumerate(zip(sel.start, sel.step, sel.count, chunks, grid)):
        if d == sel.axis:
            c = np.unique(sel.points // cs)
            per_axis.append(c[c < g])
        elif st >= cs:  # each selected element in its own chunk
            n = min(int(n), max(0, -(-(g * cs - a) // st)))
            per_axis.append((a + np.arange(n, dtype=np.int64) * st) // cs)
        else:
            stop = (a + (n - 1) * st) // cs + 1 if n else 0
            per_axis.append(np.arange(a // cs, min(stop, g), dtype=np.int64))
    return per_axis


def _expand(lo, hi):
    """For ranges [lo, hi): (row of each member, member) as two flat arrays."""
    n = hi - lo
    rows = np.repeat(np.arange(len(lo)), n)
    members = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
    return rows, members


def make_plan(index, sel, chunks, shape, file_no=0, layout_no=0, plan_box=None):
    """Rows for the allocated chunks that hold selected elements, sorted by file offset.

    Along an index-list axis a chunk may hold several runs of selected indices: it gets one
    row per run, next to each other, and the native read decodes it once for all of them.
    plan_box, when the caller hands it in, plans box selections (the C planner,
    _native.plan_box, with its signature); the numpy code below does the rest, and is the
    reference the tests hold the C planner to.
    """
    chunks = np.asarray(chunks, dtype=np.int64)
    shape = np.asarray(shape, dtype=np.int64)
    ndim = len(chunks)
    grid = index.lookup_grid()  # None: no lookup, look at every row
    cand = None if grid is None else index.rows_in_box(_touched_chunk_coords(sel, chunks, grid))
    if plan_box is not None and sel.axis < 0 and ndim > 0:
        rows, regions, take, touched = plan_box(index, cand, sel.start, sel.step, sel.count,
                                                        chunks, shape, file_no, layout_no)
        return Plan(rows, regions, index.coords[take], len(rows) < touched)
    cand_coords = index.coords if cand is None else index.coords[cand]
    keep = np.ones(len(cand_coords), dtype=bool)
    k0s, k1s = [], []
    for d in range(ndim):
        if d == sel.axis:
            pc, plocal, pout, pcount = point_pieces(sel.points, chunks[d])
            lo = np.searchsorted(pc, cand_coords[:, d], "left")
            hi = np.searchsorted(pc, cand_coords[:, d], "right")
            keep &= hi > lo
            k0s.append(lo)
            k1s.append(hi)
            continue
        k0, k1 = _axis_overlap(cand_coords[:, d], chunks[d], sel.start[d], sel.step[d], sel.count[d])
        keep &= k0 <= k1
        k0s.append(k0)
        k1s.append(k1)
    nchunks = int(keep.sum())
    k0 = np.stack(k0s, axis=1)[keep]
    k1 = np.stack(k1s, axis=1)[keep]
    take = np.flatnonzero(keep) if cand is None else cand[keep]
    if sel.axis >= 0:
        rep, piece = _expand(k0[:, sel.axis], k1[:, sel.axis])
        take, k0, k1 = take[rep], k0[rep], k1[rep]
    coords = index.coords[take]
    n = len(take)
    regions = np.empty((n, 3, ndim), dtype=np.int64)
    regions[:, 0] = sel.start + k0 * sel.step - coords * chunks
    regions[:, 1] = k0
    regions[:, 2] = k1 - k0 + 1
    if sel.axis >= 0:
        regions[:, :, sel.axis] = np.stack([plocal[piece], pout[piece], pcount[piece]], axis=1)
    rows = np.zeros(n, dtype=ROW_DTYPE)
    rows["offset"] = index.offset[take]
    rows["nbytes"] = index.nbytes[take]
    rows["file_no"] = file_no
    rows["layout_no"] = layout_no
    rows["filter_mask"] = index.filter_mask[take]
    partial = ((coords + 1) * chunks > shape).any(axis=1)
    rows["flags"] = np.where(partial, C.ROW_PARTIAL, 0)
    missing = nchunks < _grid_chunks_touched(sel, chunks)
    return Plan(rows, regions, coords, missing)


def merge_plans(parts):
    """One read from the plans of several stored datasets (a VDS's sources, read_many's
    datasets). parts: (plan, layout base, file number, out shift), the shift added to every
    region's start in `out`. Returns the rows and regions in I/O order (file, offset) and
    locate(row) -> (part, row of that part's plan), to name a failing chunk."""
    rows, regions = [], []
    for plan, layout_base, file_no, shift in parts:
        r = plan.rows.copy()
        r["layout_no"] += layout_base
        r["file_no"] = file_no
        reg = plan.regions.copy()
        reg[:, 1] += shift
        rows.append(r)
        regions.append(reg)
    first = np.cumsum([0] + [len(r) for r in rows])
    rows, regions = np.concatenate(rows), np.concatenate(regions)
    order = np.lexsort((rows["offset"], rows["file_no"]))

    def locate(row):
        k = int(order[row])
        part = int(np.searchsorted(first, k, side="right")) - 1
        return part, k - int(first[part])
    return rows[order], regions[order], locate
