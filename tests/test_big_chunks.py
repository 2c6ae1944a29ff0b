"""Bitshuffle chunks of 4 MiB and more: the kernels write them into the caller's array with
non-temporal stores (aligned, or shifted by 16 bytes at numpy's usual 16 mod 32); every other
alignment, and every destination that is scratch (partial decode, byte-order conversion), takes
plain stores. All of them must give the same bytes as bitshuffle and h5py."""
import bitshuffle
import numpy as np
import pytest
from conftest import assert_identical, h5py_read

import fastchunk
from fastchunk import codecs, testing

BIG = {np.uint16: (2048, 1100), np.uint32: (1100, 1000)}  # 4.5 and 4.4 MB, over STREAM_MIN_BYTES


def _frames(dtype, n=2):
    frames = testing.eiger_frames(n, shape=BIG[dtype], dtype=dtype)
    frames[0, 100:140] = np.random.default_rng(7).integers(0, np.iinfo(dtype).max, (40, frames.shape[2]),
                                                           dtype=dtype)  # every byte plane busy
    return frames


def _at(offset, shape, dtype):
    """An uninitialised-looking array whose data starts `offset` bytes past a 64-byte boundary."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = np.full(nbytes + 128, 0xA5, np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    return buf[start:start + nbytes].view(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32])
@pytest.mark.parametrize("offset", [0, 4, 8, 16, 24, 48])
def test_decode_bslz4_any_alignment(dtype, offset, simd):
    frame = _frames(dtype, 1)[0]
    # the 12-byte header HDF5's filter puts before bitshuffle's blocks
    body = bitshuffle.compress_lz4(frame, 0).tobytes()
    stored = frame.nbytes.to_bytes(8, "big") + (8192).to_bytes(4, "big") + body
    out = _at(offset, frame.shape, dtype)
    codecs.decode_bslz4(np.frombuffer(stored, np.uint8), frame.shape, dtype, out=out)
    assert_identical(out, frame)
    body = np.frombuffer(stored, np.uint8)[12:]
    assert_identical(out, bitshuffle.decompress_lz4(body, frame.shape, np.dtype(dtype), 8192 // frame.itemsize))


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32])
@pytest.mark.parametrize("offset", [0, 16, 8])
@pytest.mark.parametrize("num_threads", [1, 2])
def test_read_big_frames_into_any_out(tmp_path, dtype, offset, num_threads, simd):
    frames = _frames(dtype)
    p = testing.write_dataset(tmp_path / "big.h5", "x", frames, (1, *frames.shape[1:]), "bslz4")
    with fastchunk.File(p, num_threads=num_threads) as f:
        ds = f["x"]
        assert ds.native, ds.reason
        out = _at(offset, frames.shape, dtype)
        ds.read((), out=out)
        assert_identical(out, frames)
        assert_identical(ds[()], h5py_read(p, "x", ()))
        # partial chunks decode into scratch first
        for sel in [np.s_[0, 90:150, 3:400:7], np.s_[:, -5:], np.s_[1, 100]]:
            assert_identical(ds[sel], h5py_read(p, "x", sel))


def test_big_endian_frames_convert_after_decode(tmp_path):
    frames = _frames(np.uint32).astype(">u4")
    p = testing.write_dataset(tmp_path / "be.h5", "x", frames, (1, *frames.shape[1:]), "bslz4")
    with fastchunk.File(p) as f:
        ds = f["x"]
        assert ds.native, ds.reason
        got = ds[()]
    assert_identical(got, h5py_read(p, "x", ()))
    assert np.array_equal(got, frames)
