"""Scale-out: per-frame sums over a real-content Eiger 4M series (the real frame of
../shared/realdata, its stored chunk repeated) on a dask.distributed LocalCluster of 2 worker
processes with 1 thread each, in one run:

- the baseline, what pipelines do today: a graph of dask.delayed tasks that each open the file
  with h5py (+ hdf5plugin), read their frames and sum them;
- `da.from_array(fastchunk_ds).sum(axis=(1, 2))`, dask's default blocks (whole storage chunks
  up to 128 MiB); the h5py tasks read the same blocks;
- `ds.to_dask().sum(axis=(1, 2))`, fastchunk's default blocks (whole frames, up to 64 MiB).

Inside a worker each read takes OMP_NUM_THREADS threads (the nanny sets 1): 2 workers x 1
thread x 1 decoder thread on a 2-core machine. Every result is checked against h5py's sums.

Timings:  pytest benchmarks/test_dask.py --benchmark-enable -p no:cacheprovider
          (or python benchmarks/report.py -- benchmarks/test_dask.py)
Smoke:    pytest benchmarks -q --benchmark-disable -p no:cacheprovider
"""
import logging
import os

import h5py
import numpy as np
import pytest

import fastchunk
from bench_support import DATASET, REAL, REAL_EIGER, frame_count, timed, write_repeated_chunk

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
from dask.graph_manipulation import clone  # noqa: E402

GROUP = "dask.distributed 2 workers x 1 thread: per-frame sums, real-4M-u32"
WORKERS = 2
# report.py orders a group's rows by rank
RANK_H5PY, RANK_FROM_ARRAY, RANK_TO_DASK = 0, 1, 2


@pytest.fixture(scope="module")
def series(request, tmp_path_factory):
    """(path, per-frame sums as h5py computes them, stored bytes) of the real-content series."""
    if not REAL_EIGER.is_file():
        pytest.skip(f"real Eiger file {REAL_EIGER} is absent")
    n = frame_count(request.config, REAL)
    path = write_repeated_chunk(tmp_path_factory.mktemp("dask") / f"real_4M_{n}.h5", REAL_EIGER, n)
    with h5py.File(path, "r") as f:
        ds = f[DATASET]
        sums = np.array([ds[i].sum(dtype=np.uint64) for i in range(n)])  # warms the page cache
        stored = sum(ds.id.get_chunk_info(i).size for i in range(n))
        shape, dtype = ds.shape, ds.dtype
    with h5py.File(REAL_EIGER, "r") as f:  # the oracle's oracle: the real frame's own sum
        assert sums[0] == f[DATASET][0].sum(dtype=np.uint64)
    return path, sums, stored, shape, dtype


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        yield c


def fresh(client, *collections):
    """Compute copies of collections under new keys: the scheduler may still hold the last
    round's results (releasing them is asynchronous), and a key it holds is not computed again."""
    copies = clone(*collections)
    return client.compute(list(copies) if len(collections) > 1 else [copies], sync=True)


def workers_cpu(client):
    """CPU seconds the cluster's worker processes have used so far."""
    def own():
        t = os.times()
        return t.user + t.system
    return sum(client.run(own).values())


def _measure(benchmark, series, client, fn, label, rank, **kw):
    _, sums, stored, shape, dtype = series
    return timed(benchmark, fn, label=label, rank=rank,
                 decoded_bytes=int(np.prod(shape)) * dtype.itemsize, stored_bytes=stored,
                 frames=shape[0], threads=WORKERS, helpers_cpu=lambda: workers_cpu(client), **kw)


def h5py_block_sums(path, start, stop):
    """One task of the baseline graph: open the file with h5py, read frames start:stop, sum."""
    import h5py
    import hdf5plugin  # noqa: F401  (filter 32008)
    with h5py.File(path, "r") as f:
        return f[DATASET][start:stop].sum(axis=(1, 2), dtype=np.uint64)


def blocks_of(arr):
    """(start, stop) along axis 0 of a dask array's blocks."""
    edges = np.cumsum((0,) + arr.chunks[0])
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


@pytest.mark.benchmark(group=GROUP)
def test_h5py_delayed_tasks(benchmark, series, client):
    path, sums = series[0], series[1]
    with fastchunk.File(path) as f:  # the same blocks as da.from_array(ds) below
        blocks = blocks_of(da.from_array(f[DATASET]))
    tasks = [dask.delayed(h5py_block_sums)(str(path), a, b) for a, b in blocks]

    def run():
        return np.concatenate(fresh(client, *tasks))

    got = _measure(benchmark, series, client, run,
                   f"h5py: {len(tasks)} dask.delayed tasks, each opens the file", RANK_H5PY,
                   baseline=True)
    np.testing.assert_array_equal(got, sums)


@pytest.mark.benchmark(group=GROUP)
def test_fastchunk_from_array(benchmark, series, client):
    path, sums = series[0], series[1]
    with fastchunk.File(path) as f:
        arr = da.from_array(f[DATASET])
        total = arr.sum(axis=(1, 2), dtype=np.uint64)
        got = _measure(benchmark, series, client, lambda: fresh(client, total)[0],
                       f"fastchunk da.from_array(ds), {arr.numblocks[0]} blocks", RANK_FROM_ARRAY)
    np.testing.assert_array_equal(got, sums)


@pytest.mark.benchmark(group=GROUP)
def test_fastchunk_to_dask(benchmark, series, client):
    path, sums = series[0], series[1]
    with fastchunk.File(path) as f:
        arr = f[DATASET].to_dask()
        total = arr.sum(axis=(1, 2), dtype=np.uint64)
        got = _measure(benchmark, series, client, lambda: fresh(client, total)[0],
                       f"fastchunk ds.to_dask(), {arr.numblocks[0]} blocks", RANK_TO_DASK)
    np.testing.assert_array_equal(got, sums)


def test_worker_threads_per_read(client):
    """What the timings assume: each read inside a worker runs 1 decoder thread."""
    def per_read():
        return fastchunk.default_num_threads(), os.environ.get("OMP_NUM_THREADS")

    assert client.gather([client.submit(per_read, pure=False, workers=[w])
                          for w in client.scheduler_info()["workers"]]) == [(1, "1")] * WORKERS
