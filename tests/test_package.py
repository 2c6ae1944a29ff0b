"""What the package says about itself: show_config(), --version --verbose, and metadata that
matches what is tested (the sdist and wheel themselves are built and installed by .ci/sdist)."""
import io
import pathlib
import re
import sys

import h5py
import pytest

import fastchunk
from fastchunk import _native
from fastchunk.config import config, machine

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_show_config():
    out = io.StringIO()
    fastchunk.show_config(file=out)
    text = out.getvalue()
    assert text.startswith(f"fastchunk {fastchunk.__version__}\n")
    assert f"SIMD kernel    {_native.simd_kernel()} (available here: {', '.join(_native.simd_available())})" in text
    assert f"h5py           {h5py.__version__} (HDF5 {h5py.version.hdf5_version})" in text
    assert ("native: fastchunk decodes it" if _native.HAVE_ZLIB else "not native: read through h5py") in text
    for codec in ("bitshuffle", "lz4", "zstd", "lzf", "blosc", "deflate", "szip", "scaleoffset"):
        assert re.search(rf"^    {codec} ", text, flags=re.M), codec
    assert "show_config" in dir(fastchunk) and "show_config" in fastchunk.__all__


def test_config_facts():
    doc = config()
    assert doc["default_threads"] == fastchunk.default_num_threads()
    assert doc["deflate_native"] is bool(_native.HAVE_ZLIB)
    m = machine()
    assert m["cores"] >= m["usable_cores"] >= 1 and m["cpu"]


def _pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_metadata():
    project = _pyproject()["project"]
    assert project["license"] == "BSD-3-Clause" and project["license-files"] == ["LICENSE"]
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()
    assert project["version"] == fastchunk.__version__
    low = tuple(int(x) for x in re.fullmatch(r">=(\d+)\.(\d+)", project["requires-python"]).groups())
    assert sys.version_info[:2] >= low
    versions = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert versions and min(tuple(map(int, v.split("."))) for v in versions) == low
    assert "matplotlib" in " ".join(project["optional-dependencies"]["plot"])
    assert any(d.startswith("tqdm") for d in project["dependencies"])
    assert "urls" not in project or all("example" not in u for u in project["urls"].values())


def test_sdist_rules_cover_the_sources():
    """MANIFEST.in takes the whole C tree (whatever its folders) and the Cython layer."""
    rules = (ROOT / "MANIFEST.in").read_text().split("\n")
    assert "graft csrc" in rules
    assert any(r.startswith("include ") and "_native.pyx" in r and "_native.pxd" in r for r in rules)


def test_hdf5_exit_handler_is_kept_out_of_test_runs():
    """tests/hdf5_exit.py must run before anything imports h5py, or HDF5 2.0's exit handler can
    crash a run that passed (rc 139, about one run in five)."""
    import conftest
    assert conftest.HDF5_EXIT_HANDLER_SKIPPED
