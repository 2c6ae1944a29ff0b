"""`fastchunk bench`: time fastchunk against h5py on the same file in the same run."""
import time
from dataclasses import dataclass

import h5py
import hdf5plugin  # noqa: F401  (registers the filters h5py needs)
import numpy as np

from ..file import File
from ..nxmx import DATA_LINK, open_nxmx


@dataclass
class Timing:
    name: str
    seconds: list

    @property
    def median(self):
        return float(np.median(self.seconds))


def find_detector_dataset(h5file):
    """The obvious detector dataset: /entry/data/data if present, None for a DECTRIS master
    (data_NNNNNN links: all frames through open_nxmx), else the biggest >= 3-D one."""
    if isinstance(h5file.get("/entry/data/data"), h5py.Dataset):
        return "/entry/data/data"
    group = h5file.get("/entry/data")
    if isinstance(group, h5py.Group) and any(DATA_LINK.match(k) for k in group):
        return None
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 2:
            found.append((obj.ndim >= 3, obj.size, "/" + name))
    h5file.visititems(visit)
    if not found:
        raise ValueError(f"{h5file.filename}: no 2-D or 3-D dataset to benchmark; name one")
    return max(found)[2]


def time_calls(fn, repeat):
    """Seconds each of `repeat` calls of fn() took."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run_bench(path, dataset=None, threads=None, repeat=5, frames=None):
    """Measure h5py's frame loop and fastchunk on one dataset; verify they agree bit for bit.

    Returns a dict with the dataset facts, the timings and whether the results matched.
    """
    f = File(path, num_threads=threads)
    try:
        name = dataset or find_detector_dataset(f.h5)
        if name is None:  # DECTRIS master: every data file's frames, in image number order
            f.close()
            stack = open_nxmx(path, num_threads=threads)
            f, ds, name = stack.file, stack.dataset, "/entry/data/data_* (open_nxmx)"
        else:
            ds = f[name]
    except BaseException:
        f.close()
        raise
    with f:
        n = ds.shape[0] if frames is None else min(frames, ds.shape[0])
        sel = np.s_[:n]
        ref = np.empty((n,) + ds.shape[1:], dtype=ds.dtype)
        frame_sources = _h5py_frames(ds)

        def h5py_loop():  # what a user does with h5py: one frame at a time
            for i in range(n):
                h5, k = frame_sources[i]
                ref[i] = h5[k]

        out = np.empty_like(ref)
        reuse = lambda: ds.read(sel, out=out)  # noqa: E731
        fresh = lambda: ds.read(sel)  # noqa: E731
        reuse()  # warm the page cache, the chunk index and the pool
        h5py_loop()
        identical = bool(np.array_equal(ref.view(np.uint8), out.view(np.uint8)))
        timings = [Timing("h5py ds[i] loop", time_calls(h5py_loop, repeat)),
                   Timing("fastchunk, reused out", time_calls(reuse, repeat)),
                   Timing("fastchunk, fresh array", time_calls(fresh, repeat))]
        return {"file": str(path), "dataset": name, "shape": ds.shape, "dtype": str(ds.dtype),
                "chunks": ds.chunks, "codec": _codec(ds), "native": ds.native,
                "reason": ds.reason, "frames": n, "bytes": ref.nbytes, "threads": f.num_threads,
                "identical": identical, "timings": timings}


def _h5py_frames(ds):
    """Per frame of ds, the h5py dataset and index a user would read it from with h5py."""
    if ds.h5 is not None:
        return [(ds.h5, i) for i in range(ds.shape[0])]
    frames = [None] * ds.shape[0]
    for m in ds.mappings:  # a stack of DECTRIS data files
        for v, q in zip(m.P[0], m.Q[0]):
            frames[v] = (m.source.h5, int(q))
    if None in frames:
        raise ValueError("the data files leave frames out: no h5py frame loop to compare with")
    return frames


def _codec(ds):
    """The codec name; a virtual dataset's is its first source's."""
    if hasattr(ds, "pipeline"):
        return ds.pipeline.codec
    sources = [m.source for m in ds.mappings if m.source is not None]
    return f"virtual over {sources[0].pipeline.codec}" if sources else "virtual, no sources"


def format_report(r):
    """The human-readable table `fastchunk bench` prints."""
    lines = [f"file      {r['file']}",
             f"dataset   {r['dataset']}  shape {r['shape']} {r['dtype']} chunks {r['chunks']}",
             f"codec     {r['codec']}  ({'native' if r['native'] else 'h5py fallback: ' + r['reason']})",
             f"read      {r['frames']} frames, {r['bytes'] / 1e6:.1f} MB decoded, "
             f"{r['threads']} threads, warm page cache, median of {len(r['timings'][0].seconds)}",
             "",
             f"{'reader':<26}{'median s':>10}{'frames/s':>11}{'GB/s':>8}{'vs h5py':>9}"]
    base = r["timings"][0].median
    for t in r["timings"]:
        lines.append(f"{t.name:<26}{t.median:>10.4f}{r['frames'] / t.median:>11.0f}"
                     f"{r['bytes'] / t.median / 1e9:>8.2f}{base / t.median:>8.2f}x")
    lines.append("")
    lines.append("bit-identical to h5py: " + ("yes" if r["identical"] else "NO"))
    return "\n".join(lines)
