"""Blosc 1 (HDF5 filter 32001, hdf5plugin.Blosc): every codec inside it (BloscLZ, LZ4, LZ4HC,
Snappy, zlib, zstd) with no, byte and bit shuffle, element sizes 1 to 20, edge chunks, blocks
split per byte or not, leftover blocks, blocks stored out of order, pipelines; checked byte for
byte against h5py (c-blosc). BloscLZ and Snappy, our own decoders, are also checked against a
Python model of their formats on built streams; damaged chunks give a ChunkDecodeError naming
the chunk; mutated chunks never crash."""
import re
import struct

import h5py
import hdf5plugin
import numpy as np
import pytest
from conftest import (assert_damaged_chunk_reported, assert_identical, assert_native_like_h5py, edit_stored_chunk,
                      write_blosc_in_child)

import fastchunk
from fastchunk import _native
from fastchunk.plan import filters

CODECS = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"]
SHUFFLES = {"noshuffle": hdf5plugin.Blosc.NOSHUFFLE, "shuffle": hdf5plugin.Blosc.SHUFFLE,
            "bitshuffle": hdf5plugin.Blosc.BITSHUFFLE}
FORMAT = {"blosclz": 0, "lz4": 1, "lz4hc": 1, "snappy": 2, "zlib": 3, "zstd": 4}  # header bits 5-7
SHAPE, CHUNKS = (3, 300, 310), (2, 256, 256)  # edge chunks on every axis
SELS = ((), np.s_[1], np.s_[:, 10:290:7, 250:])


def detector_like(dtype, shape, rng):
    """Counts rising across the frame with zero rows and a block of noise: runs, near and far
    matches, and stretches a codec leaves stored as they are."""
    dtype = np.dtype(dtype)
    counts = rng.poisson(3, shape) + np.arange(shape[-1]) // 40
    if dtype.kind == "S":
        a = np.frombuffer((counts % 26 + 65).astype("u1").tobytes() * dtype.itemsize, dtype)[:counts.size]
        return a.reshape(shape)
    a = counts.astype(dtype)
    a[:, 50:60] = 0
    noise = rng.integers(0, 256, (shape[0], 20, shape[-1], dtype.itemsize), dtype=np.uint8)
    a[:, 100:120] = noise.view(dtype)[..., 0]
    if dtype.kind == "f":
        a[~np.isfinite(a)] = 1.5
    return a


def write(path, data, cname, mode, chunks=CHUNKS, clevel=5, **kw):
    with h5py.File(path, "w") as h:
        h.create_dataset("x", data=data, chunks=chunks, **kw,
                         compression=hdf5plugin.Blosc(cname=cname, clevel=clevel, shuffle=SHUFFLES[mode]))
    return path


def stored_chunks(path):
    """(filter_mask, bytes) of every stored chunk of /x."""
    with h5py.File(path) as h:
        d = h["x"].id
        return [d.read_direct_chunk(d.get_chunk_info(i).chunk_offset) for i in range(d.get_num_chunks())]


def streams(buf):
    """The streams of a Blosc buffer as (codec format, decoded size, stored bytes), following
    the format as fc_blosc.c reads it (for checking what a test exercised)."""
    flags, ts = buf[2], buf[3]
    nbytes, bsz, _ = struct.unpack_from("<iii", buf, 4)
    if flags & 2:
        return []
    nblocks = -(-nbytes // bsz)
    out = []
    for j, pos in enumerate(struct.unpack_from(f"<{nblocks}i", buf, 16)):
        leftover = j == nblocks - 1 and nbytes % bsz
        bsize = nbytes % bsz if leftover else bsz
        nsplits = ts if not flags & 0x10 and ts <= 16 and bsize // ts >= 128 and not leftover else 1
        for _ in range(nsplits):
            (c,) = struct.unpack_from("<i", buf, pos)
            out.append((flags >> 5, bsize // nsplits, bytes(buf[pos + 4:pos + 4 + c])))
            pos += 4 + c
    return out


@pytest.mark.parametrize("kind", ["u1", "<i2", ">u2", "<u4", "<f8", "S3", "S20"])
@pytest.mark.parametrize("shuffle", SHUFFLES)
@pytest.mark.parametrize("cname", CODECS)
def test_every_codec_shuffle_and_type(tmp_path, cname, shuffle, kind):
    """S3 splits into 3 streams per block; S20 is over the 16-byte split limit."""
    data = detector_like(kind, SHAPE, np.random.default_rng(len(kind)))
    path = write(tmp_path / "a.h5", data, cname, shuffle)
    headers = {bytes(raw[:3]) for mask, raw in stored_chunks(path) if mask == 0}
    # c-blosc gives Snappy a block only if Snappy's worst case fits in what is left of the
    # chunk: a one-stream block as big as the chunk never does, so those chunks stay unfiltered
    assert headers or (cname, kind) == ("snappy", "u1")
    assert all(h[2] >> 5 == FORMAT[cname] for h in headers), headers
    assert_native_like_h5py(path, "/x", SELS, "blosc")


@pytest.mark.parametrize("cname", CODECS)
def test_many_blocks_and_a_leftover_block(tmp_path, cname):
    """A 1-D chunk of 300001 int16 values: several full blocks of 2 streams each (1 for zstd)
    and a last, shorter block of one stream."""
    rng = np.random.default_rng(3)
    data = (rng.poisson(3, 600002) + np.arange(600002) // 1000).astype("<i2")
    path = write(tmp_path / "m.h5", data, cname, "shuffle", chunks=(300001,))
    (mask, raw), _ = stored_chunks(path)
    nbytes, bsz, _ = struct.unpack_from("<iii", raw, 4)
    assert mask == 0 and nbytes % bsz and nbytes // bsz >= 1
    assert_native_like_h5py(path, "/x", ((), np.s_[299990:300020]), "blosc")


def test_blocks_stored_out_of_order(tmp_path):
    """With BLOSC_NTHREADS the writer stores blocks as its threads finish them: the block table,
    not the order in the chunk, says where each one is."""
    rng = np.random.default_rng(5)
    data = (rng.poisson(3, 4_000_000) + np.arange(4_000_000) // 3000).astype("<i4")
    path = write_blosc_in_child(tmp_path / "t.h5", "x", data, (2_000_000,), "lz4", 1, {"BLOSC_NTHREADS": "4"},
                                clevel=9)
    tables = []
    for mask, raw in stored_chunks(path):
        nblocks = -(-struct.unpack_from("<i", raw, 4)[0] // struct.unpack_from("<i", raw, 8)[0])
        tables.append(list(struct.unpack_from(f"<{nblocks}i", raw, 16)))
    assert all(len(t) > 4 for t in tables)
    assert any(t != sorted(t) for t in tables), "the writer's threads happened to finish in order"
    assert_native_like_h5py(path, "/x", ((), np.s_[1_999_000:2_001_000]), "blosc")


@pytest.mark.parametrize("mode,cname,split", [("ALWAYS", "zstd", True), ("NEVER", "blosclz", False)])
def test_the_split_flag_not_the_codec_decides(tmp_path, mode, cname, split):
    """BLOSC_SPLITMODE overrides the writer's per-codec default; only flag 0x10 tells."""
    data = detector_like("<u4", SHAPE, np.random.default_rng(8))
    path = write_blosc_in_child(tmp_path / "s.h5", "x", data, CHUNKS, cname, 1, {"BLOSC_SPLITMODE": mode})
    flags = {raw[2] for mask, raw in stored_chunks(path) if mask == 0}
    assert flags == {FORMAT[cname] << 5 | 1 | (0 if split else 0x10)}, flags
    assert_native_like_h5py(path, "/x", SELS, "blosc")


@pytest.mark.parametrize("extra", [{"fletcher32": True}, {"shuffle": True},
                                   {"shuffle": True, "fletcher32": True}], ids=lambda e: "+".join(e))
def test_in_pipelines(tmp_path, extra):
    data = detector_like("<u2", SHAPE, np.random.default_rng(9))
    assert_native_like_h5py(write(tmp_path / "p.h5", data, "lz4", "bitshuffle", **extra), "/x", SELS, "blosc")


def test_incompressible_chunks_are_stored_unfiltered(tmp_path):
    """The filter gives up on a chunk Blosc cannot shrink; HDF5 then stores it raw with its
    filter_mask bit set."""
    rng = np.random.default_rng(1)
    data = rng.integers(0, 2**32, (4, 256), dtype=np.uint32)
    data[2:] = 7
    path = write(tmp_path / "r.h5", data, "blosclz", "noshuffle", chunks=(2, 256))
    assert sorted(mask for mask, _ in stored_chunks(path)) == [0, 1]
    assert_native_like_h5py(path, "/x", ((), np.s_[1:3, ::3]), "blosc")


def test_unwritten_chunks_read_the_fill_value(tmp_path):
    path = tmp_path / "u.h5"
    with h5py.File(path, "w") as h:
        d = h.create_dataset("x", shape=SHAPE, dtype="<i4", chunks=CHUNKS, fillvalue=-7,
                             compression=hdf5plugin.Blosc(cname="zstd"))
        d[1, :256, :256] = 5
    assert_native_like_h5py(path, "/x", SELS, "blosc")


def _layout(n, ts=1):
    return _native.Layout((n // ts,), ts, [(filters.BLOSC, ())])


def decode(buf, n, ts=1):
    out = np.empty(n, np.uint8)
    _native.decode_chunk(_layout(n, ts), np.frombuffer(bytes(buf), np.uint8), out.view(f"V{ts}"))
    return out.tobytes()


def header(flags, ts, nbytes, blocksize, total):
    return struct.pack("<BBBBiii", 2, 1, flags, ts, nbytes, blocksize, total)


def buffer(flags, ts, blocks, nbytes, blocksize):
    """A Blosc buffer from blocks, each a list of stored streams."""
    table = 16 + 4 * len(blocks)
    body, starts = b"", []
    for streams_ in blocks:
        starts.append(table + len(body))
        body += b"".join(struct.pack("<i", len(s)) + s for s in streams_)
    total = table + len(body)
    return header(flags, ts, nbytes, blocksize, total) + struct.pack(f"<{len(blocks)}i", *starts) + body


def test_a_buffer_stored_as_is_ignores_its_shuffle_flags():
    """c-blosc writes a buffer it cannot shrink behind its header (flag 0x02); the shuffle bits
    may still be set and do not apply. hdf5-blosc never keeps one, other writers may."""
    payload = bytes(range(200))
    assert decode(header(0x02 | 0x01 | 0x20, 4, 200, 200, 216) + payload, 200, 4) == payload
    with pytest.raises(fastchunk.ChunkDecodeError, match="not its header's size"):
        decode(header(0x02, 4, 200, 200, 220) + payload + bytes(4), 200, 4)


def test_streams_stored_as_is_and_bit_shuffled_blocks():
    """A stream whose stored size is its decoded size is copied; a bit-shuffled block is undone
    over whole groups of 8 elements only, a block of 9 elements was stored unshuffled."""
    plain = bytes(range(64))
    assert decode(buffer(0x10, 1, [[plain]], 64, 64), 64) == plain
    values = np.arange(16, dtype="<u2") * 257
    # row 8 * byte + bit holds that bit of that byte of every element, element i at bit i % 8
    rows = np.unpackbits(values.view(np.uint8).reshape(16, 2).T[:, None, :], axis=1, bitorder="little")
    transposed = np.packbits(rows.reshape(16, 16), axis=1, bitorder="little").tobytes()
    assert decode(buffer(0x14, 2, [[transposed]], 32, 32), 32, 2) == values.tobytes()
    odd = bytes(range(18))
    assert decode(buffer(0x14, 2, [[odd]], 18, 18), 18, 2) == odd


# ---------------------------------------------------------------- BloscLZ and Snappy models


def blosclz_model(stream, n):
    """BloscLZ one token at a time: the n decoded bytes, or None where a decoder must fail.
    Also counts the kinds of token met (for checking what real streams exercise)."""
    out, i, kinds = bytearray(), 1, {"far": 0, "extended": 0}
    if not stream:
        return None, kinds
    c = stream[0] & 31
    while True:
        if c < 32:
            run = stream[i:i + c + 1]
            if len(run) < c + 1:
                return None, kinds
            out += run
            i += c + 1
        else:
            length = c >> 5
            if length == 7:
                kinds["extended"] += 1
                while True:
                    if i >= len(stream):
                        return None, kinds
                    length += stream[i]
                    i += 1
                    if stream[i - 1] != 255:
                        break
            if i >= len(stream):
                return None, kinds
            code = stream[i]
            i += 1
            back = ((c & 31) << 8) + code + 1
            if code == 255 and c & 31 == 31:
                if i + 2 > len(stream):
                    return None, kinds
                back = (stream[i] << 8 | stream[i + 1]) + 8192
                i += 2
                kinds["far"] += 1
            if back > len(out) or i >= len(stream):
                return None, kinds
            for _ in range(length + 2):
                out.append(out[-back])
        if len(out) > n:
            return None, kinds
        if i >= len(stream):
            return (bytes(out) if len(out) == n else None), kinds
        c = stream[i]
        i += 1


def blosclz_stream(rng, n):
    """A valid BloscLZ stream of n bytes: literal runs, near and far references, extended
    lengths, overlapping periods; it starts and ends with literals."""
    out, made = bytearray([0x20 | 0]), 1
    out.append(rng.randrange(256))
    while made < n:
        room = n - made
        if room <= 12 or rng.random() < 0.3:
            k = rng.randint(1, min(32, room if room <= 12 else room - 12))
            out += bytes([k - 1]) + rng.randbytes(k)
            made += k
            continue
        length = rng.choice([3, 4, 8, 9, 40, 300, 600])
        length = min(length, room - 1)
        back = rng.choice([1, 2, 3, 5, 8, 100, 8191, 8192, 9000, 70000])
        back = min(back, made)
        if back > 8191 and length < 9:
            back = 8191
        n_ = length - 2
        if n_ < 7:
            lead = bytes([n_ << 5 | ((back - 1) >> 8 if back <= 8191 else 31)])
        else:
            ext, left = bytearray(), n_ - 7
            while left >= 255:
                ext.append(255)
                left -= 255
            ext.append(left)
            lead = bytes([7 << 5 | ((back - 1) >> 8 if back <= 8191 else 31)]) + ext
        if back <= 8191:
            out += lead + bytes([(back - 1) & 255])
        else:
            out += lead + bytes([255]) + (back - 8192).to_bytes(2, "big")
        made += length
    return bytes(out)


def blosclz_decode(stream, n):
    """fastchunk's BloscLZ in a one-stream Blosc buffer, or None if it raised."""
    try:
        return decode(buffer(0x10, 1, [[stream]], n, n), n)
    except fastchunk.ChunkDecodeError as e:
        assert "BloscLZ" in str(e) or "stream size" in str(e)
        return None


def test_real_blosclz_streams_use_far_and_extended_references(tmp_path):
    """What c-blosc writes for data repeating 9-60 kB apart: far references and long runs."""
    rng = np.random.default_rng(2)
    base = rng.integers(0, 256, 10000, dtype=np.uint8)
    smooth = (np.arange(20000) // 100 % 7).astype(np.uint8)  # BloscLZ gives up if the start does not compress
    data = np.concatenate([smooth, base, np.zeros(3000, np.uint8), base, base[:5000], smooth])
    path = write(tmp_path / "f.h5", data, "blosclz", "noshuffle", chunks=(data.size,), clevel=9)
    (mask, raw), = stored_chunks(path)
    kinds = {"far": 0, "extended": 0}
    for codec, n, stream in streams(raw):
        if len(stream) != n:
            got, k = blosclz_model(stream, n)
            assert got is not None
            kinds = {key: kinds[key] + k[key] for key in kinds}
    assert kinds["far"] and kinds["extended"], kinds
    assert_native_like_h5py(path, "/x", ((), np.s_[29990:43010]), "blosc")


def snappy_model(stream, n):
    """Raw Snappy, one element at a time: the decoded bytes, or None where a decoder must fail."""
    i, size, shift = 0, 0, 0
    while True:
        if i >= len(stream) or shift > 28:
            return None
        size |= (stream[i] & 127) << shift
        i += 1
        if not stream[i - 1] & 128:
            break
        shift += 7
    out = bytearray()
    while i < len(stream):
        tag = stream[i]
        i += 1
        if tag & 3 == 0:
            length = tag >> 2
            if length >= 60:
                k = length - 59
                if i + k > len(stream):
                    return None
                length = int.from_bytes(stream[i:i + k], "little")
                i += k
            run = stream[i:i + length + 1]
            if len(run) < length + 1:
                return None
            out += run
            i += length + 1
        else:
            if tag & 3 == 1:
                k, length, high = 1, (tag >> 2 & 7) + 4, (tag >> 5) << 8
            else:
                k, length, high = (2 if tag & 3 == 2 else 4), (tag >> 2) + 1, 0
            if i + k > len(stream):
                return None
            back = high | int.from_bytes(stream[i:i + k], "little")
            i += k
            if back == 0 or back > len(out):
                return None
            for _ in range(length):
                out.append(out[-back])
        if len(out) > n:
            return None
    return bytes(out) if len(out) == n == size else None


def varint(n):
    out = bytearray()
    while n >= 128:
        out.append(n & 127 | 128)
        n >>= 7
    return bytes(out + bytes([n]))


def snappy_stream(rng, n):
    """A valid Snappy stream of n bytes using every element form, 4-byte offsets included."""
    out, made = bytearray(varint(n)), 0
    while made < n:
        room = n - made
        if made == 0 or rng.random() < 0.3:
            k = rng.choice([1, 7, 60, 61, 300, 70000])
            k = min(k, room)
            if k <= 60:
                out.append(k - 1 << 2)
            else:
                width = (k - 1).bit_length() // 8 + 1
                out += bytes([59 + width << 2]) + (k - 1).to_bytes(width, "little")
            out += rng.randbytes(k)
            made += k
            continue
        form = rng.randint(1, 3)
        length = min(rng.randint(4, 11) if form == 1 else rng.randint(1, 64), room)
        back = rng.randint(1, min(made, 2047 if form == 1 else (65535 if form == 2 else 10**6)))
        if form == 1 and length < 4:
            form = 2
        if form == 1:
            out += bytes([(back >> 8) << 5 | (length - 4) << 2 | 1, back & 255])
        else:
            out += bytes([(length - 1) << 2 | form]) + back.to_bytes(2 if form == 2 else 4, "little")
        made += length
    return bytes(out)


def snappy_decode(stream, n):
    try:
        return decode(buffer(0x10 | 2 << 5, 1, [[stream]], n, n), n)
    except fastchunk.ChunkDecodeError as e:
        assert "Snappy" in str(e) or "stream size" in str(e)
        return None


@pytest.mark.parametrize("codec", ["blosclz", "snappy"])
def test_codec_against_its_model(codec):
    """Built streams of every token kind decode to the model's bytes; mutated and cut ones
    decode to what the model says, or fail where it fails."""
    import random
    build, model, ours, sizes = {
        "blosclz": (blosclz_stream, lambda b, n: blosclz_model(b, n)[0], blosclz_decode, [20, 100, 9000, 80000]),
        "snappy": (snappy_stream, snappy_model, snappy_decode, [1, 50, 5000, 200000])}[codec]
    rng = random.Random(7)
    for trial in range(300):
        n = rng.choice(sizes)
        stream = build(rng, n)
        if len(stream) == n:
            continue  # would be taken as a stream stored as is
        want = model(stream, n)
        assert want is not None and ours(stream, n) == want, trial
        b = bytearray(stream)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        cut = bytes(b[:rng.randrange(1, len(b))]) if trial % 2 else bytes(b)
        if len(cut) == n:
            continue
        assert ours(cut, n) == model(cut, n), trial


# ---------------------------------------------------------------- damaged chunks


def _first_stream_at(raw):
    nblocks = -(-struct.unpack_from("<i", raw, 4)[0] // struct.unpack_from("<i", raw, 8)[0])
    return struct.unpack_from("<i", raw, 16)[0] + 4 if nblocks else 16


def _scramble_first_stream(raw):
    at = _first_stream_at(raw)
    raw[at:at + 40] = bytes(range(200, 240))
    return raw


DAMAGE = [
    (lambda b: b[:10], "16-byte header"),
    (lambda b: b[:len(b) // 2], "not the chunk's"),
    (lambda b: b[:4] + struct.pack("<i", 12345) + b[8:], "header size disagrees"),
    (lambda b: b[:16] + struct.pack("<i", len(b) + 5) + b[20:], "past the end of the chunk"),
    (lambda b: b[:_first_stream_at(b) - 4] + struct.pack("<i", 1 << 30) + b[_first_stream_at(b):], "stream size out of range"),
    (lambda b: b[:2] + bytes([b[2] | 8]) + b[3:], "reserved flag"),
    (_scramble_first_stream, "corrupt"),
]


@pytest.mark.parametrize("edit,words", DAMAGE, ids=[w for _, w in DAMAGE])
@pytest.mark.parametrize("cname", ["blosclz", "lz4", "snappy", "zlib", "zstd"])
def test_damaged_chunk_in_a_file(tmp_path, cname, edit, words):
    data = detector_like("<u2", SHAPE, np.random.default_rng(4))
    path = write(tmp_path / "bad.h5", data, cname, "noshuffle")
    with h5py.File(path) as h:
        assert h["x"].id.read_direct_chunk((2, 0, 0))[0] == 0
    edit_stored_chunk(path, (2, 0, 0), edit)
    if words == "corrupt" and cname in ("zlib", "zstd"):
        words = {"zlib": "deflate", "zstd": "zstd"}[cname]
    assert_damaged_chunk_reported(path, (2, 0, 0), "blosc", words, {0: data[0], 1: data[1]},
                                  num_threads=1 + len(cname) % 3)


@pytest.mark.parametrize("cname", CODECS)
def test_mutated_chunks_never_crash(tmp_path, cname):
    """Bit flips, cuts and splices of real chunks either decode or raise ChunkDecodeError
    naming the codec and a byte offset inside the chunk (run under FASTCHUNK_SANITIZE=1 this
    also checks every access). zlib's checksum catches every mutation; the other codecs let
    some decode to other values. The intact chunk still decodes to its frame afterwards."""
    data = detector_like("<u4", (2, 200, 200), np.random.default_rng(12))
    path = write(tmp_path / "m.h5", data, cname, "shuffle", chunks=(1, 200, 200))
    with fastchunk.File(path) as f:
        layout = f["x"].native_layouts()[0]
    raw = np.frombuffer(max((r for m, r in stored_chunks(path) if m == 0), key=len), np.uint8)
    good = np.empty(200 * 200 * 4, np.uint8)
    _native.decode_chunk(layout, raw.copy(), good)
    assert any(good.tobytes() == frame.tobytes() for frame in data)
    codecs = {"blosc", {"zlib": "deflate", "zstd": "zstd"}.get(cname, "blosc")}
    out = np.empty_like(good)
    rng = np.random.default_rng(0)
    failed = other_values = 0
    for _ in range(200):
        b = raw.copy()
        how = rng.integers(3)
        if how == 0:
            b[rng.integers(len(b), size=3)] ^= rng.integers(1, 256, 3, dtype=np.uint8)
        elif how == 1:
            b = b[:rng.integers(1, len(b))].copy()
        else:
            b = np.concatenate([b[:16], rng.permutation(b[16:])])
        out[:] = 0
        try:
            _native.decode_chunk(layout, b, out)
        except fastchunk.ChunkDecodeError as e:
            failed += 1
            m = re.fullmatch(r"(corrupt chunk|checksum mismatch): (\w+): .+; byte offset (\d+)", str(e))
            assert m and m[2] in codecs and int(m[3]) <= len(b), (str(e), len(b))
        else:
            other_values += not np.array_equal(out, good)
    if cname == "zlib":
        assert failed == 200, failed
    else:
        assert 0 < failed < 200 and other_values > 0, (failed, other_values)
    _native.decode_chunk(layout, raw.copy(), out)
    assert_identical(out, good)
