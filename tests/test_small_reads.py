"""Small reads take short paths (ds[i] / ds[a:b] of frame stacks from a table of chunks, small
contiguous datasets in one pread, scalars straight to h5py): every one must give exactly what
h5py gives, on both sides of each threshold."""
import h5py
import numpy as np
import pytest
from conftest import assert_identical

import fastchunk
from fastchunk import dataset as dataset_mod
from fastchunk import testing

DTYPES = ["<u1", "<i2", ">u2", "<u4", ">i4", "<f4", ">f8", "<i8"]


def _data(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 100, shape) * 1.5).astype(dtype)


def _same_reads(path, name, sels):
    with h5py.File(path, "r") as h, fastchunk.File(path, "r") as f:
        for sel in sels:
            assert_identical(f[name][sel], h[name][sel])


ROW_SELS = [0, 1, -1, 4, np.int64(3), slice(2, 5), slice(0, 1), slice(None), slice(5, 9),
            slice(-3, None), (2,), (slice(1, 3),), (3, Ellipsis), Ellipsis, ()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chunks0", [1, 3])
def test_frame_stack_rows(tmp_path, dtype, chunks0):
    data = _data(dtype, (10, 6, 5))
    p = testing.write_dataset(tmp_path / "f.h5", "x", data, (chunks0, 6, 5), "bslz4")
    _same_reads(p, "x", ROW_SELS)


@pytest.mark.parametrize("codec", ["gzip", "bslz4", "lz4", None])
def test_one_dimensional_chunks(tmp_path, codec):
    data = _data("<i4", (1000,))
    p = testing.write_dataset(tmp_path / "v.h5", "x", data, (64,), codec)
    _same_reads(p, "x", ROW_SELS + [slice(5, 15), slice(60, 70), slice(990, 1000), 999, -1000])


def test_missing_chunks_read_as_fill_value(tmp_path):
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        ds = f.create_dataset("x", (9, 4, 4), "<u2", chunks=(2, 4, 4), fillvalue=7, compression="gzip")
        ds[2:4] = 1
        ds[8] = 3
    _same_reads(p, "x", ROW_SELS + [slice(1, 9)])


def test_edge_chunk_of_a_frame_stack(tmp_path):
    data = _data("<u2", (7, 3, 3))
    p = testing.write_dataset(tmp_path / "e.h5", "x", data, (3, 3, 3), "gzip")
    _same_reads(p, "x", [6, slice(5, 7), slice(4, 7), -1])


@pytest.mark.parametrize("small", [True, False], ids=["one-pread", "engine"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_contiguous_around_the_pread_threshold(tmp_path, monkeypatch, dtype, small):
    monkeypatch.setattr(dataset_mod, "SMALL_PREAD_BYTES", 1 << 30 if small else 0)
    data = _data(dtype, (40, 7))
    p = tmp_path / "c.h5"
    with h5py.File(p, "w") as f:
        f["x"] = data
        f.create_dataset("unallocated", (5, 3), "<i4", fillvalue=-2)
    _same_reads(p, "x", ROW_SELS + [slice(39, 40)])
    _same_reads(p, "unallocated", ROW_SELS)


def test_scalars_strings_and_empty(tmp_path):
    p = tmp_path / "s.h5"
    with h5py.File(p, "w") as f:
        f["i"] = np.int32(5)
        f["d"] = 2.5
        f["c"] = np.complex64(1 + 2j)
        f["t"] = np.bool_(True)
        f["u"] = np.dtype(">u8").type(2**63 + 5)
        f["s"] = "text"
        f["b"] = np.bytes_(b"raw")
        f["e"] = h5py.Empty("<f4")
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        for name in ("i", "d", "c", "t", "u", "s", "b"):
            for sel in ((), Ellipsis):
                a, b = f[name][sel], h[name][sel]
                assert type(a) is type(b) and a == b and getattr(a, "dtype", None) == getattr(b, "dtype", None)
        assert isinstance(f["e"][()], h5py.Empty) and f["e"][()].dtype == h["e"][()].dtype
        assert f["e"].shape is None and f["e"].size is None


def test_out_of_range_rows_raise_as_h5py(tmp_path):
    data = _data("<u2", (4, 3))
    p = testing.write_dataset(tmp_path / "r.h5", "x", data, (1, 3), "bslz4")
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        for sel in (4, -5):
            with pytest.raises(Exception) as want:
                h["x"][sel]
            with pytest.raises(type(want.value)):
                f["x"][sel]


def _nexus_like(path, groups=12):
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        for i in range(groups):
            g = f.create_group(f"g{i:02d}")
            g["scalar"] = float(i)
            g["vec"] = np.arange(10, dtype="<i2") + i
            g.create_dataset("gz", data=rng.normal(size=100).astype("<f4"), chunks=(50,), compression="gzip")
            g.create_dataset("lz", data=np.arange(30, dtype=">u4"), chunks=(7,), compression="lzf")
            g.create_dataset("sparse", (40,), "<i4", chunks=(8,), fillvalue=-9)[8:16] = 4
            g["frames"] = rng.integers(0, 9, (3, 4, 5)).astype("<u2")
            g["s"] = "name"
        f["empty"] = h5py.Empty("<i8")
        f.create_dataset("zero", (0,), "<f8", chunks=(4,), maxshape=(None,))
        f["link"] = h5py.SoftLink("/g01/gz")
    return path


def test_read_many_is_each_read(tmp_path):
    p = _nexus_like(tmp_path / "n.h5")
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        names = []
        h.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        names.append("link")
        got = f.read_many(names)
        assert list(got) == names
        for name in names:
            want = h[name][()]
            if isinstance(want, h5py.Empty):
                assert isinstance(got[name], h5py.Empty)
                continue
            assert type(got[name]) is type(want)
            assert_identical(np.asarray(got[name]), np.asarray(want))
        everything = f.read_many()
        assert sorted(everything) == sorted(n for n in names if n != "link")
        sub = f["g03"].read_many(["gz", "vec"])
        assert_identical(sub["gz"], h["g03/gz"][()])


def test_read_many_names_what_is_wrong(tmp_path):
    p = _nexus_like(tmp_path / "n.h5", groups=2)
    with fastchunk.File(p, "r") as f:
        with pytest.raises(KeyError, match="nope"):
            f.read_many(["g00/vec", "g00/nope"])
        with pytest.raises(TypeError, match="g01.*group"):
            f.read_many(["g01"])


def test_read_many_names_a_damaged_chunk(tmp_path):
    p = _nexus_like(tmp_path / "n.h5", groups=3)
    with h5py.File(p, "r") as h:
        info = h["g01/gz"].id.get_chunk_info(1)
    with open(p, "r+b") as fh:  # the second chunk of g01/gz: its deflate stream, damaged
        fh.seek(info.byte_offset + 4)
        fh.write(b"\xff" * 16)
    with fastchunk.File(p, "r") as f:
        with pytest.raises(fastchunk.ChunkDecodeError, match=r"dataset '/g01/gz', codec deflate.*chunk at element \(50,\)"):
            f.read_many(["g00/gz", "g01/gz", "g02/vec", "g02/gz"])
        assert_identical(f.read_many(["g02/gz"])["g02/gz"], f["g02/gz"][()])


# -- whole reads of tiny datasets by HDF5's read call, and opening through h5py's low level --


def _tiny_file(path):
    """Tiny datasets of every storage kind the tiny path takes or refuses."""
    rng = np.random.default_rng(7)
    with h5py.File(path, "w") as f:
        f["contiguous"] = rng.random(10)
        f.create_dataset("gzip", data=rng.integers(0, 9, 100, dtype="<i4"), chunks=(50,), compression="gzip")
        f.create_dataset("shuffle_fletcher", data=rng.random((7, 5)).astype(">f4"), chunks=(3, 2),
                         shuffle=True, fletcher32=True, compression="gzip")
        compact = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        compact.set_layout(h5py.h5d.COMPACT)
        f.create_dataset("compact", data=np.arange(6, dtype="u2"), dcpl=compact)
        f.create_dataset("unallocated", shape=(4, 3), dtype="i2", chunks=(2, 3), fillvalue=-5)
        f.create_dataset("partly", shape=(40,), dtype="u1", chunks=(8,), fillvalue=3)[8:16] = 9
        f.create_dataset("szip", data=np.arange(64, dtype="<i4"), chunks=(32,), compression="szip")
        f.create_dataset("bslz4", data=np.arange(64, dtype="<u2").reshape(8, 8), chunks=(4, 8),
                         **testing.writers.filter_kwargs("bslz4", 0))
        f["empty"] = h5py.Empty("f4")
        f["scalar"] = np.int16(-3)
        f.create_dataset("at_threshold", data=np.arange(dataset_mod.TINY_BYTES // 8, dtype="<f8"),
                         chunks=(256,), compression="gzip")
        f.create_dataset("past_threshold", data=np.arange(dataset_mod.TINY_BYTES // 8 + 1, dtype="<f8"),
                         chunks=(256,), compression="gzip")
        f["soft"] = h5py.SoftLink("/gzip")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f.create_group("g/é")["x"] = np.arange(3)
    return path


TINY = {"contiguous": True, "gzip": True, "shuffle_fletcher": True, "compact": True,
        "unallocated": True, "partly": True, "szip": False, "bslz4": False, "at_threshold": True,
        "past_threshold": False, "soft": True, "g/é/x": True}


def test_tiny_datasets_read_as_h5py_whichever_path(tmp_path):
    p = _tiny_file(tmp_path / "tiny.h5")
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        for name, tiny in TINY.items():
            ds = f[name]
            assert ds.tiny is tiny, name
            for sel in ((), Ellipsis, slice(1, 3)):
                assert_identical(ds[sel], h[name][sel])
        assert isinstance(f["empty"][()], h5py.Empty)
        assert f["scalar"][()] == h["scalar"][()] and type(f["scalar"][()]) is np.int16
    with fastchunk.File(p, "r", strict=True) as f:
        assert not f["gzip"].tiny  # strict: native or an error, never HDF5's read


def test_fast_open_gives_what_h5py_gives(tmp_path):
    p = _tiny_file(tmp_path / "tiny.h5")
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        for name in ("gzip", "soft", "g/é/x", "/g/é/x", "g", "g/é"):
            assert f[name].name == h[name].name, name
        assert f["soft"].path == "/soft" and f["soft"].name == "/soft"
        assert f["g"]["é/x"].path == "/g/é/x"
        for bad in ("nowhere", "dangling", "g/nothing"):
            with pytest.raises(KeyError):
                h[bad]
            with pytest.raises(KeyError):
                f[bad]
        assert f["gzip"].maxshape == h["gzip"].maxshape
        assert f["gzip"].attrs.keys() == h["gzip"].attrs.keys()


def test_tiny_dataset_in_a_cut_file_names_the_chunk(tmp_path):
    """HDF5 reads zeros past the end of a file cut after it was opened: the tiny path checks
    where the dataset's bytes end first, and the native path reports the cut."""
    for name in ("gzip", "shuffle_fletcher", "contiguous"):
        p = _tiny_file(tmp_path / f"{name}.h5")
        with fastchunk.File(p, "r") as f:
            ds = f[name]
            assert ds.tiny
            if ds.chunks:
                end = int((ds.index.offset + ds.index.nbytes).max())
            else:
                end = ds.id.get_offset() + ds.id.get_storage_size()
            with open(p, "r+b") as fh:
                fh.truncate(end - 1)
            with pytest.raises(fastchunk.ChunkReadError, match="end of the file|ends before"):
                ds[()]


def test_damaged_tiny_gzip_chunk_is_named(tmp_path):
    """HDF5's read fails on a damaged deflate chunk; the native read then names it."""
    from conftest import assert_names_chunk, chunk_location, patch_file
    p = _tiny_file(tmp_path / "tiny.h5")
    at, n = chunk_location(p, "gzip", (50,))
    patch_file(p, at + n // 2, b"\xff\xff\xff\xff")
    with fastchunk.File(p, "r") as f:
        assert f["gzip"].tiny
        with pytest.raises(fastchunk.ChunkDecodeError) as e:
            f["gzip"][()]
    assert_names_chunk(str(e.value), p, "/gzip", (50,), "deflate")


# -- read-ahead of ds[i] loops ---------------------------------------------------------------


def _stack(tmp_path, chunks0=1, missing=(), n=23, codec="bslz4"):
    data = _data("<u2", (n, 6, 5), seed=chunks0)
    p = testing.write_dataset(tmp_path / f"stack{chunks0}.h5", "x", None, (chunks0, 6, 5), codec,
                              shape=data.shape, dtype=data.dtype, fillvalue=7)
    with h5py.File(p, "r+") as f:
        for i in range(n):
            if i // chunks0 not in missing:
                f["x"][i] = data[i]
    return p


PATTERNS = {
    "loop": list(range(23)),
    "restarted loop": list(range(10)) + list(range(4, 23)),
    "jumps": [0, 1, 2, 9, 10, 11, 12, 3, 4, 22, 21, 20],
    "every other": list(range(0, 23, 2)),
    "negative": [-5, -4, -3, -2, -1],
    "same frame twice": [0, 1, 2, 2, 3, 3, 4],
}


@pytest.mark.parametrize("chunks0", [1, 4])
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_frame_loops_read_as_h5py(tmp_path, chunks0, pattern):
    p = _stack(tmp_path, chunks0, missing={2})
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        ds, hd = f["x"], h["x"]
        for i in PATTERNS[pattern]:
            got = ds[i]
            assert_identical(got, hd[i])
            assert got.flags.writeable and got.flags.c_contiguous
            got[...] = 0  # writing into a frame changes nothing a later read gives
        for i in PATTERNS[pattern]:
            assert_identical(ds[i], hd[i])


def test_loop_reads_ahead_in_growing_blocks(tmp_path, monkeypatch):
    """The blocks double while the loop goes on and stop at the end of the dataset."""
    from fastchunk import readahead
    p = _stack(tmp_path)
    blocks = []
    with fastchunk.File(p, "r") as f:
        ds = f["x"]
        read = ds._read_block
        monkeypatch.setattr(ds, "_read_block", lambda a, b: blocks.append((a, b)) or read(a, b))
        for i in range(23):
            ds[i]
    assert blocks == [(1, 3), (3, 7), (7, 15), (15, 23)]
    assert readahead.MAX_FRAMES >= 8


def test_damaged_frame_ahead_of_the_loop(tmp_path):
    """A damaged chunk in a read-ahead block fails only the frame it holds, naming it."""
    from conftest import assert_names_chunk, chunk_location, patch_file
    p = _stack(tmp_path)
    at, n = chunk_location(p, "x", (9, 0, 0))
    patch_file(p, at + 12, b"\xff" * 8)  # the LZ4 block-size field of the first block
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        want = {i: h["x"][i] for i in range(23) if i != 9}
        ds = f["x"]
        for i in range(23):
            if i == 9:
                with pytest.raises(fastchunk.ChunkDecodeError) as e:
                    ds[i]
                assert_names_chunk(str(e.value), p, "/x", (9, 0, 0))
            else:
                assert_identical(ds[i], want[i])


@pytest.mark.parametrize("codec", ["gzip", "bslz4", None])
def test_parts_of_small_chunks_from_the_kept_chunk(tmp_path, codec):
    """ds[a:b] inside one small chunk comes from the last chunk decoded whole: every part, in
    any order, is what h5py reads, and writing into a result changes no later read."""
    data = _data("<i4", (1000,))
    p = testing.write_dataset(tmp_path / "v.h5", "v", data, (100,), codec)
    sels = [slice(10, 20), slice(0, 100), slice(95, 105), slice(150, 151), slice(10, 20), 5, -1,
            slice(990, 1000), slice(10, 11)]
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        for sel in sels:
            got = f["v"][sel]
            assert_identical(got, h["v"][sel])
            if isinstance(got, np.ndarray):
                got[...] = -9
        ds = f["v"]
        for sel in sels:
            assert_identical(ds[sel], h["v"][sel])


def test_small_contiguous_kept_after_first_read(tmp_path):
    """A metadata-sized contiguous dataset is read once and kept (a bigger one is not): every
    later selection is what h5py reads, and writing into a result changes no later read."""
    p = tmp_path / "c.h5"
    with h5py.File(p, "w") as f:
        f["small"] = np.arange(40, dtype=">i2").reshape(8, 5)
        f["big"] = np.arange(dataset_mod.CACHED_CONTIGUOUS_BYTES // 2 + 10, dtype="<i4")
    with h5py.File(p, "r") as h, fastchunk.File(p, "r") as f:
        for name in ("small", "big"):
            ds = f[name]
            for sel in ((), 0, slice(2, 5), -1, Ellipsis, (slice(1, 3),)):
                got = ds[sel]
                assert_identical(got, h[name][sel])
                if isinstance(got, np.ndarray):
                    got[...] = 1
            assert_identical(ds[()], h[name][()])
    with fastchunk.File(p, "r") as f:
        ds = f["small"]
        ds[0]
        assert ds._chunk is not None and f["big"]._chunk is None
