"""Zstandard: HDF5 filter 32015 (hdf5plugin.Zstd) and bitshuffle with zstd blocks
(hdf5plugin.Bitshuffle(cname="zstd")), decoded by csrc/fc_zstd.c; every read checked byte for
byte against h5py + hdf5plugin; hand-built frames for what those writers never emit (raw and
RLE blocks, content checksums, skippable frames); mutated and damaged chunks give errors, never
a crash."""
import random
import struct

import h5py
import hdf5plugin
import numpy as np
import pytest
from conftest import assert_damaged_chunk_reported, assert_native_like_h5py

import fastchunk
from fastchunk import _native, testing

ZSTD = 32015
SHAPE, CHUNKS = (4, 150, 130), (1, 150, 130)


def frames(dtype, seed=0):
    data = testing.eiger_frames(SHAPE[0], shape=SHAPE[1:], dtype=np.uint32, seed=seed)
    return (data * 0.37).astype(dtype) if np.dtype(dtype).kind == "f" else data.astype(dtype)


def check(path, sels=((), np.s_[2], np.s_[1:3, 40:99, ::3], np.s_[:, 7])):
    assert_native_like_h5py(path, "/x", sels, "zstd")


@pytest.mark.parametrize("clevel", [-5, 1, 3, 9, 19, 22])
@pytest.mark.parametrize("dtype", ["u1", "<u2", "<u4", "<f4", ">f8", "<i8"])
def test_zstd_filter(tmp_path, dtype, clevel):
    p = testing.write_dataset(tmp_path / "z.h5", "x", frames(dtype, clevel % 7), CHUNKS,
                              hdf5plugin.Zstd(clevel=clevel))
    check(p)


def test_zstd_after_shuffle_with_fletcher32(tmp_path):
    p = testing.write_dataset(tmp_path / "s.h5", "x", frames("<u4"), CHUNKS, hdf5plugin.Zstd(),
                              shuffle=True, fletcher32=True)
    check(p)


@pytest.mark.parametrize("clevel", [1, 3, 12])
@pytest.mark.parametrize("nelems", [0, 256, 2048])
@pytest.mark.parametrize("dtype", ["u1", "<u2", "<u4", "<f8", "S10"])
def test_bitshuffle_zstd(tmp_path, dtype, nelems, clevel):
    data = frames("<u4") if dtype != "S10" else frames("<u4").astype("S10")
    data = data.astype(dtype)
    p = testing.write_dataset(tmp_path / "b.h5", "x", data, CHUNKS,
                              hdf5plugin.Bitshuffle(nelems=nelems, cname="zstd", clevel=clevel))
    check(p)


def test_big_frames_many_zstd_blocks(tmp_path):
    """A 4.4 MB Eiger 1M frame: many 128 KiB zstd blocks in one frame; random bytes (raw
    blocks) and zeros (RLE blocks) in others."""
    data = testing.eiger_frames(3, shape=(1065, 1030), dtype=np.uint32)
    data[1] = np.frombuffer(random.Random(1).randbytes(data[1].nbytes), np.uint32).reshape(data[1].shape)
    data[2] = 0
    p = testing.write_dataset(tmp_path / "big.h5", "x", data, (1, 1065, 1030), hdf5plugin.Zstd())
    check(p, sels=((), np.s_[1, 500:600]))
    p = testing.write_dataset(tmp_path / "bigbs.h5", "x", data, (1, 1065, 1030),
                              hdf5plugin.Bitshuffle(cname="zstd"))
    check(p, sels=((), np.s_[0, 1000:1003, 7:900]))


# ---- hand-built frames: what the HDF5 writers never emit ----

P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
M64 = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, v):
    return _rotl((acc + v * P2) & M64, 31) * P1 & M64


def xxh64(data):
    """XXH64 with seed 0, from its specification (test-side reference)."""
    n, i = len(data), 0
    if n >= 32:
        v = [(P1 + P2) & M64, P2, 0, (-P1) & M64]
        while i + 32 <= n:
            v = [_round(v[k], struct.unpack_from("<Q", data, i + 8 * k)[0]) for k in range(4)]
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for x in v:
            h = ((h ^ _round(0, x)) * P1 + P4) & M64
    else:
        h = P5
    h = (h + n) & M64
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, struct.unpack_from("<Q", data, i)[0]), 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ (struct.unpack_from("<I", data, i)[0] * P1 & M64), 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h = _rotl(h ^ (data[i] * P5 & M64), 11) * P1 & M64
        i += 1
    h = (h ^ (h >> 33)) * P2 & M64
    h = (h ^ (h >> 29)) * P3 & M64
    return h ^ (h >> 32)


def test_xxh64_reference():
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxh64(b"abc") == 0x44BC2CF5AD770999


def frame(blocks, content, checksum=False, size_field=True):
    """A single-segment frame of blocks (kind, payload): kind 0 raw, 1 RLE (payload = (byte,
    count))."""
    fhd = 0x20 | (0x04 if checksum else 0) | (0xC0 if size_field else 0)  # 8-byte size field
    out = bytearray(struct.pack("<IB", 0xFD2FB528, fhd))
    out += struct.pack("<Q", len(content)) if size_field else b""
    if not size_field:  # single segment needs a size: use a window descriptor instead
        out[4] = 0x04 if checksum else 0
        out += bytes([0x58])  # window 2^21
    for i, (kind, payload) in enumerate(blocks):
        last = i == len(blocks) - 1
        if kind == 0:
            out += struct.pack("<I", last | kind << 1 | len(payload) << 3)[:3] + payload
        else:
            byte, count = payload
            out += struct.pack("<I", last | kind << 1 | count << 3)[:3] + bytes([byte])
    if checksum:
        out += struct.pack("<I", xxh64(content) & 0xFFFFFFFF)
    return bytes(out)


def decode(raw, n):
    out = np.empty(n, np.uint8)
    _native.decode_chunk(_native.Layout((n,), 1, [(ZSTD, ())]), np.frombuffer(raw, np.uint8), out)
    return out.tobytes()


def test_raw_rle_blocks_checksums_and_skippable_frames():
    content = bytes(range(200)) + b"\x07" * 300 + b"tail"
    blocks = [(0, bytes(range(200))), (1, (7, 300)), (0, b"tail")]
    for checksum in (False, True):
        for size_field in (True, False):
            assert decode(frame(blocks, content, checksum, size_field), len(content)) == content
    skippable = struct.pack("<II", 0x184D2A53, 5) + b"12345"
    two = frame(blocks[:1], content[:200], True) + skippable + frame(blocks[1:], content[200:])
    assert decode(two, len(content)) == content


def test_checksum_mismatch_is_an_error():
    content = b"pixels" * 50
    bad = bytearray(frame([(0, content)], content, checksum=True))
    bad[-1] ^= 1
    with pytest.raises(fastchunk.ChunkDecodeError, match="checksum"):
        decode(bytes(bad), len(content))


@pytest.mark.parametrize("wrong", [-1, 1])
def test_frame_size_must_match_the_chunk(wrong):
    content = b"\x01" * 1000
    with pytest.raises(fastchunk.ChunkDecodeError, match="zstd"):
        decode(frame([(1, (1, 1000))], content), 1000 + wrong)


def _real_chunks(tmp_path):
    data = frames("<u2")
    out = []
    for comp in (hdf5plugin.Zstd(clevel=3), hdf5plugin.Zstd(clevel=19)):
        p = testing.write_dataset(tmp_path / "m.h5", "x", data, CHUNKS, comp)
        with h5py.File(p, "r") as h:
            out.append(h["x"].id.read_direct_chunk((1, 0, 0))[1])
    return out, data[1].tobytes()


def test_mutated_chunks_never_crash(tmp_path):
    """Flipped bits, changed bytes and cuts anywhere: an error or some output, never a crash
    (the sanitizer run of the suite watches the C side)."""
    chunks, want = _real_chunks(tmp_path)
    rng = random.Random(5)
    errors = 0
    for raw in chunks:
        assert decode(raw, len(want)) == want
        for _ in range(600):
            b = bytearray(raw)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b))
                b[i] = rng.randrange(256) if rng.random() < 0.5 else b[i] ^ (1 << rng.randrange(8))
            if rng.random() < 0.2:
                b = b[:rng.randrange(len(b))]
            try:
                decode(bytes(b), len(want))
            except fastchunk.ChunkDecodeError as e:
                assert "zstd" in str(e)
                errors += 1
    assert errors > 300  # most mutations are caught (the rest change literal bytes)


DAMAGE = [(lambda b: b[:len(b) // 2], "zstd"), (lambda b: b"\0" * 8 + b[8:], "zstd"),
          (lambda b: b[:4] + b"\xff" + b[5:], "zstd")]


@pytest.mark.parametrize("edit,words", DAMAGE)
@pytest.mark.parametrize("num_threads", [1, 3])
def test_damaged_chunk_in_a_file(tmp_path, edit, words, num_threads):
    data = frames("<u4")
    for name, comp in (("zstd", hdf5plugin.Zstd()), ("bszstd", hdf5plugin.Bitshuffle(cname="zstd"))):
        p = testing.write_dataset(tmp_path / f"{name}.h5", "x", data, CHUNKS, comp)
        with h5py.File(p, "r+") as h:
            mask, raw = h["x"].id.read_direct_chunk((2, 0, 0))
            h["x"].id.write_direct_chunk((2, 0, 0), edit(bytes(raw)), filter_mask=mask)
        assert_damaged_chunk_reported(p, (2, 0, 0), "zstd", words, {1: data[1], 3: data[3]}, num_threads)
