"""fastchunk vs h5py on Eiger-style bslz4 frames, in the same run (decoded GB/s, medians)."""
import h5py
import hdf5plugin  # noqa: F401
import numpy as np

import fastchunk

DSET = "/entry/data/data"


def test_h5py_frame_loop(benchmark, eiger_file):
    with h5py.File(eiger_file, "r") as f:
        d = f[DSET]
        benchmark(lambda: [d[i] for i in range(d.shape[0])])


def test_fastchunk_reused_out(benchmark, eiger_file):
    with fastchunk.File(eiger_file) as f:
        d = f[DSET]
        out = np.empty(d.shape, d.dtype)
        benchmark(d.read, (), out)
        with h5py.File(eiger_file, "r") as h:
            assert np.array_equal(out, h[DSET][()])
