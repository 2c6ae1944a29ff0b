"""benchmarks/test_dask.py's three readers, timed in interleaved rounds (h5py, from_array, to_dask,
h5py, ...) on one 2-process LocalCluster, with the ratio taken per round: on a shared machine
whose load drifts, paired rounds say more than medians of runs taken minutes apart.

    python benchmarks/dask_interleaved.py [FRAMES [ROUNDS]]      (default 50 frames, 15 rounds)

Prints wall seconds (min, median), the median and quartiles of the per-round ratios h5py /
fastchunk, and the seconds the workers spent computing (dask's task stream), per reader.
"""
import logging
import os
import pathlib
import statistics
import sys
import tempfile
import time

import dask
import dask.array as da
import numpy as np
from dask.graph_manipulation import clone
from distributed import Client, LocalCluster

import fastchunk
from bench_support import DATASET, REAL_EIGER, write_repeated_chunk
from test_dask import h5py_block_sums  # the baseline's task, as the suite times it


def compute_seconds(client, since):
    """Seconds the workers spent in task compute since `since` (time.time())."""
    return sum(ss["stop"] - ss["start"] for t in client.get_task_stream(start=since)
               for ss in t["startstops"] if ss["action"] == "compute")


def main(n_frames=50, rounds=15):
    if not REAL_EIGER.is_file():
        sys.exit(f"real Eiger file {REAL_EIGER} is absent")
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        path = write_repeated_chunk(pathlib.Path(tmp) / "real.h5", REAL_EIGER, n_frames)
        with fastchunk.File(path) as f:
            ds = f[DATASET]
            arr, blocks = da.from_array(ds), ds.to_dask()
            edges = np.cumsum((0,) + arr.chunks[0]).tolist()
            tasks = [dask.delayed(h5py_block_sums)(str(path), a, b)
                     for a, b in zip(edges[:-1], edges[1:])]
            sums = [a.sum(axis=(1, 2), dtype=np.uint64) for a in (arr, blocks)]
            readers = {
                f"h5py: {len(tasks)} dask.delayed tasks": lambda: np.concatenate(
                    client.compute(list(clone(*tasks)) if len(tasks) > 1 else [clone(*tasks)],
                                   sync=True)),
                f"da.from_array(ds), {arr.numblocks[0]} blocks": lambda: client.compute(
                    clone(sums[0]), sync=True),
                f"ds.to_dask(), {blocks.numblocks[0]} blocks": lambda: client.compute(
                    clone(sums[1]), sync=True),
            }
            first = None
            for name, fn in readers.items():  # warm up (imports, file opens) and check
                got = fn()
                first = got if first is None else first
                assert np.array_equal(got, first), name
            wall = {name: [] for name in readers}
            busy = {name: [] for name in readers}
            for _ in range(rounds):
                for name, fn in readers.items():
                    since, t = time.time(), time.perf_counter()
                    fn()
                    wall[name].append(time.perf_counter() - t)
                    time.sleep(0.2)  # let the task stream catch up
                    busy[name].append(compute_seconds(client, since))
    base = next(iter(readers))
    print(f"{n_frames} real Eiger 4M frames, {rounds} interleaved rounds, 2 workers x 1 thread; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name in readers:
        line = (f"  {name:<34} wall min {min(wall[name]):6.3f} s, median "
                f"{statistics.median(wall[name]):6.3f} s; workers computing "
                f"{statistics.median(busy[name]):6.3f} s")
        if name != base:
            r = sorted(a / b for a, b in zip(wall[base], wall[name]))
            line += (f"; h5py / this per round: median {statistics.median(r):.2f}x "
                     f"(quartiles {r[len(r) // 4]:.2f}-{r[3 * len(r) // 4]:.2f})")
        print(line)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]))
