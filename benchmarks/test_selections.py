"""Slabs of a chunked volume and whole reads of tiny-chunk files: fastchunk and h5py in one
run, every result checked bit for bit against h5py.

Slabs: a (256, 256, 256) uint16 volume in (64, 64, 64) bslz4 chunks; one call reads four
one-element-thick slabs along one axis, one in each chunk layer (elements 32, 96, 160, 224),
so every slab decodes 16 chunks it has not just decoded. HDF5 2.0's default chunk cache
(8 MiB) holds exactly one layer, so h5py decodes them too; the "same slab again" row shows
what h5py's cache gives when a program rereads what it just read.
Tiny chunks: 300,000 chunks of (1,) float64 and 10,000 chunks of (100,) float64, unfiltered;
one call opens the file, reads ds[:] and closes it, so fastchunk's time includes building its
chunk index.

Smoke run: a (128, 128, 128) volume and 3,000 / 100 tiny chunks.
"""
import h5py
import numpy as np
import pytest

import fastchunk
from bench_support import assert_identical, benchmarks_disabled, timed
from fastchunk import testing

RANK_H5PY, RANK_H5PY_CACHED, RANK_FC = 0, 1, 3
LAYERS = (32, 96, 160, 224)


@pytest.fixture(scope="session")
def volume(request, tmp_path_factory):
    n = 128 if benchmarks_disabled(request.config) else 256
    data = testing.eiger_frames(n, shape=(n, n), dtype=np.uint16)
    path = testing.write_dataset(tmp_path_factory.getbasetemp() / f"volume_{n}.h5", "v", data,
                                 (64, 64, 64), "bslz4")
    return path, data


def _slabs(axis, n):
    return [(slice(None),) * axis + (k,) for k in LAYERS if k < n]


def _slab_case(benchmark, volume, axis, reader):
    path, data = volume
    sels = _slabs(axis, data.shape[0])
    slab_bytes = data.nbytes // data.shape[0] * len(sels)
    common = dict(decoded_bytes=slab_bytes, frames=len(sels))
    if reader == "h5py":
        with h5py.File(path, "r") as f:
            ds = f["v"]
            got = timed(benchmark, lambda: [ds[s] for s in sels], label="h5py ds[slab], 4 chunk layers",
                        rank=RANK_H5PY, threads=1, baseline=True, **common)
    elif reader == "h5py-cached":
        with h5py.File(path, "r") as f:
            ds = f["v"]
            got = timed(benchmark, lambda: [ds[s] for s in sels[:1] * len(sels)],
                        label="h5py, the same slab again (its chunk cache)", rank=RANK_H5PY_CACHED,
                        threads=1, **common)
            sels = sels[:1] * len(sels)
    else:
        with fastchunk.File(path) as f:
            ds = f["v"]
            assert ds.native, ds.reason
            got = timed(benchmark, lambda: [ds[s] for s in sels], label="fastchunk ds[slab], 4 chunk layers",
                        rank=RANK_FC, threads=f.num_threads, **common)
    for g, s in zip(got, sels):
        assert_identical(g, np.ascontiguousarray(data[s]))


AXES = pytest.mark.parametrize("axis", [0, 1, 2])


def _slab_group(benchmark, axis):
    benchmark.group = f"slab axis {axis}: 256^3 u16, 64^3 bslz4 chunks"


@AXES
def test_slab_h5py(benchmark, volume, axis):
    _slab_group(benchmark, axis)
    _slab_case(benchmark, volume, axis, "h5py")


@AXES
def test_slab_h5py_cached(benchmark, volume, axis):
    _slab_group(benchmark, axis)
    _slab_case(benchmark, volume, axis, "h5py-cached")


@AXES
def test_slab_fastchunk(benchmark, volume, axis):
    _slab_group(benchmark, axis)
    _slab_case(benchmark, volume, axis, "fastchunk")


@pytest.fixture(scope="session", params=[(300_000, 1), (10_000, 100)], ids=["300k-x1", "10k-x100"])
def tiny(request, tmp_path_factory):
    nchunks, size = request.param
    if benchmarks_disabled(request.config):
        nchunks //= 100
    data = np.arange(nchunks * size, dtype="f8") * 0.5
    path = testing.write_dataset(tmp_path_factory.getbasetemp() / f"tiny_{nchunks}x{size}.h5", "t",
                                 data, (size,), None)
    return path, data, (nchunks, size)


def _tiny_case(benchmark, tiny, reader):
    path, data, (nchunks, size) = tiny
    benchmark.group = f"tiny chunks: {nchunks} x ({size},) f8, open + ds[:]"

    def with_h5py():
        with h5py.File(path, "r") as f:
            return f["t"][:]

    def with_fastchunk():
        with fastchunk.File(path) as f:
            return f["t"][:]

    if reader == "h5py":
        got = timed(benchmark, with_h5py, label="h5py: open, ds[:]", rank=RANK_H5PY, threads=1,
                    baseline=True, decoded_bytes=data.nbytes, frames=1)
    else:
        got = timed(benchmark, with_fastchunk, label="fastchunk: open, build index, ds[:]",
                    rank=RANK_FC, threads=fastchunk.default_num_threads(),
                    decoded_bytes=data.nbytes, frames=1)
    assert_identical(got, data)


def test_tiny_h5py(benchmark, tiny):
    _tiny_case(benchmark, tiny, "h5py")


def test_tiny_fastchunk(benchmark, tiny):
    _tiny_case(benchmark, tiny, "fastchunk")
