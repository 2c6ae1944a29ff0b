"""Virtual datasets (and stacks of linked datasets) read natively: every chunk of every source
file goes into one parallel read. The mapping math is in plan/vds.py; here each product of runs
is planned against its source's own chunk index, the rows of all sources are merged, sorted by
(file, offset) and read at once. Unmapped parts and missing sources read as the fill value, as
in HDF5.
"""
import itertools

import h5py
import numpy as np

from . import engine
from .dataset import Dataset
from .libhdf5 import H5_LOCK
from .node import Node
from .plan import NotSimple, parse_selection
from .plan.rows import merge_plans
from .plan.sources import find_file
from .plan.vds import (PRINTF_BLOCK, UNLIMITED, Mapping, axis_pattern, mapping_parts, pair_axes,
                       printf_name, saturate, space_axes)


class VirtualDataset(Dataset):
    """A virtual dataset (or a stack built by open_nxmx) read by fastchunk, bit-identical
    to h5py. Source files are found where HDF5 would find them (sources.py)."""

    plans_points = False  # _read_native plans per-axis slices: index lists read their box
    reads_rows = False  # rows come from the mappings, not from an index of its own
    data_file = None  # the data live in the sources' files

    def __init__(self, h5ds, file, mappings=None, fillvalue=None, path=None):
        Node.__init__(self, h5ds, file, path)
        self._dsid = h5ds.id if h5ds is not None else None
        self.chunks = None
        self._grid = None  # no storage grid of its own: dask_chunks() batches whole frames
        self._fill = fillvalue
        self._mappings = mappings
        self.reason = ""
        self.group = None  # the master's group, for a stack built by open_nxmx
        if h5ds is not None:
            self.shape, self.dtype = h5ds.shape, h5ds.dtype
            self._fill = h5ds.fillvalue

    @classmethod
    def stacked(cls, file, group, shape, dtype, mappings, fillvalue, reopen):
        """A dataset made of source mappings directly (no HDF5 VDS behind it): the frames of
        the DECTRIS master `group` of file. reopen(filename, options, group), a module-level
        function, builds it again (what a pickled copy calls)."""
        vds = cls(None, file, mappings, fillvalue, path=f"{group}/data_*")
        vds.group, vds._reopen = group, reopen
        vds.shape, vds.dtype = tuple(shape), np.dtype(dtype)
        return vds

    def __reduce__(self):
        if self._h5 is not None:
            return super().__reduce__()
        f = self.file
        if f.closed:
            return super().__reduce__()  # raises FileClosedError
        return self._reopen, (f.filename, f.options, self.group)

    @property
    def mappings(self):
        """The resolved mappings (sources opened on first use)."""
        if self._mappings is None:
            with H5_LOCK:
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
    def fillvalue(self):
        return self._fill

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
            if src.dtype != self.dtype and not engine.can_convert(src.dtype, self.dtype):
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
            return self._resolveprintf_name(vmap)
        source = self._open_source(vmap.file_name, vmap.dset_name)
        P, unlim = space_axes(vmap.vspace, self.shape)
        if source is None:
            return [Mapping(P, None, None)]
        Q, unlim_q = space_axes(vmap.src_space, source.shape)
        P, Q = pair_axes(P, Q, [a or b for a, b in zip(unlim, unlim_q)])
        return [Mapping(P, Q, source)]

    def _resolveprintf_name(self, vmap):
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
            P = [axis_pattern(first, 1, 1, bl, n) if d == axis else axis_pattern(st, sd, c, bl, n)
                 for d, (st, sd, c, bl, n) in enumerate(zip(start, stride, count, block, self.shape))]
            fname = printf_name(vmap.file_name, b)
            source = self._open_source(fname, printf_name(vmap.dset_name, b))
            if source is None:
                out.append(Mapping(P, None, None))
                continue
            Q, unlim_q = space_axes(vmap.src_space, source.shape)
            P2, Q2 = pair_axes(P, Q, [d == axis or u for d, u in enumerate(unlim_q)])
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
        merged, owners, layouts, fds = [], [], [], []  # owners: (source, plan) per merged part
        layout_base = {}
        for src, plan, out_start, out_count, _ in parts:
            if plan.missing:
                region = tuple(slice(a, a + n) for a, n in zip(out_start, out_count))
                dest[region] = saturate(src.fillvalue, self.dtype)
            if not len(plan.rows):
                continue
            key = id(src)
            if key not in layout_base:
                layout_base[key] = len(layouts)
                layouts.extend(src.native_layouts(self.dtype))
            fd = self.file.fd_for(src.data_file)
            if fd not in fds:
                fds.append(fd)
            merged.append((plan, layout_base[key], fds.index(fd), out_start))
            owners.append((src, plan))
        if not merged:
            return
        rows, regions, locate = merge_plans(merged)

        def describe(row, at, code):
            if 0 <= row < len(rows):  # back to the source plan the row came from
                part, k = locate(row)
                src, plan = owners[part]
                return f"virtual dataset {self.name!r}: " + src.describe_chunk(plan, k, at, code)
            return f"virtual dataset {self.name!r}"

        engine.run(self.file, self.name, rows, regions, s.step, s.out_shape, dest, fds, layouts,
                   num_threads, describe, closing)

    def _plan_parts(self, s):
        """(source, plan, out start, out count, source start) per product of runs (plan None
        for a source read through h5py); and how many selected elements existing sources cover."""
        parts, covered = mapping_parts(self.mappings, s)
        return [(src, src.plan(sel) if src.native else None, a, n, q)
                for src, sel, a, n, q in parts], covered

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
            dest[region] = src.h5[src_region]
        return dest.reshape(s.result_shape) if out is None else out

    def __repr__(self):
        how = "native" if self.native else f"h5py: {self.reason}"
        return f"<fastchunk.VirtualDataset {self.name!r} shape {self.shape} {self.dtype} ({how})>"

