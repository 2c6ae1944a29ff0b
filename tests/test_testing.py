"""Tests for the synthetic Eiger data generators and HDF5 writers in fastchunk.testing."""

import io

import h5py
import numpy as np
import pytest

from fastchunk import testing as ft

SMALL = (300, 280)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    # Never touch the user's real cache.
    monkeypatch.setenv("FASTCHUNK_CACHE", str(tmp_path / "cache"))


def _ratio(dset):
    """Uncompressed bytes / stored bytes."""
    return dset.size * dset.dtype.itemsize / dset.id.get_storage_size()


def _read(path, name=ft.DEMO_DATASET):
    import hdf5plugin  # noqa: F401  (registers the filters for reading)

    with h5py.File(path, "r") as f:
        return f[name][()]


# --------------------------------------------------------------------------- frames


def test_frames_are_deterministic():
    a = ft.eiger_frames(4, SMALL, seed=3)
    b = ft.eiger_frames(4, SMALL, seed=3)
    assert a.shape == (4, *SMALL) and a.dtype == np.uint32
    np.testing.assert_array_equal(a, b)


def test_frame_depends_only_on_seed_and_index():
    whole = ft.eiger_frames(6, SMALL)
    np.testing.assert_array_equal(ft.eiger_frames(3, SMALL, start=3), whole[3:])
    np.testing.assert_array_equal(ft.eiger_frames(1, SMALL, start=5)[0], whole[5])


def test_frames_differ_between_frames_and_seeds():
    a = ft.eiger_frames(2, SMALL, seed=0)
    b = ft.eiger_frames(2, SMALL, seed=1)
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], b[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32])
def test_frame_dtypes_and_gap_value(dtype):
    frame = ft.eiger_frames(1, SMALL, dtype=dtype)[0]
    top = np.iinfo(dtype).max
    assert frame.dtype == dtype
    assert frame.min() >= 0
    gaps = frame == top
    # Whole stripes are masked; counts never reach the mask value.
    assert gaps.all(axis=1).any() and gaps.all(axis=0).any()
    assert frame[~gaps].max() <= top - 1


def test_full_frame_module_gaps_match_eiger_4m():
    frame = ft.eiger_frames(1, dtype=np.uint16)[0]
    top = np.iinfo(np.uint16).max
    gap_rows = np.flatnonzero((frame == top).all(axis=1))
    gap_cols = np.flatnonzero((frame == top).all(axis=0))
    expected_rows = [r for start in (514, 1065, 1616) for r in range(start, start + 37)]
    np.testing.assert_array_equal(gap_rows, expected_rows)
    np.testing.assert_array_equal(gap_cols, np.arange(1030, 1040))


def test_gaps_scale_with_shape():
    frame = ft.eiger_frames(1, (1083, 1035), dtype=np.uint16)[0]
    top = np.iinfo(np.uint16).max
    n_rows = (frame == top).all(axis=1).sum()
    n_cols = (frame == top).all(axis=0).sum()
    assert 3 * 37 // 2 - 3 <= n_rows <= 3 * 37 // 2 + 3
    assert 4 <= n_cols <= 6


def test_count_levels_are_realistic():
    frame = ft.eiger_frames(1, start=7)[0]
    counts = frame[frame != np.iinfo(np.uint32).max]
    background = counts[counts < 50]
    assert 0.5 <= background.mean() <= 2.0
    assert np.median(counts) <= 2
    # Bragg spots: hundreds to thousands of counts.
    assert (counts >= 100).sum() > 500
    assert 1000 <= counts.max() <= 20000


def test_tiny_shapes_work():
    for shape in [(1, 1), (3, 5), (16, 16)]:
        assert ft.eiger_frames(2, shape, dtype=np.uint8).shape == (2, *shape)
    assert ft.eiger_frames(0, SMALL).shape == (0, *SMALL)


def test_bad_arguments():
    with pytest.raises(ValueError):
        ft.eiger_frames(1, SMALL, dtype=np.float32)
    with pytest.raises(ValueError):
        ft.eiger_frames(1, (10,))
    with pytest.raises(ValueError):
        ft.eiger_frames(1, SMALL, start=-1)


# --------------------------------------------------------------------------- eiger file


@pytest.mark.parametrize(
    "compression", ["bslz4", "bitshuffle", "lz4", "deflate", "shuffle+deflate", None]
)
def test_eiger_file_roundtrip(tmp_path, compression):
    calls = []
    path = ft.write_eiger_file(
        tmp_path / "e.h5", 6, SMALL, np.uint16, compression=compression,
        progress=lambda done, total: calls.append((done, total)),
    )
    np.testing.assert_array_equal(_read(path), ft.eiger_frames(6, SMALL, np.uint16))
    assert calls[-1] == (6, 6) and len(calls) >= 2
    with h5py.File(path, "r") as f:
        dset = f[ft.DEMO_DATASET]
        assert dset.chunks == (1, *SMALL)
        assert f["/entry"].attrs["NX_class"] == "NXentry"
        assert f["/entry/data"].attrs["NX_class"] == "NXdata"


def test_eiger_file_with_zero_frames(tmp_path):
    path = ft.write_eiger_file(tmp_path / "e.h5", 0, SMALL)
    assert _read(path).shape == (0, *SMALL)


def test_eiger_file_custom_dataset_seed_and_block_size(tmp_path):
    path = ft.write_eiger_file(
        tmp_path / "e.h5", 3, SMALL, block_size=1024, seed=5, dataset="/scan/frames"
    )
    np.testing.assert_array_equal(_read(path, "/scan/frames"), ft.eiger_frames(3, SMALL, seed=5))


@pytest.mark.parametrize("dtype, low, high", [(np.uint32, 6.0, 15.0), (np.uint16, 3.0, 8.0)])
def test_bslz4_compression_ratio_is_realistic(tmp_path, dtype, low, high):
    path = ft.write_eiger_file(tmp_path / "e.h5", 3, dtype=dtype)
    with h5py.File(path, "r") as f:
        assert low <= _ratio(f[ft.DEMO_DATASET]) <= high


# --------------------------------------------------------------------------- write_dataset


@pytest.mark.parametrize(
    "compression",
    [None, "bslz4", "bitshuffle", "lz4", "deflate", "shuffle", "fletcher32",
     "shuffle+deflate", "shuffle+deflate+fletcher32"],
)
def test_write_dataset_roundtrip(tmp_path, compression):
    data = np.arange(3000, dtype="<i4").reshape(30, 100) * 7
    path = ft.write_dataset(tmp_path / "d.h5", "g/x", data, (7, 30), compression)
    np.testing.assert_array_equal(_read(path, "g/x"), data)
    with h5py.File(path, "r") as f:
        dset = f["g/x"]
        assert dset.chunks == (7, 30)
        tokens = (compression or "").split("+")
        assert dset.shuffle == ("shuffle" in tokens)
        assert dset.fletcher32 == ("fletcher32" in tokens)


def test_write_dataset_filter_pipeline_order(tmp_path):
    path = ft.write_dataset(
        tmp_path / "d.h5", "x", np.ones((8, 8)), (4, 4), "shuffle+deflate+fletcher32"
    )
    with h5py.File(path, "r") as f:
        dcpl = f["x"].id.get_create_plist()
        ids = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
    assert ids == [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_FLETCHER32]


def test_write_dataset_strings_with_bslz4(tmp_path):
    data = np.array([b"item%03d" % i for i in range(60)], dtype="S10").reshape(6, 10)
    path = ft.write_dataset(tmp_path / "s.h5", "s", data, (4, 4), "bslz4")
    np.testing.assert_array_equal(_read(path, "s"), data)


def test_write_dataset_shares_file_and_replaces(tmp_path):
    path = tmp_path / "d.h5"
    ft.write_dataset(path, "a", np.zeros(10), (5,))
    ft.write_dataset(path, "b", np.ones(10), (5,), "deflate")
    ft.write_dataset(path, "a", np.full(10, 3.0), (5,), "lz4")
    assert _read(path, "a").tolist() == [3.0] * 10
    assert _read(path, "b").tolist() == [1.0] * 10


def test_write_dataset_fillvalue_without_data(tmp_path):
    path = ft.write_dataset(
        tmp_path / "d.h5", "f", None, (4, 4), "deflate", fillvalue=7, shape=(10, 10), dtype="i2"
    )
    with h5py.File(path, "r") as f:
        assert f["f"].id.get_num_chunks() == 0
        assert (f["f"][()] == 7).all()


def test_unknown_compression_is_rejected(tmp_path):
    for bad in ["zip", "deflate+lz4", "shuffle+shuffle"]:
        with pytest.raises(ValueError):
            ft.write_dataset(tmp_path / "d.h5", "x", np.zeros(4), (2,), bad)


# --------------------------------------------------------------------------- demo cache


def test_demo_path_name_and_location(tmp_path, monkeypatch):
    path = ft.demo_path()
    assert path.parent == tmp_path / "cache"
    assert path.name == f"eiger_v{ft.FORMAT_VERSION}_50x2167x2070_uint32_bslz4.h5"
    assert ft.demo_path(8, (64, 32), np.uint16).name.endswith("_8x64x32_uint16_bslz4.h5")
    monkeypatch.delenv("FASTCHUNK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ft.demo_path().parent == tmp_path / "xdg" / "fastchunk"


def test_ensure_demo_file_writes_once(tmp_path):
    path = ft.ensure_demo_file(3, SMALL, np.uint16)
    assert path == ft.demo_path(3, SMALL, np.uint16) and path.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    np.testing.assert_array_equal(_read(path), ft.eiger_frames(3, SMALL, np.uint16))
    mtime = path.stat().st_mtime_ns
    calls = []
    assert ft.ensure_demo_file(3, SMALL, np.uint16, progress=lambda *a: calls.append(a)) == path
    assert path.stat().st_mtime_ns == mtime and calls == []


def test_ensure_demo_file_cleans_up_after_failure(tmp_path):
    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ft.ensure_demo_file(6, SMALL, np.uint16, progress=interrupt)
    assert not ft.demo_path(6, SMALL, np.uint16).exists()
    assert list(ft.demo_path().parent.iterdir()) == []


def test_text_progress():
    stream = io.StringIO()
    progress = ft.text_progress(stream)
    progress(1, 4)
    assert stream.getvalue().startswith("\r") and "1/4 frames" in stream.getvalue()
    assert not stream.getvalue().endswith("\n")
    progress(4, 4)
    assert stream.getvalue().endswith("4/4 frames\n")
    assert "[" + "#" * 30 + "]" in stream.getvalue()


# --------------------------------------------------------------------------- package layout


def test_public_names_and_module_layering():
    """fastchunk.testing re-exports every public name; its modules use only those listed
    above them (no circles) and no other module's private names."""
    import ast
    import importlib
    import pathlib

    below = {"detector": set(), "progress": set(), "writers": {"detector"},
             "masters": {"detector", "writers"}, "demo": {"detector", "writers"}}
    for name in ft.__all__:
        assert getattr(ft, name) is not None, name
    pkg = pathlib.Path(ft.__file__).parent
    assert {p.stem for p in pkg.glob("*.py")} == {"__init__", *below}
    for mod, allowed in below.items():
        module = importlib.import_module(f"fastchunk.testing.{mod}")
        assert set(module.__all__) <= set(vars(module)), mod
        for node in ast.walk(ast.parse((pkg / f"{mod}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node.module in allowed, (mod, node.module)
                assert not any(a.name.startswith("_") for a in node.names), (mod, node.module)
            elif isinstance(node, ast.ImportFrom) or isinstance(node, ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n and n.startswith("fastchunk") for n in names), (mod, names)
