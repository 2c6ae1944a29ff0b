"""Virtual datasets (and stacks of linked datasets) read natively: every chunk of every source
file goes into one parallel read.

A mapping pairs, axis by axis, the virtual coordinates P[d] it covers with source coordinates
Q[d] (regular hyperslabs are products of per-axis sets, so P[d][i] <-> Q[d][i]). A selection on
the virtual dataset meets a mapping in runs: consecutive output positions whose source
coordinates advance by the selection's step. Each product of runs is a plain selection on the
source, planned against the source's own chunk index; the rows of all sources are merged,
sorted by (file, offset) and read at once. Unmapped parts and missing sources read as the
fill value, as in HDF5.
"""
import itertools
import re
from dataclasses import dataclass

import h5py
import numpy as np

from . import _native
from .dataset import _H5_LOCK, Dataset
from .errors import FileClosedError
from .plan import NotSimple, Selection, parse_selection
from .sources import find_file

UNLIMITED = h5py.h5s.UNLIMITED
PRINTF_BLOCK = re.compile(r"%b")


@dataclass
class Mapping:
    """Virtual coordinates P[d] filled from source coordinates Q[d] of `source` (None: missing,
    reads as the fill value)."""

    P: list
    Q: list
    source: object


def _axis_pattern(start, stride, count, block, limit):
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


def _space_axes(space, shape):
    """Per-axis coordinate arrays of a SEL_ALL or regular-hyperslab selection over `shape`,
    and which axes were unlimited. Raises NotSimple for other selections."""
    kind = space.get_select_type()
    if kind == h5py.h5s.SEL_ALL:
        return [np.arange(n, dtype=np.int64) for n in shape], [False] * len(shape)
    if kind != h5py.h5s.SEL_HYPERSLABS or not space.is_regular_hyperslab():
        raise NotSimple("a VDS selection that is not a regular hyperslab")
    start, stride, count, block = space.get_regular_hyperslab()
    axes = [_axis_pattern(*a, limit=n) for *a, n in zip(start, stride, count, block, shape)]
    unlim = [c == UNLIMITED or b == UNLIMITED for c, b in zip(count, block)]
    return axes, unlim


def _pair(P, Q, unlim):
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


class VirtualDataset(Dataset):
    """A virtual dataset (or a stack built by open_nxmx) read by fastchunk, bit-identical
    to h5py. Source files are found where HDF5 would find them (sources.py)."""

    plans_points = False  # _read_native plans per-axis slices: index lists read their box

    def __init__(self, h5ds, file, mappings=None, fillvalue=None):
        self._h5 = h5ds
        self.file = file
        self.name = h5ds.name if h5ds is not None else None
        self.chunks = None
        self._fill = fillvalue
        self._mappings = mappings
        self.reason = ""
        if h5ds is not None:
            self.shape, self.dtype = h5ds.shape, h5ds.dtype
            self._fill = h5ds.fillvalue
        self.data_file = None

    @classmethod
    def stacked(cls, file, name, shape, dtype, mappings, fillvalue):
        """A dataset made of source mappings directly (no HDF5 VDS behind it)."""
        vds = cls(None, file, mappings, fillvalue)
        vds.name, vds.shape, vds.dtype = name, tuple(shape), np.dtype(dtype)
        return vds

    @property
    def mappings(self):
        """The resolved mappings (sources opened on first use)."""
        if self._mappings is None:
            with _H5_LOCK:
                try:
                    self._mappings = self._resolve()
                except NotSimple as e:
                    self._mappings = []
                    self.reason = f"virtual dataset: {e} (read through h5py)"
        return self._mappings

    @property
    def native(self):
        self.mappings
        if not self.reason:
            self.reason = self._source_reason()
        return not self.reason

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def index(self):
        raise AttributeError("a virtual dataset has no chunk index of its own; see .mappings")

    def refresh(self):
        """Not done: after HDF5 1.14 refreshes a virtual dataset, its sources report every chunk
        at coordinates (0, ..., 0), and its own reads fail ("can't insert duplicate key").
        A File opened again sees the appended frames, natively."""
        raise NotImplementedError(
            f"{self.file.filename}: {self.name}: refreshing a virtual dataset is not supported "
            "(HDF5 reports wrong chunk coordinates for its sources afterwards); open the file "
            "again to see what SWMR writers appended")

    def _source_reason(self):
        for m in self._mappings:
            src = m.source
            if src is None:
                continue
            if not src.native:
                return f"source {src.data_file}:{src.name}: {src.reason}"
            if src.dtype != self.dtype and not _native.can_convert(src.dtype, self.dtype):
                return f"source type {src.dtype} -> {self.dtype} needs HDF5's conversion"
        return ""

    # -- resolving the HDF5 mappings ---------------------------------------------------
    def _resolve(self):
        out = []
        for vmap in self._h5.virtual_sources():
            out.extend(self._resolve_one(vmap))
        return out

    def _resolve_one(self, vmap):
        if PRINTF_BLOCK.search(vmap.file_name) or PRINTF_BLOCK.search(vmap.dset_name):
            return self._resolve_printf(vmap)
        source = self._open_source(vmap.file_name, vmap.dset_name)
        P, unlim = _space_axes(vmap.vspace, self.shape)
        if source is None:
            return [Mapping(P, None, None)]
        Q, unlim_q = _space_axes(vmap.src_space, source.shape)
        P, Q = _pair(P, Q, [a or b for a, b in zip(unlim, unlim_q)])
        return [Mapping(P, Q, source)]

    def _resolve_printf(self, vmap):
        """Names with %b: block b of the unlimited virtual axis comes from the b-th source."""
        start, stride, count, block = vmap.vspace.get_regular_hyperslab()
        axis = next((d for d, c in enumerate(count) if c == UNLIMITED), None)
        if axis is None:
            raise NotSimple("printf-named source without an unlimited axis")
        out = []
        for b in itertools.count():
            first = start[axis] + b * stride[axis]
            if first >= self.shape[axis]:
                break
            P = [_axis_pattern(first, 1, 1, bl, n) if d == axis else _axis_pattern(st, sd, c, bl, n)
                 for d, (st, sd, c, bl, n) in enumerate(zip(start, stride, count, block, self.shape))]
            fname = _printf(vmap.file_name, b)
            source = self._open_source(fname, _printf(vmap.dset_name, b))
            if source is None:
                out.append(Mapping(P, None, None))
                continue
            Q, unlim_q = _space_axes(vmap.src_space, source.shape)
            P2, Q2 = _pair(P, Q, [d == axis or u for d, u in enumerate(unlim_q)])
            out.append(Mapping(P2, Q2, source))
        return out

    def _open_source(self, file_name, dset_name):
        """The source Dataset, or None where HDF5 would read the fill value (missing file,
        missing dataset, dangling external link)."""
        vds_file = self._h5.file.filename
        if file_name == ".":
            h5file = self._h5.file
        else:
            path = find_file(file_name, vds_file)
            if path is None:
                return None
            h5file = self.file.source_file(path)
        try:
            obj = h5file[dset_name]
        except (KeyError, OSError):
            return None
        if not isinstance(obj, h5py.Dataset):
            return None
        if obj.is_virtual:
            raise NotSimple("a source that is itself virtual")
        return Dataset(obj, self.file)

    # -- reading -----------------------------------------------------------------------
    def _read_native(self, s, dest, num_threads):
        with self.file.reading() as closing:  # descriptors stay open until the read is out
            self._read_native_open(s, dest, num_threads, closing)

    def _read_native_open(self, s, dest, num_threads, closing):
        parts, covered = self._plan_parts(s)
        if covered < dest.size:
            dest[...] = self._fill
        rows, regions, owners, layouts, fds = [], [], [], [], []  # owners: (source, plan)
        layout_base = {}
        for src, plan, out_start, out_count, _ in parts:
            if plan.missing:
                region = tuple(slice(a, a + n) for a, n in zip(out_start, out_count))
                dest[region] = _saturate(src._h5.fillvalue, self.dtype)
            if not len(plan.rows):
                continue
            key = id(src)
            if key not in layout_base:
                layout_base[key] = len(layouts)
                layouts.extend(src.native_layouts(self.dtype))
            fd = self.file.fd_for(src.data_file)
            if fd not in fds:
                fds.append(fd)
            r = plan.rows.copy()
            r["layout_no"] += layout_base[key]
            r["file_no"] = fds.index(fd)
            reg = plan.regions.copy()
            reg[:, 1] += out_start
            rows.append(r)
            regions.append(reg)
            owners.append((src, plan))
        if not rows:
            return
        rows = np.concatenate(rows)
        regions = np.concatenate(regions)
        first_row = np.cumsum([0] + [len(plan.rows) for _, plan in owners])
        order = np.lexsort((rows["offset"], rows["file_no"]))
        rows, regions = rows[order], regions[order]

        def describe(row, at, code):
            if 0 <= row < len(order):  # back to the source plan the row came from
                k = int(order[row])
                part = int(np.searchsorted(first_row, k, side="right")) - 1
                src, plan = owners[part]
                return (f"virtual dataset {self.name!r}: "
                        + src.describe_chunk(plan, k - int(first_row[part]), at, code))
            return f"virtual dataset {self.name!r}"

        done = _native.read(rows, regions, s.step, s.out_shape, dest, fds, layouts,
                            self.file.num_threads if num_threads is None else num_threads,
                            self.file.io_inflight_bytes, describe=describe, stop=closing)
        if done is None:
            raise FileClosedError(f"{self.file.filename}: the file was closed during the read of {self.name!r}")

    def _plan_parts(self, s):
        """(source, plan, out start, out count, source start) per product of runs (plan None
        for a source read through h5py); and how many selected elements existing sources cover."""
        parts, covered = [], 0
        for m in self.mappings:
            runs = [_runs(s.start[d], s.step[d], s.count[d], m.P[d], m.Q[d] if m.source else None)
                    for d in range(len(self.shape))]
            if any(not r for r in runs):
                continue
            for combo in itertools.product(*runs):
                out_start = np.array([c[0] for c in combo], dtype=np.int64)
                out_count = np.array([c[1] for c in combo], dtype=np.int64)
                if m.source is None:
                    continue  # reads as the fill value
                covered += int(np.prod(out_count))
                src_start = np.array([c[2] for c in combo], dtype=np.int64)
                src_sel = Selection(src_start, s.step.copy(), out_count, (False,) * len(combo))
                plan = m.source.plan(src_sel) if m.source.native else None
                parts.append((m.source, plan, out_start, out_count, src_start))
        return parts, covered

    def _read_h5py(self, sel, out):
        if self._h5 is not None:
            return super()._read_h5py(sel, out)
        # A stack with a source the native path cannot read: source by source through h5py.
        s = parse_selection(sel, self.shape)
        if s.points is not None or s.mask is not None:
            raise TypeError("index lists and masks are not supported on a stack whose data files "
                            "are read through h5py; read a slice and index the array")
        dest = self._check_out(out, s)
        parts, covered = self._plan_parts(s)
        if covered < dest.size:
            dest[...] = self._fill
        for src, _, out_start, out_count, src_start in parts:
            region = tuple(slice(a, a + n) for a, n in zip(out_start, out_count))
            src_region = tuple(slice(a, a + (n - 1) * st + 1, st)
                               for a, n, st in zip(src_start, out_count, s.step))
            dest[region] = src._h5[src_region]
        return dest.reshape(s.result_shape) if out is None else out

    def __repr__(self):
        how = "native" if self.native else f"h5py: {self.reason}"
        return f"<fastchunk.VirtualDataset {self.name!r} shape {self.shape} {self.dtype} ({how})>"


def _runs(start, step, count, P, Q):
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


def _printf(name, b):
    """HDF5's printf-style source name: %b is the block number, %% a percent sign."""
    return re.sub(r"%(b|%)", lambda m: str(b) if m.group(1) == "b" else "%", name)


def _saturate(value, dtype):
    """A fill value converted into dtype the way HDF5 converts integers (saturating)."""
    value = np.asarray(value)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and value.dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array(min(max(int(value), info.min), info.max), dtype=dtype)
    return value.astype(dtype)
