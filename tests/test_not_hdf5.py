"""fastchunk.File on paths that are not HDF5 files: NotHDF5Error (an OSError) naming the path and
what is wrong, and carrying h5py's message; the superblock's end-of-file address read for every
superblock version and behind a user block."""
import ctypes
import os
import pickle

import h5py
import numpy as np
import pytest

import fastchunk
from fastchunk import libhdf5
from fastchunk.errors import FastchunkError, NotHDF5Error
from fastchunk.superblock import diagnose


def _write(path, **kw):
    with h5py.File(path, "w", **kw) as f:
        f.create_dataset("x", data=np.arange(50_000, dtype="u4"), chunks=(1000,), compression="lzf")
    return path


def _cut(path, keep):
    size = os.path.getsize(path)
    os.truncate(path, keep)
    return size


def _refused(path):
    with pytest.raises(NotHDF5Error) as info:
        fastchunk.File(path)
    e = info.value
    assert isinstance(e, OSError) and isinstance(e, FastchunkError)
    assert e.filename == str(path) and str(e).startswith(f"{path}: {e.reason}")
    assert e.h5py_message and e.h5py_message in str(e)
    assert isinstance(e.__cause__, OSError)  # h5py's own error, chained
    return e


def test_empty_file(tmp_path):
    p = tmp_path / "empty.h5"
    p.write_bytes(b"")
    assert _refused(p).reason == "empty file (0 bytes): not an HDF5 file"


def test_text_file(tmp_path):
    p = tmp_path / "notes.h5"
    p.write_text("not a detector file\n" * 40)
    e = _refused(p)
    assert e.reason == "not an HDF5 file: no HDF5 signature at byte 0, 512, 1024, ... (800 bytes of text)"
    assert "file signature not found" in e.h5py_message


def test_binary_junk(tmp_path):
    p = tmp_path / "junk.h5"
    p.write_bytes(bytes(range(256)) * 4000)
    assert _refused(p).reason.startswith("not an HDF5 file") and "1.0 MB of data" in _refused(p).reason


def test_directory(tmp_path):
    d = tmp_path / "run.h5"
    d.mkdir()
    e = _refused(d)
    assert e.reason == "is a directory" and "\n" not in str(e)


@pytest.mark.parametrize("libver", ["earliest", "v108", "latest"])  # superblock 0, 2, 3
@pytest.mark.parametrize("userblock", [0, 1024])
def test_truncated(tmp_path, libver, userblock):
    p = _write(tmp_path / "cut.h5", libver=(libver, "latest"), userblock_size=userblock)
    with fastchunk.File(p) as f:  # whole: opens and reads
        assert f["x"][-1] == 49_999
    assert p.read_bytes()[userblock + 8] == {"earliest": 0, "v108": 2, "latest": 3}[libver]
    size = _cut(p, os.path.getsize(p) * 2 // 3)
    e = _refused(p)
    kept = os.path.getsize(p)
    assert e.reason == f"truncated: {kept / 1e6:.1f} MB of the {size / 1e6:.1f} MB the superblock announces"
    assert "truncated file" in e.h5py_message


def test_superblock_version_1(tmp_path):
    """Version 1 (a non-default B-tree K) has 4 more bytes before the addresses."""
    p = tmp_path / "v1.h5"
    lib = libhdf5.library()
    if lib is None:
        pytest.skip(libhdf5.why_unavailable())
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    lib.H5Pset_istore_k.argtypes = (ctypes.c_int64, ctypes.c_uint)
    assert lib.H5Pset_istore_k(fcpl.id, 64) >= 0  # h5py does not wrap it
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(str(p).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    with h5py.File(fid) as f:
        f.create_dataset("x", data=np.arange(50_000, dtype="u4"), chunks=(1000,))
    assert p.read_bytes()[8] == 1
    size = _cut(p, 100_000)
    assert _refused(p).reason == f"truncated: 0.1 MB of the {size / 1e6:.1f} MB the superblock announces"


def test_cut_inside_the_superblock(tmp_path):
    p = _write(tmp_path / "tiny.h5")
    _cut(p, 20)
    with pytest.raises(OSError):  # h5py's own error: nothing more to say
        fastchunk.File(p)
    assert diagnose(p) is None


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastchunk.File(tmp_path / "nope.h5")


def test_pickles():
    e = NotHDF5Error("/data/x.h5", "is a directory", "errno = 21")
    again = pickle.loads(pickle.dumps(e))
    assert (again.filename, again.reason, again.h5py_message, str(again)) == (
        e.filename, e.reason, e.h5py_message, str(e))


def test_exported():
    assert fastchunk.NotHDF5Error is NotHDF5Error
