"""The installed package's smoke test (run by .ci/sdist outside the source tree, in a fresh
virtual environment): it imports from site-packages, its extension loads, it reads a small
bitshuffle+LZ4 stack natively and bit for bit as h5py does, the command runs, and the
metadata says what pyproject.toml says."""
import importlib.metadata as md
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

import fastchunk
from fastchunk import _native, testing

here = os.path.dirname(os.path.abspath(__file__))
assert "site-packages" in fastchunk.__file__, f"imported {fastchunk.__file__}, not the installed package"
assert _native.simd_kernel() in _native.simd_available()

with tempfile.TemporaryDirectory() as tmp:
    path = testing.write_eiger_file(os.path.join(tmp, "smoke.h5"), 6, (96, 80), np.uint32)
    with fastchunk.File(path) as f, h5py.File(path, "r") as h:
        ds, ref = f[testing.DEMO_DATASET], h[testing.DEMO_DATASET]
        assert ds.native, ds.reason
        for sel in (np.s_[:], np.s_[2], np.s_[1:5, 10:20, ::3]):
            got, want = ds[sel], ref[sel]
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), sel
    cli = os.path.join(os.path.dirname(sys.executable), "fastchunk")
    run = subprocess.run([cli, "verify", str(path)], capture_output=True, text=True)
    assert run.returncode == 0 and "all readable" in run.stdout, run.stdout + run.stderr

meta = md.metadata("fastchunk")
assert meta["Version"] == fastchunk.__version__
assert meta.get("License-Expression") == "BSD-3-Clause", meta.get("License-Expression")
files = [str(p) for p in md.files("fastchunk")]
assert any(p.endswith("LICENSE") for p in files), "LICENSE not installed"
print(f"smoke: fastchunk {fastchunk.__version__} from {fastchunk.__file__}, SIMD {_native.simd_kernel()}, "
      f"numpy {np.__version__}, h5py {h5py.__version__}: ok")
