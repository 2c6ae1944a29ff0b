"""The real-file gate: every dataset of ../shared/realdata/manifest.json read through
fastchunk.File must hash to the manifest's sha256_le (h5py's reading of the same file). The
"partial-ok" datasets (too big to read whole) are compared on their first and last frames,
bit for bit with h5py + hdf5plugin, and on the part the manifest hashed.

A summary (datasets checked, identical, native, read through h5py and why) is printed at the
end of the run by conftest.pytest_terminal_summary."""
import collections
import hashlib
import json

import numpy as np
import pytest
from conftest import REALDATA, assert_identical, h5py_read

import fastchunk

MANIFEST = REALDATA / "manifest.json"
SUMMARY = collections.Counter()
FALLBACK_REASONS = collections.Counter()


def _files():
    """The manifest's entries, or one skipped case saying why there are none."""
    if not REALDATA.is_dir():
        why = f"real data folder {REALDATA} is absent"
    elif not MANIFEST.is_file():
        why = f"real data manifest {MANIFEST} is absent"
    else:
        return json.loads(MANIFEST.read_text())["files"]
    return [pytest.param(None, marks=pytest.mark.skip(reason=why), id="no-realdata")]


def sha256_le(a):
    """The manifest's hash: sha256 of the array as little-endian, C order; S/V dtypes raw."""
    a = np.ascontiguousarray(a)
    if a.dtype.kind not in "SV" and a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return hashlib.sha256(a.tobytes()).hexdigest()[:16]


def partial_selections(shape):
    """What a "partial-ok" dataset is compared on: (the part the manifest hashed, the first and
    the last frame). The manifest hashed the first 10 elements of a 1-D dataset and the first
    row of the last axis of an N-D one (this reproduces its sha256_le for all five)."""
    hashed = np.s_[:10] if len(shape) == 1 else (0,) * (len(shape) - 1)
    return hashed, (np.s_[0], np.s_[-1])


@pytest.mark.parametrize("entry", _files(), ids=lambda e: e["file"])
def test_manifest_file(entry, realdata, monkeypatch):
    path = realdata / entry["file"]
    monkeypatch.chdir(path.parent)  # external raw files and links resolve next to the file
    monkeypatch.setenv("HDF5_EXTFILE_PREFIX", "${ORIGIN}")
    datasets = entry.get("datasets", [])
    try:
        f = fastchunk.File(path)
    except Exception as e:  # h5py cannot open it: a clear error, never a crash
        assert all(not d.get("read", "").startswith("ok") for d in datasets), e
        assert str(e)
        SUMMARY["files h5py cannot open"] += 1
        return
    with f:
        for d in datasets:
            status = d.get("read", "")
            if status.startswith("FAIL"):
                with pytest.raises(Exception) as info:
                    f[d["path"]][()]
                assert str(info.value)
                SUMMARY["h5py fails, fastchunk raises"] += 1
                continue
            if "sha256_le" not in d:
                continue
            ds = f[d["path"]]
            SUMMARY["checked"] += 1
            if ds.native:
                SUMMARY["native"] += 1
            else:
                SUMMARY["h5py fallback"] += 1
                FALLBACK_REASONS[ds.reason] += 1
            if status == "ok":
                assert sha256_le(ds[()]) == d["sha256_le"], (d["path"], ds)
            else:
                assert status == "partial-ok", (d["path"], status)
                hashed, frames = partial_selections(ds.shape)
                assert sha256_le(ds[hashed]) == d["sha256_le"], (d["path"], ds)
                for sel in (hashed, *frames):
                    assert_identical(ds[sel], h5py_read(path, d["path"], sel))
                SUMMARY["partial-ok, compared with h5py"] += 1
            SUMMARY["identical"] += 1
