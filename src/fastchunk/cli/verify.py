"""`fastchunk verify`: decode every chunk of a file's datasets and list each one that fails.

A beamline's check after a transfer or a disk fault: everything is read through the same
engine as a normal read (all cores, in bounded batches of whole chunk rows), and a batch that
fails is read again chunk by chunk (frame by frame for a virtual dataset), so every damaged
chunk is named, not only the first. With against_h5py, every batch is also compared bit for
bit with h5py's read of it.
"""
import time

import h5py
import hdf5plugin  # noqa: F401  (the --h5py comparison needs the plugin filters)
import numpy as np

from ..errors import FastchunkError
from ..file import File
from ..virtual import VirtualDataset
from .interrupt import checkpoint
from .progress import Bar
from .targets import expand

BATCH_BYTES = 256 << 20  # decoded bytes a batch holds at most (one output buffer, reused)
MAX_LISTED = 100         # damaged chunks listed per dataset; the count goes on


def _open(f, name):
    """(dataset, None), or (None, why) when the name does not lead to a dataset we can open."""
    try:
        ds = f[name]
    except (FastchunkError, KeyError, OSError) as e:
        return None, f"{type(e).__name__}: {e}"
    return (ds, None) if hasattr(ds, "read") else (None, None)  # a link to a group: nothing to read


def _batch_rows(ds):
    """Rows of axis 0 per batch: whole chunk rows, within BATCH_BYTES where possible."""
    row = ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64))
    step = ds.chunks[0] if ds.chunks else 1
    return max(step, BATCH_BYTES // max(row, 1) // step * step)


def _pieces(ds, start, stop):
    """(description, selection) of the chunks of rows start..stop, or of each row when the
    dataset has no chunk index of its own (virtual, contiguous, or read through h5py)."""
    if ds.chunks and not isinstance(ds, VirtualDataset):
        chunks = np.asarray(ds.chunks)
        for c in ds.index.coords:
            lo = c * chunks
            if start <= lo[0] < stop:
                hi = np.minimum(lo + chunks, ds.shape)
                yield f"chunk at element {tuple(int(x) for x in lo)}", tuple(
                    slice(int(a), int(b)) for a, b in zip(lo, hi))
    else:
        for i in range(start, stop):
            yield f"row {i}", (slice(i, i + 1),)


def _failures(ds, start, stop):
    """What fails among the pieces of a batch that failed: (description, message) each."""
    for where, sel in _pieces(ds, start, stop):
        try:
            ds[sel]
        except (FastchunkError, OSError) as e:
            yield where, f"{type(e).__name__}: {e}"


def verify_dataset(ds, oracle=None, name=None, bar=None):
    """Read all of one dataset; a dict with what was read and every failure found. oracle: the
    same dataset opened with h5py, to compare every batch with; name: the path it was opened by
    (an external link's, say), if not its own; bar: a progress Bar counting bytes."""
    t0 = time.perf_counter()
    data = f"{ds.data_file}:{ds.name}" if ds.data_file else None  # None: virtual
    doc = {"name": name or ds.name, "data": data, "shape": None if ds.shape is None else list(ds.shape),
           "dtype": str(ds.dtype), "native": ds.native, "reason": ds.reason, "bytes": int(ds.nbytes),
           "damaged": [], "damaged_count": 0, "mismatches": []}
    if ds.shape is None:  # h5py.Empty: nothing stored, nothing to decode
        doc["empty"] = True
    elif ds.shape and ds.size:
        rows = _batch_rows(ds)
        out = np.empty((min(rows, ds.shape[0]),) + tuple(ds.shape[1:]), ds.dtype)
        for start in range(0, ds.shape[0], rows):
            checkpoint()
            stop = min(start + rows, ds.shape[0])
            buf = out[: stop - start]
            try:
                ds.read(np.s_[start:stop], out=buf)
            except (FastchunkError, OSError):
                for where, msg in _failures(ds, start, stop):
                    doc["damaged_count"] += 1
                    if len(doc["damaged"]) < MAX_LISTED:
                        doc["damaged"].append({"where": where, "error": msg})
            else:
                if oracle is not None and not _same_bytes(buf, oracle[start:stop]):
                    doc["mismatches"].append(f"rows {start}..{stop - 1}")
            if bar is not None:
                bar.update(buf.nbytes)
    elif not ds.shape:
        try:
            ds[()]
        except (FastchunkError, OSError) as e:
            doc["damaged_count"] = 1
            doc["damaged"].append({"where": "whole dataset", "error": f"{type(e).__name__}: {e}"})
    doc["seconds"] = time.perf_counter() - t0
    doc["ok"] = not doc["damaged_count"] and not doc["mismatches"]
    return doc


def _same_bytes(a, b):
    """Bit for bit (NaNs and -0.0 included), as the tests compare with h5py."""
    b = np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def verify_file(path, datasets=None, against_h5py=False, num_threads=None):
    """One document: every dataset (or the named ones) of a file, read in full and checked."""
    docs = []
    with File(path, num_threads=num_threads) as f, h5py.File(path, "r") as h:
        names = expand(f, list(datasets) if datasets else ["/"])  # a group: every dataset below it
        opened = [(name,) + _open(f, name) for name in names]
        total = sum(ds.nbytes for _, ds, _ in opened if ds is not None)
        with Bar(total, "verifying", unit="B", unit_scale=True) as bar:
            for name, ds, why in opened:
                if ds is not None:
                    docs.append(verify_dataset(ds, h[name] if against_h5py else None, name, bar))
                elif why:
                    docs.append({"name": name, "unopened": why, "damaged": [], "damaged_count": 1,
                                 "mismatches": [], "ok": False})
    return {"file": str(path), "against_h5py": against_h5py, "datasets": docs,
            "ok": all(d["ok"] for d in docs)}


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def format_verify(doc):
    """The human-readable form of verify_file's document."""
    out = []
    for d in doc["datasets"]:
        if "unopened" in d:
            out.append(f"{d['name']}: cannot be opened: {d['unopened']}")
            continue
        if d.get("empty"):
            out.append(f"{d['name']}: null dataspace (h5py.Empty) {d['dtype']}: no data to check, skipped")
            continue
        rate = d["bytes"] / d["seconds"] / 2**30 if d["seconds"] > 0 else 0.0
        how = "native" if d["native"] else "through h5py"
        state = "ok" if d["ok"] else (f"{d['damaged_count']} damaged" if d["damaged_count"] else "DIFFERS FROM H5PY")
        here = d["data"] in (None, f"{doc['file']}:{d['name']}")
        where = "" if here else f" (data in {d['data']})"
        out.append(f"{d['name']}{where}: {tuple(d['shape'])} {d['dtype']}, {_size(d['bytes'])} "
                   f"{how} in {d['seconds']:.2f} s ({rate:.2f} GiB/s): {state}")
        for bad in d["damaged"]:
            out.append(f"  {bad['where']}: {bad['error']}")
        if d["damaged_count"] > len(d["damaged"]):
            out.append(f"  ... {d['damaged_count'] - len(d['damaged'])} more")
        for m in d["mismatches"]:
            out.append(f"  {m}: not the bytes h5py reads")
    n_bad = sum(not d["ok"] for d in doc["datasets"])
    if not doc["datasets"]:
        out.append(f"{doc['file']}: no datasets to check")
        return "\n".join(out)
    out.append(f"{doc['file']}: {len(doc['datasets'])} datasets, "
               + ("all readable" + (" and identical to h5py" if doc["against_h5py"] else "")
                  if doc["ok"] else f"{n_bad} with damage or differences"))
    return "\n".join(out)
