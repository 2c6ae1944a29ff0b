"""Real bitshuffle files from other projects and real detectors (../shared/realdata) read
natively, bit for bit like h5py, on every SIMD kernel and thread count."""
import h5py
import numpy as np
import pytest
from conftest import assert_identical, h5py_read

import fastchunk

pytestmark = pytest.mark.parametrize("num_threads", [1, 4], ids=lambda n: f"threads{n}")


def _datasets(path):
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def _selections(shape):
    """A few h5py-style selections that fit a dataset of this shape."""
    sels = [(), np.s_[...]]
    if not shape or 0 in shape:
        return sels
    n = shape[0]
    sels += [np.s_[0], np.s_[-1], np.s_[1:n - 1], np.s_[::3], np.s_[n // 2::7], np.s_[n // 3:n // 3 + 1]]
    if len(shape) >= 2:
        m = shape[1]
        sels += [np.s_[:, m // 2], np.s_[..., 1::5], np.s_[-2:, :m // 3:2], np.s_[n // 2, 3:m - 1:4]]
    return sels


def _check(f, path, name, sels=None):
    ds = f[name]
    for sel in _selections(ds.shape) if sels is None else sels:
        assert_identical(ds[sel], h5py_read(path, name, sel))
    return ds


def _bitshuffle_compression(h5ds):
    """cd_values[4] of the dataset's bitshuffle filter, or None if it has none."""
    dcpl = h5ds.id.get_create_plist()
    for i in range(dcpl.get_nfilters()):
        fid, _, cd, _ = dcpl.get_filter(i)
        if fid == 32008:
            return cd[4] if len(cd) >= 5 else 0
    return None


def _check_all(path, num_threads):
    """Every dataset: native when it is bitshuffle (+LZ4 or zstd), identical to h5py."""
    kinds = []
    with fastchunk.File(path, num_threads=num_threads) as f:
        for name in _datasets(path):
            ds = _check(f, path, name)
            comp = _bitshuffle_compression(ds._h5)
            if comp is not None:
                assert ds.native, (name, ds.reason)
            kinds.append(comp)
    return kinds


def test_real_eiger_4m_frame(realdata, simd, num_threads):
    path = realdata / "hdf5plugin" / "bitshuffle.h5"
    name = "/entry/data/data"
    with fastchunk.File(path, num_threads=num_threads) as f:
        ds = f[name]
        assert ds.native, ds.reason
        assert ds.pipeline.codec == "bitshuffle+lz4"
        data = ds[()]
        assert data.shape == (1, 2167, 2070) and data.dtype == np.uint32
        assert data[0, 1372, 613] == 922  # the value hdf5plugin's own test checks
        assert ds[0, 1372, 613] == 922
        assert_identical(data, h5py_read(path, name))
        _check(f, path, name, [np.s_[0, 1000:1100, ::7], np.s_[:, 5], np.s_[..., 2069],
                               np.s_[0, 2166], np.s_[0, 513:552, 1025:1045]])
        out = np.zeros_like(data)
        assert ds.read(out=out) is out
        assert_identical(out, data)


@pytest.mark.parametrize("version", ["0.1.3", "0.4.0"])
def test_bitshuffle_regression_files(realdata, simd, num_threads, version):
    path = realdata / "bitshuffle" / f"regression_{version}.h5"
    kinds = _check_all(path, num_threads)
    assert kinds.count(2) == 21  # /compressed: one bslz4 dataset per kind
    assert kinds.count(3) == (21 if version == "0.4.0" else 0)  # /compressed_zstd
    with fastchunk.File(path, num_threads=num_threads) as f:
        originals = f["original"]
        for group in ("compressed", "compressed_zstd"):
            if group not in f:
                continue
            for key in f[group].keys():
                got = f[f"{group}/{key}"][()]
                assert_identical(got, originals[key][()])


def test_bitshuffle_zstd_is_native(realdata, num_threads):
    path = realdata / "bitshuffle" / "regression_0.4.0.h5"
    with fastchunk.File(path, num_threads=num_threads, strict=True) as f:
        ds = f["/compressed_zstd/a4_a"]
        assert ds.native, ds.reason
        assert ds.pipeline.codec == "bitshuffle+zstd"
        assert_identical(ds[10:20], h5py_read(path, "/original/a4_a", np.s_[10:20]))


def test_jhdf_bitshuffle_datasets(realdata, simd, num_threads):
    path = realdata / "jhdf" / "bitshuffle_datasets.hdf5"
    kinds = _check_all(path, num_threads)
    assert len(kinds) == 40 and set(kinds) == {0, 2}
    with fastchunk.File(path, num_threads=num_threads) as f:
        for dtype in ("int8", "int16", "float32", "float64"):
            # Every block size must give the same values (bs0 is the filter's default).
            ref = f[f"{dtype}_bs0_comp0"][()]
            for bs in (8, 64, 1024, 4096):
                for comp in (0, 2):
                    assert_identical(f[f"{dtype}_bs{bs}_comp{comp}"][()], ref)


def test_kerchunk_bitshuffle(realdata, simd, num_threads):
    path = realdata / "kerchunk" / "hdf5_compression_bitshuffle.h5"
    assert _check_all(path, num_threads) == [2]


def test_hdf5_plugins_bitshuffle_without_lz4(realdata, simd, num_threads):
    path = realdata / "hdf5_plugins" / "h5ex_d_bshuf.h5"
    assert _check_all(path, num_threads) == [0]
    with fastchunk.File(path, num_threads=num_threads) as f:
        # (32, 64) in (4, 8) chunks: selections that cut through many chunks.
        _check(f, path, "/DS1", [np.s_[3:29, 5:61], np.s_[::5, ::9], np.s_[31, 1::2]])


def test_arina_data_file(realdata, simd, num_threads):
    path = realdata / "rosettasciio" / "arina" / "test_00_data_000001.h5"
    assert _check_all(path, num_threads) == [2]
    with fastchunk.File(path, num_threads=num_threads) as f:
        ds = f["/entry/data/data"]
        assert ds.shape == (16, 192, 192) and ds.native
        _check(f, path, "/entry/data/data", [np.s_[3:13, 50:150, ::3], np.s_[15, 191], np.s_[::5, :, 0]])


def test_arina_master_external_link(realdata, simd, num_threads):
    master = realdata / "rosettasciio" / "arina" / "test_00_master.h5"
    data_file = master.with_name("test_00_data_000001.h5")
    with fastchunk.File(master, num_threads=num_threads) as f:
        ds = f["/entry/data/data_000001"]
        assert ds.native, ds.reason
        assert ds.data_file == str(data_file)  # chunk offsets belong to the linked file
        for sel in ((), np.s_[2:5, 10:20], np.s_[-1, ::7, 100]):
            assert_identical(ds[sel], h5py_read(master, "/entry/data/data_000001", sel))
