"""Whole-dataset reads of Eiger-style bslz4 files: fastchunk and its peers in one run, one
pytest-benchmark group per file size, every result checked bit for bit against h5py.

Timings:  python benchmarks/report.py          (or: pytest benchmarks/test_read.py --benchmark-enable)
Smoke:    pytest benchmarks -q --benchmark-disable -p no:cacheprovider
"""
import os
import zlib

import bitshuffle
import h5py
import numpy as np
import pytest

from bench_support import DATASET, SCALING, THREADS, assert_identical, drop, timed

# report.py lists a group's rows by rank: the baseline, the peers, fastchunk, then the bounds.
RANK_H5PY_LOOP, RANK_READ_DIRECT, RANK_POOL = 0, 1, 2
RANK_FC_REUSED, RANK_FC_FRESH, RANK_FC_THREADS = 3, 4, 5
RANK_PREAD, RANK_MEMCPY = 8, 9


def _measure(benchmark, workload, fn, label, rank, threads, **kw):
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=workload.nbytes,
                 stored_bytes=workload.stored_bytes, frames=workload.frames, threads=threads, **kw)


# The frame-at-a-time readers hand each frame to use() and keep nothing, as a processing loop
# would: holding every frame instead would make them fault in fresh memory for each frame and
# look slower than they are. The same code then runs once more, untimed, checking every frame.


def test_h5py_frame_loop(benchmark, workload):
    """The baseline: what most users write, `ds[i]` for each frame (a fresh array each)."""
    with h5py.File(workload.path, "r") as f:
        dset = f[DATASET]

        def read_each(use=drop):
            for i in range(len(dset)):
                use(i, dset[i])

        _measure(benchmark, workload, read_each, "h5py ds[i] frame loop", RANK_H5PY_LOOP, 1,
                 baseline=True)
        workload.check_each(read_each)


def test_h5py_read_direct(benchmark, workload):
    """h5py's fastest whole-selection read: read_direct into a reused array."""
    out = np.empty(workload.ref.shape, workload.dtype)
    with h5py.File(workload.path, "r") as f:
        dset = f[DATASET]
        _measure(benchmark, workload, lambda: dset.read_direct(out), "h5py read_direct, reused out",
                 RANK_READ_DIRECT, 1)
    assert_identical(out, workload.ref)


def _decode_stored_chunk(fd, offset, size, frame_shape, dtype):
    """pread one bslz4 chunk and decode it with the bitshuffle package (a fresh array)."""
    raw = os.pread(fd, size, offset)
    assert len(raw) == size, f"short read at {offset}: {len(raw)} of {size} bytes"
    # HDF5 filter 32008 prefixes the block stream with a big-endian 8-byte decoded size and a
    # 4-byte block size in bytes; bitshuffle.decompress_lz4 wants the stream and elements.
    block = int.from_bytes(raw[8:12], "big") // dtype.itemsize
    return bitshuffle.decompress_lz4(np.frombuffer(raw, np.uint8, offset=12), frame_shape, dtype,
                                     block)


def test_python_pool(benchmark, workload, workload_fd, py_pool):
    """The best pure-Python parallel reader: a thread pool over pread + bitshuffle."""
    shape, dtype = workload.frame_shape, workload.dtype

    def read_each(use=drop):
        # map() submits every chunk at once and yields results in frame order.
        decoded = py_pool.map(lambda c: _decode_stored_chunk(workload_fd, *c, shape, dtype),
                              zip(workload.offsets, workload.sizes))
        for i, frame in enumerate(decoded):
            use(i, frame)

    _measure(benchmark, workload, read_each,
             f"Python pool: pread + bitshuffle.decompress_lz4, {THREADS} threads", RANK_POOL, THREADS)
    workload.check_each(read_each)


def test_fastchunk_reused_out(benchmark, workload, fc_dataset):
    out = np.empty(fc_dataset.shape, fc_dataset.dtype)
    _measure(benchmark, workload, lambda: fc_dataset.read((), out=out),
             "fastchunk ds.read((), out=out)", RANK_FC_REUSED, fc_dataset.file.num_threads)
    assert_identical(out, workload.ref)


def test_fastchunk_fresh(benchmark, workload, fc_dataset):
    got = _measure(benchmark, workload, lambda: fc_dataset[()], "fastchunk ds[()], fresh array",
                   RANK_FC_FRESH, fc_dataset.file.num_threads)
    assert_identical(got, workload.ref)


@pytest.mark.parametrize("num_threads", SCALING)
def test_fastchunk_threads(benchmark, workload, fc_dataset, num_threads):
    """Thread scaling of fastchunk into a reused out."""
    out = np.empty(fc_dataset.shape, fc_dataset.dtype)
    _measure(benchmark, workload, lambda: fc_dataset.read((), out=out, num_threads=num_threads),
             f"fastchunk num_threads={num_threads}, reused out", RANK_FC_THREADS + num_threads / 100,
             num_threads)
    assert_identical(out, workload.ref)


def test_raw_pread(benchmark, workload, workload_fd):
    """The I/O floor: pread every stored chunk into one reused buffer, no decoding."""
    buf = bytearray(workload.stored_bytes)
    views, at = [], 0
    for size in workload.sizes:
        views.append(memoryview(buf)[at:at + size])
        at += size

    def read():
        for view, offset in zip(views, workload.offsets):
            assert os.preadv(workload_fd, [view], offset) == len(view)

    _measure(benchmark, workload, read, "raw pread of the stored chunks (I/O floor)", RANK_PREAD, 1)
    assert [zlib.crc32(v) for v in views] == workload.crcs


def test_memcpy(benchmark, workload):
    """The memory ceiling for one thread: copy the decoded bytes into a reused array."""
    out = np.empty_like(workload.ref)
    _measure(benchmark, workload, lambda: np.copyto(out, workload.ref),
             "memcpy of the decoded bytes, np.copyto, 1 thread", RANK_MEMCPY, 1)
    assert_identical(out, workload.ref)


def test_memcpy_threads(benchmark, workload, py_pool):
    """The memory ceiling for the decoder's thread count (np.copyto releases the GIL)."""
    out = np.empty_like(workload.ref)
    pieces = list(zip(np.array_split(out.reshape(-1), THREADS),
                      np.array_split(workload.ref.reshape(-1), THREADS)))

    def copy():
        list(py_pool.map(lambda p: np.copyto(*p), pieces))

    _measure(benchmark, workload, copy, f"memcpy of the decoded bytes, {THREADS} threads",
             RANK_MEMCPY + 0.5, THREADS)
    assert_identical(out, workload.ref)
