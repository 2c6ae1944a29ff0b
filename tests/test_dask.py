"""dask: fastchunk datasets as dask arrays, computed with the threaded and multiprocessing
schedulers and on a real dask.distributed LocalCluster of 2 worker processes (no mocks), every
result compared with h5py. ds.to_dask()'s default blocks follow the storage chunks."""
import logging
import os

import dask
import dask.array as da
import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest
from conftest import assert_identical

import fastchunk
from fastchunk import testing
from fastchunk.testing import write_dectris_master, write_diamond_master

distributed = pytest.importorskip("distributed")

FRAME = (48, 40)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A bslz4 frame series, a file with several chunk layouts, and DECTRIS and Diamond masters."""
    d = tmp_path_factory.mktemp("dask")
    series = testing.write_eiger_file(d / "series.h5", n_frames=13, shape=FRAME, dtype=np.uint32)
    rng = np.random.default_rng(7)
    misc = d / "misc.h5"
    testing.write_dataset(misc, "tiles", rng.poisson(3, (9, 50, 70)).astype("u2"), (2, 16, 32),
                          "bslz4")
    testing.write_dataset(misc, "gzip", rng.normal(size=(37, 11)), (8, 11), "shuffle+deflate")
    with h5py.File(misc, "a") as f:
        f["contiguous"] = np.arange(5000, dtype="i4").reshape(100, 50)
        f.create_dataset("sparse", shape=(20, 30), chunks=(5, 30), dtype="f4", fillvalue=-2)
        f["sparse"][5:10] = 1.5
    dectris = write_dectris_master(d, n_frames=10, frames_per_file=3, shape=FRAME)
    diamond = write_diamond_master(d, n_frames=9, frames_per_file=4, shape=FRAME)
    return {"series": series, "misc": misc, "dectris": dectris, "diamond": diamond}


def assert_sums(got, want):
    """Sums: exact for integers; floats summed in another order agree to rounding."""
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-12)
    else:
        assert_identical(got, want)


def h5py_read(path, name):
    with h5py.File(path, "r") as f:
        return f[name][()]


def dectris_h5py(master):
    with h5py.File(master, "r") as m:
        g = m["/entry/data"]
        return np.concatenate([g[k][()] for k in sorted(g)])


CASES = [("series", "/entry/data/data", (4, 48, 40)), ("series", "/entry/data/data", (5, 20, 33)),
         ("misc", "tiles", (3, 25, 70)), ("misc", "gzip", (10, 5)),
         ("misc", "contiguous", (30, 50)), ("misc", "sparse", (7, 30)),
         ("diamond", "/entry/data/data", (2, 48, 40))]


# --------------------------------------------------------------------------- local schedulers
@pytest.mark.parametrize("which,name,chunks", CASES)
def test_threaded_scheduler(files, which, name, chunks):
    with fastchunk.File(files[which]) as f:
        arr = da.from_array(f[name], chunks=chunks)
        got = arr.compute(scheduler="threads")
        sums = arr.sum(axis=0).compute(scheduler="threads")
    want = h5py_read(files[which], name)
    assert_identical(got, want)
    assert_sums(sums, want.sum(axis=0))


def test_processes_scheduler(files):
    """dask's multiprocessing scheduler pickles each task's dataset into a spawned process."""
    with fastchunk.File(files["series"]) as f, fastchunk.File(files["misc"]) as g, \
            fastchunk.open_nxmx(files["dectris"]) as frames:
        arrays = [da.from_array(f["/entry/data/data"], chunks=(3, 48, 40)),
                  da.from_array(g["tiles"], chunks=(4, 25, 35)),
                  f["/entry/data/data"].to_dask(),
                  da.from_array(frames, chunks=(4, 48, 40))]
        with dask.config.set({"multiprocessing.context": "spawn"}):
            got = dask.compute(*arrays, scheduler="processes", num_workers=2)
    series = h5py_read(files["series"], "/entry/data/data")
    for a, want in zip(got, [series, h5py_read(files["misc"], "tiles"), series,
                             dectris_h5py(files["dectris"])]):
        assert_identical(a, want)


# --------------------------------------------------------------------------- to_dask blocks
def test_to_dask_default_blocks_follow_the_storage_chunks(files):
    with fastchunk.File(files["series"]) as f, fastchunk.File(files["misc"]) as g:
        ds = f["/entry/data/data"]
        arr = ds.to_dask()
        assert arr.chunks == ((13,), (48,), (40,))  # 13 whole frames are far below 64 MiB
        assert ds.dask_chunks() == (13, 48, 40)
        # a smaller target: whole frames, batched in whole storage chunks (one frame each)
        frame_bytes = 48 * 40 * 4
        assert ds.dask_chunks(target_bytes=4 * frame_bytes + 1) == (4, 48, 40)
        assert ds.dask_chunks(target_bytes=1) == (1, 48, 40)  # at least one chunk
        # frames bigger than the target: the storage chunks' own extent on the other axes
        tiles = g["tiles"]  # chunks (2, 16, 32)
        assert tiles.dask_chunks(target_bytes=1500) == (2, 16, 32)
        assert tiles.dask_chunks(target_bytes=5000) == (4, 16, 32)  # 2 chunks of 2048 bytes
        assert tiles.dask_chunks(target_bytes=6 * 50 * 70 * 2) == (6, 50, 70)
        assert tiles.dask_chunks() == (9, 50, 70)
        blocks = tiles.to_dask(chunks=tiles.dask_chunks(target_bytes=4 * 50 * 70 * 2))
        assert blocks.chunks == ((4, 4, 1), (50,), (70,))
        assert all(c % 2 == 0 for c in blocks.chunks[0][:-1])  # whole storage chunks on axis 0
        assert_identical(blocks.compute(scheduler="sync"), h5py_read(files["misc"], "tiles"))
        # contiguous: row slabs are the grid; explicit chunks are dask's
        assert g["contiguous"].to_dask(chunks=(30, 25)).chunks == ((30, 30, 30, 10), (25, 25))
        # scalar datasets have no blocks
        assert g["gzip"].to_dask().dtype == np.float64


def test_to_dask_default_blocks_of_virtual_datasets_and_frames(files):
    """A VDS and a DECTRIS stack have no storage grid of their own: whole frames, batched."""
    with fastchunk.File(files["diamond"]) as f, fastchunk.open_nxmx(files["dectris"]) as frames:
        vds = f["/entry/data/data"]
        assert isinstance(vds, fastchunk.VirtualDataset)
        for ds, n in ((vds, 9), (frames.dataset, 10), (frames, 10)):
            assert ds.dask_chunks() == (n, 48, 40)
            assert ds.dask_chunks(target_bytes=2 * 48 * 40 * 4) == (2, 48, 40)
            assert ds.to_dask().chunks == ((n,), (48,), (40,))
        assert_identical(vds.to_dask().compute(scheduler="threads"),
                         h5py_read(files["diamond"], "/entry/data/data"))
        assert_identical(frames.to_dask().compute(scheduler="threads"),
                         dectris_h5py(files["dectris"]))


def test_to_dask_names_follow_the_file(files, tmp_path):
    """The dask name (token) depends on file, dataset, and the file's size and mtime."""
    import shutil
    copy = shutil.copy(files["misc"], tmp_path / "copy.h5")
    with fastchunk.File(files["misc"]) as f, fastchunk.File(files["misc"]) as f2, \
            fastchunk.File(copy) as c:
        assert f["tiles"].to_dask().name == f2["tiles"].to_dask().name
        assert da.from_array(f["tiles"]).name == da.from_array(f2["tiles"]).name
        assert f["tiles"].to_dask().name != f["gzip"].to_dask().name
        assert f["tiles"].to_dask().name != c["tiles"].to_dask().name


def test_from_array_default_chunks(files):
    """da.from_array without chunks= asks the dataset's .chunks, as for h5py."""
    with fastchunk.File(files["misc"]) as f, h5py.File(files["misc"], "r") as h:
        assert da.from_array(f["tiles"]).chunks == da.from_array(h["tiles"]).chunks
        assert_identical(da.from_array(f["tiles"]).compute(), h["tiles"][()])


# --------------------------------------------------------------------------- dask.distributed
@pytest.fixture(scope="module")
def client():
    """One LocalCluster of 2 worker processes (1 thread each) for the module."""
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        yield c


@pytest.mark.parametrize("which,name,chunks", CASES)
def test_distributed_from_array(client, files, which, name, chunks):
    with fastchunk.File(files[which]) as f:
        arr = da.from_array(f[name], chunks=chunks)
        got, sums = client.compute([arr, arr.sum(axis=tuple(range(1, arr.ndim)))], sync=True)
    want = h5py_read(files[which], name)
    assert_identical(got, want)
    assert_sums(sums, want.sum(axis=tuple(range(1, want.ndim))))


def test_distributed_to_dask_and_masters(client, files):
    with fastchunk.File(files["series"]) as f, fastchunk.File(files["diamond"]) as g, \
            fastchunk.open_nxmx(files["dectris"]) as frames, \
            fastchunk.open_nxmx(files["diamond"]) as dframes:
        ds = f["/entry/data/data"]
        arrays = [ds.to_dask(chunks=ds.dask_chunks(target_bytes=3 * 48 * 40 * 4)),
                  g["/entry/data/data"].to_dask(chunks=(2, 48, 40)),
                  da.from_array(frames, chunks=(4, 24, 40)),
                  frames.dataset.to_dask(chunks=(3, 48, 40)),
                  da.from_array(dframes, chunks=(5, 48, 40)),
                  frames.to_dask(), g["/entry/data/data"].to_dask()]
        assert arrays[0].chunks[0] == (3, 3, 3, 3, 1)
        got = client.compute(arrays, sync=True)
    diamond = h5py_read(files["diamond"], "/entry/data/data")
    dectris = dectris_h5py(files["dectris"])
    wants = [h5py_read(files["series"], "/entry/data/data"), diamond, dectris, dectris, diamond,
             dectris, diamond]
    assert len(got) == len(wants)
    for a, want in zip(got, wants):
        assert_identical(a, want)


def test_distributed_tasks_run_on_both_workers(client, files):
    """The blocks are read in the worker processes, not in the client."""
    with fastchunk.File(files["series"]) as f:
        arr = da.from_array(f["/entry/data/data"], chunks=(1, 48, 40))
        pids = arr.map_blocks(lambda b: np.full((len(b), 1, 1), os.getpid()), dtype=int,
                              chunks=(1, 1, 1)).compute()
    workers = set(client.run(os.getpid).values())
    assert set(np.unique(pids)) <= workers and os.getpid() not in workers
    assert len(set(np.unique(pids))) == 2


def test_threads_per_read_inside_a_worker(client, files):
    """A read inside a worker task takes OMP_NUM_THREADS threads (the nanny sets 1): worker
    threads x fastchunk threads stay within the cores. FASTCHUNK_NUM_THREADS overrides."""
    def threads():
        return (fastchunk.default_num_threads(), os.environ.get("OMP_NUM_THREADS"))

    got = client.gather([client.submit(threads, pure=False, workers=[w])
                         for w in client.scheduler_info()["workers"]])
    assert got == [(1, "1"), (1, "1")]

    def threads_with_env():
        old = os.environ.get("FASTCHUNK_NUM_THREADS")
        os.environ["FASTCHUNK_NUM_THREADS"] = "3"
        try:
            return fastchunk.default_num_threads()
        finally:
            if old is None:
                del os.environ["FASTCHUNK_NUM_THREADS"]
            else:
                os.environ["FASTCHUNK_NUM_THREADS"] = old

    assert client.submit(threads_with_env, pure=False).result() == 3


def test_scattered_dataset_object(client, files):
    """A dataset sent as an argument (pickled to the worker, reopened there)."""
    with fastchunk.File(files["misc"]) as f:
        fut = client.submit(lambda ds: ds[5:10].sum(), f["sparse"], pure=False)
        assert fut.result() == h5py_read(files["misc"], "sparse")[5:10].sum()
        fut = client.submit(lambda ds: (ds.file.mode, ds.native, ds.name), f["tiles"], pure=False)
        assert fut.result() == ("r", True, "/tiles")
