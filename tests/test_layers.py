"""The house's layers hold: Plan imports and plans a read with the native extension blocked,
and no source file imports, includes or calls another in a loop."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from fastchunk import testing

ROOT = pathlib.Path(__file__).resolve().parent.parent

PLAN_ONLY = r"""
import sys
sys.modules["fastchunk._native"] = None  # as if the extension were not built
import h5py, numpy as np
import fastchunk.plan.chunk_index as ci, fastchunk.plan.filters as fl, fastchunk.plan.rows as rows
import fastchunk.plan.selection as sel, fastchunk.plan.sources, fastchunk.plan.vds
import fastchunk.errors, fastchunk.libhdf5
with h5py.File(sys.argv[1], "r") as f:
    ds = f["x"]
    pipe = fl.read_pipeline(ds.id.get_create_plist(), ds.dtype)
    assert not pipe.unsupported and pipe.codec == "bitshuffle+lz4", pipe
    index = ci.build_index(ds)
    s = sel.parse_selection(np.s_[2:7, 3:40], ds.shape)
    plan = rows.make_plan(index, s, ds.chunks, ds.shape)
    print(len(plan.rows), plan.rows["offset"].tolist() == sorted(index.offset[2:7].tolist()))
try:
    import fastchunk
    fastchunk.File
except ImportError:
    print("face needs the extension")
"""


def test_plan_is_pure(tmp_path):
    data = np.arange(10 * 50, dtype="u2").reshape(10, 50)
    p = testing.write_dataset(tmp_path / "d.h5", "x", data, (1, 50), "bslz4")
    out = subprocess.run([sys.executable, "-c", PLAN_ONLY, str(p)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["5 True", "face needs the extension"]


def test_no_circles():
    tool = ROOT.parent / "shared" / "tools" / "circles.py"
    if not tool.exists():
        pytest.skip(f"{tool} is not here (it ships with the shared folder beside the checkout)")
    out = subprocess.run([sys.executable, str(tool), str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
