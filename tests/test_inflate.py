"""Our own inflate (csrc/codecs/fc_inflate_core.c) against zlib, the oracle: every level and
strategy, window sizes, stored blocks, tiny and empty chunks, and mutated or cut streams, which
must fail cleanly or decode exactly as zlib does (never read or write out of bounds: the
sanitizer run of this suite checks that)."""
import zlib

import numpy as np
import pytest

import fastchunk
from fastchunk import _native

STRATEGIES = [zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE, zlib.Z_FIXED]


def corpora():
    rng = np.random.default_rng(7)
    pois = rng.poisson(2, 1 << 16).astype("<u2")
    shuffled = pois.view(np.uint8).reshape(-1, 2).T.copy().tobytes()
    smooth = np.cumsum(rng.normal(size=1 << 14)).astype("<f4").view(np.uint8).reshape(-1, 4).T.copy().tobytes()
    return {"empty": b"", "one": b"x", "seven": b"abcabca", "text": b"the quick brown fox " * 300,
            "random": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "zeros": bytes(70000),
            "poisson": pois.tobytes(), "poisson-shuffled": shuffled, "smooth-f4-shuffled": smooth,
            "periods": b"".join(bytes(range(p)) * (600 // p) for p in range(1, 41))}


CORPORA = corpora()


def inflate(stream, n, exact=True):
    """Decode a zlib stream into n bytes through the native deflate stage."""
    out = np.empty(max(n, 1) if exact else n, np.uint8)
    layout = _native.Layout((len(out),), 1, [(1, ())])
    return _native.decode_chunk(layout, np.frombuffer(stream, np.uint8), out).tobytes()[:n]


def compress(data, level, strategy=zlib.Z_DEFAULT_STRATEGY, wbits=15, memlevel=8):
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, memlevel, strategy)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize("name", sorted(n for n in CORPORA if CORPORA[n]))
@pytest.mark.parametrize("level", range(10))
def test_every_level_and_strategy(name, level):
    data = CORPORA[name]
    for strategy in STRATEGIES:
        assert inflate(compress(data, level, strategy), len(data)) == data


@pytest.mark.parametrize("wbits", range(9, 16))
def test_window_sizes(wbits):
    data = CORPORA["poisson"]
    for memlevel in (1, 9):
        assert inflate(compress(data, 6, wbits=wbits, memlevel=memlevel), len(data)) == data


def test_stored_blocks_and_flushes():
    data = CORPORA["random"] * 40
    c = zlib.compressobj(0)
    stream = c.compress(data[:70000]) + c.flush(zlib.Z_SYNC_FLUSH) + c.compress(data[70000:]) + c.flush()
    assert inflate(stream, len(data)) == data
    c = zlib.compressobj(6)
    pieces = [data[i:i + 999] for i in range(0, 20000, 999)]
    stream = b"".join(c.compress(p) + c.flush(zlib.Z_FULL_FLUSH) for p in pieces) + c.flush()
    assert inflate(stream, sum(map(len, pieces))) == b"".join(pieces)


def test_size_and_checksum_errors():
    data = CORPORA["text"]
    stream = compress(data, 6)
    with pytest.raises(fastchunk.ChunkDecodeError, match="deflate: data inflates past the chunk size"):
        inflate(stream, len(data) - 1)
    with pytest.raises(fastchunk.ChunkDecodeError, match="deflate"):
        inflate(stream, len(data) + 1)
    bad = bytearray(stream)
    bad[-1] ^= 1
    with pytest.raises(fastchunk.ChunkDecodeError, match="checksum mismatch: deflate: incorrect data check"):
        inflate(bytes(bad), len(data))
    with pytest.raises(fastchunk.ChunkDecodeError, match="deflate: incorrect header check"):
        inflate(b"\x78\x9d" + stream[2:], len(data))
    assert inflate(stream + b"trailing bytes", len(data)) == data  # HDF5 stops at the stream end


@pytest.mark.parametrize("name", ["text", "poisson", "poisson-shuffled", "periods"])
def test_mutated_and_cut_streams_fail_or_match_zlib(name):
    data = CORPORA[name]
    rng = np.random.default_rng(len(name))
    stream = compress(data, 4)
    for trial in range(300):
        s = bytearray(stream)
        kind = trial % 3
        if kind == 0:
            for _ in range(1 + trial % 4):
                s[int(rng.integers(0, len(s)))] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:
            s = s[:int(rng.integers(0, len(s)))]
        else:
            at = int(rng.integers(2, len(s)))
            s[at:at + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        s = bytes(s)
        try:
            want = zlib.decompress(s)
        except zlib.error:
            want = None
        try:
            got = inflate(s, len(data))
        except fastchunk.ChunkDecodeError:
            got = None
        if want is not None and len(want) == len(data):
            assert got == want
        elif want is None:
            assert got is None
