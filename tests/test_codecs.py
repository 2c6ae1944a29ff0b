"""LZ4 (32004), LZF, deflate, shuffle and fletcher32 pipelines: native, and identical to h5py."""
import shutil

import h5py
import numpy as np
import pytest
from conftest import assert_identical, h5py_read

import fastchunk
from fastchunk import testing

PIPELINES = ["lz4", "deflate", "shuffle+deflate", "shuffle", "fletcher32",
             "shuffle+deflate+fletcher32", "bslz4+fletcher32", "lzf", "shuffle+lzf+fletcher32"]


def _frames(dtype=np.uint16, n=5, shape=(37, 29)):
    return testing.eiger_frames(n, shape=shape, dtype=dtype)


@pytest.mark.parametrize("compression", PIPELINES)
@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.float64, "S3"])
@pytest.mark.parametrize("num_threads", [1, 4])
def test_pipeline_matches_h5py(tmp_path, compression, dtype, num_threads, simd):
    data = _frames(np.uint32)
    data = data.view(np.uint8)[..., : data.shape[-1] * 3].copy().view("S3") if dtype == "S3" else data.astype(dtype)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (2, 16, 8), compression)
    with fastchunk.File(p, num_threads=num_threads) as f:
        ds = f["x"]
        assert ds.native, ds.reason
        for sel in [(), np.s_[1], np.s_[1:4, 3:30:2, -9:]]:
            assert_identical(ds[sel], h5py_read(p, "x", sel))


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float64, "S3"])
@pytest.mark.parametrize("chunks", [(1, 7, 5), (3, 13, 9), (2, 4, 1)])
def test_shuffle_any_chunk_size(tmp_path, dtype, chunks, simd):
    """Byte unshuffle of chunks whose element count is not a multiple of 8 or 16 (the kernels'
    steps): every kernel's word or vector loop and its scalar tail meet in every chunk."""
    data = _frames(np.uint32).astype(np.float64 if dtype == np.float64 else np.uint32)
    data = data.view(np.uint8)[..., : data.shape[-1] * 3].copy().view("S3") if dtype == "S3" else data.astype(dtype)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, chunks, "shuffle")
    with fastchunk.File(p) as f:
        assert f["x"].native, f["x"].reason
        assert_identical(f["x"][()], h5py_read(p, "x"))


@pytest.mark.parametrize("block_size", [3, 64, 1000, 1 << 20])
def test_lz4_block_sizes(tmp_path, block_size):
    data = _frames(np.uint32, n=3)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 37, 29), "lz4", block_size=block_size)
    with fastchunk.File(p) as f:
        assert f["x"].native
        assert_identical(f["x"][()], data)


def test_dont_filter_partial_chunks(realdata):
    """h5fc_edge_v3.h5: partial edge chunks are stored raw with filter_mask 0 (layout flag
    H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) while full chunks are deflated; fastchunk reads all of
    them natively, as h5py does."""
    p = realdata / "hdf5" / "h5fc_edge_v3.h5"
    want = h5py_read(p, "DSET_EDGE")
    raw_edges = 0
    with h5py.File(p, "r") as h:
        dset = h["DSET_EDGE"]
        assert dset.compression == "gzip"
        for i in range(dset.id.get_num_chunks()):
            origin = dset.id.get_chunk_info(i).chunk_offset
            mask, stored = dset.id.read_direct_chunk(origin)
            part = want[tuple(slice(o, o + c) for o, c in zip(origin, dset.chunks))]
            assert mask == 0
            if part.shape == dset.chunks:
                assert len(stored) < part.nbytes  # deflated
            else:  # stored whole and unfiltered, the part inside the dataset first
                chunk = np.frombuffer(stored, want.dtype).reshape(dset.chunks)
                assert_identical(chunk[tuple(slice(0, n) for n in part.shape)], part)
                raw_edges += 1
    assert raw_edges == 4
    with fastchunk.File(p) as f:
        ds = f["DSET_EDGE"]
        assert ds.native, ds.reason
        for sel in [(), np.s_[10:], np.s_[:, 4:], np.s_[10:, 5:], np.s_[:10, 5:], np.s_[-1]]:
            assert_identical(ds[sel], h5py_read(p, "DSET_EDGE", sel))


def test_filter_mask_skips_filters(tmp_path):
    """Chunks written with write_direct_chunk and a mask are decoded without the skipped filter."""
    data = np.arange(64, dtype=np.int32).reshape(8, 8)
    p = testing.write_dataset(tmp_path / "d.h5", "x", None, (4, 8), "shuffle+deflate", shape=(8, 8), dtype="i4")
    with h5py.File(p, "a") as h:
        ds = h["x"]
        ds.id.write_direct_chunk((0, 0), data[:4].tobytes(), filter_mask=0b11)  # raw
        import zlib
        ds.id.write_direct_chunk((4, 0), zlib.compress(data[4:].tobytes()), filter_mask=0b01)  # deflate only
    with fastchunk.File(p) as f:
        assert_identical(f["x"][()], data)
    assert_identical(h5py_read(p, "x"), data)


@pytest.mark.parametrize("inner,outer", [((32008, (0, 3, 0, 0, 2)), "deflate"), ((32004, (0,)), "deflate"),
                                         ((32008, (0, 3, 0, 64, 2)), "lzf"), ((32004, (64,)), "lzf")])
def test_compressed_stream_inside_deflate_or_lzf(tmp_path, inner, outer):
    """bitshuffle+LZ4 or LZ4 32004 and then deflate or LZF over that stream: the inner stream is
    not the chunk's size (on random pixels it is longer), so the outer decode must take any
    length up to a bound (fc_decode.c, *_upto)."""
    data = _frames(np.uint16, n=4)
    data[2] = np.random.default_rng(0).integers(0, 65535, data[2].shape, dtype=np.uint16)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((1,) + data.shape[1:])
    dcpl.set_filter(inner[0], h5py.h5z.FLAG_MANDATORY, inner[1])
    if outer == "deflate":
        dcpl.set_deflate(4)
    else:
        dcpl.set_filter(32000, h5py.h5z.FLAG_OPTIONAL, ())
    p = tmp_path / "n.h5"
    with h5py.File(p, "w") as h:
        space = h5py.h5s.create_simple(data.shape)
        h5py.h5d.create(h.id, b"x", h5py.h5t.NATIVE_UINT16, space, dcpl=dcpl).write(
            h5py.h5s.ALL, h5py.h5s.ALL, data)
    with fastchunk.File(p) as f:
        assert f["x"].native, f["x"].reason
        for sel in [(), np.s_[2], np.s_[1:, 5:9, ::4]]:
            assert_identical(f["x"][sel], data[sel])


def _corrupt(tmp_path, compression, patch, **kw):
    """A file with one chunk's bytes changed by patch(bytes) -> bytes (same length or shorter)."""
    data = _frames(np.uint32, n=4)
    good = testing.write_dataset(tmp_path / "good.h5", "x", data, (1, 37, 29), compression, **kw)
    bad = tmp_path / "bad.h5"
    shutil.copy(good, bad)
    with h5py.File(bad, "r") as h:
        info = h["x"].id.get_chunk_info_by_coord((2, 0, 0))
    with open(bad, "r+b") as fh:
        fh.seek(info.byte_offset)
        raw = fh.read(info.size)
        new = patch(bytearray(raw))
        fh.seek(info.byte_offset)
        fh.write(bytes(new))
    return good, bad, data


BAD_CASES = [
    ("lz4", lambda b: b[:8] + (999).to_bytes(4, "big") + b[12:], fastchunk.ChunkDecodeError, "lz4"),
    ("lz4", lambda b: b[:12] + (10 ** 6).to_bytes(4, "big") + b[16:], fastchunk.ChunkDecodeError, "past the end"),
    ("lz4", lambda b: (5).to_bytes(8, "big") + b[8:], fastchunk.ChunkDecodeError, "header size"),
    ("deflate", lambda b: b[:2] + bytes(len(b) - 2), fastchunk.ChunkDecodeError, "deflate"),
    ("deflate", lambda b: b[: len(b) // 2] + bytes(len(b) - len(b) // 2), fastchunk.ChunkDecodeError, "deflate"),
    ("fletcher32", lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], fastchunk.ChunkDecodeError, "checksum"),
    ("shuffle+deflate+fletcher32", lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), fastchunk.ChunkDecodeError, "checksum"),
]


@pytest.mark.parametrize("compression,patch,exc,words", BAD_CASES)
@pytest.mark.parametrize("num_threads", [1, 4])
def test_bad_bytes(tmp_path, compression, patch, exc, words, num_threads):
    good, bad, data = _corrupt(tmp_path, compression, patch)
    with fastchunk.File(bad, num_threads=num_threads) as f:
        with pytest.raises(exc) as info:
            f["x"][()]
        msg = str(info.value)
        for part in (str(bad), "'/x'", "(2, 0, 0)", "file offset", words):
            assert part in msg, (part, msg)
        assert_identical(f["x"][1], data[1])  # the other chunks still read
    with fastchunk.File(good, num_threads=num_threads) as f:
        assert_identical(f["x"][()], data)
