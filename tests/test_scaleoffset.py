"""Scale-offset (HDF5 filter 6, h5py's scaleoffset=): every integer width and both float widths,
both byte orders, automatic and fixed minbits, fill values defined or not, in pipelines with
deflate, shuffle and fletcher32, edge chunks; checked byte for byte against h5py; damaged chunks
give a ChunkDecodeError naming the chunk."""
import ctypes

import h5py
import hdf5plugin
import numpy as np
import pytest
from conftest import assert_damaged_chunk_reported, assert_native_like_h5py, edit_stored_chunk

from fastchunk import libhdf5
from fastchunk.plan import filters

INTS = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"]
SHAPE, CHUNKS = (5, 37, 23), (2, 16, 16)  # edge chunks on every axis


def int_data(dtype, rng):
    """Small offsets from a chunk-varying base (few minbits), a constant chunk (minbits 0 or 1),
    a chunk spanning the type's whole range (full width) and the extremes."""
    info = np.iinfo(dtype)
    span = min(int(info.max) - int(info.min), 1000)
    base = int(info.min) + span // 3
    native = dtype.newbyteorder("=")
    a = (base + rng.integers(0, span // 2 + 1, SHAPE)).astype(dtype)
    a[0, :16, :16] = base  # one constant chunk
    a[1, :16, :16] = rng.integers(info.min, info.max, (16, 16), dtype=native, endpoint=True)
    a[4, -1, -1], a[4, -2, -1] = info.min, info.max
    return a


def write(path, data, fill=None, compression=None, shuffle=False, **kw):
    with h5py.File(path, "w") as h:
        h.create_dataset("x", data=data, chunks=CHUNKS, fillvalue=fill, compression=compression,
                         shuffle=shuffle, **kw)
    return path


def check(path, sels=((), np.s_[3], np.s_[1:4, 5:30:3, ::2])):
    assert_native_like_h5py(path, "/x", sels, "scaleoffset")


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("kind", INTS)
def test_integers_automatic_minbits(tmp_path, kind, order):
    dtype = np.dtype(order + kind)
    data = int_data(dtype, np.random.default_rng(INTS.index(kind)))
    check(write(tmp_path / "a.h5", data, scaleoffset=0))


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("kind", INTS)
def test_integers_with_a_fill_value_in_the_data(tmp_path, kind, order):
    """Elements equal to the fill value are stored as all ones and come back as the fill."""
    dtype = np.dtype(order + kind)
    data = int_data(dtype, np.random.default_rng(7))
    fill = data[2, 3, 4]
    data[2, ::3, ::5] = fill
    check(write(tmp_path / "f.h5", data, fill=fill, scaleoffset=0))


@pytest.mark.parametrize("minbits", [1, 5, 12, 31, 32])
def test_integers_fixed_minbits(tmp_path, minbits):
    """A fixed minbits narrower than the data loses bits (HDF5's answer is the reference); the
    full width (32 for int32) stores chunks untouched, without a header."""
    data = int_data(np.dtype("<i4"), np.random.default_rng(minbits))
    check(write(tmp_path / "m.h5", data, scaleoffset=minbits))


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("kind", ["f4", "f8"])
@pytest.mark.parametrize("digits", [0, 2, 3])
def test_floats_decimal_scaling(tmp_path, kind, order, digits):
    rng = np.random.default_rng(digits)
    data = (rng.normal(0, 40, SHAPE) - 7.25).astype(order + kind)
    data[0, :16, :16] = 3.5  # a constant chunk
    fill = np.array(-2.5, order + kind)
    data[3, ::4, ::3] = fill
    check(write(tmp_path / "d.h5", data, fill=fill, scaleoffset=digits))


@pytest.mark.parametrize("pipeline", [dict(compression="gzip"), dict(shuffle=True),
                                      dict(compression="gzip", shuffle=True), dict(compression="lzf"),
                                      dict(compression=hdf5plugin.Zstd()),
                                      dict(compression=hdf5plugin.Zstd(), shuffle=True)])
def test_in_pipelines(tmp_path, pipeline):
    """The deflate, LZF or zstd stream holds the scale-offset stream, whose size is not the chunk's.
    (h5py refuses fletcher32 with scale-offset.)"""
    data = int_data(np.dtype("<u2"), np.random.default_rng(1))
    check(write(tmp_path / "p.h5", data, scaleoffset=0, **pipeline))
    fdata = np.random.default_rng(2).normal(100, 3, SHAPE).astype("<f4")
    check(write(tmp_path / "q.h5", fdata, scaleoffset=2, **pipeline))


def _h5pset_fill_value():
    lib = libhdf5.library()
    fn = getattr(lib, "H5Pset_fill_value", None) if lib is not None else None
    if fn is None:
        pytest.skip("h5py's libhdf5 is not reachable through ctypes here")
    fn.argtypes = [ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn


@pytest.mark.parametrize("kind,scaleoffset", [("i4", 0), ("u1", 0), ("i8", 0), ("f8", 3)])
def test_undefined_fill_value(tmp_path, kind, scaleoffset):
    """With no fill value defined, all ones is an ordinary value and a constant chunk packs to
    zero bits (minbits 0)."""
    dtype = np.dtype("<" + kind)
    if dtype.kind == "f":
        data = np.round(np.random.default_rng(5).normal(0, 9, SHAPE), 3).astype(dtype)
    else:
        data = int_data(dtype, np.random.default_rng(5))
    data[2, :16, :16] = data[2, 0, 0]
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(CHUNKS)
    dcpl.set_scaleoffset(h5py.h5z.SO_FLOAT_DSCALE if dtype.kind == "f" else h5py.h5z.SO_INT,
                         scaleoffset)
    from h5py._objects import phil
    with phil:
        assert _h5pset_fill_value()(dcpl.id, h5py.h5t.py_create(dtype).id, None) >= 0
    path = tmp_path / "u.h5"
    with h5py.File(path, "w") as h:
        space = h5py.h5s.create_simple(SHAPE)
        dsid = h5py.h5d.create(h.id, b"x", h5py.h5t.py_create(dtype), space, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
        assert h["x"].id.get_create_plist().get_filter(0)[2][7] == 0  # fill undefined
    check(path)


def test_minbits_zero_chunks_and_unwritten_chunks(tmp_path):
    """Constant chunks and chunks never written (fill value, no stored bytes)."""
    path = tmp_path / "z.h5"
    with h5py.File(path, "w") as h:
        d = h.create_dataset("x", shape=SHAPE, dtype="<i2", chunks=CHUNKS, scaleoffset=0, fillvalue=-3)
        d[0, :16, :16] = 11
        d[2] = 4
    check(path)


DAMAGE = [
    (lambda b: b[:15], "21-byte header"),
    (lambda b: b[:22], "packed values run past the chunk end"),
    (lambda b: b"\x30\0\0\0" + b[4:], "minbits exceed the type width"),
]


@pytest.mark.parametrize("edit,words", DAMAGE, ids=[w for _, w in DAMAGE])
@pytest.mark.parametrize("num_threads", [1, 3])
def test_damaged_chunk_in_a_file(tmp_path, edit, words, num_threads):
    data = int_data(np.dtype("<i4"), np.random.default_rng(3))
    path = write(tmp_path / "bad.h5", data, scaleoffset=0)
    edit_stored_chunk(path, (2, 0, 0), edit)
    assert_damaged_chunk_reported(path, (2, 0, 0), "scaleoffset", words, {0: data[0], 4: data[4]},
                                  num_threads)


def test_parameters_hdf5_cannot_decode_go_to_h5py():
    """E-scaling was never implemented by HDF5: fastchunk names it and leaves it to h5py."""
    cd = (1, 3, 12, 1, 4, 0, 0, 1, 0, 0) + (0,) * 10
    spec, why = filters._scaleoffset_spec(cd)
    assert spec is None and "cannot decode" in why
    spec, why = filters._scaleoffset_spec(cd[:8])
    assert spec is None and "8 cd_values" in why
