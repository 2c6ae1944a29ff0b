"""LZF (filter 32000, h5py's compression="lzf"): the C decoder against a Python model of the
format on built and mutated streams, h5py's own files, and damaged chunks in a file."""
import random

import h5py
import numpy as np
import pytest
from conftest import assert_damaged_chunk_reported, assert_identical, h5py_read

import fastchunk
from fastchunk import _native, testing

LZF = 32000


def model(stream, n):
    """The format, one byte at a time: the n decoded bytes, or None where a decoder must fail."""
    out, i = bytearray(), 0
    if not stream:
        return None
    while i < len(stream):
        c = stream[i]
        i += 1
        if c < 32:
            run = stream[i:i + c + 1]
            if len(run) < c + 1 or len(out) + c + 1 > n:
                return None
            out += run
            i += c + 1
            continue
        length = c >> 5
        if length == 7:
            if i >= len(stream):
                return None
            length += stream[i]
            i += 1
        if i >= len(stream):
            return None
        back = ((c & 31) << 8 | stream[i]) + 1
        i += 1
        if back > len(out) or len(out) + length + 2 > n:
            return None
        for _ in range(length + 2):
            out.append(out[-back])
    return bytes(out) if len(out) == n else None


def decode(stream, n):
    """fastchunk's decode through the pipeline a worker runs, or None if it raised."""
    out = np.empty(n, np.uint8)
    try:
        _native.decode_chunk(_native.Layout((n,), 1, [(LZF, ())]), np.frombuffer(bytes(stream), np.uint8), out)
    except fastchunk.ChunkDecodeError as e:
        assert "lzf" in str(e)
        return None
    return out.tobytes()


def literal(data):
    return bytes([len(data) - 1]) + bytes(data)


def backref(back, length):
    """A back reference copying length (3..264) bytes from back (1..8192) bytes back (a length
    field of 0 would make the control byte a literal run's)."""
    d, n = back - 1, length - 2
    if n < 7:
        return bytes([n << 5 | d >> 8, d & 255])
    return bytes([7 << 5 | d >> 8, n - 7, d & 255])


def random_stream(rng, n):
    """A valid stream of n decoded bytes: literal runs and back references of every reach."""
    out, made = bytearray(), 0
    while made < n:
        room = n - made
        if made == 0 or room < 3 or rng.random() < 0.3:
            k = rng.randint(1, min(32, room))
            out += literal(rng.randbytes(k))
        else:
            length = rng.randint(3, min(264, room))
            back = rng.choice([1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 100, 8192])
            out += backref(min(back, made), length)
            k = length
        made += k
    return bytes(out)


@pytest.mark.parametrize("seed", range(40))
def test_random_streams_match_the_model(seed):
    rng = random.Random(seed)
    n = rng.choice([1, 2, 17, 100, 4096, 70000])
    stream = random_stream(rng, n)
    want = model(stream, n)
    assert want is not None
    assert decode(stream, n) == want


@pytest.mark.parametrize("back", range(1, 20))
def test_overlapping_copies_near_the_end(back):
    """Every period, with copies ending at, just before and well before the chunk's end (the
    exact tail path and the wide copies that may write past their end)."""
    for tail in (0, 1, 15, 16, 17, 40):
        stream = literal(bytes(range(1, 21))) + backref(back, 264) + backref(back, 100)
        n = 20 + 264 + 100 + tail
        if tail:
            stream += literal(bytes(range(tail)))
        assert decode(stream, n) == model(stream, n)


BAD = [
    (b"", "empty"),
    (backref(1, 3), "before the start"),
    (literal(b"abc") + backref(4, 3), "before the start"),
    (bytes([31]) + b"short", "past the end of the chunk"),
    (literal(b"ab") + bytes([7 << 5]), "cut off"),
    (literal(b"ab") + bytes([1 << 5]), "cut off"),
    (literal(b"abcd") + backref(2, 50), "more bytes than the chunk"),
    (literal(b"a" * 32) * 2, "more bytes than the chunk"),
    (literal(b"abcd"), "fewer bytes than the chunk"),
]


@pytest.mark.parametrize("stream,words", BAD, ids=[w for _, w in BAD])
def test_malformed_streams(stream, words):
    out = np.empty(40, np.uint8)
    with pytest.raises(fastchunk.ChunkDecodeError, match=words):
        _native.decode_chunk(_native.Layout((40,), 1, [(LZF, ())]), np.frombuffer(stream, np.uint8), out)
    assert model(stream, 40) is None


def test_mutated_streams_agree_with_the_model():
    """Flipped, dropped and inserted bytes: the decoder fails exactly where the model does, and
    otherwise gives the model's bytes."""
    rng = random.Random(7)
    for _ in range(400):
        n = rng.choice([50, 300, 5000])
        s = bytearray(random_stream(rng, n))
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(len(s))
            op = rng.random()
            if op < 0.5:
                s[k] = rng.randrange(256)
            elif op < 0.75 and len(s) > 1:
                del s[k]
            else:
                s.insert(k, rng.randrange(256))
        assert decode(s, n) == model(s, n)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.float32, np.float64])
def test_h5py_files(tmp_path, dtype):
    data = testing.eiger_frames(4, shape=(65, 71), dtype=np.uint32)
    data = (data * 0.37).astype(dtype) if np.dtype(dtype).kind == "f" else data.astype(dtype)
    for comp in ("lzf", "shuffle+lzf", "shuffle+lzf+fletcher32"):
        p = testing.write_dataset(tmp_path / f"{comp}.h5", "x", data, (1, 33, 40), comp)
        with fastchunk.File(p) as f:
            assert f["x"].native, f["x"].reason
            for sel in [(), np.s_[2], np.s_[1:3, 40:, ::3]]:
                assert_identical(f["x"][sel], h5py_read(p, "x", sel))


def test_incompressible_chunks_are_stored_raw(tmp_path):
    """LZF cannot shrink random bytes: h5py stores those chunks unfiltered, filter_mask 1."""
    data = np.frombuffer(random.Random(3).randbytes(4 * 64 * 64), np.uint8).reshape(4, 64, 64)
    p = testing.write_dataset(tmp_path / "r.h5", "x", data, (1, 64, 64), "lzf")
    with h5py.File(p, "r") as h:
        assert h["x"].id.get_chunk_info(0).filter_mask == 1
    with fastchunk.File(p) as f:
        assert f["x"].native
        assert_identical(f["x"][()], data)


@pytest.mark.parametrize("stream,words", BAD[1:], ids=[w for _, w in BAD[1:]])
@pytest.mark.parametrize("num_threads", [1, 4])
def test_damaged_chunk_in_a_file(tmp_path, stream, words, num_threads):
    """A chunk replaced by a bad stream: ChunkDecodeError naming file, dataset, chunk, file
    offset and codec; the other chunks still read."""
    data = testing.eiger_frames(4, shape=(37, 29), dtype=np.uint32)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 37, 29), "lzf")
    if words == "more bytes than the chunk":
        stream *= 200  # the streams above are too long for 40 bytes, not for this 4292-byte chunk
    with h5py.File(p, "r+") as h:
        h["x"].id.write_direct_chunk((2, 0, 0), stream)
    assert_damaged_chunk_reported(p, (2, 0, 0), "lzf", words, {1: data[1], 3: data[3]}, num_threads)
