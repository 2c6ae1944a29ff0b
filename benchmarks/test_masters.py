"""Detector masters: the same Eiger 4M bslz4 frames read through a Diamond-style VDS over 4 data
files, a DECTRIS-style stack of 4 data files, and straight from one data file, in one run.
Every result is checked bit for bit against h5py reading the same master.

Timings:  python benchmarks/report.py benchmarks/test_masters.py
Smoke:    pytest benchmarks -q --benchmark-disable -p no:cacheprovider
"""
from dataclasses import dataclass

import h5py
import numpy as np
import pytest

import fastchunk
from bench_support import DATASET, SIZES, THREADS, assert_identical, frame_count, timed
from fastchunk import testing

GROUP = "masters 4M-u32, 4 data files"
N_FILES = 4


@dataclass
class Masters:
    single: object    # one data file with every frame
    diamond: object   # VDS of the data files' own type (uint32)
    diamond_i32: object  # int32 VDS over the same data: the workers convert, saturating
    dectris: object   # external links, stacked by open_nxmx
    ref: np.ndarray   # the frames as h5py reads the uint32 VDS
    stored_bytes: int


@pytest.fixture(scope="module")
def masters(request, tmp_path_factory):
    n = max(N_FILES, frame_count(request.config, "4M-u32"))
    shape, dtype = SIZES["4M-u32"]
    root = tmp_path_factory.mktemp("masters")
    per_file = -(-n // N_FILES)
    kw = dict(n_frames=n, frames_per_file=per_file, shape=shape, dtype=dtype)
    single = testing.write_eiger_file(root / "single.h5", n, shape, dtype)
    diamond = testing.write_diamond_master(root / "diamond", vds_dtype=dtype, **kw)
    diamond_i32 = testing.write_diamond_master(root / "diamond_i32", vds_dtype=np.int32, **kw)
    dectris = testing.write_dectris_master(root / "dectris", **kw)
    with h5py.File(diamond) as f:
        ref = f[DATASET][()]
    with h5py.File(single) as f:
        assert_identical(f[DATASET][()], ref)  # the same frames everywhere
        stored = sum(f[DATASET].id.get_chunk_info(i).size for i in range(n))
    return Masters(single, diamond, diamond_i32, dectris, ref, stored)


def _measure(benchmark, m, fn, label, rank, threads, **kw):
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=m.ref.nbytes,
                 stored_bytes=m.stored_bytes, frames=len(m.ref), threads=threads, **kw)


@pytest.mark.benchmark(group=GROUP)
def test_h5py_vds_frame_loop(benchmark, masters):
    """The baseline: h5py reading the VDS a frame at a time (HDF5 resolves the mappings)."""
    out = np.empty_like(masters.ref)
    with h5py.File(masters.diamond) as f:
        ds = f[DATASET]

        def loop():
            for i in range(len(ds)):
                out[i] = ds[i]
        _measure(benchmark, masters, loop, "h5py VDS ds[i] frame loop", 0, 1, baseline=True)
    assert_identical(out, masters.ref)


@pytest.mark.benchmark(group=GROUP)
def test_fastchunk_single_file(benchmark, masters):
    """The bound: the same frames from one data file, no VDS."""
    out = np.empty_like(masters.ref)
    with fastchunk.File(masters.single) as f:
        ds = f[DATASET]
        _measure(benchmark, masters, lambda: ds.read((), out=out), "fastchunk one data file", 1,
                 THREADS)
    assert_identical(out, masters.ref)


@pytest.mark.benchmark(group=GROUP)
def test_fastchunk_vds(benchmark, masters):
    out = np.empty_like(masters.ref)
    with fastchunk.File(masters.diamond) as f:
        ds = f[DATASET]
        assert ds.native, ds.reason
        _measure(benchmark, masters, lambda: ds.read((), out=out), "fastchunk VDS (uint32)", 2,
                 THREADS)
    assert_identical(out, masters.ref)


@pytest.mark.benchmark(group=GROUP)
def test_fastchunk_vds_int32(benchmark, masters):
    out = np.empty(masters.ref.shape, np.int32)
    with fastchunk.File(masters.diamond_i32) as f:
        ds = f[DATASET]
        assert ds.native, ds.reason
        _measure(benchmark, masters, lambda: ds.read((), out=out),
                 "fastchunk VDS int32 over uint32", 3, THREADS)
    with h5py.File(masters.diamond_i32) as f:
        assert_identical(out, f[DATASET][()])


@pytest.mark.benchmark(group=GROUP)
def test_fastchunk_dectris_stack(benchmark, masters):
    out = np.empty_like(masters.ref)
    with fastchunk.open_nxmx(masters.dectris) as frames:
        assert frames.native
        _measure(benchmark, masters, lambda: frames.read((), out=out),
                 "fastchunk DECTRIS open_nxmx", 4, THREADS)
    assert_identical(out, masters.ref)
