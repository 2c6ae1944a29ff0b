"""Planning through the chunk index's grid lookup (indexes of LOOKUP_MIN_CHUNKS rows or more)
gives exactly the plan a scan of every row gives, and reads match h5py."""
import h5py
import numpy as np
import pytest
from conftest import assert_identical, h5py_read

import fastchunk
from fastchunk import _native
from fastchunk.plan import chunk_index as index_mod
from fastchunk import testing
from fastchunk.plan import make_plan
from fastchunk.plan.selection import parse_selection


def _plans_agree(ds, sel, monkeypatch):
    """Lookup and scan, each planned in C (box selections) and with numpy: four equal plans."""
    s = parse_selection(sel, ds.shape)
    plans = []
    for threshold in (1, 10**9):
        monkeypatch.setattr(index_mod, "LOOKUP_MIN_CHUNKS", threshold)
        idx = index_mod.ChunkIndex(ds.index.coords, ds.index.offset, ds.index.nbytes,
                                   ds.index.filter_mask)
        plans += [make_plan(idx, s, ds.chunks, ds.shape, plan_box=p) for p in (_native.plan_box, None)]
    assert idx.lookup_grid() is None  # the last two scanned
    a = plans[0]
    for b in plans[1:]:
        assert np.array_equal(a.rows, b.rows) and np.array_equal(a.regions, b.regions)
        assert np.array_equal(a.coords, b.coords) and a.missing == b.missing
    return a


def test_lookup_plans_equal_scan_plans(tmp_path, monkeypatch):
    """A 3-D dataset with a third of its chunks never written, many random selections."""
    shape, chunks = (23, 17, 11), (3, 4, 2)
    p = testing.write_dataset(tmp_path / "s.h5", "x", None, chunks, "deflate", shape=shape,
                              dtype="u2", fillvalue=7)
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1000, shape).astype("u2")
    with h5py.File(p, "a") as h:
        h["x"][2:20, :9, 3:] = values[2:20, :9, 3:]
    rng = np.random.default_rng(5)
    with fastchunk.File(p) as f:
        ds = f["x"]
        for _ in range(200):
            sel = []
            for n in shape:
                kind = rng.integers(4)
                if kind == 0:
                    sel.append(int(rng.integers(-n, n)))
                elif kind == 1:
                    a = int(rng.integers(0, n))
                    sel.append(slice(a, int(rng.integers(a, n + 1)), int(rng.integers(1, 7))))
                elif kind == 2:
                    sel.append(sorted(set(rng.integers(0, n, int(rng.integers(1, 5))).tolist())))
                else:
                    sel.append(slice(None))
            if sum(isinstance(x, list) for x in sel) > 1:  # one index list at most
                sel = [x if not isinstance(x, list) else slice(None) for x in sel]
            plan = _plans_agree(ds, tuple(sel), monkeypatch)
            assert len(plan.rows) <= len(ds.index)
            monkeypatch.setattr(index_mod, "LOOKUP_MIN_CHUNKS", 1)
            with fastchunk.File(p) as g:
                assert_identical(g["x"][tuple(sel)], h5py_read(p, "x", tuple(sel)))


def test_one_element_of_many_tiny_chunks(tmp_path):
    """5,000 chunks of (1,): the lookup is built (no threshold patched) and single-element,
    stepped and index-list reads match h5py."""
    p = tmp_path / "t.h5"
    with h5py.File(p, "w") as h:
        h.create_dataset("x", data=np.arange(5000, dtype="f8") * 1.5, chunks=(1,))
    with fastchunk.File(p) as f:
        ds = f["x"]
        for sel in (0, 4999, -1, 1234, slice(10, 20), slice(3, 4990, 97), [5, 6, 4000],
                    slice(4990, 6000)):
            assert_identical(ds[sel], h5py_read(p, "x", sel))
        assert ds.index.lookup_grid() == (5000,)


def test_sparse_grid_has_no_lookup(tmp_path):
    """A grid mostly unallocated (here 2,000 of 40,000 chunks) is scanned, not looked up."""
    p = testing.write_dataset(tmp_path / "sp.h5", "x", None, (1, 1), None, shape=(200, 200),
                              dtype="u1", fillvalue=3)
    with h5py.File(p, "a") as h:
        h["x"][::10, :] = 9  # 20 rows x 200 = 4,000 chunks of the 40,000
    with fastchunk.File(p) as f:
        ds = f["x"]
        assert len(ds.index) == 4000 and ds.index.lookup_grid() is None
        assert_identical(ds[5:25, 7], h5py_read(p, "x", (slice(5, 25), 7)))
