"""Pickling: File, Group, Dataset, VirtualDataset and open_nxmx Frames pickle as (file name,
path, options) and reopen read-only when unpickled, in any process. Every round trip here is
unpickled in a child process (a fresh interpreter, or a multiprocessing "spawn" worker) that
has imported nothing of fastchunk before, and what it reads is compared with h5py in the parent.
A closed file's objects refuse to pickle with FileClosedError."""
import multiprocessing
import operator
import pickle
import subprocess
import sys

import cloudpickle
import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest
from conftest import assert_identical
from test_h5py_parity import DET, write_master

import fastchunk
from fastchunk.testing import write_dectris_master, write_diamond_master

# The child: unpickle a list of (object, selection), describe each object and read the
# selection; fastchunk must not be imported before the first object is unpickled.
CHILD = r"""
import os, pickle, sys
jobs_bytes = sys.stdin.buffer.read()
assert "fastchunk" not in sys.modules
jobs = pickle.loads(jobs_bytes)
import fastchunk
out = []
for obj, sel in jobs:
    d = {"type": f"{type(obj).__module__}.{type(obj).__qualname__}", "pid": os.getpid()}
    f = obj if isinstance(obj, fastchunk.File) else obj.file
    d["file"] = (f.filename, f.mode, f.options, f.closed, f.num_threads)
    if isinstance(obj, fastchunk.Group):
        d["name"], d["keys"], d["attrs"] = obj.name, list(obj.keys()), dict(obj.attrs)
    else:
        d["name"], d["shape"], d["dtype"] = obj.name, obj.shape, obj.dtype
        d["data"] = obj[sel]
    out.append(d)
sys.stdout.buffer.write(pickle.dumps(out))
"""


def in_child(jobs):
    """Unpickle jobs [(object, selection)] in a fresh interpreter; what it found, per job."""
    run = subprocess.run([sys.executable, "-c", CHILD], input=pickle.dumps(jobs),
                         capture_output=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    return pickle.loads(run.stdout)


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    return write_master(tmp_path_factory.mktemp("pickle"))


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """A DECTRIS master (3 data files) and a Diamond master (a VDS over 3 linked files)."""
    d = tmp_path_factory.mktemp("series")
    return (write_dectris_master(d, n_frames=11, frames_per_file=4, shape=(30, 20)),
            write_diamond_master(d, n_frames=9, frames_per_file=4, shape=(30, 20)))


def dectris_frames_h5py(master):
    """The frames of a DECTRIS master as h5py reads them: its data files' in image-number order."""
    with h5py.File(master, "r") as m:
        g = m["/entry/data"]
        parts = sorted((int(g[k].attrs["image_nr_low"]), g[k][()]) for k in g)
    return np.concatenate([a for _, a in parts])


SELECTIONS = {
    "/": None,
    "/entry": None,
    DET: None,
    "/entry/data/data": np.s_[()],
    "/entry/data/soft": np.s_[1:3, ::4],
    f"{DET}/pixel_mask": np.s_[10:30, 5:],
    f"{DET}/pixels": np.s_[()],
    f"{DET}/distance": np.s_[()],
    f"{DET}/empty": np.s_[()],
    f"{DET}/modules": np.s_[()],
    "/entry/data/vds": np.s_[()],
    "/entry/diamond/data/data": np.s_[1:5],
    "/entry/dectris/data/data_000002": np.s_[()],
    "/entry/data/external": None,
}


def test_objects_read_the_same_in_a_child(master):
    with fastchunk.File(master, "r", num_threads=3) as f, h5py.File(master, "r") as h:
        objs = [f if name == "/" else f[name] for name in SELECTIONS]
        got = in_child([(obj, sel) for obj, sel in zip(objs, SELECTIONS.values())])
        for (name, sel), obj, d in zip(SELECTIONS.items(), objs, got):
            assert d["type"] == f"{type(obj).__module__}.{type(obj).__qualname__}", name
            assert d["file"] == (str(master), "r", f.options, False, 3), name
            assert d["name"] == h[name].name, name
            if sel is None:
                assert d["keys"] == list(h[name].keys()) and d["attrs"].keys() == h[name].attrs.keys()
                continue
            assert (d["shape"], d["dtype"]) == (h[name].shape, h[name].dtype), name
            want = h[name][sel]
            if isinstance(want, np.ndarray) and want.dtype.hasobject:  # vlen strings
                assert d["data"].dtype == want.dtype and d["data"].tolist() == want.tolist()
            elif isinstance(want, np.ndarray):
                assert_identical(d["data"], want)
            elif isinstance(want, h5py.Empty):
                assert isinstance(d["data"], h5py.Empty) and d["data"].dtype == want.dtype
            else:
                assert type(d["data"]) is type(want) and d["data"] == want, name
    types = {d["type"] for d in got}
    assert {"fastchunk.file.File", "fastchunk.file.Group", "fastchunk.dataset.Dataset",
            "fastchunk.virtual.VirtualDataset"} <= types


def test_options_travel(master):
    """h5py's read options and fastchunk's own reach the reopened file."""
    opts = dict(num_threads=2, strict=False, io_inflight_bytes=1 << 20, rdcc_nbytes=1 << 22,
                locking=False)
    with fastchunk.File(master, **opts) as f:
        (d,) = in_child([(f["/entry/data/data"], np.s_[2])])
    filename, mode, options, closed, threads = d["file"]
    assert options == {**opts, "swmr": False} and threads == 2 and not closed


def test_frames_and_stacks_read_the_same_in_a_child(series):
    dectris, diamond = series
    want = dectris_frames_h5py(dectris)
    with h5py.File(diamond, "r") as h:
        want_diamond = h["/entry/data/data"][()]
    with fastchunk.open_nxmx(dectris) as frames, fastchunk.open_nxmx(diamond) as dframes:
        assert isinstance(frames.dataset, fastchunk.VirtualDataset) and frames.dataset.h5 is None
        assert_identical(frames[()], want)  # in this process too
        got = in_child([(frames, np.s_[()]), (frames.dataset, np.s_[3:9, ::2]),
                        (dframes, np.s_[()]), (dframes.dataset, np.s_[-1])])
    assert [d["type"] for d in got] == ["fastchunk.nxmx.Frames", "fastchunk.virtual.VirtualDataset",
                                        "fastchunk.nxmx.Frames", "fastchunk.virtual.VirtualDataset"]
    assert_identical(got[0]["data"], want)
    assert_identical(got[1]["data"], want[3:9, ::2])
    assert_identical(got[2]["data"], want_diamond)
    assert_identical(got[3]["data"], want_diamond[-1])
    assert len(want) == 11


def test_spawned_worker_process(master, series):
    """What dask's process schedulers do: send the object to a spawned process, read there."""
    dectris, _ = series
    with fastchunk.File(master) as f, fastchunk.open_nxmx(dectris) as frames, \
            h5py.File(master, "r") as h:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            a = pool.apply(operator.getitem, (f["/entry/data/vds"], np.s_[2:7]))
            b = pool.apply(np.asarray, (f[f"{DET}/lzf"],))
            c = pool.apply(operator.getitem, (frames, np.s_[8:11]))
        assert_identical(a, h["/entry/data/vds"][2:7])
        assert_identical(b, h[f"{DET}/lzf"][()])
        assert_identical(c, dectris_frames_h5py(dectris)[8:11])


def test_copies_are_independent(master):
    """An unpickled copy has a File of its own: closing either leaves the other readable."""
    f = fastchunk.File(master)
    ds = f["/entry/data/data"]
    copy = pickle.loads(pickle.dumps(ds))
    copy2 = cloudpickle.loads(cloudpickle.dumps(ds))  # what dask.distributed may use
    assert copy.file is not f and copy2.file is not f and copy.file is not copy2.file
    assert copy == ds and copy.path == ds.path and copy.file.mode == "r"
    f.close()
    assert_identical(copy[()], copy2[()])
    copy.file.close()
    assert_identical(copy2[1], h5py.File(master, "r")["/entry/data/data"][1])
    copy2.file.close()


def test_pickles_are_small(master, series):
    """A pickle names the file and the object; it carries no data."""
    with fastchunk.File(master) as f, fastchunk.open_nxmx(series[0]) as frames:
        for obj in (f, f["/entry/data/data"], f["/entry/data/vds"], frames, frames.dataset):
            assert len(pickle.dumps(obj)) < 1024, obj


def test_closed_objects_refuse_to_pickle(master, series):
    f = fastchunk.File(master)
    objs = [f, f["/entry"], f["/entry/data/data"], f["/entry/data/vds"],
            f["/entry/diamond/data/data"], f["/entry/dectris/data/data_000001"]]
    frames = fastchunk.open_nxmx(series[0])
    objs += [frames, frames.dataset]
    f.close()
    frames.close()
    for obj in objs:
        with pytest.raises(fastchunk.FileClosedError, match="closed"):
            pickle.dumps(obj)
        with pytest.raises(fastchunk.FileClosedError):
            cloudpickle.dumps(obj)


def test_unpickling_a_file_that_is_gone_raises_as_opening(tmp_path, master):
    """The copy reopens by name: if the file went away, unpickling fails as File() would."""
    import shutil
    path = shutil.copy(master, tmp_path / "gone.h5")
    with fastchunk.File(path) as f:
        blob = pickle.dumps(f["/entry/instrument"])
    (tmp_path / "gone.h5").unlink()
    with pytest.raises(FileNotFoundError):
        pickle.loads(blob)
