"""Reads through fastchunk.File match h5py + hdf5plugin bit for bit."""
import h5py
import numpy as np
import pytest
from conftest import assert_identical, h5py_read

import fastchunk
import fastchunk.plan.chunk_index
from fastchunk import testing

DTYPES = ["u1", "u2", "u4", "u8", "i2", "i4", "f4", "f8", "S10"]


def _is_int(dtype):
    return np.dtype(dtype).kind in "ui"


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype.startswith("S"):
        return rng.integers(0, 256, n * int(dtype[1:]), dtype=np.uint8).view(dtype).reshape(shape)
    # Poisson counts compress like detector data; the high bits exercise every bit plane.
    a = rng.poisson(4, n).astype(dtype)
    a[:: max(1, n // 7)] = np.array(np.iinfo(dtype).max if _is_int(dtype) else -1.5).astype(dtype)
    return a.reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,chunks", [
    ((1000,), (1000,)),        # one chunk
    ((1003,), (100,)),         # edge chunk, counts not multiples of 8
    ((37, 45), (8, 16)),       # 2-D with edge chunks
    ((6, 33, 20), (1, 33, 20)),  # frames, one per chunk
    ((5, 17, 19), (2, 7, 5)),  # 3-D, edges on every axis
])
@pytest.mark.parametrize("compression", ["bslz4", "bitshuffle"])
def test_full_read(tmp_path, dtype, shape, chunks, compression):
    data = _data(shape, dtype)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, chunks, compression)
    with fastchunk.File(p) as f:
        ds = f["x"]
        assert ds.native, ds.reason
        got = ds[()]
    assert_identical(got, h5py_read(p, "x"))


SELECTIONS = [np.s_[3], np.s_[-1], np.s_[1:4], np.s_[:, 5], np.s_[..., 2], np.s_[2, 3:30:4, ::3],
              np.s_[::2, 1:, -5:], np.s_[0:6:5, 7:8, 0], np.s_[4:2], np.s_[..., 3:4, :]]


@pytest.mark.parametrize("sel", SELECTIONS, ids=str)
@pytest.mark.parametrize("num_threads", [1, 4])
def test_selections(tmp_path, sel, num_threads, simd):
    data = _data((6, 33, 20), "u4")
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (2, 8, 8), "bslz4")
    with fastchunk.File(p, num_threads=num_threads) as f:
        got = f["x"][sel]
    assert_identical(got, h5py_read(p, "x", sel))


@pytest.mark.parametrize("block_size", [64, 2048, 4096, 32768])  # 16 kB and 128 kB blocks for u4
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_block_sizes(tmp_path, block_size, dtype, simd):
    """Every element size, blocks of 64 to 32768 elements (the fused untranspose takes 2- and
    4-byte blocks of a multiple of 512 elements with AVX-512, 256 with AVX2), and a short last
    block."""
    data = testing.eiger_frames(3, shape=(257, 311), dtype=dtype)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 257, 311), "bslz4", block_size=block_size)
    with fastchunk.File(p) as f:
        assert_identical(f["x"][()], data)


def test_threads_give_identical_bytes(tmp_path):
    data = testing.eiger_frames(8, shape=(128, 96), dtype=np.uint16)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 128, 96), "bslz4")
    with fastchunk.File(p) as f:
        one = f["x"].read(num_threads=1)
        four = f["x"].read(num_threads=4)
    assert_identical(one, four)
    assert_identical(one, data)


def test_read_into_out(tmp_path):
    data = testing.eiger_frames(5, shape=(64, 48), dtype=np.uint32)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 64, 48), "bslz4")
    with fastchunk.File(p) as f:
        ds = f["x"]
        buf = np.zeros((3, 64, 48), np.uint32)
        assert ds.read(np.s_[1:4], out=buf) is buf
        assert_identical(buf, data[1:4])
        frame = np.zeros((64, 48), np.uint32)
        ds.read(np.s_[2], out=frame)
        assert_identical(frame, data[2])
        with pytest.raises(TypeError, match="dtype"):
            ds.read(np.s_[1:4], out=np.zeros((3, 64, 48), np.int32))
        with pytest.raises(ValueError, match="shape"):
            ds.read(np.s_[1:4], out=np.zeros((2, 64, 48), np.uint32))
        with pytest.raises(ValueError, match="writeable"):
            ro = np.zeros((3, 64, 48), np.uint32)
            ro.flags.writeable = False
            ds.read(np.s_[1:4], out=ro)
        # A strided view is filled through a temporary; the bytes around it stay untouched.
        big = np.full((3, 64, 96), 7, np.uint32)
        assert ds.read(np.s_[1:4], out=big[:, :, ::2]).base is big
        assert_identical(big[:, :, ::2], data[1:4])
        assert (big[:, :, 1::2] == 7).all()
        fortran = np.zeros((64, 48), np.uint32, order="F")
        ds.read(np.s_[4], out=fortran)
        assert_identical(fortran, data[4])


def test_h5py_errors_for_bad_selections(tmp_path):
    p = testing.write_dataset(tmp_path / "d.h5", "x", _data((6, 10), "u2"), (2, 5), "bslz4")
    with fastchunk.File(p) as f:
        ds = f["x"]
        with pytest.raises(IndexError):
            ds[6]
        with pytest.raises(IndexError):
            ds[0, -11]
        with pytest.raises(ValueError, match="Step"):
            ds[::-1]
        with pytest.raises(ValueError, match="3 indexing arguments for 2 dimensions"):
            ds[0, 0, 0]  # h5py's error (tests/test_selection.py compares many side by side)


def test_unallocated_chunks_read_as_fill_value(tmp_path):
    p = testing.write_dataset(tmp_path / "d.h5", "x", None, (40, 30), "bslz4", shape=(40, 30),
                              dtype="i4", fillvalue=-7)
    import h5py
    with h5py.File(p, "a") as h:
        h["x"][10:20, 0:10] = 5
    with fastchunk.File(p) as f:
        got = f["x"][5:25, 5:15]
    assert_identical(got, h5py_read(p, "x", np.s_[5:25, 5:15]))
    assert (got == -7).any() and (got == 5).any()


def test_iter_frames(tmp_path):
    data = testing.eiger_frames(11, shape=(40, 30), dtype=np.uint16)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 40, 30), "bslz4")
    with fastchunk.File(p) as f:
        starts, blocks = zip(*f["x"].iter_frames(batch=4))
    assert starts == (0, 4, 8)
    assert_identical(np.concatenate(blocks), data)


def test_not_native_reads_through_h5py(tmp_path):
    data = _data((50, 20), "i4")
    import hdf5plugin
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (10, 20), hdf5plugin.Blosc2())
    with fastchunk.File(p) as f:
        ds = f["x"]
        assert not ds.native and "blosc2" in ds.reason
        assert_identical(ds[3:9], data[3:9])
    with fastchunk.File(p, strict=True) as f:
        with pytest.raises(fastchunk.UnsupportedFilterError, match="blosc2"):
            f["x"][0]


def test_one_shot_read(tmp_path):
    data = _data((7, 9), "f8")
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (3, 3), "bslz4")
    assert_identical(fastchunk.read(p, "x", np.s_[2:5]), data[2:5])


@pytest.mark.parametrize("sel", [(), np.s_[7], np.s_[3:40:3, 5:], np.s_[..., -1], np.s_[45:]], ids=str)
def test_contiguous_read_in_slabs(tmp_path, monkeypatch, sel):
    monkeypatch.setattr(fastchunk.plan.chunk_index, "SLAB_BYTES", 1000)  # many slabs, a short last one
    data = _data((47, 21), ">i4")
    p = testing.write_dataset(tmp_path / "d.h5", "c", data, None, None)
    with fastchunk.File(p) as f:
        ds = f["c"]
        assert ds.native and ds.chunks is None
        assert len(ds.index) > 3
        got = ds[sel]
    assert_identical(got, h5py_read(p, "c", sel))


def test_contiguous_without_storage_reads_fill_value(tmp_path):
    p = testing.write_dataset(tmp_path / "d.h5", "c", None, None, None, shape=(5, 4), dtype="f4",
                              fillvalue=2.5)
    with fastchunk.File(p) as f:
        assert_identical(f["c"][()], h5py_read(p, "c"))


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_num_threads_is_an_error(tmp_path, bad):
    p = testing.write_dataset(tmp_path / "d.h5", "x", _data((6, 10), "u2"), (2, 5), "bslz4")
    with fastchunk.File(p) as f:
        with pytest.raises(ValueError, match="num_threads"):
            f["x"].read((), num_threads=bad)


def _type_with(base, edit):
    tid = h5py.h5t.py_create(np.dtype(base)).copy()
    edit(tid)
    return tid


def _compound_with_9_bit_member():
    tid = h5py.h5t.create(h5py.h5t.COMPOUND, 6)
    tid.insert(b"a", 0, h5py.h5t.py_create(np.dtype("<u4")))
    tid.insert(b"b", 4, _type_with("<i2", lambda t: t.set_precision(9)))
    return tid


STORED_TYPES = {
    "i2 of 9 bits": lambda: _type_with("<i2", lambda t: t.set_precision(9)),
    "u4 of 20 bits at bit 4": lambda: _type_with("<u4", lambda t: (t.set_precision(20), t.set_offset(4))),
    "f4 with another exponent bias": lambda: _type_with("<f4", lambda t: t.set_ebias(120)),
    "compound with an i2 of 9 bits": _compound_with_9_bit_member,
}


@pytest.mark.parametrize("layout", ["contiguous", "chunked", "deflate"])
@pytest.mark.parametrize("kind", STORED_TYPES)
def test_types_whose_bytes_need_hdf5s_conversion(tmp_path, kind, layout):
    """Bytes of a type with fewer significant bits than its size, or of a float that is not
    IEEE, are not the values (HDF5 sign-extends, shifts, rebiases): such datasets go through
    h5py and say why, instead of handing back the stored bytes."""
    tid = STORED_TYPES[kind]()
    dtype = tid.dtype
    rng = np.random.default_rng(0)
    data = np.zeros((30, 20), dtype)
    for name in dtype.names or [None]:
        part = data[name] if name else data
        part[...] = rng.integers(-200, 200, part.shape) if part.dtype.kind != "u" else rng.integers(0, 200, part.shape)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    if layout != "contiguous":
        dcpl.set_chunk((7, 8))
    if layout == "deflate":
        dcpl.set_deflate(3)
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as h:
        dsid = h5py.h5d.create(h.id, b"x", tid, h5py.h5s.create_simple(data.shape), dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
    with fastchunk.File(path) as f:
        ds = f["x"]
        assert not ds.native and "needs HDF5's conversion" in ds.reason, ds.reason
        assert_identical(ds[()], h5py_read(path, "x"))
        assert_identical(ds[3:20:2, 5], h5py_read(path, "x", np.s_[3:20:2, 5]))
