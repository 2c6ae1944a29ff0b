"""Small reads against h5py (issue 22): small detector frames one at a time and all at once,
metadata-sized datasets one by one and with `read_many`, ten elements of an open dataset.

    python benchmarks/test_small_reads.py [rounds]     # interleaved rounds, medians, targets
    pytest benchmarks/test_small_reads.py --benchmark-enable -p no:cacheprovider

Files: 3000 frames of 192x192 uint16 bitshuffle+LZ4, one frame per chunk (as DECTRIS ARINA
writes for 4D-STEM); a NeXus-like file of 300 groups, each with a scalar, a 10-element vector and
a 100-element gzip dataset in 50-element chunks; 10-element chunked and contiguous datasets.
Every result is checked bit for bit against h5py before it is timed.
"""
import os
import statistics
import sys
import time

import h5py
import hdf5plugin  # noqa: F401  (registers filter 32008 with h5py)
import numpy as np
import pytest

import fastchunk
from fastchunk import testing

FRAME = (192, 192)
GROUPS = 300
# case: (what it reads, target ratio h5py time / fastchunk time)
TARGETS = {
    "frame loop": ("192x192 bslz4 frames, `ds[i]` one at a time", 2.0),
    "whole read": ("192x192 bslz4 frames, `ds[()]`", 4.0),
    "one by one": (f"{3 * GROUPS} small datasets, `f[name][()]` each", 1.0),
    "read_many": (f"{3 * GROUPS} small datasets, `f.read_many(names)` (h5py: one by one)", 2.0),
    "10 chunked": ("10 elements of an open chunked dataset, `ds[10:20]`", 1.0),
    "10 contiguous": ("an open 10-element contiguous dataset, `ds[()]`", 1.0),
}


def write_files(directory, n_frames):
    """The frame stack and the NeXus-like file; their paths and the small datasets' names."""
    frames_path = os.path.join(directory, "small_frames.h5")
    frames = testing.eiger_frames(n_frames, FRAME, np.uint16)
    testing.write_dataset(frames_path, "/data", frames, (1, *FRAME), "bslz4")
    meta_path = os.path.join(directory, "small_meta.h5")
    names = []
    rng = np.random.default_rng(22)
    with h5py.File(meta_path, "w") as f:
        for g in range(GROUPS):
            grp = f.create_group(f"entry/g{g:03d}")
            grp["scalar"] = np.float64(g)
            grp["vector"] = rng.integers(0, 1000, 10).astype(np.int32)
            grp.create_dataset("gzip", data=rng.random(100), chunks=(50,), compression="gzip")
            names += [f"entry/g{g:03d}/{k}" for k in ("scalar", "vector", "gzip")]
        f.create_dataset("chunked", data=np.arange(1000, dtype=np.int32), chunks=(100,))
        f["contiguous"] = np.arange(10, dtype=np.float32)
    return frames_path, meta_path, names


def _one_by_one(lib, path, names):
    def read():
        with lib.File(path, "r") as f:
            return {n: f[n][()] for n in names}
    return read


def _read_many(path, names):
    def read():
        with fastchunk.File(path, "r") as f:
            return f.read_many(names)
    return read


def _frame_loop(ds):
    def read():
        return [ds[i] for i in range(ds.shape[0])]
    return read


def readers(stack, frames_path, meta_path, names):
    """case: {"h5py": fn, "fastchunk": fn}; `stack` (an ExitStack) keeps the files open."""
    hf = stack.enter_context(h5py.File(frames_path, "r"))
    ff = stack.enter_context(fastchunk.File(frames_path, "r"))
    hm = stack.enter_context(h5py.File(meta_path, "r"))
    fm = stack.enter_context(fastchunk.File(meta_path, "r"))
    hc, fc = hm["chunked"], fm["chunked"]
    hv, fv = hm["contiguous"], fm["contiguous"]
    return {
        "frame loop": {"h5py": _frame_loop(hf["data"]), "fastchunk": _frame_loop(ff["data"])},
        "whole read": {"h5py": lambda: hf["data"][()], "fastchunk": lambda: ff["data"][()]},
        "one by one": {"h5py": _one_by_one(h5py, meta_path, names),
                       "fastchunk": _one_by_one(fastchunk, meta_path, names)},
        "read_many": {"h5py": _one_by_one(h5py, meta_path, names),
                      "fastchunk": _read_many(meta_path, names)},
        "10 chunked": {"h5py": lambda: hc[10:20], "fastchunk": lambda: fc[10:20]},
        "10 contiguous": {"h5py": lambda: hv[()], "fastchunk": lambda: fv[()]},
    }


def check(want, got):
    """Same result as h5py: arrays (or lists/dicts of them) with equal dtype, shape and bytes."""
    if isinstance(want, dict):
        assert list(want) == list(got)
        for k in want:
            check(want[k], got[k])
    elif isinstance(want, list):
        assert len(want) == len(got)
        for w, g in zip(want, got):
            check(w, g)
    else:
        assert type(want) is type(got), (type(want), type(got))
        w, g = np.asarray(want), np.asarray(got)
        assert (w.dtype, w.shape) == (g.dtype, g.shape)
        assert w.tobytes() == g.tobytes()


# --------------------------------------------------------------------------- pytest-benchmark


@pytest.fixture(scope="module")
def small_files(tmp_path_factory, request):
    smoke = request.config.getoption("benchmark_disable")
    return write_files(str(tmp_path_factory.mktemp("small")), 50 if smoke else 3000)


@pytest.mark.parametrize("case", list(TARGETS))
@pytest.mark.parametrize("lib", ["h5py", "fastchunk"])
def test_small_reads(benchmark, small_files, case, lib):
    import contextlib
    benchmark.group = f"small reads: {TARGETS[case][0]}"
    with contextlib.ExitStack() as stack:
        fns = readers(stack, *small_files)[case]
        want = fns["h5py"]()
        check(want, benchmark(fns[lib]))


# --------------------------------------------------------------------------- interleaved


def _time(fn, min_seconds=0.05):
    """Seconds per call: repeat the call until min_seconds have passed."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        t = time.perf_counter() - t0
        if t >= min_seconds:
            return t / n


def main(rounds=7):
    import contextlib
    import tempfile
    print(f"{sys.executable} benchmarks/test_small_reads.py {rounds}: fastchunk "
          f"{fastchunk.__version__}, {fastchunk.default_num_threads()} threads; h5py "
          f"{h5py.__version__}, HDF5 {h5py.version.hdf5_version}; {os.cpu_count()} CPUs; load "
          f"average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        files = write_files(tmp, 3000)
        cases = readers(stack, *files)
        print(f"\n{'case':<64} {'h5py':>10} {'fastchunk':>10} {'ratio':>6} target")
        for case, fns in cases.items():
            check(fns["h5py"](), fns["fastchunk"]())
            ratios, th, tf = [], [], []
            for _ in range(rounds):
                th.append(_time(fns["h5py"]))
                tf.append(_time(fns["fastchunk"]))
                ratios.append(th[-1] / tf[-1])
            what, target = TARGETS[case]
            r = statistics.median(ratios)
            scale, unit = (1e3, "ms") if statistics.median(th) > 1e-3 else (1e6, "us")
            print(f"{what:<64} {statistics.median(th) * scale:7.1f} {unit} "
                  f"{statistics.median(tf) * scale:7.1f} {unit} {r:5.2f}x >= {target:.0f}x "
                  f"{'met' if r >= target else 'MISSED'}")
    print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
