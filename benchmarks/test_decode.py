"""One stored bslz4 chunk (a whole frame) decoded on one thread: fastchunk's decoder against the
bitshuffle package, for each synthetic size and the real Eiger 4M frame, checked against h5py.

Timings:  python benchmarks/report.py          (or: pytest benchmarks/test_decode.py --benchmark-enable)
Smoke:    pytest benchmarks -q --benchmark-disable -p no:cacheprovider
"""
import bitshuffle
import numpy as np

from bench_support import BITSHUFFLE, assert_identical, timed
from fastchunk import _native


def _measure(benchmark, sample, fn, label, rank, **kw):
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=sample.ref.nbytes,
                 stored_bytes=sample.raw.nbytes, frames=1, threads=1, **kw)


def _layout(sample):
    return _native.Layout(sample.chunk_shape, sample.dtype.itemsize, [(BITSHUFFLE, sample.cd)])


def test_bitshuffle_decompress_lz4(benchmark, chunk_sample):
    """The baseline (OMP_NUM_THREADS=1, so one thread): it always returns a fresh array."""
    s = chunk_sample
    # Filter 32008's 12-byte header: big-endian decoded size (8 bytes), block size in bytes (4).
    block = int.from_bytes(s.raw[8:12].tobytes(), "big") // s.dtype.itemsize
    stream = s.raw[12:]
    got = _measure(benchmark, s,
                   lambda: bitshuffle.decompress_lz4(stream, s.chunk_shape, s.dtype, block),
                   "bitshuffle.decompress_lz4, fresh array", 0, baseline=True)
    assert_identical(got, s.ref)


def test_fastchunk_decode_chunk(benchmark, chunk_sample):
    s = chunk_sample
    layout, out = _layout(s), np.empty(s.chunk_shape, s.dtype)
    _measure(benchmark, s, lambda: _native.decode_chunk(layout, s.raw, out),
             "fastchunk _native.decode_chunk, reused out", 1)
    assert_identical(out, s.ref)


def test_fastchunk_decode_chunk_fresh(benchmark, chunk_sample):
    """Like the baseline, pays for a new output array every call."""
    s = chunk_sample
    layout = _layout(s)
    got = _measure(benchmark, s,
                   lambda: _native.decode_chunk(layout, s.raw, np.empty(s.chunk_shape, s.dtype)),
                   "fastchunk _native.decode_chunk, fresh array", 2)
    assert_identical(got, s.ref)
