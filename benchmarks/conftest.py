"""Benchmark fixtures: deterministic Eiger-style files, written once per session.

Run the timings with `pytest benchmarks --benchmark-enable` (CI only smoke-runs them with
timing disabled). Sizes shrink with FASTCHUNK_BENCH_FRAMES for quick runs.
"""
import os

import numpy as np
import pytest

from fastchunk import testing

FRAMES = int(os.environ.get("FASTCHUNK_BENCH_FRAMES", "20"))
EIGER = {
    "1M-u16": ((1065, 1030), np.uint16),
    "4M-u32": ((2167, 2070), np.uint32),
}


@pytest.fixture(scope="session", params=list(EIGER))
def eiger_file(request, tmp_path_factory):
    shape, dtype = EIGER[request.param]
    path = tmp_path_factory.getbasetemp() / f"eiger_{request.param}.h5"
    if not path.exists():
        testing.write_eiger_file(path, n_frames=FRAMES, shape=shape, dtype=dtype)
    return path
