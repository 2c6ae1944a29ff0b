"""kerchunk references to an HDF5 file: its chunks as a zarr v2 store, decoded by fastchunk.

    import fastchunk, fsspec, zarr
    refs = fastchunk.refs("series_master.h5")            # or: fastchunk refs FILE -o refs.json
    fs = fsspec.filesystem("reference", fo=refs)
    root = zarr.open_group(fs.get_mapper(), mode="r", zarr_format=2)
    frames = root["entry/data/data_000001"][:10]

The references are kerchunk's format version 1: ``.zgroup``/``.zattrs`` per group,
``.zarray``/``.zattrs`` per dataset (zarr v2 metadata, HDF5 attributes converted to JSON the
way kerchunk converts them) and one ``"i.j.k": [file, offset, size]`` per stored chunk. The
chunks are not copied: the ``compressor`` of each array is the ``fastchunk.hdf5`` codec
(fastchunk.numcodecs_codecs) carrying the dataset's HDF5 filter pipeline, element size and
chunk shape, so zarr decodes them with fastchunk's native decoders.

What is referenced: every dataset fastchunk reads natively (chunked or contiguous), behind
external links too (the references then point into the data file); virtual datasets, and the
frames of a DECTRIS master (``data_000001``, ``data_000002``, ... stacked as ``data`` in their
group), where every mapping lines up with its source's chunks; small datasets that are not
read natively (scalars, compact layout, vlen strings) inlined when they are at most
``inline_threshold`` bytes. Everything else is listed, with the reason, under
``refs["fastchunk"]["skipped"]`` (the reference filesystem ignores that key). Chunks that skip
filters (a filter_mask) can be referenced only when every chunk of the dataset skips the same
ones: zarr v2 applies one codec chain to every chunk.
"""
import base64
import json
import math
import os
import posixpath
import sys
import types

import h5py
import numpy as np

from . import _constants as C
from . import libhdf5
from .libhdf5 import H5_LOCK

__all__ = ["refs", "write_refs", "FORMAT"]

FORMAT = 1  # kerchunk reference format version
INLINE_THRESHOLD = 500  # bytes: kerchunk's default
CONTIGUOUS_CHUNK_BYTES = 4 << 20  # a contiguous dataset is cut into row chunks of about this


def refs(path, datasets=None, *, inline_threshold=INLINE_THRESHOLD, stack=True,
         array_dimensions=True):
    """kerchunk references (a dict, JSON-able) to the HDF5 file at path.

    datasets: names of datasets or groups to reference (all of the file if None); their
    parent groups come along (metadata only). inline_threshold: datasets that are not read
    natively but hold at most this many bytes are inlined (0: none). stack: add ``data`` to a
    DECTRIS master's data group, the frames of its data files in image-number order.
    array_dimensions: give each array the ``_ARRAY_DIMENSIONS`` attribute xarray needs
    (phony_dim_N names, one per axis length as netCDF does; an HDF5 attribute of that name
    is kept as it is).
    """
    from . import numcodecs_codecs  # noqa: F401  (registers the codecs for whoever reads)
    from .file import File

    b = _Builder(inline_threshold, stack, array_dimensions)
    with File(path) as f:
        b.source = os.path.abspath(f.filename)
        if datasets is None:
            b.group(f, "")
        else:
            for name in ([datasets] if isinstance(datasets, str) else datasets):
                b.named(f, name)
    return b.result()


def write_refs(references, path):
    """Write references as JSON (what fsspec's reference filesystem takes as fo=path)."""
    with open(path, "w") as fh:
        json.dump(references, fh, separators=(",", ":"))


# -- values as JSON ----------------------------------------------------------------------
def _json_value(v):
    """An attribute value as JSON (kerchunk's conversions): bytes as text, numpy scalars and
    arrays as Python numbers and lists; what JSON cannot hold (h5py.Empty, object
    references) raises TypeError."""
    if isinstance(v, (h5py.Empty, h5py.Reference, h5py.RegionReference)):
        raise TypeError(type(v).__name__)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (str, bool, int)) or v is None:
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, complex):
        return [v.real, v.imag]
    if isinstance(v, np.ndarray):
        if v.dtype.fields is not None:
            return [_json_value(x) for x in v.tolist()] if v.ndim else _json_value(v[()])
        if v.dtype.kind in "SOUc" or v.dtype.kind == "V":
            return [_json_value(x) for x in v.tolist()] if v.ndim else _json_value(v[()])
        return v.tolist()
    if isinstance(v, np.void):  # a compound scalar
        return [_json_value(x) for x in v.tolist()] if isinstance(v.tolist(), tuple) else \
            base64.b64encode(v.tobytes()).decode()
    if isinstance(v, np.generic):
        return _json_value(v.item())
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    raise TypeError(type(v).__name__)


def _attrs(h5obj, notes, where):
    out = {}
    with H5_LOCK:
        names = list(h5obj.attrs)
        for name in names:
            try:
                out[name] = _json_value(h5obj.attrs[name])
            except (TypeError, OSError, ValueError) as e:  # Empty, references, unreadable
                notes.setdefault(where, []).append(f"attribute {name!r} left out ({e or type(e).__name__})")
    return out


def _zarr_dtype(dt):
    """zarr v2's dtype: the typestr, or the list of [name, typestr(, shape)] of a compound;
    NotReferenced for what zarr v2 cannot say (nested compounds, padding, unordered fields)."""
    if dt.fields is None:
        return dt.base.str if dt.shape == () else dt.str
    out, at = [], 0
    for name in dt.names:
        sub, offset = dt.fields[name][:2]
        if sub.base.fields is not None:
            raise NotReferenced(f"nested compound datatype {dt}: zarr-python 3 reads no such dtype")
        if offset != at:
            raise NotReferenced(f"compound datatype {dt} with padding or fields out of order: "
                                "zarr v2's structured dtypes are packed")
        out.append([name, sub.base.str] + ([list(sub.shape)] if sub.shape else []))
        at += sub.itemsize
    if at != dt.itemsize:
        raise NotReferenced(f"compound datatype {dt} with {dt.itemsize - at} bytes of padding at "
                            "the end: zarr v2's structured dtypes are packed")
    return out


def _fill_value(value, dt):
    """zarr v2's fill_value for a numpy fill value of dtype dt (NaN/Infinity as strings,
    bytes and compounds base64, as zarr v2 writes them)."""
    if value is None:
        return None
    a = np.asarray(value)
    if a.dtype != dt:
        try:
            a = a.astype(dt)
        except (TypeError, ValueError):
            return None
    if dt.kind in "SV" or dt.fields is not None:
        return base64.b64encode(a.tobytes()).decode()
    v = a[()].item()
    if dt.kind == "f":
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if dt.kind == "c":
        return [_fill_value(v.real, np.dtype(f"f{dt.itemsize // 2}")),
                _fill_value(v.imag, np.dtype(f"f{dt.itemsize // 2}"))]
    if dt.kind == "b":
        return bool(v)
    if dt.kind in "iu":
        return int(v)
    return None


class NotReferenced(Exception):
    """Why a dataset cannot be referenced."""


# -- the builder -------------------------------------------------------------------------
class _Builder:
    def __init__(self, inline_threshold, stack, array_dimensions):
        self.inline_threshold = int(inline_threshold)
        self.stack = stack
        self.array_dimensions = array_dimensions
        self.out = {".zgroup": json.dumps({"zarr_format": 2})}
        self.skipped = {}
        self.notes = {}
        self.groups_seen = {}  # (file, address) -> zarr path of a group already walked
        self.groups_done = {""}
        self.dims = {}  # group path -> {(length, k): name}
        self.source = None

    def result(self):
        meta = {"source": self.source, "skipped": self.skipped}
        if self.notes:
            meta["notes"] = self.notes
        return {"version": FORMAT, "refs": self.out, "fastchunk": meta}

    # -- walking ---------------------------------------------------------------------
    def _group_meta(self, g, path):
        if path in self.groups_done:
            if path == "" and ".zattrs" not in self.out:
                self.out[".zattrs"] = json.dumps(_attrs(g.h5, self.notes, "/"))
            return
        self.groups_done.add(path)
        self.out[f"{path}/.zgroup"] = json.dumps({"zarr_format": 2})
        self.out[f"{path}/.zattrs"] = json.dumps(_attrs(g.h5, self.notes, "/" + path))

    def _parents(self, f, path):
        """.zgroup/.zattrs of every group above path."""
        parts = path.split("/")[:-1]
        for k in range(len(parts) + 1):
            p = "/".join(parts[:k])
            try:
                self._group_meta(f["/" + p] if p else f, p)
            except (KeyError, TypeError):
                pass

    def named(self, f, name):
        path = name.strip("/")
        try:
            obj = f[name]
        except KeyError as e:
            self.skipped["/" + path] = f"not found: {e}"
            return
        self._parents(f, path)
        if hasattr(obj, "keys"):
            self.group(obj, path)
        else:
            self.dataset(obj, path)

    def group(self, g, path):
        self._group_meta(g, path)
        with H5_LOCK:
            try:
                key = (h5py.h5f.get_name(g.h5.id), h5py.h5o.get_info(g.h5.id).addr)
            except Exception:  # noqa: BLE001  (HDF5 1.x / 2.x differ; only cycle protection)
                key = None
        if key is not None:
            if key in self.groups_seen:
                self.notes.setdefault("/" + path, []).append(
                    f"the same group as /{self.groups_seen[key]}: its members are referenced there")
                return
            self.groups_seen[key] = path
        names = list(g)
        for name in names:
            child = f"{path}/{name}" if path else name
            with H5_LOCK:
                link = g.h5.get(name, getlink=True)
            try:
                obj = g[name]
            except (KeyError, OSError) as e:  # a dangling link, or an object HDF5 cannot open
                if isinstance(link, h5py.HardLink):
                    self.skipped["/" + child] = f"HDF5 cannot open it: {e}"
                else:
                    self.skipped["/" + child] = f"dangling {type(link).__name__}: {e}"
                continue
            if obj is None:
                self.skipped["/" + child] = "dangling link"
            elif hasattr(obj, "keys"):
                self.group(obj, child)
            elif hasattr(obj, "shape"):
                self.dataset(obj, child)
            else:
                self.skipped["/" + child] = f"{type(obj).__name__} (a named datatype), not an array"
        if self.stack:
            self._stack(g, path, names)

    def _stack(self, g, path, names):
        from .nxmx import DATA_LINK, frames_dataset
        if "data" in names or not any(DATA_LINK.match(n) for n in names):
            return
        child = f"{path}/data" if path else "data"
        try:
            vds = frames_dataset(g.file, g.name)
        except (KeyError, ValueError, OSError) as e:
            self.skipped["/" + child] = f"DECTRIS frames not stacked: {e}"
            return
        self.dataset(vds, child, attrs={})

    # -- one dataset -----------------------------------------------------------------
    def dataset(self, ds, path, attrs=None):
        from .virtual import VirtualDataset
        try:
            if isinstance(ds, VirtualDataset):
                meta, chunks = self._virtual(ds)
            else:
                meta, chunks = self._stored(ds)
        except NotReferenced as e:
            self.skipped["/" + path] = str(e)
            return
        if attrs is None:
            attrs = _attrs(ds.h5, self.notes, "/" + path)
        if self.array_dimensions and "_ARRAY_DIMENSIONS" not in attrs:
            attrs["_ARRAY_DIMENSIONS"] = self._dim_names(posixpath.dirname(path), meta["shape"])
        self.out[f"{path}/.zarray"] = json.dumps(meta)
        self.out[f"{path}/.zattrs"] = json.dumps(attrs)
        for key, ref in chunks:
            self.out[f"{path}/{key}"] = ref

    def _dim_names(self, group, shape):
        names = self.dims.setdefault(group, {})
        seen, out = {}, []
        for n in shape:
            k = seen.get(n, 0)
            seen[n] = k + 1
            out.append(names.setdefault((n, k), f"phony_dim_{len(names)}"))
        return out

    def _meta(self, shape, chunks, dtype, fill, compressor, filters=None):
        return {"zarr_format": 2, "shape": list(shape), "chunks": list(chunks),
                "dtype": _zarr_dtype(dtype), "fill_value": _fill_value(fill, dtype),
                "order": "C", "compressor": compressor, "filters": filters}

    def _stored(self, ds):
        """(.zarray, [(key, ref)]) of a dataset stored in one file."""
        if ds.shape is None:
            raise NotReferenced("null dataspace (h5py.Empty): zarr has no such array")
        if not ds.native:
            return self._inline(ds, ds.reason)
        dt = ds.dtype
        if dt.kind in "OU" or dt.hasobject:
            raise NotReferenced(f"datatype {dt} has no zarr v2 binary form")
        fill = _h5_fill(ds.h5)
        data_file = os.path.abspath(ds.data_file)
        if ds.chunks is None:
            return self._contiguous(ds, data_file, fill)
        idx = ds.index
        entries, mask = self._pipeline(ds, idx)
        codec = self._codec(entries, dt.itemsize, ds.chunks)
        self._check_partial(ds, entries)
        meta = self._meta(ds.shape, ds.chunks, dt, fill, codec)
        grid = [-(-n // c) for n, c in zip(ds.shape, ds.chunks)]
        refs = []
        for coords, off, nbytes in zip(idx.coords.tolist(), idx.offset.tolist(), idx.nbytes.tolist()):
            if all(0 <= c < g for c, g in zip(coords, grid)):
                refs.append((".".join(map(str, coords)), [data_file, off, nbytes]))
        return meta, refs

    @staticmethod
    def _codec(entries, itemsize, chunks):
        if not entries:
            return None
        return {"id": "fastchunk.hdf5", "filters": [[fid, list(cd)] for fid, cd in entries],
                "elem_size": itemsize, "chunks": list(chunks)}

    @staticmethod
    def _pipeline(ds, idx):
        """The filters every chunk went through (h5py's form), or NotReferenced when chunks
        skip different filters."""
        p = ds.pipeline
        masks = np.unique(idx.filter_mask) if len(idx) else np.zeros(1, np.uint32)
        if len(masks) > 1:
            counts = {int(m): int((idx.filter_mask == m).sum()) for m in masks}
            raise NotReferenced(
                "its chunks skip different filters (filter_mask: chunk count "
                f"{counts}); zarr v2 applies one codec chain to every chunk")
        mask = int(masks[0])
        entries = [(fid, tuple(cd)) for i, (fid, _, cd, _) in enumerate(p.filters) if not (mask >> i) & 1]
        for i in p.unsupported:
            if not (mask >> i) & 1:
                raise NotReferenced(p.unsupported[i])
        return entries, mask

    @staticmethod
    def _check_partial(ds, entries):
        """H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS: edge chunks stored raw, others filtered."""
        if not entries or not any(n % c for n, c in zip(ds.shape, ds.chunks)):
            return
        with H5_LOCK:
            opts = libhdf5.chunk_opts(ds.h5.id.get_create_plist())
        if opts is None or opts & 0x2:
            raise NotReferenced(
                "partial edge chunks are stored unfiltered (H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS)"
                if opts else "cannot ask HDF5 whether partial edge chunks are filtered")

    def _contiguous(self, ds, data_file, fill):
        shape, dt = ds.shape, ds.dtype
        with H5_LOCK:
            offset = libhdf5.contiguous_offset(ds.h5.id)
        row = int(np.prod(shape[1:], dtype=np.int64)) * dt.itemsize
        n0 = shape[0]
        rows = n0
        if row and n0 and row * n0 > CONTIGUOUS_CHUNK_BYTES:  # the largest divisor that fits
            want = max(1, CONTIGUOUS_CHUNK_BYTES // row)
            rows = max(d for d in _divisors(n0) if d <= want)
        chunks = (max(rows, 1),) + tuple(max(n, 1) for n in shape[1:])
        meta = self._meta(shape, chunks, dt, fill, None)
        refs = []
        if offset is not None and row and n0:
            nb = rows * row
            zeros = ".0" * (len(shape) - 1)
            refs = [(f"{k}{zeros}", [data_file, offset + k * nb, nb]) for k in range(n0 // rows)]
        return meta, refs

    def _inline(self, ds, reason):
        """A small dataset that is not read natively, its values in the references."""
        if ds.h5 is None:
            raise NotReferenced(reason)
        dt = ds.dtype
        with H5_LOCK:
            size = 0 if ds.shape is None else int(np.prod(ds.shape, dtype=np.int64))
            vlen = h5py.check_string_dtype(dt)
            if (size * dt.itemsize > self.inline_threshold and not vlen) or self.inline_threshold <= 0:
                raise NotReferenced(reason)
            try:
                data = ds.h5[()]
                fill = _h5_fill(ds.h5)
            except (OSError, TypeError, ValueError) as e:
                raise NotReferenced(f"{reason}; h5py cannot read it either: {e}") from None
        shape = ds.shape
        chunks = tuple(max(n, 1) for n in shape)
        key = ".".join("0" for _ in shape) if shape else "0"
        if vlen is not None and dt.kind == "O":
            import numcodecs
            arr = np.empty(shape, dtype=object)
            arr[...] = data
            values = [v.decode(vlen.encoding if vlen.encoding != "ascii" else "utf-8", "replace")
                      if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
            codec = numcodecs.VLenUTF8()
            raw = bytes(codec.encode(np.array(values, dtype=object)))
            if len(raw) > max(self.inline_threshold, 1) * 4:
                raise NotReferenced(f"{reason} ({len(raw)} bytes of strings: not inlined)")
            meta = {"zarr_format": 2, "shape": list(shape), "chunks": list(chunks), "dtype": "|O",
                    "fill_value": None, "order": "C", "compressor": None,
                    "filters": [codec.get_config()]}
            return meta, [(key, "base64:" + base64.b64encode(raw).decode())]
        if dt.hasobject or dt.kind == "O":
            raise NotReferenced(f"{reason}; datatype {dt} has no zarr v2 binary form")
        arr = np.ascontiguousarray(np.asarray(data, dtype=dt))
        if shape and 0 in shape:
            return self._meta(shape, chunks, dt, fill, None), []
        full = np.zeros(chunks, dt) if shape else arr.reshape(())
        if shape:
            full[...] = arr
        meta = self._meta(shape, chunks, dt, fill, None)
        return meta, [(key, "base64:" + base64.b64encode(full.tobytes()).decode())]

    # -- virtual datasets and DECTRIS stacks -----------------------------------------
    def _virtual(self, vds):
        """References of a VDS (or stack) whose every mapping puts whole source chunks at
        chunk boundaries of one common chunk shape."""
        if not vds.native:
            raise NotReferenced(f"virtual dataset not read natively: {vds.reason}")
        maps = [m for m in vds.mappings if m.source is not None and all(len(p) for p in m.P)]
        shape, dt = tuple(vds.shape), vds.dtype
        fill = vds.fillvalue
        if not maps:  # every source missing: all fill value, as HDF5 reads it (chunks: a frame)
            frame = (1,) + tuple(max(n, 1) for n in shape[1:]) if shape else ()
            return self._meta(shape, frame, dt, fill, None), []
        first = maps[0].source
        if first.chunks is None:
            raise NotReferenced(f"source {first.data_file}:{first.name} is not chunked")
        chunks = tuple(first.chunks)
        entries = None
        out, sources = {}, {}
        for m in maps:
            src = m.source
            where = f"source {src.data_file}:{src.name}"
            if src.chunks is None or tuple(src.chunks) != chunks:
                raise NotReferenced(f"{where} has chunks {src.chunks}, {first.name} {chunks}: "
                                    "zarr needs one chunk shape")
            if src.dtype != dt:
                raise NotReferenced(f"{where} is {src.dtype}, the virtual dataset {dt}: HDF5 "
                                    "converts the values, zarr cannot")
            idx = src.index
            e, _ = self._pipeline(src, idx)
            self._check_partial(src, e)
            if entries is None:
                entries = e
            elif e != entries:
                raise NotReferenced(f"{where} has other filters than {first.name}: zarr needs "
                                    "one codec chain")
            lo, n = [], []
            for d, (P, Q) in enumerate(zip(m.P, m.Q)):
                k = len(P)
                if not (np.array_equal(P, P[0] + np.arange(k)) and np.array_equal(Q, Q[0] + np.arange(k))):
                    raise NotReferenced(f"{where}: the mapping is strided on axis {d}")
                if P[0] % chunks[d] or Q[0] % chunks[d]:
                    raise NotReferenced(f"{where}: the mapping starts inside a chunk on axis {d} "
                                        f"(virtual {int(P[0])}, source {int(Q[0])}, chunk {chunks[d]})")
                if k % chunks[d] and P[0] + k != shape[d]:
                    raise NotReferenced(f"{where}: the mapping ends inside a chunk on axis {d}")
                lo.append(int(Q[0]))
                n.append(k)
            lo_a, hi_a = np.array(lo), np.array(lo) + np.array(n)
            shift = [(int(P[0]) - q) // c for P, q, c in zip(m.P, lo, chunks)]
            start = idx.coords * np.array(chunks)
            inside = np.all((start >= lo_a) & (start < hi_a), axis=1)
            want = int(np.prod([-(-k // c) for k, c in zip(n, chunks)]))
            if inside.sum() < want and _fill_bytes(src.fillvalue, dt) != _fill_bytes(fill, dt):
                raise NotReferenced(f"{where} has unwritten chunks whose fill value differs from "
                                    "the virtual dataset's")
            data_file = os.path.abspath(src.data_file)
            for row in np.flatnonzero(inside):
                key = ".".join(str(int(c) + s) for c, s in zip(idx.coords[row], shift))
                if key in out:
                    raise NotReferenced(f"chunk {key} comes from two mappings ({sources[key]} and {where})")
                out[key] = [data_file, int(idx.offset[row]), int(idx.nbytes[row])]
                sources[key] = where
        meta = self._meta(shape, chunks, dt, fill, self._codec(entries, dt.itemsize, chunks))
        return meta, sorted(out.items())


def _h5_fill(h5ds):
    """A dataset's fill value, None where HDF5 says it is undefined."""
    with H5_LOCK:
        try:
            return h5ds.fillvalue
        except (RuntimeError, OSError, ValueError):
            return None


def _fill_bytes(value, dt):
    try:
        return np.asarray(0 if value is None else value).astype(dt).tobytes()
    except (TypeError, ValueError):
        return None


def _divisors(n):
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return small + [n // d for d in small]


class _CallableModule(types.ModuleType):
    """``fastchunk.refs`` is this module once something imported it: calling it calls refs()."""

    def __call__(self, *args, **kwargs):
        return refs(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
