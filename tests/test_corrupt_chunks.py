"""Hostile bytes: corrupt bslz4 chunks and malformed LZ4 blocks raise clear errors, never crash,
and leave the engine usable for the next read."""
import os
import shutil
import struct

import h5py
import lz4.block
import numpy as np
import pytest
from conftest import assert_identical, assert_names_chunk, chunk_location, h5py_read, patch_file

import fastchunk
from fastchunk import _native, testing

NAME = "/frames/bslz4"
ODD = "/frames/odd"  # 37x41 = 1517 elements a chunk: 5 elements stored raw after the blocks
RAW = "/frames/bitshuffle"  # bitshuffle without LZ4
BAD = (2, 0, 0)  # element coordinates of the chunk the tests damage
# 64x48 u4 = 12288 bytes a chunk: one full 8192-byte bitshuffle block, one of 4096, no tail.
FRAME = (64, 48)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    p = tmp_path_factory.mktemp("corrupt") / "good.h5"
    frames = testing.eiger_frames
    testing.write_dataset(p, NAME, frames(4, shape=FRAME, dtype=np.uint32), (1,) + FRAME, "bslz4")
    testing.write_dataset(p, ODD, frames(3, shape=(37, 41), dtype=np.uint32), (1, 37, 41), "bslz4")
    return testing.write_dataset(p, RAW, frames(3, shape=FRAME, dtype=np.uint16), (1,) + FRAME, "bitshuffle")


@pytest.fixture(params=[1, 4], ids=lambda n: f"threads{n}")
def num_threads(request):
    return request.param


@pytest.fixture
def bad(good, tmp_path):
    """A copy of the good file, for one test to damage."""
    return shutil.copy(good, tmp_path / "bad.h5")


def _raw(path, name=NAME, coords=BAD):
    offset, nbytes = chunk_location(path, name, coords)
    with open(path, "rb") as fh:
        fh.seek(offset)
        return offset, fh.read(nbytes)


def _write_chunk(path, name, chunk, coords=BAD):
    """Replace a chunk's stored bytes, whatever their size (HDF5 finds room for them)."""
    with h5py.File(path, "r+") as h:
        h[name].id.write_direct_chunk(coords, chunk)


def _length(n):
    """LZ4 length extension bytes for a length already reduced by the nibble's 15."""
    return b"\xff" * (n // 255) + bytes([n % 255])


def _seq(literals, offset=None, mlen=0):
    """One LZ4 sequence; offset None makes it the last (literals only)."""
    lit = len(literals)
    m = 0 if offset is None else mlen - 4
    tok = (min(lit, 15) << 4) | (0 if offset is None else min(m, 15))
    out = bytes([tok]) + (_length(lit - 15) if lit >= 15 else b"") + bytes(literals)
    if offset is not None:
        out += struct.pack("<H", offset) + (_length(m - 15) if m >= 15 else b"")
    return out


def _decode(src, n):
    return _native.lz4_block_decode(np.frombuffer(bytes(src), np.uint8), n)


def _tokens(block):
    """(token position, match-offset position or None) of each sequence of a raw LZ4 block."""
    def length(nibble, i):
        while nibble >= 15 and block[i] == 255:
            nibble, i = nibble + 255, i + 1
        return (nibble + block[i], i + 1) if nibble >= 15 else (nibble, i)
    out, i = [], 0
    while i < len(block):
        start = i
        lit, i = length(block[i] >> 4, i + 1)
        i += lit
        out.append((start, i if i < len(block) else None))
        if i >= len(block):
            return out
        _, i = length(block[start] & 15, i + 2)
    return out


def _expect_error(path, good, num_threads, cls=fastchunk.ChunkDecodeError, name=NAME,
                  codec="bitshuffle+lz4"):
    """The damaged chunk fails alone and inside bigger reads; intact chunks of the same file
    and the whole good file still read like h5py."""
    with fastchunk.File(path, num_threads=num_threads) as f:
        ds = f[name]
        assert ds.native, ds.reason
        for sel in (np.s_[BAD[0]], np.s_[:]):
            with pytest.raises(cls) as e:
                ds[sel]
            assert isinstance(e.value, fastchunk.FastchunkError)
            assert_names_chunk(str(e.value), path, name, BAD, codec)
        # A small region decodes only the bitshuffle blocks that hold it (partial decode), so
        # damage elsewhere in the chunk may go unseen: then the region must be the true data.
        small = np.s_[BAD[0], 3:30, ::5]
        try:
            got = ds[small]
        except cls as e:
            assert_names_chunk(str(e), path, name, BAD, codec)
        else:
            assert_identical(got, h5py_read(good, name, small))
        assert_identical(ds[0], h5py_read(path, name, 0))
        assert_identical(ds[0:2], h5py_read(path, name, np.s_[0:2]))
    with fastchunk.File(good, num_threads=num_threads) as f:
        for n in (NAME, ODD, RAW):
            assert_identical(f[n][()], h5py_read(good, n))


def test_truncated_file(good, bad, num_threads):
    with h5py.File(bad, "r") as h:
        last = max((h[NAME].id.get_chunk_info(i) for i in range(4)), key=lambda c: c.byte_offset)
    offset, nbytes = chunk_location(bad, NAME, last.chunk_offset)
    with fastchunk.File(bad, num_threads=num_threads) as f:
        ds = f[NAME]
        expected = ds[0:2]
        assert len(ds.index) == 4  # HDF5 refuses to open a truncated file: index it first
        os.truncate(bad, offset + nbytes // 2)
        for sel in (np.s_[last.chunk_offset[0]], np.s_[:]):
            with pytest.raises(fastchunk.ChunkReadError) as e:
                ds[sel]
            assert isinstance(e.value, OSError)
            assert_names_chunk(str(e.value), bad, NAME, last.chunk_offset)
        assert_identical(ds[0:2], expected)
    assert_identical(expected, h5py_read(good, NAME, np.s_[0:2]))


def test_header_size_disagrees(good, bad, num_threads):
    offset, raw = _raw(bad)
    patch_file(bad, offset, struct.pack(">Q", struct.unpack(">Q", raw[:8])[0] + 4))
    _expect_error(bad, good, num_threads)


@pytest.mark.parametrize("block_bytes", [0, 4, 16, 8196, 12])
def test_block_size_not_multiple_of_8_elements(good, bad, num_threads, block_bytes):
    offset, _ = _raw(bad)
    patch_file(bad, offset + 8, struct.pack(">I", block_bytes))
    _expect_error(bad, good, num_threads)


@pytest.mark.parametrize("which", ["first", "second", "huge"])
def test_compressed_size_past_chunk_end(good, bad, num_threads, which):
    offset, raw = _raw(bad)
    c0 = struct.unpack(">I", raw[12:16])[0]
    at = 12 if which != "second" else 16 + c0
    size = 0xFFFFFFFF if which == "huge" else len(raw) - at - 4 + 1
    patch_file(bad, offset + at, struct.pack(">I", size))
    _expect_error(bad, good, num_threads)


RESIZED = {  # (dataset, new stored bytes from the old ones)
    "shorter than the header": (NAME, lambda raw: raw[:7]),
    "header only": (NAME, lambda raw: raw[:12]),
    "ends inside a block header": (NAME, lambda raw: raw[:18 + struct.unpack(">I", raw[12:16])[0]]),
    "bytes after the last block": (NAME, lambda raw: raw + b"\0\0\0\0"),
    "raw tail cut short": (ODD, lambda raw: raw[:-1]),
    "raw tail too long": (ODD, lambda raw: raw + b"\0"),
    "uncompressed chunk too short": (RAW, lambda raw: raw[:-2]),
    "uncompressed chunk too long": (RAW, lambda raw: raw + b"\0\0"),
}


@pytest.mark.parametrize("case", list(RESIZED))
def test_chunk_of_the_wrong_size(good, bad, num_threads, case):
    name, change = RESIZED[case]
    _write_chunk(bad, name, change(_raw(bad, name)[1]))
    _expect_error(bad, good, num_threads, name=name, codec="bitshuffle+lz4" if name != RAW else "bitshuffle")


def _crafted_chunk(raw, match_offset):
    """raw with its first LZ4 block replaced by: 1 literal, a match of the given offset that
    fills the 8192-byte block, 5 final literals."""
    block_bytes, c0 = struct.unpack(">II", raw[8:16])
    block = _seq(b"Z", match_offset, block_bytes - 1 - 5) + _seq(b"12345")
    return raw[:12] + struct.pack(">I", len(block)) + block + raw[16 + c0:]


def test_lz4_match_offset_before_output_start(good, bad, num_threads):
    _, raw = _raw(bad)
    # Control: the same block with offset 1 is valid, and h5py agrees with us on it.
    _write_chunk(bad, NAME, _crafted_chunk(raw, 1))
    with fastchunk.File(bad, num_threads=num_threads) as f:
        assert_identical(f[NAME][()], h5py_read(bad, NAME))
    _write_chunk(bad, NAME, _crafted_chunk(raw, 2))  # only 1 byte written when the match starts
    _expect_error(bad, good, num_threads)


def _mid_block_sequence(raw):
    """Position in the chunk of a sequence in the middle of the first block, of its match
    offset, and of the block's end."""
    c0 = struct.unpack(">I", raw[12:16])[0]
    seqs = [(t, m) for t, m in _tokens(raw[16:16 + c0]) if m is not None]
    t, m = seqs[len(seqs) // 2]
    return 16 + t, 16 + m, 16 + c0


def test_garbage_in_the_middle_of_a_block(good, bad, num_threads):
    offset, raw = _raw(bad)
    token, _, end = _mid_block_sequence(raw)
    # 0xff from a token to the block end: a literal length that never ends inside the block.
    patch_file(bad, offset + token, b"\xff" * (end - token))
    _expect_error(bad, good, num_threads)


def test_zero_match_offset_in_the_middle_of_a_block(good, bad, num_threads):
    offset, raw = _raw(bad)
    _, match, _ = _mid_block_sequence(raw)
    patch_file(bad, offset + match, b"\x00\x00")
    _expect_error(bad, good, num_threads)


# --------------------------------------------------------------------------- LZ4 blocks


MALFORMED = {
    "offset zero": (_seq(b"A", 0, 4) + _seq(b"BCDEF"), 10),
    "offset past output start": (_seq(b"0123456789", 11, 4) + _seq(b"BCDEF"), 19),
    "offset far past output start": (_seq(b"A", 0xFFFF, 4) + _seq(b"BCDEF"), 10),
    "literals past input end": (bytes([0x50]) + b"abc", 5),
    "long literals past input end": (bytes([0xF0, 40]) + b"x" * 30, 55),
    "literal length runs off the input": (bytes([0xF0]) + b"\xff" * 8, 5000),
    "match past output end": (_seq(b"A", 1, 19) + _seq(b"BCDEF"), 16),
    "literals past output end": (_seq(b"ABCDEFGH"), 7),
    "output left unfilled": (_seq(b"A", 1, 10) + _seq(b"BCDEF"), 17),
    "empty input": (b"", 0),
    "empty input, output expected": (b"", 10),
    "ends in a match": (_seq(b"A", 1, 4), 5),
    "ends inside a match offset": (bytes([0x20]) + b"AB" + b"\x01", 6),
    "match length runs off the input": (bytes([0x1F]) + b"A" + b"\x01\x00" + b"\xff" * 3, 2000),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=str)
def test_malformed_lz4_block(case):
    src, n = MALFORMED[case]
    with pytest.raises(fastchunk.ChunkDecodeError, match=r"byte offset \d+"):
        _decode(src, n)


def _inputs():
    rng = np.random.default_rng(7)
    for n in (0, 1, 4, 5, 12, 13, 16, 17, 64, 255, 1000, 4096, 65535, 65536, 65537, 100_000):
        yield f"random{n}", rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        yield f"zeros{n}", bytes(n)
        yield f"smallalphabet{n}", rng.integers(0, 3, n, dtype=np.uint8).tobytes()
        for p in (1, 2, 3, 5, 7, 8, 13, 16, 19, 20):
            period = rng.integers(0, 256, p, dtype=np.uint8).tobytes()
            yield f"period{p}_{n}", (period * (n // p + 1))[:n]
    mixed = bytearray()
    while len(mixed) < 100_000:  # runs of short periods between random stretches
        p = int(rng.integers(1, 21))
        mixed += rng.integers(0, 256, int(rng.integers(0, 50)), dtype=np.uint8).tobytes()
        mixed += rng.integers(0, 256, p, dtype=np.uint8).tobytes() * int(rng.integers(2, 200))
    yield "mixed", bytes(mixed[:100_000])


@pytest.mark.parametrize("mode", ["default", "fast", "high_compression"])
def test_valid_blocks_from_lz4(mode):
    for name, data in _inputs():
        block = lz4.block.compress(data, mode=mode, store_size=False)
        assert _decode(block, len(data)) == data, name


@pytest.mark.parametrize("p", range(1, 21))
def test_overlapping_matches(p):
    rng = np.random.default_rng(p)
    for mlen in (4, 5, 15, 18, 19, 20, 33, 270, 4099):
        head = rng.integers(0, 256, p, dtype=np.uint8).tobytes()
        # 12 final literals: the spec wants the last match to start >= 12 bytes before the end.
        tail = rng.integers(0, 256, 12, dtype=np.uint8).tobytes()
        out = bytearray(head)
        for _ in range(mlen):
            out.append(out[-p])
        block = _seq(head, p, mlen) + _seq(tail)
        expected = bytes(out) + tail
        assert lz4.block.decompress(block, uncompressed_size=len(expected)) == expected
        assert _decode(block, len(expected)) == expected, (p, mlen)


def test_truncated_and_wrong_size_blocks_fail():
    data = testing.eiger_frames(1, shape=(16, 16), dtype=np.uint16).tobytes()
    block = lz4.block.compress(data, store_size=False)
    for k in range(len(block)):
        with pytest.raises(fastchunk.ChunkDecodeError):
            _decode(block[:k], len(data))
    for n in (len(data) - 1, len(data) + 1, 0):
        with pytest.raises(fastchunk.ChunkDecodeError):
            _decode(block, n)


def test_mutated_blocks_never_crash():
    """Valid blocks with a few bytes changed, cut short or decoded to the wrong size: either
    some n bytes or ChunkDecodeError, never a crash (run it under FASTCHUNK_SANITIZE=1)."""
    rng = np.random.default_rng(11)
    for it in range(3000):
        n = int(rng.integers(1, 3000))
        alphabet = (256, 3, 2)[it % 3]
        data = rng.integers(0, alphabet, n, dtype=np.uint8).tobytes()
        block = bytearray(lz4.block.compress(data, store_size=False))
        for _ in range(int(rng.integers(1, 4))):
            block[int(rng.integers(len(block)))] = int(rng.integers(256))
        if it % 7 == 0:
            block = block[:int(rng.integers(1, len(block) + 1))]
        size = max(1, n + int(rng.integers(-3, 4))) if it % 5 == 0 else n
        try:
            assert len(_decode(block, size)) == size
        except fastchunk.ChunkDecodeError:
            pass
