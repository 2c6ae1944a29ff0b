"""The chunk index built through H5Dchunk_iter with our C visitor equals the one from h5py's
own chunk_iter, for every chunked dataset in the real files (every HDF5 index type) and for
generated ones."""
import h5py
import numpy as np
import pytest

from fastchunk import testing
from fastchunk.engine import scan_chunks
from fastchunk.plan.chunk_index import build_index


def _same(a, b):
    for field in ("coords", "offset", "nbytes", "filter_mask"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and np.array_equal(x, y), field


def _chunked(f):
    names = []
    f.visit(names.append)
    found = []
    for name in names:
        try:
            obj = f[name]
        except (KeyError, OSError):  # a few real files hold objects HDF5 itself refuses
            continue
        if isinstance(obj, h5py.Dataset) and obj.chunks and \
                obj.id.get_create_plist().get_layout() == h5py.h5d.CHUNKED:
            found.append(obj)
    return found


def test_native_index_matches_h5py_on_real_files(realdata):
    checked = 0
    for path in sorted(realdata.rglob("*")):
        if path.suffix not in (".h5", ".hdf5", ".nxs", ".hdf"):
            continue
        try:
            f = h5py.File(path, "r")
        except OSError:
            continue
        with f:
            for ds in _chunked(f):
                assert scan_chunks(ds, len(ds.chunks)) is not None, ds.name
                _same(build_index(ds, scan_chunks), build_index(ds))
                checked += 1
    assert checked > 20


@pytest.mark.parametrize("kw", [
    dict(chunks=(1,), data=np.arange(5000.0)),                                   # fixed array
    dict(chunks=(7, 5), data=np.arange(900, dtype="u2").reshape(30, 30), maxshape=(None, 30)),
    dict(chunks=(4, 4), data=np.arange(400, dtype="i4").reshape(20, 20), maxshape=(None, None)),
    dict(chunks=(3, 2, 5), data=np.ones((10, 4, 9), "u1")),
])
@pytest.mark.parametrize("libver", ["earliest", "latest"])  # v1 B-tree vs the newer index types
def test_native_index_matches_h5py(tmp_path, kw, libver):
    p = tmp_path / "d.h5"
    with h5py.File(p, "w", libver=libver) as f:
        f.create_dataset("x", compression="gzip", **kw)
        f.create_dataset("sparse", shape=(40, 40), chunks=(8, 8), dtype="f4")
        f["sparse"][9:17, 30:] = 1  # a few chunks allocated out of grid order
    with h5py.File(p, "r") as f:
        for name in ("x", "sparse"):
            a, b = build_index(f[name], scan_chunks), build_index(f[name])
            _same(a, b)
            assert len(a) == f[name].id.get_num_chunks()


def test_userblock_shifts_addresses(tmp_path):
    p = tmp_path / "u.h5"
    with h5py.File(p, "w", userblock_size=1024) as f:
        f.create_dataset("x", data=np.arange(100.0), chunks=(10,))
    with h5py.File(p, "r") as f:
        idx = build_index(f["x"])
        _same(idx, build_index(f["x"]))
    raw = p.read_bytes()
    first = np.frombuffer(raw[idx.offset[0]:idx.offset[0] + 80], "<f8")
    assert np.array_equal(first, np.arange(100.0)[idx.coords[0, 0] * 10:][:10])


@pytest.mark.parametrize("libver,native", [("earliest", True), ("latest", False)])
def test_unlimited_dimension_that_is_not_the_first(tmp_path, libver, native):
    """maxshape (N, None): an extensible-array index (libver latest) swizzles the unlimited axis
    to the front and HDF5 reports swizzled chunk coordinates, so h5py reads it; the v1 B-tree
    of older files reports them right and fastchunk reads it natively. Both match h5py."""
    import fastchunk
    from fastchunk.libhdf5 import EARRAY_INDEX, chunk_index_type
    data = np.arange(4 * 6 * 5, dtype="i4").reshape(4, 30)
    p = tmp_path / "u.h5"
    with h5py.File(p, "w", libver=libver) as f:
        f.create_dataset("x", data=data, chunks=(2, 3), maxshape=(10, None))
        assert (chunk_index_type(f["x"].id) == EARRAY_INDEX) is not native
    with fastchunk.File(p) as f:
        ds = f["x"]
        assert ds.native is native, ds.reason
        if not native:
            assert "extensible-array" in ds.reason
        for sel in [(), np.s_[1:3, 5:29:2]]:
            got = ds[sel]
            assert got.dtype == data.dtype and np.array_equal(got, data[sel])
