"""The real-file gate: every dataset of ../shared/realdata/manifest.json read through
fastchunk.File must hash to the manifest's sha256_le (h5py's reading of the same file).

A summary (datasets checked, identical, native, read through h5py and why) is printed at the
end of the run by conftest.pytest_terminal_summary."""
import collections
import hashlib
import json

import numpy as np
import pytest
from conftest import REALDATA

import fastchunk

MANIFEST = REALDATA / "manifest.json"
SUMMARY = collections.Counter()
FALLBACK_REASONS = collections.Counter()


def _files():
    if not MANIFEST.exists():
        return []
    return json.loads(MANIFEST.read_text())["files"]


def sha256_le(a):
    """The manifest's hash: sha256 of the array as little-endian, C order; S/V dtypes raw."""
    a = np.ascontiguousarray(a)
    if a.dtype.kind not in "SV" and a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return hashlib.sha256(a.tobytes()).hexdigest()[:16]


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
            full = status == "ok"
            got = ds[()] if full else ds[(0,) * min(1, len(ds.shape))]
            if full:
                assert sha256_le(got) == d["sha256_le"], (d["path"], ds)
            SUMMARY["identical"] += 1
