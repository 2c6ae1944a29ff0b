"""szip (HDF5 filter 4, h5py's compression="szip"): every integer width and both float widths,
both byte orders, both coding options, block sizes 2-32, scanlines padded to whole blocks, long
chunks of many scanlines, reduced-precision types, pipelines with shuffle, fletcher32 and
deflate; checked byte for byte against h5py (libaec). Hand-built streams pin the rarer codes
(second extension, zero runs to the end of a segment); damaged chunks give a ChunkDecodeError
naming the chunk; mutated chunks never crash."""
import h5py
import numpy as np
import pytest
from conftest import (assert_damaged_chunk_reported, assert_identical, assert_native_like_h5py,
                      edit_stored_chunk)

import fastchunk
from fastchunk import _native
from fastchunk.plan import filters

INTS = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"]
SHAPE, CHUNKS = (5, 37, 23), (2, 16, 16)  # edge chunks on every axis
SELS = ((), np.s_[3], np.s_[1:4, 5:30:3, ::2])
OPTIONS = [("nn", 8), ("ec", 8), ("nn", 32), ("ec", 16)]


def detector_like(dtype, shape, rng):
    """Each chunk type the coder picks a different option for: smooth counts (split codes),
    zeros (zero blocks), a constant (second extension), noise over the whole range
    (uncompressed blocks)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        a = rng.normal(100, 3, shape)
    else:
        info = np.iinfo(dtype)
        a = rng.poisson(4, shape) * np.arange(shape[-1]) // 4 + (info.min if info.min < 0 else 0) // 2
    a = a.astype(dtype)
    a[0, :16, :16] = 0
    a[1, :16, :16] = a.flat[5]
    region = a[2, :16, :16]
    noise = rng.integers(0, 256, region.shape + (dtype.itemsize,), dtype=np.uint8)
    region[...] = noise.view(dtype)[..., 0]
    if dtype.kind == "f":
        region[~np.isfinite(region)] = 1.5
    return a


def write(path, data, opts, chunks=CHUNKS, **kw):
    with h5py.File(path, "w") as h:
        h.create_dataset("x", data=data, chunks=chunks, compression="szip", compression_opts=opts, **kw)
    return path


def check(path, sels=SELS):
    assert_native_like_h5py(path, "/x", sels, "szip")


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: f"{o[0]}{o[1]}")
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("kind", INTS + ["f4", "f8"])
def test_every_type_and_option(tmp_path, kind, order, opts):
    """32- and 64-bit pixels are coded as their bytes plane by plane, the others as samples of
    their width; big-endian data is coded most significant byte first."""
    data = detector_like(order + kind, SHAPE, np.random.default_rng(len(kind) + ord(order)))
    check(write(tmp_path / "a.h5", data, opts))


@pytest.mark.parametrize("block", [2, 4, 6, 10, 12, 14, 18, 20, 26, 30, 32])
@pytest.mark.parametrize("kind", ["u2", "f8"])
@pytest.mark.parametrize("coding", ["nn", "ec"])
def test_block_sizes_and_padded_scanlines(tmp_path, block, kind, coding):
    """A 50-pixel scanline is a whole number of blocks only for some block sizes: libaec pads
    the others (with the last pixel under NN, zeros otherwise) and drops the padding."""
    data = detector_like(kind, (3, 7, 50), np.random.default_rng(block))
    path = write(tmp_path / "b.h5", data, (coding, block), chunks=(2, 3, 50))
    with h5py.File(path) as h:
        assert h["x"].id.get_create_plist().get_filter(0)[2][3] == 50
    check(path, ((), np.s_[2], np.s_[:, 1:6:2, 7:]))


@pytest.mark.parametrize("length,block", [(10000, 32), (10000, 8), (1000, 32), (4099, 10)])
def test_long_chunks_of_many_scanlines(tmp_path, length, block):
    """HDF5 cuts a long fastest dimension into scanlines of at most 128 blocks (and at most 4096
    pixels): many reference samples per chunk, and a last scanline that stops short."""
    rng = np.random.default_rng(length)
    data = np.cumsum(rng.integers(-3, 4, (3, length)), axis=1).astype("<i2")
    data[1, 100:3000] = 0  # zero runs reaching segment and scanline ends
    path = write(tmp_path / "l.h5", data, ("nn", block), chunks=(2, length))
    check(path, ((), np.s_[1, 50:4000:7]))


@pytest.mark.parametrize("base,precision", [("u2", 12), ("i2", 9), ("u4", 24), ("u4", 17), ("u1", 5)])
def test_reduced_precision_types(tmp_path, base, precision):
    """HDF5 codes a type of fewer significant bits with that many bits per pixel, in the
    smallest of 1, 2 or 4 bytes that holds them. Reading such a type takes HDF5's conversion
    (signed values are sign-extended), so the dataset goes through h5py; the decoder is checked
    on its chunks directly."""
    tid = h5py.h5t.py_create(np.dtype("<" + base)).copy()
    tid.set_precision(precision)
    rng = np.random.default_rng(precision)
    lo = -(1 << (precision - 1)) if base.startswith("i") else 0
    data = rng.integers(lo, lo + (1 << precision), (6, 40)).astype(base)
    path = tmp_path / "p.h5"
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((4, 20))
    dcpl.set_szip(h5py.h5z.SZIP_NN_OPTION_MASK, 8)
    with h5py.File(path, "w") as h:
        dsid = h5py.h5d.create(h.id, b"x", tid, h5py.h5s.create_simple(data.shape), dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
        cd = h["x"].id.get_create_plist().get_filter(0)[2]
        assert cd[2] == precision
        chunks = {c: h["x"].id.read_direct_chunk(c) for c in [(0, 0), (0, 20), (4, 0), (4, 20)]}
    with fastchunk.File(path) as f:
        assert not f["x"].native and "significant bits" in f["x"].reason
        assert_identical(f["x"][()], data)
    layout = _native.Layout((4, 20), data.itemsize, [(filters.SZIP, filters._szip_spec(cd)[0])])
    for (r, c), (mask, raw) in chunks.items():
        assert mask == 0
        out = np.empty((4, 20), base)
        _native.decode_chunk(layout, np.frombuffer(raw, np.uint8), out)
        if base.startswith("i"):  # the stored bits, sign-extended as HDF5 converts them
            shift = 8 * data.itemsize - precision
            out = ((out << shift) >> shift).astype(base)
        assert_identical(out[:6 - r], data[r:r + 4, c:c + 20])


def _pipeline(path, data, chunks, steps):
    """A dataset whose filters are applied in the order of steps (write order)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    for step in steps:
        {"shuffle": dcpl.set_shuffle, "fletcher32": dcpl.set_fletcher32,
         "deflate": lambda: dcpl.set_deflate(4),
         "szip": lambda: dcpl.set_szip(h5py.h5z.SZIP_NN_OPTION_MASK, 16)}[step]()
    with h5py.File(path, "w") as h:
        dsid = h5py.h5d.create(h.id, b"x", h5py.h5t.py_create(data.dtype), h5py.h5s.create_simple(data.shape),
                               dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
    return path


@pytest.mark.parametrize("steps", [["shuffle", "szip"], ["szip", "fletcher32"],
                                   ["shuffle", "szip", "fletcher32"], ["szip", "deflate"],
                                   ["shuffle", "szip", "deflate", "fletcher32"]], ids="+".join)
def test_in_pipelines(tmp_path, steps):
    """Deflate after szip holds the szip stream, whose size is its own 4-byte header's."""
    data = detector_like("<u4", SHAPE, np.random.default_rng(9))
    check(_pipeline(tmp_path / "p.h5", data, CHUNKS, steps))


def test_unwritten_chunks_read_the_fill_value(tmp_path):
    path = tmp_path / "u.h5"
    with h5py.File(path, "w") as h:
        d = h.create_dataset("x", shape=SHAPE, dtype="<i4", chunks=CHUNKS, compression="szip",
                             fillvalue=-7)
        d[1, :16, :16] = 5
        d[3] = np.arange(37 * 23).reshape(37, 23)
    check(path)


# ---------------------------------------------------------------- hand-built streams


class Bits:
    """Writes a bit stream most significant bit first, as the coder does."""

    def __init__(self):
        self.bits = []

    def put(self, value, n):
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def fs(self, count):
        return self.put(1, count + 1)

    def chunk(self, decoded_size):
        bits = self.bits + [0] * (-len(self.bits) % 8)
        body = bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))
        return np.frombuffer(decoded_size.to_bytes(4, "little") + body, np.uint8)


def _joined(*streams):
    out = Bits()
    for s in streams:
        out.bits += s.bits
    return out


def decode(stream, n, block=8, bits=8, scanline=8, nn=False):
    layout = _native.Layout((n,), 1 if bits <= 8 else 2, [(filters.SZIP, (_native.SZIP_NN if nn else 0, block, bits, scanline))])
    out = np.zeros(n * (1 if bits <= 8 else 2), np.uint8)
    _native.decode_chunk(layout, stream, out)
    return out


def test_second_extension_codes():
    """m -> the pair (x, y) with m = (x + y)(x + y + 1)/2 + y; with NN the reference takes the
    block's first place and the first code gives only y."""
    s = Bits().put(0, 3).put(1, 1)
    for m in (1, 2, 5, 0):
        s.fs(m)
    assert decode(s.chunk(8), 8).tolist() == [1, 0, 0, 1, 0, 2, 0, 0]
    s = Bits().put(0, 3).put(1, 1).put(100, 8)  # reference 100
    for m in (2, 0, 0, 1):  # y = 1, then (0, 0), (0, 0), (1, 0)
        s.fs(m)
    # NN: 100, then mapped differences 1 (-1), 0, 0, 0, 0, 1 (-1), 0
    assert decode(s.chunk(8), 8, nn=True).tolist() == [100, 99, 99, 99, 99, 99, 98, 98]


def test_zero_runs_end_at_the_scanline_or_the_segment():
    """A zero-block count of 4 (ROS) means: to the end of the scanline, or of the 64-block
    segment, whichever is first; counts past it stand for one block less."""
    raw = Bits().put(7, 3)
    for v in range(8):
        raw.put(v + 1, 8)  # one uncompressed block 1..8
    s = Bits()
    s.bits = raw.bits + Bits().put(0, 3).put(0, 1).fs(4).bits
    tail = Bits()
    for b in range(6):  # after the segment's 64 blocks, 6 more blocks 9, 10...
        tail.put(7, 3)
        for v in range(8):
            tail.put(9 + 8 * b + v, 8)
    out = decode(_joined(s, tail).chunk(8 * 70), 8 * 70,
                 scanline=8 * 70)  # 70 blocks in one scanline
    assert out[:8].tolist() == list(range(1, 9)) and not out[8:8 * 64].any()
    assert out[8 * 64:].tolist() == list(range(9, 57))
    assert decode(s.chunk(8 * 3), 8 * 3, scanline=8 * 3)[8:].tolist() == [0] * 16
    s = Bits().put(0, 3).put(0, 1).fs(6).put(7, 3)  # 6 blocks of zeros, then uncompressed
    for v in range(8):
        s.put(200 + v, 8)
    out = decode(s.chunk(8 * 7), 8 * 7, scanline=8 * 7)
    assert not out[:48].any() and out[48:].tolist() == list(range(200, 208))


def test_a_sequence_as_long_as_the_bit_window():
    """fuzz/regressions/szip/fs-filling-a-whole-window: a fundamental sequence of 63 zeros and
    its 1, starting on a byte boundary, fills a whole 64-bit window; taking it from the window
    shifted the window by 64, undefined behaviour that the sanitizer run (.ci/sanitize) aborts
    on (on x86 a shift by 0, which happened to give the right samples here)."""
    s = Bits().put(1, 3).fs(4).fs(63)  # split, k = 0: samples 4 and 63, the second byte-aligned
    for _ in range(6):
        s.fs(0)
    assert decode(s.chunk(8), 8).tolist() == [4, 63, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("stream,words", [
    (Bits().put(0, 3).put(0, 1).fs(2), "zero blocks run past the end of their scanline"),
    (Bits().put(0, 3).put(1, 1).fs(91), "second-extension code out of range"),
    (Bits().put(3, 3).fs(1).fs(0), "stream ends before the chunk does"),
])
def test_bad_streams(stream, words):
    with pytest.raises(fastchunk.ChunkDecodeError, match=words):
        decode(stream.chunk(16), 16, scanline=16)


def test_stored_size_must_be_the_chunk_size():
    stream = Bits().put(0, 3).put(0, 1).fs(0).chunk(9)
    with pytest.raises(fastchunk.ChunkDecodeError, match="stored size differs from the chunk size"):
        decode(stream, 8)


def test_parameters_libaec_cannot_decode_go_to_h5py():
    for cd in [(141, 7, 8, 16), (141, 0, 8, 16), (141, 8, 40, 16), (141, 8, 8, 0), (141, 66, 8, 16)]:
        spec, why = filters._szip_spec(cd)
        assert spec is None and "cannot decode" in why, cd
    spec, why = filters._szip_spec((141, 8, 8))
    assert spec is None and "3 cd_values" in why
    assert filters._szip_spec((177, 8, 32, 13))[0] == (_native.SZIP_MSB | _native.SZIP_NN, 8, 32, 13)


# ---------------------------------------------------------------- damaged chunks


DAMAGE = [
    (lambda b: b[:3], "4-byte header"),
    (lambda b: b[:len(b) // 2], "stream ends before the chunk does"),
    (lambda b: (len(b) * 3).to_bytes(4, "little") + b[4:], "stored size differs"),
]


@pytest.mark.parametrize("edit,words", DAMAGE, ids=[w for _, w in DAMAGE])
@pytest.mark.parametrize("num_threads", [1, 3])
def test_damaged_chunk_in_a_file(tmp_path, edit, words, num_threads):
    data = detector_like("<u2", SHAPE, np.random.default_rng(4))
    data[2, :16, :16] = np.arange(256).reshape(16, 16) * 97  # a chunk that does not compress away
    path = write(tmp_path / "bad.h5", data, ("nn", 8))
    edit_stored_chunk(path, (2, 0, 0), edit)
    assert_damaged_chunk_reported(path, (2, 0, 0), "szip", words, {0: data[0], 4: data[4]},
                                  num_threads)


@pytest.mark.parametrize("kind,opts", [("<u2", ("nn", 8)), (">f8", ("ec", 16)), ("u1", ("nn", 32))])
def test_mutated_chunks_never_crash(tmp_path, kind, opts):
    """Bit flips, cuts and splices of real chunks either decode or raise ChunkDecodeError
    (run under FASTCHUNK_SANITIZE=1 this also checks every access)."""
    data = detector_like(kind, SHAPE, np.random.default_rng(11))
    path = write(tmp_path / "m.h5", data, opts)
    with fastchunk.File(path) as f:
        layout = f["x"].native_layouts()[0]
    with h5py.File(path) as h:  # the longest chunk szip coded (others are stored as they are)
        dsid = h["x"].id
        stored = [dsid.read_direct_chunk(dsid.get_chunk_info(i).chunk_offset) for i in range(dsid.get_num_chunks())]
        raw = np.frombuffer(max((r for m, r in stored if m == 0), key=len), np.uint8)
    out = np.empty(int(np.prod(CHUNKS)) * np.dtype(kind).itemsize, np.uint8)
    rng = np.random.default_rng(0)
    failed = 0
    for _ in range(400):
        b = raw.copy()
        how = rng.integers(3)
        if how == 0:
            b[4 + rng.integers(len(b) - 4, size=3)] ^= rng.integers(1, 256, 3, dtype=np.uint8)
        elif how == 1:
            b = b[:rng.integers(4, len(b))].copy()
        else:
            b = np.concatenate([b[:4], rng.permutation(b[4:])])
        try:
            _native.decode_chunk(layout, b, out)
        except fastchunk.ChunkDecodeError:
            failed += 1
    assert 0 < failed < 400  # some mutants decode (to other values), some are caught
