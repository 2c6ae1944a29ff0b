"""Deflate, shuffle+deflate, LZ4 (32004), LZF, zstd (32015), bitshuffle+zstd, szip, Blosc and
contiguous datasets: fastchunk vs h5py, same run.

    pytest benchmarks/test_codecs.py --benchmark-enable --benchmark-group-by=param:case

Targets (2 cores, warm page cache, reused output, medians): deflate and shuffle+deflate
>= 1.8x the h5py frame loop; LZ4 32004 >= 4x; contiguous >= 0.8x raw pread. (LZF has no target:
it is measured to show where it stands; nor zstd and bitshuffle+zstd: hdf5plugin's defaults,
clevel 3; nor szip: h5py's default, NN coding in blocks of 8; nor Blosc: hdf5plugin's defaults,
clevel 5 and byte shuffle, with BloscLZ, LZ4 and zstd.)
"""
import os

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest

import bench_support
import fastchunk
import lz4_sequence_costs
from bench_support import REAL_EIGER
from fastchunk import testing

FRAMES = int(os.environ.get("FASTCHUNK_BENCH_FRAMES", "20"))
SHAPE = (1065, 1030)  # Eiger 1M
CASES = {
    "deflate-u16": ("deflate", np.uint16),
    "deflate-u32": ("deflate", np.uint32),
    "shuffle+deflate-u16": ("shuffle+deflate", np.uint16),
    "shuffle+deflate-u32": ("shuffle+deflate", np.uint32),
    "lz4-u16": ("lz4", np.uint16),
    "lz4-u32": ("lz4", np.uint32),
    "lzf-u16": ("lzf", np.uint16),
    "lzf-u32": ("lzf", np.uint32),
    "zstd-u16": (hdf5plugin.Zstd(), np.uint16),
    "zstd-u32": (hdf5plugin.Zstd(), np.uint32),
    "bitshuffle+zstd-u16": (hdf5plugin.Bitshuffle(cname="zstd"), np.uint16),
    "bitshuffle+zstd-u32": (hdf5plugin.Bitshuffle(cname="zstd"), np.uint32),
    "szip-u16": ({"compression": "szip"}, np.uint16),
    "szip-u32": ({"compression": "szip"}, np.uint32),
    "blosc-blosclz-u16": (hdf5plugin.Blosc(cname="blosclz"), np.uint16),
    "blosc-blosclz-u32": (hdf5plugin.Blosc(cname="blosclz"), np.uint32),
    "blosc-lz4-u16": (hdf5plugin.Blosc(cname="lz4"), np.uint16),
    "blosc-lz4-u32": (hdf5plugin.Blosc(cname="lz4"), np.uint32),
    "blosc-zstd-u32": (hdf5plugin.Blosc(cname="zstd"), np.uint32),
    "contiguous-u32": (None, np.uint32),
}


# The real Eiger 4M frame of ../shared/realdata (bitshuffle+LZ4 there), stored again as LZ4
# 32004, FRAMES times: real counts make longer literals and fewer matches than the synthetic
# frames above. Not the target (that is the synthetic 1M files); shown beside it.
REAL_CASES = {"lz4-real-4M-u32": "lz4"}


def real_frames():
    if not REAL_EIGER.is_file():
        pytest.skip(f"real Eiger file {REAL_EIGER} is absent")
    with h5py.File(REAL_EIGER, "r") as h:
        frame = h[bench_support.DATASET][0]
    return np.repeat(frame[None], FRAMES, axis=0)


@pytest.fixture(scope="module", params=[*CASES, *REAL_CASES])
def case(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("codecs") / f"{request.param}.h5"
    if request.param in REAL_CASES:
        compression, frames = REAL_CASES[request.param], real_frames()
        shape = frames.shape[1:]
    else:
        compression, dtype = CASES[request.param]
        frames, shape = testing.eiger_frames(FRAMES, shape=SHAPE, dtype=dtype), SHAPE
    chunks = None if compression is None else (1,) + shape
    testing.write_dataset(path, "/data", frames, chunks, compression)
    with h5py.File(path, "r") as h:
        ref = h["/data"][()]
    return request.param, path, ref


def test_h5py_frame_loop(benchmark, case):
    name, path, ref = case
    benchmark.group = name
    benchmark.extra_info["bytes"] = ref.nbytes
    out = np.empty_like(ref)
    with h5py.File(path, "r") as h:
        d = h["/data"]

        def loop():
            for i in range(d.shape[0]):
                out[i] = d[i]
        benchmark(loop)
    assert np.array_equal(out, ref)


def test_fastchunk(benchmark, case):
    name, path, ref = case
    benchmark.group = name
    benchmark.extra_info["bytes"] = ref.nbytes
    out = np.empty_like(ref)
    with fastchunk.File(path) as f:
        ds = f["/data"]
        assert ds.native, ds.reason
        benchmark(ds.read, (), out)
    assert np.array_equal(out, ref)


def test_raw_pread(benchmark, case):
    """The I/O floor: pread of every stored byte (the whole dataset when contiguous) into one
    buffer that holds them all, each chunk at its own place, as a reader must deliver them.
    (Reading every chunk into one reused chunk-sized buffer would time copies into a buffer
    that stays in L2/L3: 21 GB/s against 10.5 GB/s into memory for the contiguous case here.)"""
    name, path, ref = case
    benchmark.group = name
    with fastchunk.File(path) as f:
        idx = f["/data"].index
        spans = list(zip(idx.offset.tolist(), idx.nbytes.tolist()))
    buf = np.empty(sum(n for _, n in spans), np.uint8)
    views, at = [], 0
    for _, n in spans:
        views.append(memoryview(buf)[at:at + n])
        at += n
    fd = os.open(path, os.O_RDONLY)
    try:
        benchmark(lambda: [os.preadv(fd, [v], o) for v, (o, _) in zip(views, spans)])
    finally:
        os.close(fd)


def test_lz4_sequence_costs_rewritings(tmp_path):
    """lz4_sequence_costs.py (the script behind README's "Why LZ4 32004 misses"): its encoder
    gives back the stored block, and each rewriting is a valid block of the same decoded size
    (decode_costs decodes every one) that removes what its name says."""
    path = lz4_sequence_costs.frames_file(np.uint32, 1, tmp_path)
    rows = {name: (n, share) for name, n, share, _ in
            lz4_sequence_costs.decode_costs(path, np.uint32, repeat=1)}
    assert list(rows) == ["as stored", "offset 2 -> 16", "far offsets", "no loop exits", "floor"]
    # (the KEEP sequences at each end stay as they are: a block starts and ends with literals)
    assert rows["as stored"][1] < 0.99 and min(rows["no loop exits"][1], rows["floor"][1]) > 0.9999
    with h5py.File(path, "r") as h:
        block = h["/data"].id.read_direct_chunk((0, 0, 0))[1][16:]
    made = dict(lz4_sequence_costs.variants(block))
    keep = lz4_sequence_costs.KEEP

    def offsets(name):
        """(output position, offset) of the rewritten sequences."""
        seqs, op, out = lz4_sequence_costs.parse(made[name]), 0, []
        for i, (literals, offset, mlen) in enumerate(seqs[:-1]):
            if keep <= i < len(seqs) - keep:
                out.append((op, offset))
            op += len(literals) + mlen
        return out
    assert 2 in {o for _, o in offsets("as stored")}
    assert 2 not in {o for _, o in offsets("offset 2 -> 16")}
    assert any(8 <= o < 64 for _, o in offsets("as stored"))
    assert all(o >= min(op, 2048) for op, o in offsets("far offsets") if o >= 8)
