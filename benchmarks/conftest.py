"""Benchmark fixtures: Eiger-style bslz4 files with their h5py reference, the peers' plumbing,
and the report header.

Timings (warm page cache, medians, GB/s of decoded output, ratios; a few minutes on 2 cores):
    python benchmarks/report.py
    pytest benchmarks --benchmark-enable -p no:cacheprovider      # pytest-benchmark's own tables
Smoke run (what CI does; tiny files, every result still checked bit for bit):
    pytest benchmarks -q --benchmark-disable -p no:cacheprovider
Files: synthetic Eiger 1M u16, 4M u32 and 16M u32 stacks, and the real Eiger 4M frame from
../shared/realdata repeated 50 times (skipped when absent); 50, 50, 8 and 50 frames when timing.
FASTCHUNK_BENCH_FRAMES=N overrides the frame counts: N frames for the 1M and 4M stacks and
N * 8 / 50 (at least 1) for the 16M one. FASTCHUNK_BENCH_MALLOC=default skips pinning glibc's
mmap threshold (see _pin_malloc).
"""
import importlib.util
import os
import pathlib
import sys

# HDF5 2.0's exit handler can crash the process after the run (tests/hdf5_exit.py says why);
# it must be kept out before h5py is imported.
_spec = importlib.util.spec_from_file_location(
    "hdf5_exit", pathlib.Path(__file__).resolve().parents[1] / "tests" / "hdf5_exit.py")
_hdf5_exit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_hdf5_exit)
_hdf5_exit.skip_hdf5_exit_handler()

# The Python-pool peer runs one bitshuffle call per pool thread, so bitshuffle's OpenMP must not
# start threads of its own. libgomp reads OMP_NUM_THREADS once, when bitshuffle loads it, which
# is why this comes before every import that could load bitshuffle.
_OMP_SET_TOO_LATE = "bitshuffle" in sys.modules and os.environ.get("OMP_NUM_THREADS") != "1"
os.environ["OMP_NUM_THREADS"] = "1"

import ctypes  # noqa: E402
import zlib  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import bitshuffle  # noqa: E402
import h5py  # noqa: E402
import hdf5plugin  # noqa: E402,F401  (registers filter 32008 with h5py)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastchunk  # noqa: E402
from fastchunk import _native, testing  # noqa: E402

from bench_support import (DATASET, FRAMES, REAL, REAL_EIGER, SIZES, THREADS,  # noqa: E402
                           Workload, assert_identical, benchmarks_disabled, bslz4_cd, chunk_table,
                           frame_count, sample_first_chunk, write_repeated_chunk)


def _pin_malloc():
    """Fix glibc's mmap threshold at its 32 MiB maximum; say what the allocator does.

    By default glibc moves the threshold as the process frees memory, so whether a fresh
    frame-sized array (every h5py `ds[i]`, every bitshuffle output) reuses heap memory or is
    mmapped and page-faulted again depends on what ran before: the h5py frame loop swings 2.5x
    between runs. Pinned, frames up to 32 MiB always reuse memory: repeatable, and the fastest
    the fresh-array readers can be. Larger frames (16M u32) and fastchunk's `ds[()]` still mmap.
    FASTCHUNK_BENCH_MALLOC=default leaves glibc alone (what a plain user script gets).
    """
    if os.environ.get("FASTCHUNK_BENCH_MALLOC", "pinned") == "default":
        return "glibc default (FASTCHUNK_BENCH_MALLOC=default)"
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return "platform default (no glibc mallopt)"
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    if mallopt(m_mmap_threshold, 32 << 20) == 1 and mallopt(m_trim_threshold, 1 << 30) == 1:
        return "pinned: mmap threshold 32 MiB, trim threshold 1 GiB"
    return "glibc default (mallopt refused)"


MALLOC = _pin_malloc()


def pytest_report_header(config):
    mode = "smoke run (timing disabled)" if benchmarks_disabled(config) else "timing"
    frames = ", ".join(f"{n}: {frame_count(config, n)} frames" for n in FRAMES)
    return [f"fastchunk {fastchunk.__version__} (SIMD {_native.simd_kernel()}), "
            f"h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}, hdf5plugin {hdf5plugin.version}, bitshuffle "
            f"{bitshuffle.__version__} (AVX2 {bitshuffle.using_AVX2()}), numpy {np.__version__}",
            f"benchmarks: {mode}; {frames}; {THREADS} threads for fastchunk and the parallel "
            f"peers; OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; malloc {MALLOC}; warm page cache"]


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["fastchunk_bench"] = {
        "fastchunk": fastchunk.__version__, "simd": _native.simd_kernel(), "threads": THREADS,
        "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version, "hdf5plugin": hdf5plugin.version,
        "bitshuffle": bitshuffle.__version__, "bitshuffle_avx2": bool(bitshuffle.using_AVX2()),
        "numpy": np.__version__, "omp_num_threads": os.environ["OMP_NUM_THREADS"],
        "cpu_count": os.cpu_count(), "page_cache": "warm", "malloc": MALLOC,
        "frames": {n: frame_count(config, n) for n in FRAMES},
    }


def _real_eiger():
    if not REAL_EIGER.is_file():
        pytest.skip(f"real Eiger file {REAL_EIGER} is absent")
    return REAL_EIGER


@pytest.fixture(scope="session", params=[
    pytest.param(name, marks=pytest.mark.benchmark(group=f"read {name}")) for name in FRAMES])
def workload(request, tmp_path_factory):
    """An Eiger-style file per size. pytest runs each size's tests together and then tears this
    down, so only one size's arrays are alive at a time."""
    name = request.param
    n = frame_count(request.config, name)
    path = tmp_path_factory.getbasetemp() / f"eiger_{name}_{n}.h5"
    if name == REAL:
        write_repeated_chunk(path, _real_eiger(), n)
        with h5py.File(REAL_EIGER, "r") as f:
            first = f[DATASET][0]
    else:
        shape, dtype = SIZES[name]
        testing.write_eiger_file(path, n_frames=n, shape=shape, dtype=dtype, compression="bslz4")
        first = testing.eiger_frames(1, shape, dtype)[0]
    with h5py.File(path, "r") as f:
        dset = f[DATASET]
        bslz4_cd(dset)
        ref = dset[()]  # also leaves the whole file in the page cache
        offsets, sizes = chunk_table(dset)
        crcs = [zlib.crc32(dset.id.read_direct_chunk((i, 0, 0))[1]) for i in range(n)]
    # Guard the oracle itself: h5py must return the frame that was written.
    assert_identical(ref[0], first)
    return Workload(name, path, ref, offsets, sizes, crcs)


@pytest.fixture(scope="session")
def fc_dataset(workload):
    """The workload's dataset opened by fastchunk (default threads); the native engine required."""
    with fastchunk.File(workload.path) as f:
        ds = f[DATASET]
        assert ds.native, f"{workload.path}: not native: {ds.reason}"
        yield ds


@pytest.fixture(scope="session")
def workload_fd(workload):
    """A plain read-only descriptor of the workload's file, for the pread peers."""
    fd = os.open(workload.path, os.O_RDONLY)
    yield fd
    os.close(fd)


@pytest.fixture(scope="session")
def py_pool():
    """The Python peers' thread pool, created once so no round pays for starting threads."""
    if _OMP_SET_TOO_LATE:
        pytest.fail("bitshuffle was imported before benchmarks/conftest.py set OMP_NUM_THREADS=1; "
                    "run the benchmarks on their own or export OMP_NUM_THREADS=1")
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="bench-peer") as pool:
        yield pool


@pytest.fixture(scope="session", params=[
    pytest.param(name, marks=pytest.mark.benchmark(group=f"decode 1 chunk, 1 thread: {name}"))
    for name in [*SIZES, REAL]])
def chunk_sample(request, tmp_path_factory):
    """The first frame of a synthetic file of each size, and the real Eiger 4M frame."""
    name = request.param
    if name == REAL:
        return sample_first_chunk(name, _real_eiger())
    shape, dtype = SIZES[name]
    path = tmp_path_factory.getbasetemp() / f"eiger_{name}_chunk.h5"
    testing.write_eiger_file(path, n_frames=1, shape=shape, dtype=dtype, compression="bslz4")
    return sample_first_chunk(name, path)
