"""`fastchunk verify`: every damaged chunk named (not only the first), whatever reads it (native,
h5py fallback, virtual), dangling links reported, and --h5py catching bytes that differ."""
import json
import os

import h5py
import hdf5plugin
import numpy as np
import pytest

import fastchunk
from fastchunk import testing
from fastchunk.cli import verify
from fastchunk.cli import main

FRAMES = "/entry/data/data"
LZF = "/other/lzf"
BLOSC = "/other/blosc2"  # read through h5py
GARBAGE = bytes(range(256)) * 4


@pytest.fixture
def small(tmp_path):
    p = testing.write_eiger_file(tmp_path / "small.h5", 5, (64, 48), np.uint16)
    testing.write_dataset(p, LZF, np.arange(600, dtype="i4").reshape(20, 30), (5, 30), "lzf")
    testing.write_dataset(p, BLOSC, np.arange(600, dtype="i4").reshape(20, 30), (5, 30),
                          hdf5plugin.Blosc2())
    return p


def _damage(path, name, coords, data=GARBAGE):
    with h5py.File(path, "r+") as h:
        h[name].id.write_direct_chunk(coords, data)


def _run(argv, capsys):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().out


def test_a_sound_file(small, capsys):
    status, out = _run(["verify", small, "--h5py"], capsys)
    assert status == 0, out
    for name in (FRAMES, LZF, BLOSC):
        assert f"{name}: " in out
    assert out.count(": ok") == 3 and "through h5py" in out
    assert out.rstrip().endswith("3 datasets, all readable and identical to h5py")


@pytest.mark.parametrize("batch_bytes", [1, verify.BATCH_BYTES], ids=["frame-batches", "one-batch"])
def test_every_damaged_chunk_is_named(small, capsys, monkeypatch, batch_bytes):
    monkeypatch.setattr(verify, "BATCH_BYTES", batch_bytes)
    _damage(small, FRAMES, (1, 0, 0))
    _damage(small, FRAMES, (3, 0, 0))
    status, out = _run(["verify", small], capsys)
    assert status == 1
    assert f"{FRAMES}: (5, 64, 48) uint16" in out and "2 damaged" in out
    for c in ("(1, 0, 0)", "(3, 0, 0)"):
        assert f"chunk at element {c}: ChunkDecodeError" in out
    assert "(0, 0, 0)" not in out and "(2, 0, 0)" not in out
    assert f"{LZF}: " in out and "1 with damage or differences" in out
    status, out = _run(["verify", small, FRAMES, "--json"], capsys)
    doc = json.loads(out)
    assert status == 1 and not doc["ok"] and [d["name"] for d in doc["datasets"]] == [FRAMES]
    (d,) = doc["datasets"]
    assert d["damaged_count"] == 2 and [x["where"] for x in d["damaged"]] == [
        "chunk at element (1, 0, 0)", "chunk at element (3, 0, 0)"]
    assert all(str(small) in x["error"] and "file offset" in x["error"] for x in d["damaged"])


def test_damage_in_a_dataset_read_through_h5py(small, capsys):
    _damage(small, BLOSC, (10, 0))
    status, out = _run(["verify", small, BLOSC], capsys)
    assert status == 1 and "through h5py" in out
    assert "chunk at element (10, 0): OSError" in out and "1 damaged" in out


def test_a_file_cut_short(small, tmp_path, capsys):
    """HDF5 refuses to open a cut file at all: exit status 2 and its reason, no traceback."""
    short = tmp_path / "short.h5"
    with open(small, "rb") as src, open(short, "wb") as dst:
        dst.write(src.read(os.path.getsize(small) - 100))
    status = main(["verify", str(short)])
    err = capsys.readouterr().err
    assert status == 2 and err == f"fastchunk: {short}: truncated: {os.path.getsize(short)} bytes of the {os.path.getsize(small)} bytes the superblock announces\n"


def test_virtual_dataset_names_the_frame_and_the_source(tmp_path, capsys):
    master = testing.write_diamond_master(tmp_path, n_frames=10, frames_per_file=4)
    _damage(tmp_path / "scan_000002.h5", "/data", (1, 0, 0))  # frame 5 of the VDS
    status, out = _run(["verify", master, "/entry/data/data"], capsys)
    assert status == 1
    line = next(x for x in out.splitlines() if x.strip().startswith("row 5:"))
    assert "scan_000002.h5" in line and "ChunkDecodeError" in line
    assert "1 damaged" in out


def test_dangling_external_link(tmp_path, capsys):
    master = testing.write_dectris_master(tmp_path, n_frames=10, frames_per_file=4, missing=(2,))
    status, out = _run(["verify", master], capsys)
    assert status == 1
    assert "/entry/data/data_000001 (data in " in out and "/entry/data/data_000003 (data in " in out
    assert "/entry/data/data_000002: cannot be opened: ExternalLinkError" in out
    assert out.rstrip().endswith("3 datasets, 1 with damage or differences")


def test_h5py_comparison_catches_wrong_bytes(small, capsys, monkeypatch):
    """A reader that returns wrong bytes without an error is found only by --h5py."""
    read = fastchunk.Dataset.read

    def wrong(self, sel=(), out=None, num_threads=None):
        got = read(self, sel, out, num_threads)
        if self.name == LZF:
            got.reshape(-1)[7] += 1
        return got
    monkeypatch.setattr(fastchunk.Dataset, "read", wrong)
    assert _run(["verify", small], capsys)[0] == 0
    status, out = _run(["verify", small, "--h5py"], capsys)
    assert status == 1 and "rows 0..19: not the bytes h5py reads" in out
