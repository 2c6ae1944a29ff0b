"""Property-based: generated shapes, chunk shapes, dtypes, codecs, partly written datasets and
selections read natively and bit for bit like h5py; plus fixed cases along every axis of a
(256, 256, 256) uint16 volume in (64, 64, 64) bslz4 chunks."""
import os
import pathlib
import tempfile

import numpy as np
import pytest
from conftest import assert_identical, h5py_read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastchunk
import fastchunk.plan.chunk_index
from fastchunk import testing

DTYPES = ["u1", "u2", ">i4", "f4", "<f8", "S3"]
# derandomize: the same examples every run; FASTCHUNK_HYPOTHESIS_EXAMPLES=2000 searches harder.
EXAMPLES = int(os.environ.get("FASTCHUNK_HYPOTHESIS_EXAMPLES", "80"))
CODECS = [None, "bslz4", "bitshuffle", "lz4", "shuffle+deflate", "deflate+fletcher32"]


def _values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype.startswith("S"):
        return rng.integers(0, 256, n * 3, dtype=np.uint8).view("S3").reshape(shape)
    return rng.integers(0, 200, n).astype(dtype).reshape(shape)


@st.composite
def layouts(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 23), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    return shape, chunks, draw(st.sampled_from(DTYPES)), draw(st.sampled_from(CODECS))


@st.composite
def axis_index(draw, n):
    kind = draw(st.sampled_from(["int", "slice", "slice", "full"]))
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "full":
        return slice(None)
    start = draw(st.none() | st.integers(-n - 2, n + 2))
    stop = draw(st.none() | st.integers(-n - 2, n + 2))
    return slice(start, stop, draw(st.none() | st.integers(1, 6)))


@st.composite
def selections(draw, shape):
    sel = [draw(axis_index(n)) for n in shape]
    if draw(st.booleans()):  # one index list or boolean array on one axis
        d = draw(st.integers(0, len(shape) - 1))
        picked = sorted(draw(st.sets(st.integers(0, shape[d] - 1), max_size=shape[d])))
        form = draw(st.sampled_from(["list", "array", "negative", "bool"]))
        if form == "array":
            sel[d] = np.array(picked, dtype=draw(st.sampled_from(["i8", "u4", "i2"])))
        elif form == "negative":
            sel[d] = [i - shape[d] for i in picked]
        elif form == "bool":
            mask = np.zeros(shape[d], bool)
            mask[picked] = True
            sel[d] = mask
        else:
            sel[d] = picked
    if draw(st.booleans()) and len(sel) > 1:  # an Ellipsis standing in for leading axes
        k = draw(st.integers(1, len(sel) - 1))
        if all(isinstance(s, slice) and s == slice(None) for s in sel[:k]):
            sel = [Ellipsis] + sel[k:]
    return tuple(sel)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), layout=layouts(), partial=st.booleans(), num_threads=st.sampled_from([1, 3]),
       lookup=st.booleans())
def test_generated_reads_match_h5py(data, layout, partial, num_threads, lookup):
    """lookup: plan through the chunk index's grid lookup even for these small indexes."""
    shape, chunks, dtype, codec = layout
    values = _values(shape, dtype, seed=len(shape) * 7 + sum(shape))
    with tempfile.TemporaryDirectory() as tmp:
        p = pathlib.Path(tmp) / "g.h5"
        if partial:  # only some chunks allocated: the rest reads as the fill value
            testing.write_dataset(p, "x", None, chunks, codec, shape=shape, dtype=dtype,
                                  fillvalue=np.zeros((), dtype)[()])
            import h5py
            box = tuple(slice(n // 3, n // 3 + max(1, n // 2)) for n in shape)
            with h5py.File(p, "a") as h:
                h["x"][box] = values[box]
        else:
            testing.write_dataset(p, "x", values, chunks, codec)
        sel = data.draw(selections(shape))
        try:
            want = h5py_read(p, "x", sel)
        except ValueError as e:
            # h5py 3.16 fails on an index list combined with an empty slice ("Dataspaces don't
            # have hyperslab selections"); fastchunk returns the empty array numpy would.
            assert "hyperslab" in str(e)
            got = fastchunk.read(p, "x", sel)
            assert got.size == 0
            return
        with fastchunk.File(p, num_threads=num_threads) as f, pytest.MonkeyPatch.context() as m:
            m.setattr(fastchunk.plan.chunk_index, "LOOKUP_MIN_CHUNKS", 1 if lookup else 10**9)
            assert f["x"].native, f["x"].reason
            m.setattr(fastchunk.Dataset, "_read_h5py", lambda *a: pytest.fail("read through h5py"))
            got = f["x"][sel]
            assert_identical(got, want)
            dt = f["x"].dtype  # want may be a numpy scalar, always native byte order
            out = np.empty(np.shape(want), dt)
            assert_identical(f["x"].read(sel, out=out), np.asarray(want, dtype=dt))


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True)
@given(data=st.data(), shape=st.lists(st.integers(1, 12), min_size=2, max_size=3).map(tuple))
def test_generated_masks_match_h5py(data, shape):
    values = _values(shape, "u2", seed=sum(shape))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                       max_size=int(np.prod(shape))))).reshape(shape)
    with tempfile.TemporaryDirectory() as tmp:
        p = testing.write_dataset(pathlib.Path(tmp) / "m.h5", "x", values,
                                  tuple(max(1, n // 2) for n in shape), "bslz4")
        with fastchunk.File(p) as f:
            assert_identical(f["x"][mask], h5py_read(p, "x", mask))


# ---- the (256, 256, 256) uint16 volume in (64, 64, 64) bslz4 chunks ----------------------

@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    data = testing.eiger_frames(256, shape=(256, 256), dtype=np.uint16)
    return testing.write_dataset(tmp_path_factory.mktemp("vol") / "vol.h5", "v", data,
                                 (64, 64, 64), "bslz4"), data


VOLUME_SELECTIONS = []
for _axis in range(3):
    for _i in (0, 63, 64, 100, 255, -1):
        VOLUME_SELECTIONS.append((slice(None),) * _axis + (_i,))            # one slab
    VOLUME_SELECTIONS.append((slice(None),) * _axis + (slice(60, 70),))     # across a chunk edge
    VOLUME_SELECTIONS.append((slice(None),) * _axis + (slice(3, 250, 17),))
    VOLUME_SELECTIONS.append((slice(None),) * _axis + ([0, 1, 2, 63, 64, 65, 130, 255],))
VOLUME_SELECTIONS += [np.s_[10, 20], np.s_[:, 5, 200], np.s_[100, 100, 100], np.s_[..., 7:9],
                      np.s_[128:129, 0:256:64, [1, 200]], np.s_[np.arange(256) % 64 == 1, 3]]


@pytest.mark.parametrize("sel", VOLUME_SELECTIONS, ids=repr)
def test_volume_along_every_axis(volume, sel):
    path, data = volume
    with fastchunk.File(path) as f:
        got = f["v"][sel]
    assert_identical(got, data[sel])
    assert_identical(got, h5py_read(path, "v", sel))
