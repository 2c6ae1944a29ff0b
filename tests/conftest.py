"""Shared fixtures: SIMD kernels, real-data paths, and the report header."""
import os
import pathlib

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest

import fastchunk
from fastchunk import _native

REALDATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "realdata"


def pytest_report_header(config):
    return (f"fastchunk {fastchunk.__version__}, h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}, "
            f"numpy {np.__version__}; threads {fastchunk.default_num_threads()}; SIMD kernel "
            f"{_native.simd_kernel()} (available {','.join(_native.simd_available())})")


@pytest.fixture(params=_native.simd_available())
def simd(request):
    """Run the test once per SIMD kernel set this CPU has, then restore the default."""
    before = _native.simd_kernel()
    _native.simd_select(request.param)
    yield request.param
    _native.simd_select(before)


@pytest.fixture
def realdata():
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent")
    return REALDATA


@pytest.fixture(autouse=True)
def _demo_cache(tmp_path_factory, monkeypatch):
    # Never write the demo cache into the user's home from tests.
    monkeypatch.setenv("FASTCHUNK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def h5py_read(path, name, sel=()):
    with h5py.File(path, "r") as f:
        return f[name][sel]


def assert_identical(a, b):
    """Same shape, same dtype (byte order included) and the same bytes."""
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
