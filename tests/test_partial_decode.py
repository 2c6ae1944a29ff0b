"""Partial bitshuffle and Blosc decode: a small region of a big chunk decodes only the blocks
that hold it.
Results equal h5py's bit for bit; a corrupt block the region does not need is never looked at
(that is how these tests see that blocks were skipped), a corrupt block it needs is an error."""
import struct

import h5py
import numpy as np
import pytest
from conftest import assert_identical, chunk_location, write_blosc_in_child

import fastchunk
from fastchunk import testing

FRAME = (300, 260)  # 78,000 elements: 38 blocks of 2048 u4 elements and a short last block


def blosc(cname, shuffle, blocksize, split="AUTO"):
    """Blosc with a block size that gives a 300x260 frame several blocks and a short last one
    (c-blosc takes it from BLOSC_BLOCKSIZE when it writes; split blocks are 64 kB or more)."""
    return {"cname": cname, "shuffle": shuffle,
            "env": {"BLOSC_BLOCKSIZE": str(blocksize), "BLOSC_SPLITMODE": split}}


@pytest.fixture(scope="module", params=[("bslz4", np.uint32, 0), ("bslz4", np.uint16, 512),
                                        ("bitshuffle", np.uint32, 0), ("bslz4", np.int8, 0),
                                        (blosc("lz4", 1, 65536), np.uint32, 0),
                                        (blosc("blosclz", 2, 10000, "NEVER"), np.uint16, 0),
                                        (blosc("zstd", 0, 5000), np.int8, 0)],
                ids=["bslz4-u4", "bslz4-u2-512", "bitshuffle-u4", "bslz4-i1", "blosc-lz4-u4",
                     "blosc-blosclz-u2", "blosc-zstd-i1"])
def stack(request, tmp_path_factory):
    compression, dtype, block = request.param
    path = tmp_path_factory.mktemp("partial") / "stack.h5"
    data = testing.eiger_frames(6, FRAME, np.uint32).astype(dtype)
    if isinstance(compression, dict):
        write_blosc_in_child(path, "d", data, (1, *FRAME), **compression)
        with h5py.File(path) as h:  # several blocks, the last one short
            raw = h["d"].id.read_direct_chunk((0, 0, 0))[1]
            nbytes, bsz = struct.unpack_from("<ii", raw, 4)
            assert nbytes // bsz >= 4 and nbytes % bsz, (nbytes, bsz)
    else:
        testing.write_dataset(path, "d", data, (1, *FRAME), compression, block_size=block)
    return path, data


SMALL = [np.s_[2, 100:164, 40:104], np.s_[:, 150, 77], np.s_[1:5, 0:3, ::50], np.s_[3, -1, -9:],
         np.s_[:, 299, 259], np.s_[0, 10:12], np.s_[4, ::37, ::41], np.s_[:, 0, 0]]


@pytest.mark.parametrize("sel", SMALL)
@pytest.mark.parametrize("threads", [1, 3])
def test_small_regions_match_h5py(stack, sel, threads):
    path, data = stack
    with fastchunk.File(path) as f, h5py.File(path) as h:
        assert_identical(f["d"].read(sel, num_threads=threads), h["d"][sel])


def _corrupt_block_header(path, frame, block_index):
    """Overwrite block block_index's 4-byte compressed size in frame's bslz4 chunk with a
    size far past the chunk's end."""
    offset, size = chunk_location(path, "d", (frame, 0, 0))
    with open(path, "r+b") as fh:
        fh.seek(offset + 12)
        pos = 12
        for _ in range(block_index):
            fh.seek(offset + pos)
            pos += 4 + int.from_bytes(fh.read(4), "big")
        fh.seek(offset + pos)
        fh.write((size * 4).to_bytes(4, "big"))
    return offset + pos


def test_blocks_after_the_region_are_skipped_unchecked(tmp_path):
    path = tmp_path / "s.h5"
    data = testing.eiger_frames(2, FRAME, np.uint32)
    testing.write_dataset(path, "d", data, (1, *FRAME), "bslz4")
    _corrupt_block_header(path, 1, 30)  # block 30 holds elements 61440.. (rows 236..)
    with fastchunk.File(path) as f:
        ds = f["d"]
        # rows 0-63 of frame 1 sit in blocks 0-8: the bad header of block 30 is never read...
        assert_identical(ds[1, 0:64, 0:64], data[1, 0:64, 0:64])
        # ...but a region that needs a block at or after it walks into the bad size
        with pytest.raises(fastchunk.ChunkDecodeError, match="past the end"):
            ds[1, 280:290, 0:10]
        with pytest.raises(fastchunk.ChunkDecodeError):
            ds[1]
        assert_identical(ds[0], data[0])


def test_corrupt_needed_block_is_an_error(tmp_path):
    path = tmp_path / "s.h5"
    data = testing.eiger_frames(1, FRAME, np.uint32)
    testing.write_dataset(path, "d", data, (1, *FRAME), "bslz4")
    offset, _ = chunk_location(path, "d", (0, 0, 0))
    with open(path, "r+b") as fh:  # LZ4 bytes of block 0: a match offset before the start
        fh.seek(offset + 16)
        fh.write(bytes([0x0F, 0xFF, 0xFF]))
    with fastchunk.File(path) as f:
        with pytest.raises(fastchunk.ChunkDecodeError):
            f["d"][0, 0:2, 0:2]


def test_blosc_blocks_outside_the_region_are_skipped_unchecked(tmp_path):
    """A Blosc chunk's block table says where each block starts: a region decodes its own
    blocks and never looks at the others, a damaged one included."""
    path = tmp_path / "b.h5"
    data = testing.eiger_frames(2, FRAME, np.uint32)
    write_blosc_in_child(path, "d", data, (1, *FRAME), "lz4", 1,
                         {"BLOSC_BLOCKSIZE": "16384", "BLOSC_SPLITMODE": "NEVER"})
    offset, size = chunk_location(path, "d", (1, 0, 0))
    with open(path, "r+b") as fh:  # block 15 (elements 61440.., rows 236..) starts past the end
        fh.seek(offset + 4)
        assert struct.unpack("<ii", fh.read(8)) == (312000, 16384)  # 20 blocks
        fh.seek(offset + 16 + 4 * 15)
        fh.write(struct.pack("<i", size + 100))
    with fastchunk.File(path) as f:
        ds = f["d"]
        assert_identical(ds[1, 0:64, 0:64], data[1, 0:64, 0:64])
        assert_identical(ds[1, 280:290, 0:10], data[1, 280:290, 0:10])  # after it, unlike bitshuffle
        with pytest.raises(fastchunk.ChunkDecodeError, match="block starts past the end"):
            ds[1, 240:250, 0:10]
        with pytest.raises(fastchunk.ChunkDecodeError):
            ds[1]
        assert_identical(ds[0], data[0])
