"""Reading while a SWMR writer appends (File(swmr=True), ds.refresh()), with the writer in a
second process as at a beamline: appended frames read natively and bit for bit."""
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import fastchunk
from fastchunk import testing

FIRST, MORE, FRAME = 3, 4, (64, 48)

WRITER = textwrap.dedent("""
    import sys, h5py, hdf5plugin, numpy as np
    from fastchunk import testing
    d, vds = sys.argv[1], sys.argv[2] == "vds"
    frames = testing.eiger_frames({n}, shape={frame}, dtype=np.uint16)
    src = h5py.File(d + "/data.h5", "w", libver="latest")
    ds = src.create_dataset("data", shape=({first}, *{frame}), maxshape=(None, *{frame}),
                            chunks=(1, *{frame}), dtype="u2", **hdf5plugin.Bitshuffle(cname="lz4"))
    ds[:] = frames[:{first}]
    if vds:
        with h5py.File(d + "/master.h5", "w", libver="latest") as m:
            layout = h5py.VirtualLayout(shape=({first}, *{frame}), maxshape=(None, *{frame}), dtype="u2")
            vs = h5py.VirtualSource("data.h5", "data", shape=({first}, *{frame}), maxshape=(None, *{frame}))
            layout[0:h5py.h5s.UNLIMITED] = vs[0:h5py.h5s.UNLIMITED]
            m.create_virtual_dataset("data", layout, fillvalue=0)
    src.swmr_mode = True
    src.flush()
    print("written", flush=True)
    sys.stdin.readline()
    ds.resize(({n}, *{frame}))
    ds[{first}:] = frames[{first}:]
    ds.flush()
    print("appended", flush=True)
    sys.stdin.readline()
    src.close()
""").format(n=FIRST + MORE, first=FIRST, frame=FRAME)


class Writer:
    """The writer process: written (FIRST frames) on start, append() for MORE, close() ends it."""

    def __init__(self, directory, vds=False):
        self.p = subprocess.Popen([sys.executable, "-c", WRITER, str(directory), "vds" if vds else "plain"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "written"
        self.appended = False

    def append(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline().strip() == "appended"
        self.appended = True

    def close(self):
        if not self.appended:
            self.append()
        if self.p.poll() is None:
            self.p.stdin.write("end\n")
            self.p.stdin.flush()
        self.p.stdin.close()
        self.p.stdout.close()
        assert self.p.wait(timeout=60) == 0


@pytest.fixture
def writer(tmp_path):
    made = []

    def start(vds=False):
        made.append(Writer(tmp_path, vds))
        return made[-1]
    yield start
    for w in made:
        w.close()


WANT = testing.eiger_frames(FIRST + MORE, shape=FRAME, dtype=np.uint16)


def test_refresh_shows_appended_frames(tmp_path, writer):
    w = writer()
    with fastchunk.File(tmp_path / "data.h5", swmr=True) as f:
        ds = f["data"]
        assert ds.native and ds.shape == (FIRST, *FRAME)
        assert ds[()].tobytes() == WANT[:FIRST].tobytes()
        w.append()
        assert ds.shape == (FIRST, *FRAME)  # until refreshed, as in h5py
        assert ds.refresh() is ds and ds.shape == (FIRST + MORE, *FRAME) and ds.native
        assert ds[()].tobytes() == WANT.tobytes()
        assert ds[FIRST:].tobytes() == WANT[FIRST:].tobytes()


def test_open_without_swmr_says_how(tmp_path, writer):
    writer()
    with pytest.raises(OSError, match=r"swmr=True"):
        fastchunk.File(tmp_path / "data.h5")


def test_virtual_dataset_reopened_not_refreshed(tmp_path, writer):
    w = writer(vds=True)
    with fastchunk.File(tmp_path / "master.h5", swmr=True) as f:
        ds = f["data"]
        assert ds.native and ds[()].tobytes() == WANT[:FIRST].tobytes()
        w.append()
        with pytest.raises(NotImplementedError, match="open the file again"):
            ds.refresh()
    with fastchunk.File(tmp_path / "master.h5", swmr=True) as f:
        ds = f["data"]
        assert ds.native and ds.shape == (FIRST + MORE, *FRAME)
        assert ds[()].tobytes() == WANT.tobytes()


def test_chunks_reported_at_one_place_read_through_h5py(tmp_path):
    """The guard for what HDF5 reports after refreshing a VDS's sources: an index whose chunks
    share coordinates is not read natively (it would put every chunk in one place)."""
    p = tmp_path / "d.h5"
    with h5py.File(p, "w", libver="latest") as h:
        h.create_dataset("x", data=WANT, chunks=(1, *FRAME), maxshape=(None, *FRAME))
    with fastchunk.File(p, swmr=True) as f:
        ds = f["x"]
        assert ds.native
        ds.index.coords[:] = 0
        ds._check_swmr_index()
        assert not ds.native and "same coordinates" in ds.reason
        assert ds[()].tobytes() == WANT.tobytes()
