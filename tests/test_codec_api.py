"""fastchunk.codecs (decode one buffer, decode_many, the detector framings) and the numcodecs
codecs, against bitshuffle, lz4 and h5py, on good and hostile buffers (the fuzz corpus)."""
import os
import pathlib
import struct
import subprocess
import sys
import textwrap
import threading
import time

import bitshuffle
import h5py
import hdf5plugin
import lz4.block
import numcodecs
import numpy as np
import pytest
from conftest import assert_identical, run_threads, sigint_timer

import fastchunk
from fastchunk import codecs, numcodecs_codecs, testing

ROOT = pathlib.Path(__file__).resolve().parents[1]
FRAME = (96, 80)


def _frame(dtype=np.uint32, shape=FRAME, seed=0):
    return testing.eiger_frames(1, shape=shape, dtype=dtype, seed=seed)[0]


def detector_bslz4(frame, block=0):
    """A frame as a DECTRIS detector sends it ("bslz4" in Stream V2, "bs32-lz4<" in V1): the
    bitshuffle filter's 12-byte header (u64 BE bytes, u32 BE block bytes) + bitshuffle's blocks."""
    block = block or codecs.default_block_size(frame.itemsize)
    body = bitshuffle.compress_lz4(np.ascontiguousarray(frame), block)
    return struct.pack(">QI", frame.nbytes, block * frame.itemsize) + body.tobytes()


def detector_lz4(frame, block_bytes=1 << 30):
    """A frame in HDF5 LZ4 filter framing (Stream V2 "lz4", dectris-compression's LZ4): u64 BE
    bytes, u32 BE block bytes, then per block a u32 BE compressed size and a bare LZ4 block."""
    raw = np.ascontiguousarray(frame).tobytes()
    out = [struct.pack(">QI", len(raw), min(block_bytes, len(raw)))]
    for at in range(0, len(raw), block_bytes):
        part = raw[at:at + block_bytes]
        c = lz4.block.compress(part, store_size=False)
        out += [struct.pack(">I", len(c)), c]
    return b"".join(out)


def _h5py_pipeline(dset):
    dcpl = dset.id.get_create_plist()
    return [dcpl.get_filter(i) for i in range(dcpl.get_nfilters())]


# -- the detector framings -------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32, np.float32])
@pytest.mark.parametrize("block", [0, 64, 1024])
def test_bslz4_as_the_detector_sends_it(dtype, block):
    frame = _frame(np.uint32).astype(dtype)
    blob = detector_bslz4(frame, block)
    want = bitshuffle.decompress_lz4(np.frombuffer(blob[12:], np.uint8), frame.shape, frame.dtype,
                                     block or codecs.default_block_size(frame.itemsize))
    assert_identical(want, frame)
    assert_identical(codecs.decode_bslz4(blob, frame.shape, dtype), frame)
    assert_identical(codecs.decode_dectris(blob, "bslz4", frame.shape, dtype), frame)
    assert_identical(codecs.decode_dectris(blob, f"bs{8 * frame.itemsize}-lz4<", frame.shape, dtype), frame)
    # bitshuffle.compress_lz4's own output, no header: block_size says how it was cut
    body = bitshuffle.compress_lz4(frame, block)
    assert_identical(codecs.decode_bslz4(body, frame.shape, dtype, block_size=block), frame)
    assert_identical(codecs.decode_bslz4(memoryview(blob), frame.shape, dtype), frame)
    assert_identical(codecs.decode_bslz4(bytearray(blob), frame.shape, dtype), frame)


@pytest.mark.parametrize("block_bytes", [1 << 30, 4096, 3000])
def test_lz4_as_the_detector_sends_it(block_bytes):
    frame = _frame(np.uint16)
    blob = detector_lz4(frame, block_bytes)
    assert_identical(codecs.decode_lz4(blob, frame.shape, frame.dtype), frame)
    assert_identical(codecs.decode_dectris(blob, "lz4", frame.shape, frame.dtype), frame)


def test_lz4_stream_v1_bare_block():
    frame = _frame(np.uint32)
    bare = lz4.block.compress(frame.tobytes(), store_size=False)
    assert_identical(codecs.decode_lz4(bare, frame.shape, frame.dtype, framing="block"), frame)
    assert_identical(codecs.decode_dectris(bare, "lz4<", frame.shape, frame.dtype), frame)
    assert_identical(codecs.decode_dectris(frame.tobytes(), "<", frame.shape, frame.dtype), frame)
    # a bare block exactly as long as what it decodes to (32004 would take it as stored raw)
    data = np.random.default_rng(0).integers(0, 256, 300, np.uint8)
    block = lz4.block.compress(data.tobytes(), store_size=False)
    trimmed = np.frombuffer(lz4.block.decompress(block, uncompressed_size=300), np.uint8)
    assert_identical(codecs.decode_lz4(block, (300,), np.uint8, framing="block"), trimmed)
    with pytest.raises(fastchunk.ChunkDecodeError) as e:
        codecs.decode_lz4(bare[:-7], frame.shape, frame.dtype, framing="block")
    assert e.value.offset is not None and 0 <= e.value.offset <= len(bare)
    with pytest.raises(ValueError, match="bs32-lz4<"):
        codecs.decode_dectris(bare, "bs32-lz4<", frame.shape, np.uint16)
    with pytest.raises(ValueError, match="unknown DECTRIS encoding"):
        codecs.decode_dectris(bare, "zstd", frame.shape, frame.dtype)


def detector_bszstd(frame):
    """bslz4's framing with zstd blocks, as dectris-compression's "bszstd" reads it."""
    block = codecs.default_block_size(frame.itemsize)
    body = bitshuffle.compress_zstd(np.ascontiguousarray(frame), block)
    return struct.pack(">QI", frame.nbytes, block * frame.itemsize) + body.tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.float32])
@pytest.mark.parametrize("encoding", ["bslz4", "bszstd", "lz4"])
def test_the_detector_framings_agree_with_dectris_compression(dtype, encoding):
    """DECTRIS's own decoder (dectris-compression, what stream consumers use) as the oracle:
    the same bytes from the same buffers, and both refuse a cut one."""
    compression = pytest.importorskip("dectris.compression", reason="dectris-compression is not installed")
    frame = _frame(np.uint32, shape=(200, 170)).astype(dtype)
    blob = {"bslz4": detector_bslz4, "bszstd": detector_bszstd,
            "lz4": lambda f: detector_lz4(f, 4096)}[encoding](frame)
    want = compression.decompress(blob, encoding, elem_size=frame.itemsize)
    assert want == frame.tobytes()
    got = codecs.decode_dectris(blob, encoding, frame.shape, dtype)
    assert got.tobytes() == want
    cut = blob[:-7]
    with pytest.raises(RuntimeError):
        compression.decompress(cut, encoding, elem_size=frame.itemsize)
    with pytest.raises(fastchunk.ChunkDecodeError):
        codecs.decode_dectris(cut, encoding, frame.shape, dtype)


def test_hdf5_lz4_filter_chunks_match_h5py(tmp_path):
    """hdf5plugin's LZ4 filter writes the framing decode_lz4 reads (several block sizes)."""
    data = testing.eiger_frames(2, shape=FRAME, dtype=np.uint32)
    for nbytes in (0, 1000, 4096):
        p = testing.write_dataset(tmp_path / f"l{nbytes}.h5", "x", data, (1, *FRAME), "lz4", block_size=nbytes)
        with h5py.File(p, "r") as f:
            _, raw = f["x"].id.read_direct_chunk((1, 0, 0))
        assert_identical(codecs.decode_lz4(raw, (1, *FRAME), np.uint32), data[1:2])


# -- decode() against h5py over every native pipeline -----------------------------------
PIPELINES = ["bslz4", "bitshuffle", "lz4", "lzf", "deflate", "shuffle+deflate+fletcher32",
             "shuffle+lzf", "bslz4+fletcher32", "fletcher32", None,
             {"compression": "szip", "compression_opts": ("nn", 8)},
             hdf5plugin.Zstd(clevel=3), hdf5plugin.Blosc(cname="lz4", shuffle=2),
             hdf5plugin.Blosc(cname="zstd", shuffle=1)]


@pytest.mark.parametrize("compression", PIPELINES, ids=repr)
@pytest.mark.parametrize("dtype", [np.uint16, ">i4", np.float64])
def test_decode_matches_h5py(tmp_path, compression, dtype):
    data = testing.eiger_frames(3, shape=(37, 41), dtype=np.uint32).astype(dtype)
    chunks = (2, 16, 24)  # edge chunks on every axis: HDF5 stores them whole
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, chunks, compression)
    with h5py.File(p, "r") as f, fastchunk.File(p) as ff:
        dset = f["x"]
        pipeline = _h5py_pipeline(dset)
        for i in range(dset.id.get_num_chunks()):
            info = dset.id.get_chunk_info(i)
            mask, raw = dset.id.read_direct_chunk(info.chunk_offset)
            region = tuple(slice(o, o + c) for o, c in zip(info.chunk_offset, chunks))
            want = data[region]
            inside = tuple(slice(0, n) for n in want.shape)
            # h5py's 4-tuples, (id, cd) pairs, and fastchunk's Pipeline
            for form in (pipeline, [(fid, cd) for fid, _, cd, _ in pipeline], ff["x"].pipeline):
                got = codecs.decode(raw, form, chunks, dset.dtype, filter_mask=mask)
                assert got.dtype == dset.dtype and got.shape == chunks
                assert_identical(got[inside], want)


def test_scaleoffset_matches_h5py(tmp_path):
    frames = testing.eiger_frames(2, shape=(37, 41), dtype=np.int32)
    for dtype, comp, so in [(np.int32, None, 0), (np.int16, "deflate", 0), (np.float32, None, 2),
                            (">f8", "shuffle", 3)]:
        data = (frames * 0.37 if np.dtype(dtype).kind == "f" else frames).astype(dtype)
        p = testing.write_dataset(tmp_path / "s.h5", "x", data, (1, 37, 41), comp, scaleoffset=so)
        with h5py.File(p, "r") as f:
            dset = f["x"]
            _, raw = dset.id.read_direct_chunk((1, 0, 0))
            assert_identical(codecs.decode(raw, _h5py_pipeline(dset), (1, 37, 41), dset.dtype), dset[1:2])


def test_filter_mask_and_unsupported_filters():
    data = np.arange(64, dtype=np.int32)
    import zlib
    pipeline = [(2, (4,)), (1, (4,))]  # shuffle, deflate
    assert_identical(codecs.decode(zlib.compress(data.tobytes()), pipeline, (64,), np.int32, filter_mask=0b01), data)
    assert_identical(codecs.decode(data.tobytes(), pipeline, (64,), np.int32, filter_mask=0b11), data)
    with pytest.raises(fastchunk.UnsupportedFilterError, match="nbit"):
        codecs.decode(b"\0" * 8, [(5, ())], (2,), np.int32)
    with pytest.raises(fastchunk.UnsupportedFilterError, match="312"):
        codecs.decode(b"\0" * 8, [(312, (1, 2))], (2,), np.int32)
    with pytest.raises(fastchunk.UnsupportedFilterError, match="compression 7"):
        codecs.decode(b"\0" * 8, [(32008, (0, 4, 4, 0, 7))], (2,), np.int32)
    with pytest.raises(TypeError, match="pipeline entry 0"):
        codecs.decode(b"", [("bitshuffle", 3, 4)], (2,), np.int32)
    with pytest.raises(ValueError, match="cd_values"):
        codecs.decode(b"", [(32008, (-1,))], (2,), np.int32)
    assert codecs.describe([(2, (4,)), (32008, (0, 4, 4, 0, 2)), (3, ())]) == "fletcher32+bitshuffle+lz4+shuffle"


# -- hostile buffers -------------------------------------------------------------------
def test_lying_header_never_allocates_past_the_shape():
    frame = _frame(np.uint32)
    blob = bytearray(detector_bslz4(frame))
    for claimed in (1 << 62, frame.nbytes * 4, frame.nbytes - 4, 0):
        bad = struct.pack(">Q", claimed) + bytes(blob[8:])
        with pytest.raises(fastchunk.ChunkDecodeError, match="header size") as e:
            codecs.decode_bslz4(bad, frame.shape, frame.dtype)
        assert e.value.offset == 0
    lz = bytearray(detector_lz4(frame, 4096))
    lz[12:16] = struct.pack(">I", 1 << 31)  # first block "runs" 2 GiB
    with pytest.raises(fastchunk.ChunkDecodeError, match="past the end"):
        codecs.decode_lz4(bytes(lz), frame.shape, frame.dtype)
    blk = bytearray(blob)
    blk[8:12] = struct.pack(">I", 1 << 31)  # a block size of 2 GiB
    with pytest.raises(fastchunk.ChunkDecodeError):
        codecs.decode_bslz4(bytes(blk), frame.shape, frame.dtype)


def test_corrupt_bytes_give_the_offset():
    frame = _frame(np.uint32)
    blob = detector_bslz4(frame)[:-100]  # cut short: the last block runs past the end
    with pytest.raises(fastchunk.ChunkDecodeError) as e:
        codecs.decode_bslz4(bytes(blob), frame.shape, frame.dtype)
    assert "byte offset" in str(e.value) and "bitshuffle+lz4" in str(e.value)
    assert 12 <= e.value.offset <= len(blob)
    assert isinstance(e.value, ValueError)


@pytest.fixture(scope="module")
def fuzz_seeds(tmp_path_factory):
    """The fuzz targets' seed corpus (fuzz/corpus.py: real chunks of every codec, peeled)."""
    sys.path.insert(0, str(ROOT / "fuzz"))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    root = tmp_path_factory.mktemp("seeds")
    corpus.build(root)
    return corpus, root


def _mutations(data, rng):
    yield data
    for cut in (0, 1, 11, 12, 13, len(data) // 2, len(data) - 1):
        yield data[:cut]
    for _ in range(6):
        b = bytearray(data)
        for at in rng.integers(0, max(len(b), 1), 3):
            if b:
                b[at] ^= int(rng.integers(1, 256))
        yield bytes(b)
    yield data + bytes(16)
    if len(data) >= 12:
        yield struct.pack(">Q", 1 << 40) + data[8:]
        yield data[:8] + struct.pack(">I", 8) + data[12:]


def _pipeline_of(entry, es):
    fid, comp = entry
    return {32008: (32008, (0, 4, es, 0, comp)), 2: (2, (es,)), 1: (1, (4,)), 3: (3, ()),
            32004: (32004, (0,)), 32000: (32000, ()), 32015: (32015, ()), 32001: (32001, ()),
            4: (4, (32, 8, 8 * es if 8 * es <= 32 or es == 8 else 32, 64))}[fid]


def _try(fn):
    """'ok' or 'refused' (ChunkDecodeError); anything else fails the test."""
    try:
        fn()
        return "ok"
    except fastchunk.ChunkDecodeError as e:
        assert "byte offset" in str(e) and e.offset is not None, str(e)
        return "refused"
    except fastchunk.UnsupportedFilterError:
        return "unsupported"


def test_fuzz_corpus_through_the_codec_api(fuzz_seeds):
    """Every seed of the bslz4, LZ4 and pipeline targets, and mutations of it: decoded, or
    refused with ChunkDecodeError and an offset; never another error, never a crash. The
    unmutated bslz4 and LZ4 block seeds decode to what bitshuffle and lz4 give."""
    corpus, root = fuzz_seeds
    rng = np.random.default_rng(1)
    outcomes = {}
    for p in sorted((root / "bslz4").iterdir()):
        b = p.read_bytes()
        es, n, chunk = b[0] + 1, int.from_bytes(b[1:4], "little"), b[5:]
        dt = np.dtype(f"V{es}")
        for m in _mutations(chunk, rng):
            outcomes.setdefault("bslz4", []).append(_try(lambda: codecs.decode_bslz4(m, (n,), dt)))
        total, block = struct.unpack(">QI", chunk[:12])
        if total == n * es and block and es in (1, 2, 4, 8):  # the seed itself, as bitshuffle decodes it
            want = bitshuffle.decompress_lz4(np.frombuffer(chunk[12:], np.uint8), (n,),
                                             np.dtype(f"u{es}"), block // es)
            assert codecs.decode_bslz4(chunk, (n,), dt).tobytes() == want.tobytes()
    for p in sorted((root / "lz4_block").iterdir()):
        b = p.read_bytes()
        m_, block = int.from_bytes(b[:3], "little"), b[3:]
        try:
            want = lz4.block.decompress(block, uncompressed_size=m_)
        except lz4.block.LZ4BlockError:  # a seed cut from a chunk: lz4 refuses it, and so do we
            assert _try(lambda: codecs.decode_lz4(block, (m_,), np.uint8, framing="block")) == "refused"
        else:
            if len(want) == m_:
                assert codecs.decode_lz4(block, (m_,), np.uint8, framing="block").tobytes() == want
        for m in _mutations(block, rng):
            outcomes.setdefault("lz4 block", []).append(
                _try(lambda: codecs.decode_lz4(m, (m_,), np.uint8, framing="block")))
    for p in sorted((root / "lz4_filter").iterdir()):
        b = p.read_bytes()
        total, chunk = int.from_bytes(b[:3], "little"), b[3:]
        for m in _mutations(chunk, rng):
            outcomes.setdefault("lz4", []).append(_try(lambda: codecs.decode_lz4(m, (total,), np.uint8)))
    for p in sorted((root / "pipeline").iterdir()):
        b = p.read_bytes()
        pick, es, n, mask, flags = b[0], b[1] + 1, int.from_bytes(b[2:5], "little"), b[5], b[6]
        entries = corpus.PIPELINES[pick % len(corpus.PIPELINES)]
        pipeline = [_pipeline_of(e, es) for e in entries]
        dt = np.dtype(f"V{es}")
        for m in _mutations(b[7:], rng):
            outcomes.setdefault("pipeline", []).append(
                _try(lambda: codecs.decode(m, pipeline, (n,), dt, filter_mask=mask)))
    for kind, got in outcomes.items():
        assert "ok" in got and "refused" in got, (kind, set(got))


def test_fuzz_regressions_replay():
    """fuzz/regressions/pipeline/*: inputs the fuzzers found, through decode()."""
    sys.path.insert(0, str(ROOT / "fuzz"))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    seen = 0
    for p in sorted((ROOT / "fuzz" / "regressions" / "pipeline").iterdir()):
        b = p.read_bytes()
        if len(b) < 7:
            continue
        pick, es, n, mask = b[0], b[1] + 1, int.from_bytes(b[2:5], "little"), b[5]
        pipeline = [_pipeline_of(e, es) for e in corpus.PIPELINES[pick % len(corpus.PIPELINES)]]
        assert _try(lambda: codecs.decode(b[7:], pipeline, (n,), np.dtype(f"V{es}"), filter_mask=mask)) in (
            "ok", "refused", "unsupported")
        seen += 1
    assert seen


# -- out= ------------------------------------------------------------------------------
def test_out_is_checked_and_written_in_place():
    frame = _frame(np.uint16)
    blob = detector_bslz4(frame)
    out = np.empty(frame.shape, np.uint16)
    assert codecs.decode_bslz4(blob, frame.shape, np.uint16, out=out) is out
    assert_identical(out, frame)
    with pytest.raises(TypeError, match="dtype"):
        codecs.decode_bslz4(blob, frame.shape, np.uint16, out=np.empty(frame.shape, np.int16))
    with pytest.raises(TypeError, match="dtype"):
        codecs.decode_bslz4(blob, frame.shape, np.uint16, out=np.empty(frame.shape, ">u2"))
    with pytest.raises(ValueError, match="shape"):
        codecs.decode_bslz4(blob, frame.shape, np.uint16, out=np.empty(frame.size, np.uint16))
    big = np.empty((frame.shape[0], frame.shape[1] * 2), np.uint16)
    with pytest.raises(ValueError, match="C-contiguous"):
        codecs.decode_bslz4(blob, frame.shape, np.uint16, out=big[:, ::2])
    ro = np.empty(frame.shape, np.uint16)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        codecs.decode_bslz4(blob, frame.shape, np.uint16, out=ro)
    with pytest.raises(TypeError, match="numpy array"):
        codecs.decode_bslz4(blob, frame.shape, np.uint16, out=bytearray(frame.nbytes))
    with pytest.raises(TypeError, match="bytes-like"):
        codecs.decode_bslz4(12, frame.shape, np.uint16)
    with pytest.raises(TypeError, match="fixed-size"):
        codecs.decode(blob, [], frame.shape, object)
    with pytest.raises(ValueError, match="negative"):
        codecs.decode(blob, [], (-1, 4), np.uint8)
    # a non-contiguous input buffer is copied, not refused
    strided = np.frombuffer(blob + blob, np.uint8).reshape(2, -1)[:, : len(blob)][0]
    assert_identical(codecs.decode_bslz4(strided, frame.shape, np.uint16), frame)
    # scalars and empty arrays
    assert codecs.decode(np.float64(2.5).tobytes(), [], (), np.float64)[()] == 2.5
    assert codecs.decode(b"", [], (0, 3), np.uint16).shape == (0, 3)


# -- decode_many -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack():
    frames = testing.eiger_frames(24, shape=FRAME, dtype=np.uint32)
    return frames, [detector_bslz4(f) for f in frames]


BSLZ4_U32 = [(32008, (0, 4, 4, 0, 2))]


@pytest.mark.parametrize("num_threads", [None, 1, 2, 4])
def test_decode_many_matches(stack, num_threads):
    frames, blobs = stack
    got = codecs.decode_many(blobs, BSLZ4_U32, FRAME, np.uint32, num_threads=num_threads)
    assert_identical(got, frames)
    out = np.empty_like(frames)
    assert codecs.decode_many(blobs, BSLZ4_U32, FRAME, np.uint32, out=out, num_threads=num_threads) is out
    assert_identical(out, frames)
    assert codecs.decode_many([], BSLZ4_U32, FRAME, np.uint32).shape == (0, *FRAME)


@pytest.mark.parametrize("num_threads", [1, 2, 4])
@pytest.mark.parametrize("bad_at", [0, 13, 23])
def test_decode_many_names_the_bad_buffer(stack, num_threads, bad_at):
    frames, blobs = stack
    blobs = list(blobs)
    blobs[bad_at] = blobs[bad_at][:-100]  # cut short
    out = np.zeros_like(frames)
    with pytest.raises(fastchunk.ChunkDecodeError) as e:
        codecs.decode_many(blobs, BSLZ4_U32, FRAME, np.uint32, out=out, num_threads=num_threads)
    assert e.value.index == bad_at
    assert f"buffer {bad_at} of 24" in str(e.value) and "byte offset" in str(e.value)
    if num_threads == 1:  # in order: everything before the bad one is decoded
        assert_identical(out[:bad_at], frames[:bad_at])
    # the pool is still good afterwards
    assert_identical(codecs.decode_many(stack[1], BSLZ4_U32, FRAME, np.uint32, num_threads=num_threads), frames)


@pytest.fixture(scope="module")
def small_stack():
    """Many small frames (DECTRIS ARINA's 192x192 u16): several share one task of the pool."""
    frames = testing.eiger_frames(400, shape=(192, 192), dtype=np.uint16)
    return frames, [detector_bslz4(f) for f in frames]


@pytest.mark.parametrize("num_threads", [1, 2, 3, 8])
def test_decode_many_small_frames(small_stack, num_threads):
    frames, blobs = small_stack
    pipeline = [(32008, (0, 4, 2, 0, 2))]
    assert_identical(codecs.decode_many(blobs, pipeline, (192, 192), np.uint16, num_threads=num_threads), frames)
    for bad_at in (0, 3, 4, 217, 399):  # first, inside and at the edges of a task
        bad = list(blobs)
        bad[bad_at] = bad[bad_at][:20]
        with pytest.raises(fastchunk.ChunkDecodeError) as e:
            codecs.decode_many(bad, pipeline, (192, 192), np.uint16, num_threads=num_threads)
        assert e.value.index == bad_at and f"buffer {bad_at} of 400" in str(e.value)


def test_decode_many_alongside_reads(small_stack, tmp_path):
    """decode_many from several threads while a file is read: one pool, every result right."""
    frames, blobs = small_stack
    p = testing.write_dataset(tmp_path / "s.h5", "x", frames, (1, 192, 192), "bslz4")
    pipeline = [(32008, (0, 4, 2, 0, 2))]
    errors = []

    def decode():
        try:
            for _ in range(3):
                assert_identical(codecs.decode_many(blobs, pipeline, (192, 192), np.uint16, num_threads=2), frames)
        except BaseException as e:  # noqa: BLE001 (re-raised below, in the test's thread)
            errors.append(e)

    threads = [threading.Thread(target=decode) for _ in range(3)]
    for t in threads:
        t.start()
    with fastchunk.File(p, num_threads=2) as f:
        for _ in range(3):
            assert_identical(f["x"][()], frames)
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("num_threads", [1, 2])
def test_ctrl_c_cancels_decode_many(small_stack, num_threads):
    frames, blobs = small_stack
    many_blobs, pipeline = blobs * 40, [(32008, (0, 4, 2, 0, 2))]  # 16000 frames, ~0.5 s a call
    out = np.empty((len(many_blobs), 192, 192), np.uint16)
    with sigint_timer(0.05) as timer:
        deadline = time.monotonic() + 10
        with pytest.raises(KeyboardInterrupt):
            timer.start()
            while time.monotonic() < deadline:
                codecs.decode_many(many_blobs, pipeline, (192, 192), np.uint16, out=out, num_threads=num_threads)
        caught = time.monotonic()
        timer.join()
        assert timer.sent and caught - timer.sent[0] < 0.5
        # the pool is still good afterwards
        assert_identical(codecs.decode_many(blobs, pipeline, (192, 192), np.uint16, num_threads=num_threads), frames)


def test_decode_many_arguments(stack):
    frames, blobs = stack
    with pytest.raises(TypeError, match="buffer 2"):
        codecs.decode_many(blobs[:2] + [None], BSLZ4_U32, FRAME, np.uint32)
    with pytest.raises(ValueError, match="shape"):
        codecs.decode_many(blobs, BSLZ4_U32, FRAME, np.uint32, out=np.empty((23, *FRAME), np.uint32))
    with pytest.raises(ValueError, match="num_threads"):
        codecs.decode_many(blobs, BSLZ4_U32, FRAME, np.uint32, num_threads=0)
    with pytest.raises(ValueError, match="filter masks"):
        codecs.decode_many(blobs, BSLZ4_U32, FRAME, np.uint32, filter_mask=[0, 0])
    raw = [f.tobytes() for f in frames[:3]]
    assert_identical(codecs.decode_many(raw, BSLZ4_U32, FRAME, np.uint32, filter_mask=[1, 1, 1]), frames[:3])


# -- numcodecs ---------------------------------------------------------------------------
def _codec_cases():
    return [(numcodecs_codecs.Bslz4, {}), (numcodecs_codecs.LZ4, {}), (numcodecs_codecs.LZF, {}),
            (numcodecs_codecs.Szip, {"cd_values": (141, 32, 16, 80)}), (numcodecs_codecs.Blosc, {}),
            (numcodecs_codecs.Zstd, {}), (numcodecs_codecs.Deflate, {}), (numcodecs_codecs.Shuffle, {}),
            (numcodecs_codecs.Fletcher32, {})]


@pytest.mark.parametrize("cls,kw", _codec_cases(), ids=lambda c: getattr(c, "codec_id", ""))
def test_numcodecs_codec_round_trip(cls, kw):
    frame = _frame(np.uint16)
    codec = cls(2, frame.shape, dtype="<u2", **kw)
    enc = codec.encode(frame)
    assert_identical(codec.decode(enc), frame)
    out = np.empty(frame.size, np.uint16)
    assert codec.decode(enc, out=out) is out and out.tobytes() == frame.tobytes()
    config = codec.get_config()
    assert config["id"] == cls.codec_id
    again = numcodecs.get_codec(config)
    assert type(again) is cls and again == codec and again.get_config() == config
    assert cls.from_config({k: v for k, v in config.items() if k != "id"}) == codec
    import pickle
    assert pickle.loads(pickle.dumps(codec)) == codec  # after a decode too (dask pickles them)
    plain = numcodecs.get_codec({k: v for k, v in config.items() if k != "dtype"})
    assert plain.decode(enc).tobytes() == frame.tobytes()  # flat bytes without a dtype


def test_numcodecs_generic_codec_matches_h5py(tmp_path):
    data = testing.eiger_frames(2, shape=(37, 41), dtype=np.uint32).astype(np.float64)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 37, 41), "shuffle+deflate", scaleoffset=2)
    with h5py.File(p, "r") as f:
        dset = f["x"]
        filters = [[fid, list(cd)] for fid, _, cd, _ in _h5py_pipeline(dset)]
        _, raw = dset.id.read_direct_chunk((1, 0, 0))
        want = dset[1:2]
    codec = numcodecs.get_codec({"id": "fastchunk.hdf5", "filters": filters, "elem_size": 8,
                                 "chunks": [1, 37, 41], "dtype": "<f8"})
    assert_identical(codec.decode(raw), want)
    assert_identical(codec.decode(codec.encode(want)), want)
    with pytest.raises(ValueError, match="cd_values"):
        numcodecs_codecs.ScaleOffset(8, (4,))
    with pytest.raises(ValueError, match="bytes"):
        codec.decode(raw, out=np.empty(3))
    with pytest.raises(fastchunk.ChunkDecodeError):
        codec.decode(raw[:-3])
    with pytest.raises(fastchunk.UnsupportedFilterError):
        numcodecs_codecs.HDF5Codec([[5, []]], 4, [8]).decode(b"\0" * 32)


def test_entry_points_declared_in_pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    eps = project["entry-points"]["numcodecs.codecs"]
    assert set(eps) == {cls.codec_id for cls in numcodecs_codecs.CODECS}
    for codec_id, target in eps.items():
        module, name = target.split(":")
        assert module == "fastchunk.numcodecs_codecs" and getattr(numcodecs_codecs, name).codec_id == codec_id
    assert "numcodecs>=0.12" in project["optional-dependencies"]["zarr"]


def test_numcodecs_finds_the_codecs_through_the_entry_point(tmp_path):
    """A fresh interpreter that never imports fastchunk's codec module itself: numcodecs loads
    it through the numcodecs.codecs entry points (declared by a dist-info built here from
    pyproject.toml's table, as pip would install it)."""
    tomllib = pytest.importorskip("tomllib")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        eps = tomllib.load(fh)["project"]["entry-points"]["numcodecs.codecs"]
    info = tmp_path / "fastchunk_entry_points-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fastchunk-entry-points\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(
        "[numcodecs.codecs]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    frame = _frame(np.uint16)
    enc = numcodecs_codecs.Bslz4(2, frame.shape).encode(frame)
    (tmp_path / "chunk.bin").write_bytes(enc)
    script = textwrap.dedent(f"""
        import sys, numcodecs
        assert "fastchunk.numcodecs_codecs" not in sys.modules
        c = numcodecs.get_codec({{"id": "fastchunk.bslz4", "elem_size": 2, "chunks": {list(frame.shape)}}})
        assert type(c).__module__ == "fastchunk.numcodecs_codecs", type(c)
        sys.stdout.buffer.write(c.decode(open(sys.argv[1], "rb").read()).tobytes())
    """)
    # fastchunk from where this run imports it (an installed copy in CI, src/ in a dev tree)
    package_root = str(pathlib.Path(fastchunk.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), package_root,
                                                       os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path / "chunk.bin")], env=env,
                         capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout == frame.tobytes()


# -- one big frame on several threads (decode in parts) ----------------------------------
BIG = (1024, 1030)  # 4.2 MB of u32: at least codecs.SPLIT_MIN_BYTES


@pytest.fixture(scope="module")
def big_frame():
    frame = testing.eiger_frames(1, shape=BIG, dtype=np.uint32, seed=3)[0]
    assert frame.nbytes >= codecs.SPLIT_MIN_BYTES
    return frame, detector_bslz4(frame)


@pytest.mark.parametrize("num_threads", [None, 1, 2, 3, 8])
def test_a_big_frame_decodes_in_parts(big_frame, num_threads):
    frame, blob = big_frame
    assert_identical(codecs.decode_bslz4(blob, frame.shape, frame.dtype, num_threads=num_threads),
                     frame)
    out = np.zeros_like(frame)
    codecs.decode(blob, [(32008, (0, 4, 4, 0, 2))], frame.shape, frame.dtype, out=out,
                  num_threads=num_threads)
    assert_identical(out, frame)


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 64, 4096])
def test_every_split_of_a_frame_matches(big_frame, parts):
    from fastchunk import _native
    frame, blob = big_frame
    job = codecs._Job([(32008, (0, 4, 4, 0, 2))], frame.shape, frame.dtype)
    out = np.zeros_like(frame)
    _native.decode_many(job.layout, [blob], out.reshape(-1).view(np.uint8),
                        np.zeros(1, np.uint32), 2, None, parts)
    assert_identical(out, frame)


def _damaged(blob):
    """The frame with bytes flipped inside one middle block, cut inside its last block, with a
    header that lies about the size, and with a stray byte after the raw tail. (Damage in two
    blocks may be reported at either when in parts: the first part to meet one wins.)"""
    mid = bytearray(blob)
    for at in range(len(blob) // 2, len(blob) // 2 + 8):
        mid[at] ^= 0xA5
    return {"middle": bytes(mid), "cut": blob[:-1000],
            "size": struct.pack(">Q", 1 << 30) + blob[8:], "tail": blob + b"\0"}


@pytest.mark.parametrize("damage", ["middle", "cut", "size", "tail"])
def test_a_damaged_frame_fails_the_same_in_parts(big_frame, damage):
    """In parts or whole: the same error type and byte offset (the part that owns the block, or
    the last part, which walks every block header and the tail, reports it)."""
    frame, blob = big_frame
    bad = _damaged(blob)[damage]
    errors = []
    for threads in (1, 2, 5):
        with pytest.raises(fastchunk.ChunkDecodeError) as e:
            codecs.decode_bslz4(bad, frame.shape, frame.dtype, num_threads=threads)
        errors.append((type(e.value), e.value.offset))
    assert errors[0] == errors[1] == errors[2], errors
    assert errors[0][1] is not None


def test_concurrent_decodes_of_big_frames(big_frame):
    """Several threads decoding at once (each on one thread then, or in parts when alone)."""
    frame, blob = big_frame
    bad = _damaged(blob)["middle"]
    failures = []

    def work(k):
        out = np.empty_like(frame)
        for i in range(6):
            if (i + k) % 3 == 0:
                try:
                    codecs.decode_bslz4(bad, frame.shape, frame.dtype, out=out)
                    failures.append("damaged frame decoded")
                except fastchunk.ChunkDecodeError:
                    pass
            else:
                codecs.decode_bslz4(blob, frame.shape, frame.dtype, out=out)
                if not np.array_equal(out, frame):
                    failures.append((k, i))

    assert run_threads(4, work) == [None] * 4
    assert failures == []


def test_parts_are_refused_where_they_do_not_apply(big_frame):
    from fastchunk import _native
    frame, blob = big_frame
    out = np.zeros(frame.nbytes, np.uint8)
    job = codecs._Job([(32008, (0, 4, 4, 0, 2))], frame.shape, frame.dtype)
    with pytest.raises(fastchunk.FastchunkError, match="4096"):
        _native.decode_many(job.layout, [blob], out, np.zeros(1, np.uint32), 2, None, 4097)
    with pytest.raises(fastchunk.FastchunkError, match="skip no filter"):
        _native.decode_many(job.layout, [blob], out, np.ones(1, np.uint32), 2, None, 2)
    gz = codecs._Job([(1, (4,))], frame.shape, frame.dtype)
    with pytest.raises(fastchunk.FastchunkError, match="bitshuffle"):
        _native.decode_many(gz.layout, [blob], out, np.zeros(1, np.uint32), 2, None, 2)
    with pytest.raises(ValueError, match="num_threads"):
        codecs.decode_bslz4(blob, frame.shape, frame.dtype, num_threads=0)
