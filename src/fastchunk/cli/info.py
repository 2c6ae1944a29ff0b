"""`fastchunk info`: a dataset's layout, its chunk index and filters, whether fastchunk reads it
natively, and plain advice where the layout makes reads slow (cf. pyfive's cloud report)."""
import os

import h5py
import hdf5plugin  # noqa: F401  (so h5py can describe plugin filters)
import numpy as np

from ..errors import FastchunkError
from ..file import File
from ..libhdf5 import H5_LOCK, index_type_name
from ..plan.filters import filter_name
from ..virtual import VirtualDataset
from .targets import walk

MAX_SOURCES_SHOWN = 8  # a Diamond master can map hundreds of data files

# Advice thresholds, and why:
# - A chunk below 64 KiB decoded costs more in per-chunk work (index entry, HDF5 call, one
#   request to an object store) than in bytes; past ~1,000 such chunks it dominates a read.
TINY_CHUNK_BYTES = 64 << 10
TINY_CHUNK_COUNT = 1000
# - Reading 100x more than asked (decoding whole chunks for one frame or one pixel's series)
#   is where chunking, not the codec, sets the speed.
AMPLIFICATION = 100
# - The chunk bytes should be one run of the file: below 90 % of the span they are
#   interleaved with other data or metadata, and sequential/read-ahead access suffers.
CONTIGUOUS = 0.9
# - Out-of-order chunks only matter when a read spans many of them.
ORDER_MIN_CHUNKS = 64


def _filters(ds):
    out = []
    for fid, flags, cd, name in ds.pipeline.filters:
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        out.append({"id": fid, "name": filter_name(fid), "hdf5_name": name, "flags": flags,
                    "optional": bool(flags & 1), "cd_values": list(cd)})
    return out


def _amplification(shape, chunks, axes):
    """Decoded elements / wanted elements for a read that takes every element along `axes`
    and one index along each other axis (chunks cut at the dataset's edge still decode whole)."""
    decoded = wanted = 1
    for d, (n, c) in enumerate(zip(shape, chunks)):
        if d in axes:
            decoded *= -(-n // c) * c
            wanted *= n
        else:
            decoded *= c
    return decoded / max(wanted, 1)


def _chunk_facts(ds, info):
    """Index, sizes, byte range and access costs of a chunked dataset (fills info)."""
    h5ds, idx = ds.h5, ds.index
    chunks, shape, es = ds.chunks, ds.shape, ds.dtype.itemsize
    grid = [-(-n // c) for n, c in zip(shape, chunks)]
    chunk_bytes = int(np.prod(chunks, dtype=np.int64)) * es
    with H5_LOCK:
        cache = h5ds.id.get_access_plist().get_chunk_cache()  # (slots, bytes, w0)
        info["index_type"] = index_type_name(h5ds.id)
    info.update(chunks_allocated=len(idx), chunks_in_grid=int(np.prod(grid, dtype=np.int64)),
                chunk_bytes=chunk_bytes, stored_bytes=idx.stored_bytes,
                chunk_cache_bytes=int(cache[1]))
    if len(idx):
        nb = idx.nbytes
        end = idx.offset + nb
        span = int(end.max() - idx.offset.min())
        grid_order = np.lexsort(idx.coords.T[::-1])  # C order of the chunk grid
        info.update(
            compression_ratio=round(len(idx) * chunk_bytes / max(1, idx.stored_bytes), 3),
            chunk_stored_bytes={"min": int(nb.min()), "p10": float(np.percentile(nb, 10)),
                                "median": float(np.median(nb)), "p90": float(np.percentile(nb, 90)),
                                "max": int(nb.max())},
            first_chunk_address=int(idx.offset.min()),
            byte_range=[int(idx.offset.min()), int(end.max())],
            contiguity=round(idx.stored_bytes / max(1, span), 3),
            file_order_is_grid_order=bool((np.diff(idx.offset[grid_order]) > 0).all()),
            chunks_unfiltered=int((idx.filter_mask != 0).sum()))
    # The usual access patterns: one frame (every axis but the first), and one element's
    # series along the first axis.
    if len(shape) > 1:
        info["read_amplification"] = {
            "frame ds[i]": round(_amplification(shape, chunks, set(range(1, len(shape)))), 1),
            "series ds[:, j, ...]": round(_amplification(shape, chunks, {0}), 1)}
    else:
        info["read_amplification"] = {"element ds[i]": float(chunks[0])}


def _advice(info):
    tips = []
    if "chunk_bytes" not in info:
        return tips
    cb, n = info["chunk_bytes"], info["chunks_allocated"]
    if cb < TINY_CHUNK_BYTES and n > TINY_CHUNK_COUNT:
        tips.append(f"tiny chunks: {n} chunks of {cb} bytes; per-chunk costs dominate reads "
                    f"(h5py pays them one by one). Rechunk to >= 1 MiB chunks, e.g. "
                    f"h5repack -l {info['name']}:CHUNK={'x'.join(str(c) for c in _bigger(info))}")
    # The usual access is a frame (h5py's ds[i]); the series figure is reported, not advised on.
    amp = info.get("read_amplification", {}).get("frame ds[i]", 0)
    if amp >= AMPLIFICATION:
        tips.append(f"reading one frame ds[i] decodes {amp:g}x the bytes it returns: chunks "
                    f"{tuple(info['chunks'])} are thick along the first axis; make them thinner there")
    cache = info.get("chunk_cache_bytes")
    if cache is not None and cb > cache:
        tips.append(f"a chunk ({cb} bytes) is bigger than HDF5's chunk cache ({cache} bytes): "
                    "h5py decodes a chunk again for every partial read of it; raise rdcc_nbytes in "
                    "h5py.File(..., rdcc_nbytes=...) or read whole chunks (fastchunk does not use the cache)")
    if info.get("contiguity", 1) < CONTIGUOUS:
        tips.append(f"chunk bytes fill only {info['contiguity']:.0%} of the range they span "
                    "(interleaved with other data or the index): h5repack makes them one run")
    if info.get("file_order_is_grid_order") is False and n > ORDER_MIN_CHUNKS:
        tips.append("chunks are not stored in grid order: a sequential read seeks; h5repack "
                    "rewrites them in order")
    if n < info.get("chunks_in_grid", 0):
        tips.append(f"{info['chunks_in_grid'] - n} chunks are not allocated (read as the fill value)")
    return tips


def _bigger(info):
    """A chunk shape of about 1 MiB grown along the first axis (a suggestion, not a rule)."""
    shape, chunks, es = info["shape"], list(info["chunks"]), np.dtype(info["dtype"]).itemsize
    rest = int(np.prod(chunks[1:], dtype=np.int64)) * es
    chunks[0] = int(min(shape[0], max(chunks[0], (1 << 20) // max(rest, 1))))
    return chunks


def _virtual_info(ds):
    """A virtual dataset: where each mapping's data comes from."""
    sources = []
    for m in ds.mappings:
        src = m.source
        entry = {"virtual_start": [int(p[0]) if len(p) else None for p in m.P],
                 "elements": int(np.prod([len(p) for p in m.P], dtype=np.int64))}
        if src is None:
            entry.update(file=None, dataset=None, status="missing: reads as the fill value")
        else:
            entry.update(file=src.data_file, dataset=src.name, shape=list(src.shape),
                         dtype=str(src.dtype), codec=src.pipeline.codec,
                         status="native" if src.native else f"h5py: {src.reason}")
        sources.append(entry)
    return {"name": ds.name, "shape": list(ds.shape), "dtype": str(ds.dtype), "layout": "virtual",
            "chunks": None, "native": ds.native, "reason": ds.reason, "codec": "virtual",
            "filters": [], "fill_value": _jsonable(ds.fillvalue), "sources": sources,
            "sources_missing": sum(e["file"] is None for e in sources), "advice": []}


def dataset_info(ds):
    """A JSON-ready description of one fastchunk Dataset."""
    if isinstance(ds, VirtualDataset):
        return _virtual_info(ds)
    h5ds = ds.h5
    with H5_LOCK:
        layout = h5ds.id.get_create_plist().get_layout()
    names = {h5py.h5d.CHUNKED: "chunked", h5py.h5d.CONTIGUOUS: "contiguous",
             h5py.h5d.COMPACT: "compact", h5py.h5d.VIRTUAL: "virtual"}
    info = {"name": ds.name, "shape": None if ds.shape is None else list(ds.shape),
            "dtype": str(ds.dtype), "layout": names.get(layout, str(layout)),
            "chunks": list(ds.chunks) if ds.chunks else None, "native": ds.native,
            "reason": ds.reason, "codec": ds.pipeline.codec, "filters": _filters(ds),
            "fill_value": None if ds.shape is None else _jsonable(h5ds.fillvalue)}
    if ds.shape is None:  # h5py.Empty: no data, no storage
        info.update(null_dataspace=True, advice=[])
        return info
    if ds.chunks and layout == h5py.h5d.CHUNKED:
        _chunk_facts(ds, info)
    elif layout == h5py.h5d.CONTIGUOUS:
        with H5_LOCK:
            info["stored_bytes"] = int(h5ds.id.get_storage_size())
            off = h5ds.id.get_offset()
        info["first_chunk_address"] = None if off is None else int(off)
    info["advice"] = _advice(info)
    return info


def _link_info(f, name):
    """info of what name leads to: a dataset's (with where an external link took it), a
    dangling external link's reason, or None for a link to a group."""
    with H5_LOCK:
        link = f.h5.get(name, getlink=True)
    target = (f"{link.filename}:{link.path}" if isinstance(link, h5py.ExternalLink) else None)
    try:
        ds = f[name]
    except (FastchunkError, KeyError, OSError) as e:
        return {"name": name, "external_link": target, "dangling": f"{type(e).__name__}: {e}"}
    if not hasattr(ds, "dtype"):
        return None
    info = dataset_info(ds)
    info["name"] = name
    if target:
        info["external_link"] = target
        info["data_file"] = ds.data_file
    return info


def _jsonable(v):
    v = np.asarray(v)
    if v.dtype.kind == "S":
        return v.tobytes().decode("latin-1")
    if v.dtype.kind in "biuf":
        return v.item()
    return str(v)


def file_info(path, dataset=None):
    """One document: the file, and info for one dataset, every dataset below a group, or every
    dataset in the file. External links are followed (a DECTRIS master's data files) and a
    dangling one is listed with the reason; a virtual dataset lists its source files."""
    with File(path) as f:
        names = walk(f, dataset or "/")
        datasets = [i for i in (_link_info(f, n) for n in names) if i is not None]
        return {"file": os.fspath(path), "file_bytes": os.path.getsize(path),
                "userblock_bytes": int(f.h5.userblock_size), "hdf5": h5py.version.hdf5_version,
                "datasets": datasets,
                "dangling_links": sum("dangling" in i for i in datasets)}


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _shape(shape):
    return " x ".join(str(n) for n in shape) if shape else "scalar"


def _series_label(key):
    return {"frame ds[i]": "one frame ds[i]", "series ds[:, j, ...]": "one element's series along the first axis ds[:, j, ...]",
            "element ds[i]": "one element ds[i]"}.get(key, key)


def format_info(doc):
    """The human-readable form of file_info's document."""
    out = [f"{doc['file']}: {_size(doc['file_bytes'])}, HDF5 library {doc['hdf5']}"
           + (f", user block {doc['userblock_bytes']} bytes" if doc.get("userblock_bytes") else "")]
    if not doc["datasets"]:
        out.append("no datasets")
    for i in doc["datasets"]:
        if "dangling" in i:
            out.append(f"{i['name']}: dangling external link to {i['external_link']}")
            out.append(f"  cannot open  {i['dangling']}")
            continue
        if i.get("null_dataspace"):
            out.append(f"{i['name']}: null dataspace (h5py.Empty) {i['dtype']}: no data, nothing to read")
            continue
        out.append(f"{i['name']}: {_shape(i['shape'])} {i['dtype']}, {i['layout']}"
                   + (f", chunks of {_shape(i['chunks'])}" if i["chunks"] else ""))
        if i.get("external_link"):
            out.append(f"  link      external link to {i['external_link']}")
        if i["layout"] == "virtual":
            out.append(f"  sources   {len(i['sources'])} mappings to source datasets, "
                       f"{i['sources_missing']} of them missing")
        else:
            out.append(f"  filters   {i['codec']}")
        for flt in i["filters"]:
            out.append(f"            {flt['name']} (id {flt['id']}) cd_values {flt['cd_values']}")
        for src in i.get("sources", [])[:MAX_SOURCES_SHOWN]:
            where = (f"{src['file']}:{src['dataset']} {tuple(src['shape'])} {src['dtype']} "
                     f"{src['codec']} ({src['status']})" if src["file"] else src["status"])
            out.append(f"  source    at {tuple(src['virtual_start'])}: {where}")
        if len(i.get("sources", [])) > MAX_SOURCES_SHOWN:
            out.append(f"            ... {len(i['sources']) - MAX_SOURCES_SHOWN} more "
                       f"({i['sources_missing']} missing in all)")
        if "chunks_allocated" in i:
            out.append(f"  chunks    {i['chunks_allocated']} allocated / {i['chunks_in_grid']} in grid "
                       f"(written / the shape holds), index: {i['index_type'] or 'unknown'}, "
                       f"{_size(i['chunk_bytes'])} each decoded")
            out.append(f"  stored    {i['stored_bytes']} bytes ({_size(i['stored_bytes'])})"
                       + (f", compression ratio {i['compression_ratio']}x" if "compression_ratio" in i else ""))
            if "compression_ratio" in i:
                s = i["chunk_stored_bytes"]
                out.append(f"  sizes     stored chunk sizes: min {s['min']}, p10 {s['p10']:.0f}, median {s['median']:.0f}, "
                           f"p90 {s['p90']:.0f}, max {s['max']} bytes")
                out.append(f"  layout    chunk data from byte {i['byte_range'][0]} to {i['byte_range'][1]} "
                           f"(first chunk at {i['first_chunk_address']}); {i['contiguity']:.0%} of that span is "
                           f"chunk data; chunks {'in' if i['file_order_is_grid_order'] else 'not in'} grid order")
            costs = "; ".join(f"{_series_label(k)}: {v:g}x" for k, v in i["read_amplification"].items())
            out.append(f"  reads     bytes decoded per byte returned (whole chunks decode): {costs}")
        elif "stored_bytes" in i:
            out.append(f"  stored    {i['stored_bytes']} bytes at byte {i['first_chunk_address']}")
        out.append("  native    " + ("yes" if i["native"] else f"no: {i['reason']}"))
        for tip in i["advice"]:
            out.append(f"  advice    {tip}")
    if doc.get("dangling_links"):
        out.append(f"{doc['dangling_links']} dangling external link{'s' if doc['dangling_links'] > 1 else ''}")
    return "\n".join(out)
