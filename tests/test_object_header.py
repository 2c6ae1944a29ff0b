"""read_many's object-header path (plan/object_header.py, many.HeaderReader): wherever it reads a
dataset itself it must give exactly what h5py gives, and everything it does not recognise must
go to the general path (which then gives h5py's answer, or h5py's error)."""
import os

import h5py
import hdf5plugin
import numpy as np
import pytest

import fastchunk
from fastchunk import many, testing
from fastchunk.plan import object_header

from conftest import REALDATA


def same(a, b):
    """Same Python type, dtype, shape and bytes (NaNs included)."""
    if isinstance(a, h5py.Empty) or isinstance(b, h5py.Empty):
        return type(a) is type(b) and a.dtype == b.dtype
    return (type(a) is type(b) and np.asarray(a).dtype == np.asarray(b).dtype
            and np.shape(a) == np.shape(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes())


def _h5py_all(path):
    names, want = [], {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in names:
            want[n] = f[n][()]
    return names, want


def _header_reads(path, names):
    """name -> what the header path gives (None: left to the general path)."""
    with fastchunk.File(path) as f:
        reader = many.HeaderReader.for_group(f)
        assert reader is not None
        return {n: reader.read(n) for n in names}


DTYPES = ["u1", "i1", "<u2", ">i2", "<u4", ">u4", "<i4", "<u8", ">i8", "<f2", ">f2", "<f4", ">f4",
          "<f8", ">f8"]


def _numbers(dtype, n, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = rng.normal(0, 1e3, n).astype(dt)
        a[:3] = [np.nan, np.inf, -0.0][: min(3, n)]
        return a
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, n, dtype=dt.newbyteorder("="), endpoint=True).astype(dt)


def write_mixed(path, **file_kw):
    """Datasets of every layout the header path takes, and of many it must leave alone."""
    with h5py.File(path, "w", **file_kw) as f:
        for dt in DTYPES:
            g = f.create_group(f"t/{np.dtype(dt).str.replace('<', 'le').replace('>', 'be').replace('|', '')}")
            g["scalar"] = _numbers(dt, 1)[0]
            g["vector"] = _numbers(dt, 10, 1)
            g["image"] = _numbers(dt, 35, 2).reshape(5, 7)
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            data = _numbers(dt, 12, 4)
            space = h5py.h5s.create_simple((12,))
            dsid = h5py.h5d.create(g.id, b"compact_layout", h5py.h5t.py_create(data.dtype), space, dcpl=dcpl)
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
            g.create_dataset("gzip", data=_numbers(dt, 100, 5), chunks=(30,), compression="gzip")
            g.create_dataset("shuffle_gzip_2d", data=_numbers(dt, 77, 6).reshape(7, 11), chunks=(3, 4),
                             compression="gzip", shuffle=True, fletcher32=True)
            g.create_dataset("raw_chunked", data=_numbers(dt, 40, 7), chunks=(16,))
        g = f.create_group("others")
        g["string"] = b"hello"
        g["vlen_string"] = "hello"
        g["strings"] = np.array([b"ab", b"cd"])
        g["bool"] = np.array([True, False])
        g["compound"] = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])
        g["empty"] = h5py.Empty("f8")
        g.create_dataset("unwritten", shape=(5,), dtype="i4", fillvalue=7)
        g.create_dataset("unwritten_chunked", shape=(50,), chunks=(10,), dtype="i4", fillvalue=3)
        part = g.create_dataset("half_written", shape=(50,), chunks=(10,), dtype="u2", fillvalue=9)
        part[:10] = 1
        g.create_dataset("bslz4", data=_numbers("u2", 500, 8).reshape(5, 100), chunks=(1, 100),
                         **hdf5plugin.Bitshuffle())
        g.create_dataset("lz4", data=_numbers("u4", 64, 9), chunks=(32,), **hdf5plugin.LZ4())
        g.create_dataset("blosc2", data=_numbers("u4", 64, 10), chunks=(32,), **hdf5plugin.Blosc2())
        g.create_dataset("many_chunks", data=np.arange(1000, dtype="<i4"), chunks=(10,))  # 2-level B-tree
        g.create_dataset("big", data=np.arange(200_000, dtype="<f4"), chunks=(50_000,), compression="gzip")
        g.create_dataset("maxshape", data=np.arange(20, dtype="<i2"), chunks=(8,), maxshape=(None,))
        many_attrs = g.create_dataset("attrs_continued", data=np.arange(12, dtype=">f8").reshape(3, 4))
        for i in range(40):  # push the layout past the first header block
            many_attrs.attrs[f"a{i:02d}"] = np.arange(i + 1)
        g["soft"] = h5py.SoftLink("/t/leu4/vector")
    return path


@pytest.mark.parametrize("file_kw", [{}, {"userblock_size": 512}, {"libver": "latest"},
                                     {"libver": ("earliest", "v108")}],
                         ids=["default", "userblock", "latest", "v108"])
def test_same_as_h5py_on_every_layout(tmp_path, file_kw):
    path = write_mixed(tmp_path / "mixed.h5", **file_kw)
    names, want = _h5py_all(path)
    got = _header_reads(path, names)
    for n in names:
        assert got[n] is None or same(got[n], want[n]), n
    taken = {n for n in names if got[n] is not None}
    if file_kw.get("libver") == "latest":
        assert not taken, "version 2 headers are left to HDF5"
        return
    # what it must take: plain numbers, contiguous, compact and v1 B-tree chunks
    for dt in ("leu4", "bef8", "lef2", "i1"):
        for k in ("scalar", "vector", "image", "compact_layout", "gzip", "shuffle_gzip_2d", "raw_chunked"):
            assert f"t/{dt}/{k}" in taken, f"t/{dt}/{k}"
    assert {"others/bslz4", "others/lz4", "others/attrs_continued", "others/maxshape"} <= taken
    assert same(_header_reads(path, ["others/soft"])["others/soft"], want["t/leu4/vector"])
    # what it must leave alone
    for k in ("string", "vlen_string", "strings", "bool", "compound", "empty", "unwritten",
              "unwritten_chunked", "half_written", "blosc2", "many_chunks", "big"):
        assert f"others/{k}" not in taken, k
    # and read_many, whatever path each takes, is h5py's answer
    with fastchunk.File(path) as f:
        everything = f.read_many(names)
        for n in names:
            assert same(everything[n], want[n]), n
            assert same(f[n][()], want[n]), n  # the general path too (user block: issue 22's fix)


def test_deep_btree_records(tmp_path):
    path = write_mixed(tmp_path / "mixed.h5")
    with fastchunk.File(path) as f, h5py.File(path, "r") as h:
        reader = many.HeaderReader.for_group(f)
        info = h5py.h5o.get_info(h.id, b"others/many_chunks")

        def read(addr, n):
            return os.pread(reader.fd, n, reader.base + addr)

        ds = object_header.small_dataset(object_header.messages(read, info.addr))
        records = object_header.chunk_records(read, ds, 1000)
        assert records is not None and len(records) == 100
        want = {}
        h["others/many_chunks"].id.chunk_iter(
            lambda c: want.__setitem__(c.chunk_offset, (c.byte_offset, c.size)))
        assert {r.offset: (r.address + reader.base, r.nbytes) for r in records} == want
        assert object_header.chunk_records(read, ds, 99) is None  # more than asked for


def test_damaged_chunk_goes_to_the_general_path(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g", data=np.arange(100, dtype="<f8"), chunks=(50,), compression="gzip")
        off = f["g"].id.get_chunk_info(1).byte_offset
    with open(path, "r+b") as fh:
        fh.seek(off + 20)
        fh.write(b"\xff" * 8)
    with fastchunk.File(path) as f:
        assert many.HeaderReader.for_group(f).read("g") is None
        with pytest.raises(fastchunk.ChunkDecodeError, match="chunk"):
            f.read_many(["g"])


def test_missing_name_and_group(tmp_path):
    path = write_mixed(tmp_path / "mixed.h5")
    with fastchunk.File(path) as f:
        reader = many.HeaderReader.for_group(f)
        assert reader.read("no/such") is None and reader.read("t") is None
        with pytest.raises(KeyError, match="no/such"):
            f.read_many(["t/leu4/vector", "no/such"])
        with pytest.raises(TypeError, match="group"):
            f.read_many(["t"])
        # names relative to a group
        assert same(f["t/leu4"].read_many(["vector"])["vector"], h5py.File(path, "r")["t/leu4/vector"][()])


def test_header_path_is_not_used_for_other_drivers_or_swmr(tmp_path):
    path = write_mixed(tmp_path / "mixed.h5", libver="latest")
    with fastchunk.File(path, driver="core") as f:
        assert many.HeaderReader.for_group(f) is None
    with fastchunk.File(path, swmr=True) as f:
        assert many.HeaderReader.for_group(f) is None


def _realdata_files():
    if not REALDATA.is_dir():
        return []
    return sorted(p for p in REALDATA.rglob("*") if p.suffix in (".h5", ".hdf5", ".nxs", ".hdf"))


@pytest.mark.parametrize("path", _realdata_files(), ids=lambda p: str(p.relative_to(REALDATA)))
def test_realdata_same_as_h5py(path, monkeypatch):
    monkeypatch.chdir(path.parent)  # external files and links resolve from the file's folder
    try:
        with h5py.File(path, "r") as f:
            names = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            sizes = {n: (f[n].size or 0) * f[n].dtype.itemsize for n in names}
    except Exception as e:  # files h5py cannot open are tested elsewhere
        pytest.skip(f"h5py cannot walk it: {e}")
    try:
        reader_file = fastchunk.File(path)
    except Exception as e:
        pytest.skip(f"fastchunk cannot open it: {e}")
    with reader_file as f, h5py.File(path, "r") as h:
        reader = many.HeaderReader.for_group(f)
        if reader is None:
            return
        for n in names:
            if sizes[n] > 8 << 20:
                continue
            got = reader.read(n)
            if got is None:
                continue
            assert same(got, h[n][()]), n


def test_damaged_headers_never_raise(tmp_path):
    """Bytes flipped anywhere in dataset headers and B-tree nodes: the header path returns a
    value or None (the general path then answers as HDF5 does), never raises or over-allocates."""
    path = tmp_path / "small.h5"
    with h5py.File(path, "w") as f:
        f["scalar"] = np.float64(3.5)
        f["vector"] = np.arange(10, dtype="<i4")
        f.create_dataset("gzip", data=np.arange(100, dtype="<f8"), chunks=(30,), compression="gzip",
                         shuffle=True)
        f.create_dataset("raw", data=np.arange(60, dtype=">u2").reshape(6, 10), chunks=(4, 4))
        names = list(f)
        spots = [h5py.h5o.get_info(f.id, n.encode()).addr for n in names]
        spots += [f[n].id.get_chunk_info(0).byte_offset - 200 for n in ("gzip", "raw")]
    good = path.read_bytes()
    rng = np.random.default_rng(22)
    for trial in range(300):
        bad = bytearray(good)
        at = int(rng.choice(spots)) + int(rng.integers(0, 200))
        bad[at] ^= 1 << int(rng.integers(0, 8))
        p = tmp_path / f"bad{trial % 2}.h5"
        p.write_bytes(bytes(bad))
        try:
            f = fastchunk.File(p)
        except Exception:
            continue
        with f:
            reader = many.HeaderReader.for_group(f)
            for n in names:
                got = reader.read(n)
                assert got is None or np.asarray(got).nbytes <= 1 << 20
