"""`fastchunk bench`: time fastchunk against h5py on the same file in the same run."""
import time
from dataclasses import dataclass

import h5py
import hdf5plugin  # noqa: F401  (registers the filters h5py needs)
import numpy as np

from .dataset import File


@dataclass
class Timing:
    name: str
    seconds: list

    @property
    def median(self):
        return float(np.median(self.seconds))


def find_detector_dataset(h5file):
    """The obvious detector dataset: /entry/data/data if present, else the biggest >= 3-D one."""
    if isinstance(h5file.get("/entry/data/data"), h5py.Dataset):
        return "/entry/data/data"
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 2:
            found.append((obj.ndim >= 3, obj.size, "/" + name))
    h5file.visititems(visit)
    if not found:
        raise ValueError(f"{h5file.filename}: no 2-D or 3-D dataset to benchmark; name one")
    return max(found)[2]


def _time(fn, repeat):
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
    with File(path, num_threads=threads) as f:
        name = dataset or find_detector_dataset(f.h5)
        ds = f[name]
        h5 = ds._h5
        n = ds.shape[0] if frames is None else min(frames, ds.shape[0])
        sel = np.s_[:n]
        ref = np.empty((n,) + ds.shape[1:], dtype=ds.dtype)

        def h5py_loop():
            for i in range(n):
                ref[i] = h5[i]

        out = np.empty_like(ref)
        reuse = lambda: ds.read(sel, out=out)  # noqa: E731
        fresh = lambda: ds.read(sel)  # noqa: E731
        reuse()  # warm the page cache, the chunk index and the pool
        h5py_loop()
        identical = bool(np.array_equal(ref.view(np.uint8), out.view(np.uint8)))
        timings = [Timing("h5py ds[i] loop", _time(h5py_loop, repeat)),
                   Timing("fastchunk, reused out", _time(reuse, repeat)),
                   Timing("fastchunk, fresh array", _time(fresh, repeat))]
        return {"file": str(path), "dataset": name, "shape": ds.shape, "dtype": str(ds.dtype),
                "chunks": ds.chunks, "codec": ds.pipeline.codec, "native": ds.native,
                "reason": ds.reason, "frames": n, "bytes": ref.nbytes, "threads": f.num_threads,
                "identical": identical, "timings": timings}


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
