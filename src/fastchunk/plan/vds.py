"""Virtual datasets as mappings, and how a selection meets them (pure numpy).

A mapping pairs, axis by axis, the virtual coordinates P[d] it covers with source coordinates
Q[d] (regular hyperslabs are products of per-axis sets, so P[d][i] <-> Q[d][i]). A selection on
the virtual dataset meets a mapping in runs: consecutive output positions whose source
coordinates advance by the selection's step. Each product of runs is a plain selection on the
source, planned against the source's own chunk index.
"""
import itertools
import re
from dataclasses import dataclass

import h5py
import numpy as np

from .selection import NotSimple, Selection

UNLIMITED = h5py.h5s.UNLIMITED
PRINTF_BLOCK = re.compile(r"%b")


@dataclass
class Mapping:
    """Virtual coordinates P[d] filled from source coordinates Q[d] of `source` (None: missing,
    reads as the fill value)."""

    P: list
    Q: list
    source: object


def axis_pattern(start, stride, count, block, limit):
    """Coordinates of one axis of a regular hyperslab, unlimited counts/blocks clipped to limit."""
    if block == UNLIMITED:
        block, count = max(0, limit - start), 1
    elif count == UNLIMITED:
        count = max(0, -(-(limit - start) // stride))
    if count == 0 or block == 0:
        return np.zeros(0, dtype=np.int64)
    starts = start + stride * np.arange(count, dtype=np.int64)
    coords = (starts[:, None] + np.arange(block, dtype=np.int64)).ravel()
    return coords[coords < limit]


def space_axes(space, shape):
    """Per-axis coordinate arrays of a SEL_ALL or regular-hyperslab selection over `shape`,
    and which axes were unlimited. Raises NotSimple for other selections."""
    kind = space.get_select_type()
    if kind == h5py.h5s.SEL_ALL:
        return [np.arange(n, dtype=np.int64) for n in shape], [False] * len(shape)
    if kind != h5py.h5s.SEL_HYPERSLABS or not space.is_regular_hyperslab():
        raise NotSimple("a VDS selection that is not a regular hyperslab")
    start, stride, count, block = space.get_regular_hyperslab()
    axes = [axis_pattern(*a, limit=n) for *a, n in zip(start, stride, count, block, shape)]
    unlim = [c == UNLIMITED or b == UNLIMITED for c, b in zip(count, block)]
    return axes, unlim


def pair_axes(P, Q, unlim):
    """Cut per-axis coordinate lists to common lengths (unlimited axes are clipped by whichever
    side is shorter); fixed axes must agree, as HDF5 requires of a valid mapping."""
    if len(P) != len(Q):
        raise NotSimple("source and virtual ranks differ")
    outP, outQ = [], []
    for p, q, u in zip(P, Q, unlim):
        if len(p) != len(q) and not u:
            raise NotSimple("a mapping whose source and virtual shapes differ axis by axis")
        n = min(len(p), len(q))
        if n and np.any(np.diff(p[:n]) <= 0):
            raise NotSimple("overlapping blocks in a VDS selection")
        outP.append(p[:n])
        outQ.append(q[:n])
    return outP, outQ


def mapping_parts(mappings, s):
    """Where selection s meets the mappings: (source, source Selection, out start, out count,
    source start) per product of runs of an existing source; and how many selected elements
    existing sources cover (the rest reads as the fill value)."""
    parts, covered = [], 0
    for m in mappings:
        per_axis = [runs(s.start[d], s.step[d], s.count[d], m.P[d], m.Q[d] if m.source else None)
                    for d in range(len(s.count))]
        if m.source is None or any(not r for r in per_axis):
            continue  # no overlap, or a missing source: the fill value
        for combo in itertools.product(*per_axis):
            out_start = np.array([c[0] for c in combo], dtype=np.int64)
            out_count = np.array([c[1] for c in combo], dtype=np.int64)
            covered += int(np.prod(out_count))
            src_start = np.array([c[2] for c in combo], dtype=np.int64)
            src_sel = Selection(src_start, s.step.copy(), out_count, (False,) * len(combo))
            parts.append((m.source, src_sel, out_start, out_count, src_start))
    return parts, covered


def runs(start, step, count, P, Q):
    """Where selection axis (start, step, count) meets mapping axis P -> Q: a list of
    (out start, length, source start), each a run whose source coordinates advance by step.
    With Q None (missing source) the source start is None."""
    if count == 0 or len(P) == 0:
        return []
    first = P[0]
    lo = max(0, -(-(first - start) // step))
    hi = min(count - 1, (P[-1] - start) // step)
    if lo > hi:
        return []
    k = np.arange(lo, hi + 1, dtype=np.int64)
    want = start + k * step
    pos = np.searchsorted(P, want)
    hit = (pos < len(P)) & (P[np.minimum(pos, len(P) - 1)] == want)
    k, pos = k[hit], pos[hit]
    if not len(k):
        return []
    q = Q[pos] if Q is not None else pos
    # A run breaks where the output position jumps or the source does not advance by step.
    brk = np.flatnonzero((np.diff(k) != 1) | (np.diff(q) != (step if Q is not None else np.diff(pos))))
    starts = np.concatenate(([0], brk + 1))
    ends = np.concatenate((brk + 1, [len(k)]))
    return [(int(k[a]), int(b - a), int(q[a]) if Q is not None else None)
            for a, b in zip(starts, ends)]


def printf_name(name, b):
    """HDF5's printf-style source name: %b is the block number, %% a percent sign."""
    return re.sub(r"%(b|%)", lambda m: str(b) if m.group(1) == "b" else "%", name)


def saturate(value, dtype):
    """A fill value converted into dtype the way HDF5 converts integers (saturating)."""
    value = np.asarray(value)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and value.dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array(min(max(int(value), info.min), info.max), dtype=dtype)
    return value.astype(dtype)
