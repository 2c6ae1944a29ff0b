"""Selections: what h5py's ds[sel] accepts reads natively with h5py's result, bit for bit, and
every invalid selection raises h5py's own error (type and message), side by side with h5py."""
import h5py
import numpy as np
import pytest
from conftest import assert_identical, h5py_read

import fastchunk
from fastchunk import _native, testing
from fastchunk.plan import make_plan
from fastchunk.plan.selection import parse_selection, point_pieces

SHAPE, CHUNKS = (9, 13, 7), (4, 5, 3)
MASK = (np.arange(np.prod(SHAPE)).reshape(SHAPE) % 11) == 3

# Valid selections that must be served natively (never through h5py).
NATIVE = [
    np.s_[[0, 2, 3]], np.s_[:, [1, 2, 7, 12]], np.s_[..., [0, 6]], np.s_[[-1]], np.s_[:, [-3, -1]],
    np.s_[np.array([1, 4, 5, 8])], np.s_[np.array([0, 1], dtype="u8")], np.s_[range(0, 9, 2)],
    np.s_[2, [0, 3, 4], 1:6:2], np.s_[::2, :, [0, 1, 2, 5]], np.s_[[]], np.s_[:, []],
    np.s_[[True, False, True, False, False, True, True, False, True]],
    np.s_[:, np.arange(13) % 3 == 0], np.s_[..., np.zeros(7, bool)], np.s_[MASK],
    np.s_[np.zeros(SHAPE, bool)], np.s_[np.array(2)], np.s_[np.int64(-2), 3],
    np.s_[1:8:3, [4, 5, 6, 7, 8, 9], -1], np.s_[[3, 4, 5, 6, 7]],
]
# Invalid selections, and valid ones fastchunk leaves to h5py: identical errors or results.
OTHER = [
    np.s_[[3, 1]], np.s_[[1, 1]], np.s_[[0, 1], [0, 1]], np.s_[[0, 9]], np.s_[[-10]],
    np.s_[np.array([True, False])], np.s_[:, np.ones(12, bool)], np.s_[1.0], np.s_["a"], np.s_[None],
    np.s_[np.newaxis, 1], np.s_[0:2.0], np.s_[::0], np.s_[::-1], np.s_[np.array([[0, 1]])],
    np.s_[np.array([0.0, 1.0])], np.s_[True], np.s_[np.bool_(True)], np.s_[..., ...], np.s_[0, 0, 0, 0],
    np.s_[9], np.s_[0, -14], np.s_[[(0, 1)]], np.s_[np.zeros((9, 13), bool)], np.s_[MASK, 0],
    np.s_[[True, 1]], np.s_[[0, -1, 5]],
]


@pytest.fixture(scope="module")
def vol(tmp_path_factory):
    rng = np.random.default_rng(3)
    data = rng.integers(0, 3000, SHAPE).astype("u2")
    return testing.write_dataset(tmp_path_factory.mktemp("sel") / "v.h5", "x", data, CHUNKS, "bslz4")


def _outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001  (we compare whatever h5py raises)
        return type(e), str(e)


@pytest.mark.parametrize("sel", NATIVE, ids=repr)
@pytest.mark.parametrize("num_threads", [1, 3])
def test_native_selections_match_h5py(vol, sel, num_threads, monkeypatch):
    def no_fallback(*a):
        raise AssertionError("read through h5py")
    with fastchunk.File(vol, num_threads=num_threads) as f:
        monkeypatch.setattr(fastchunk.Dataset, "_read_h5py", no_fallback)
        got = f["x"][sel]
    assert_identical(got, h5py_read(vol, "x", sel))


@pytest.mark.parametrize("sel", OTHER, ids=repr)
def test_other_selections_behave_like_h5py(vol, sel):
    with fastchunk.File(vol) as f, h5py.File(vol, "r") as h:
        got = _outcome(lambda: f["x"][sel])
        want = _outcome(lambda: h["x"][sel])
    if isinstance(want, tuple):
        assert got == want
    else:
        assert_identical(got, want)


@pytest.mark.parametrize("sel", [np.s_[:, [1, 2, 7]], np.s_[MASK], np.s_[1::2, 3]], ids=repr)
def test_out_for_array_selections(vol, sel):
    want = h5py_read(vol, "x", sel)
    with fastchunk.File(vol) as f:
        out = np.zeros(want.shape, want.dtype)
        assert f["x"].read(sel, out=out) is out
        assert_identical(out, want)
        wide = np.zeros(want.shape[:-1] + (want.shape[-1] * 3,), want.dtype)
        f["x"].read(sel, out=wide[..., ::3])
        assert_identical(wide[..., ::3], want)
        assert not wide[..., 1::3].any()
        with pytest.raises(ValueError, match="shape"):
            f["x"].read(sel, out=np.zeros(want.size + 1, want.dtype))


def test_point_pieces_split_runs_at_chunk_edges():
    c, local, out, count = point_pieces(np.array([0, 1, 2, 3, 4, 5, 9, 10, 14]), 5)
    assert c.tolist() == [0, 1, 1, 2, 2]
    assert local.tolist() == [0, 0, 4, 0, 4]
    assert out.tolist() == [0, 5, 6, 7, 8]
    assert count.tolist() == [5, 1, 1, 1, 1]


@pytest.mark.parametrize("num_threads", [1, 2])
def test_chunk_hit_by_several_runs_is_decoded_once(tmp_path, num_threads):
    data = np.arange(40 * 30, dtype="i4").reshape(40, 30)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (10, 30), "bslz4")
    sel = np.s_[[0, 2, 4, 11, 15, 17, 39], 3:20]  # runs 3 + 3 + 1 in chunks 0, 1, 3
    with fastchunk.File(p) as f:
        ds = f["x"]
        s = parse_selection(sel, ds.shape)
        plan = make_plan(ds.index, s, ds.chunks, ds.shape)
        assert len(plan.rows) == 7
        # Rows of one chunk sit next to each other, so the reader can share the decode.
        assert plan.rows["offset"].tolist() == sorted(plan.rows["offset"].tolist())
        out = np.zeros(s.out_shape, ds.dtype)
        decoded = _native.read(plan.rows, plan.regions, s.step, s.out_shape, out,
                               [f.fd_for(ds.data_file)], ds.native_layouts(), num_threads)
        assert decoded == 3
        assert_identical(out, data[sel])
        # A selection inside one chunk runs inline: still one decode.
        s = parse_selection(np.s_[[1, 3, 5, 7]], ds.shape)
        plan = make_plan(ds.index, s, ds.chunks, ds.shape)
        out = np.zeros(s.out_shape, ds.dtype)
        assert _native.read(plan.rows, plan.regions, s.step, s.out_shape, out,
                            [f.fd_for(ds.data_file)], ds.native_layouts(), num_threads) == 1
        assert_identical(out, data[[1, 3, 5, 7]])


def test_index_list_over_unallocated_chunks_reads_fill_value(tmp_path):
    p = testing.write_dataset(tmp_path / "d.h5", "x", None, (8, 6), "bslz4", shape=(40, 12),
                              dtype="i2", fillvalue=-3)
    with h5py.File(p, "a") as h:
        h["x"][8:16] = 4
    sel = np.s_[[1, 9, 10, 30], ::5]
    with fastchunk.File(p) as f:
        got = f["x"][sel]
    assert_identical(got, h5py_read(p, "x", sel))
    assert (got == -3).any() and (got == 4).any()


def test_index_lists_and_masks_on_a_virtual_dataset(tmp_path):
    data = np.arange(6 * 8 * 5, dtype="u2").reshape(6, 8, 5)
    src = testing.write_dataset(tmp_path / "src.h5", "d", data, (2, 4, 5), "bslz4")
    layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
    layout[...] = h5py.VirtualSource(str(src), "d", shape=data.shape)
    p = tmp_path / "vds.h5"
    with h5py.File(p, "w") as f:
        f.create_virtual_dataset("v", layout)
    mask = data % 7 == 0
    with fastchunk.File(p) as f:
        assert f["v"].native, f["v"].reason
        for sel in (np.s_[:, [1, 2, 6]], np.s_[[0, 5], 3], np.s_[..., [4]], np.s_[mask], np.s_[[]]):
            assert_identical(f["v"][sel], h5py_read(p, "v", sel))
