"""Small regions of big frames: a 64x64 patch from each of 100 Eiger 4M uint32 frames, and one
pixel's trace through them, in bslz4 and in Blosc (LZ4, byte shuffle: hdf5plugin's default).
fastchunk decodes only the bitshuffle or Blosc blocks that hold the region (partial decode);
h5py decodes every frame whole. Same run, checked bit for bit.

Timings:  python benchmarks/report.py benchmarks/test_patches.py
Smoke:    pytest benchmarks -q --benchmark-disable -p no:cacheprovider  (a few frames)
"""
import h5py
import hdf5plugin
import numpy as np
import pytest

import fastchunk
from bench_support import DATASET, SIZES, THREADS, assert_identical, benchmarks_disabled, timed
from fastchunk import testing

CASES = {"64x64 patch": np.s_[:, 1000:1064, 900:964], "pixel trace": np.s_[:, 1500, 1234]}
CODECS = {"bslz4": "bslz4", "blosc-lz4": hdf5plugin.Blosc(cname="lz4")}


@pytest.fixture(scope="module", params=CODECS)
def frames_file(request, tmp_path_factory):
    n = 3 if benchmarks_disabled(request.config) else 100
    shape, dtype = SIZES["4M-u32"]
    path = testing.write_eiger_file(tmp_path_factory.mktemp("patches") / "stack.h5", n, shape, dtype,
                                    compression=CODECS[request.param])
    return path, n, request.param


def group(case, codec):
    """report.py's target reads the bslz4 groups ("region ..."); Blosc's are shown beside them."""
    return f"region {case}, 4M-u32" if codec == "bslz4" else f"{codec} region {case}, 4M-u32"


@pytest.mark.parametrize("case", CASES)
def test_region_h5py(benchmark, frames_file, case):
    path, n, codec = frames_file
    benchmark.group = group(case, codec)
    with h5py.File(path) as h:
        ref = h[DATASET][CASES[case]]
        got = timed(benchmark, lambda: h[DATASET][CASES[case]], label=f"h5py ds[{case}]", rank=0,
                    decoded_bytes=ref.nbytes, frames=n, threads=1, baseline=True)
    assert_identical(got, ref)


@pytest.mark.parametrize("case", CASES)
def test_region_fastchunk(benchmark, frames_file, case):
    path, n, codec = frames_file
    benchmark.group = group(case, codec)
    with h5py.File(path) as h:
        ref = h[DATASET][CASES[case]]
    with fastchunk.File(path) as f:
        ds = f[DATASET]
        got = timed(benchmark, lambda: ds[CASES[case]], label=f"fastchunk ds[{case}] (partial decode)",
                    rank=3, decoded_bytes=ref.nbytes, frames=n, threads=THREADS)
    assert_identical(got, ref)
