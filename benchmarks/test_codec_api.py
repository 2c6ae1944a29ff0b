"""fastchunk.codecs and the kerchunk references (issue 20) against their peers, one group per case:

- "codec api, 1 frame": one Eiger 4M bslz4 frame on one core, as a detector stream hands it
  over: codecs.decode_bslz4 on one thread against bitshuffle.decompress_lz4 (and
  dectris-compression if it is installed). Target: >= 2x bitshuffle. Also the same frame in
  parts on every thread (decode's default when nothing else decodes): one frame's latency.
- "codec api, decode_many": N real-content 4M frames (the real Eiger frame, else synthetic)
  decoded into one stack: decode_many on 1 and 2 threads, and a 2-thread Python pool over
  bitshuffle. Target: 2 threads >= 1.8x 1 thread.
- "codec api, decode_many of 192x192 frames": 3000 small frames as a 4D-STEM stream hands them
  over: decode_many on 1 and 2 threads against a loop of bitshuffle.decompress_lz4 (no target;
  shows what a task shared by several small frames saves).
- "zarr via refs": a bslz4 Eiger series read whole through fastchunk.refs + fsspec + zarr
  (our numcodecs codec) against h5py's frame loop. Target: >= 2x h5py.

Timings:  pytest benchmarks/test_codec_api.py --benchmark-enable -p no:cacheprovider
Smoke:    pytest benchmarks/test_codec_api.py -q --benchmark-disable -p no:cacheprovider
FASTCHUNK_BENCH_FRAMES=N: frames for decode_many (default 100 when timing, 4 in the smoke run).
"""
import os
import struct

import bitshuffle
import fsspec
import h5py
import numpy as np
import pytest
import zarr

import fastchunk
from bench_support import (DATASET, REAL_EIGER, THREADS, assert_identical, benchmarks_disabled,
                           drop, sample_first_chunk, timed)
from fastchunk import codecs, testing

FRAME_4M = ((2167, 2070), np.uint32)


def _one_frame_sample(name, tmp_path_factory):
    if name == "real-4M-u32":
        if not REAL_EIGER.is_file():
            pytest.skip(f"real Eiger file {REAL_EIGER} is absent")
        return sample_first_chunk(name, REAL_EIGER)
    path = tmp_path_factory.getbasetemp() / "codec_api_4M_chunk.h5"
    testing.write_eiger_file(path, n_frames=1, shape=FRAME_4M[0], dtype=FRAME_4M[1], compression="bslz4")
    return sample_first_chunk(name, path)


@pytest.fixture(scope="module", params=[
    pytest.param(n, marks=pytest.mark.benchmark(group=f"codec api, 1 frame, 1 thread: {n}"))
    for n in ("4M-u32", "real-4M-u32")])
def frame_sample(request, tmp_path_factory):
    """A stored bslz4 Eiger 4M frame: what a DECTRIS stream message carries ("bslz4")."""
    return _one_frame_sample(request.param, tmp_path_factory)


def _one(benchmark, s, fn, label, rank, **kw):
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=s.ref.nbytes,
                 stored_bytes=s.raw.nbytes, frames=1, threads=1, **kw)


def test_codec_api_bitshuffle(benchmark, frame_sample):
    s = frame_sample
    block = int.from_bytes(s.raw[8:12].tobytes(), "big") // s.dtype.itemsize
    body = s.raw[12:]
    got = _one(benchmark, s, lambda: bitshuffle.decompress_lz4(body, s.chunk_shape, s.dtype, block),
               "bitshuffle.decompress_lz4 (OMP 1 thread), fresh array", 0, baseline=True)
    assert_identical(got, s.ref)


def test_codec_api_decode_bslz4(benchmark, frame_sample):
    s = frame_sample
    out = np.empty(s.chunk_shape, s.dtype)
    _one(benchmark, s, lambda: codecs.decode_bslz4(s.raw, s.chunk_shape, s.dtype, out=out,
                                                    num_threads=1),
         "fastchunk.codecs.decode_bslz4, reused out", 1)
    assert_identical(out, s.ref)


def test_codec_api_decode_bslz4_fresh(benchmark, frame_sample):
    s = frame_sample
    got = _one(benchmark, s, lambda: codecs.decode_bslz4(s.raw, s.chunk_shape, s.dtype,
                                                          num_threads=1),
               "fastchunk.codecs.decode_bslz4, fresh array", 2)
    assert_identical(got, s.ref)


def test_codec_api_decode_bslz4_parts(benchmark, frame_sample):
    """The same frame in parts of its blocks on every thread (what decode does by default when
    nothing else is decoding): the latency of one frame, not the one-core target."""
    s = frame_sample
    out = np.empty(s.chunk_shape, s.dtype)
    timed(benchmark, lambda: codecs.decode_bslz4(s.raw, s.chunk_shape, s.dtype, out=out,
                                                 num_threads=THREADS),
          label=f"fastchunk.codecs.decode_bslz4 in parts, {THREADS} threads", rank=4,
          decoded_bytes=s.ref.nbytes, stored_bytes=s.raw.nbytes, frames=1, threads=THREADS)
    assert_identical(out, s.ref)


def test_codec_api_dectris_compression(benchmark, frame_sample):
    compression = pytest.importorskip("dectris.compression", reason="dectris-compression is not installed")
    s = frame_sample
    raw = s.raw.tobytes()
    got = _one(benchmark, s, lambda: compression.decompress(raw, "bslz4", elem_size=s.dtype.itemsize),
               "dectris-compression decompress", 3)
    assert bytes(got) == s.ref.tobytes()


# -- decode_many --------------------------------------------------------------------------
def _many_count(config):
    env = os.environ.get("FASTCHUNK_BENCH_FRAMES")
    return int(env) if env else (4 if benchmarks_disabled(config) else 100)


@pytest.fixture(scope="module")
def many(request, tmp_path_factory):
    """N stored 4M frames (the real Eiger frame's bytes repeated, else 4 synthetic ones cycled),
    the stack they decode to, and a reused output."""
    n = _many_count(request.config)
    if REAL_EIGER.is_file():
        s = sample_first_chunk("real-4M-u32", REAL_EIGER)
        raws, refs = [s.raw.tobytes()], [s.ref]
    else:
        s = _one_frame_sample("4M-u32", tmp_path_factory)
        frames = testing.eiger_frames(4, FRAME_4M[0], FRAME_4M[1])
        raws = [struct.pack(">QI", f.nbytes, 8192) + bitshuffle.compress_lz4(f, 2048).tobytes() for f in frames]
        refs = list(frames)
    blobs = [raws[i % len(raws)] for i in range(n)]
    want = [refs[i % len(refs)] for i in range(n)]
    out = np.empty((n, *s.chunk_shape), s.dtype)
    return blobs, want, out, s


def _check_stack(out, want):
    for i, w in enumerate(want):
        assert_identical(out[i], w)


def _many(benchmark, m, fn, label, rank, threads, **kw):
    blobs, want, out, s = m
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=out.nbytes,
                 stored_bytes=sum(map(len, blobs)), frames=len(blobs), threads=threads, **kw)


BSLZ4_U32 = [(32008, (0, 2, 4, 0, 2))]


@pytest.mark.benchmark(group="codec api, decode_many of 4M frames")
def test_decode_many_1_thread(benchmark, many):
    blobs, want, out, s = many
    _many(benchmark, many, lambda: codecs.decode_many(blobs, BSLZ4_U32, s.chunk_shape, s.dtype, out=out, num_threads=1),
          "decode_many, 1 thread, reused out", 0, 1, baseline=True)
    _check_stack(out, want)


@pytest.mark.benchmark(group="codec api, decode_many of 4M frames")
def test_decode_many_2_threads(benchmark, many):
    blobs, want, out, s = many
    _many(benchmark, many, lambda: codecs.decode_many(blobs, BSLZ4_U32, s.chunk_shape, s.dtype, out=out, num_threads=2),
          "decode_many, 2 threads, reused out", 1, 2)
    _check_stack(out, want)


@pytest.mark.benchmark(group="codec api, decode_many of 4M frames")
def test_decode_many_python_pool_bitshuffle(benchmark, many, py_pool):
    """2 Python threads, each calling bitshuffle.decompress_lz4 (OMP_NUM_THREADS=1), copying
    each frame into the same stack."""
    blobs, want, out, s = many
    block = int.from_bytes(blobs[0][8:12], "big") // s.dtype.itemsize
    bodies = [np.frombuffer(b, np.uint8)[12:] for b in blobs]

    def one(i):
        out[i] = bitshuffle.decompress_lz4(bodies[i], s.chunk_shape, s.dtype, block)

    threads = getattr(py_pool, "_max_workers", 2)
    _many(benchmark, many, lambda: list(py_pool.map(one, range(len(blobs)))),
          f"Python pool ({threads} threads) over bitshuffle.decompress_lz4", 2, threads)
    _check_stack(out, want)


# -- decode_many of small frames -----------------------------------------------------------
SMALL = (192, 192)  # DECTRIS ARINA's frame, streamed at up to 120 kHz for 4D-STEM


@pytest.fixture(scope="module")
def small_many(request):
    """3000 stored 192x192 u16 frames (60 in the smoke run) as the detector stream frames them,
    the stack they decode to, and a reused output."""
    n = 60 if benchmarks_disabled(request.config) else 3000
    frames = testing.eiger_frames(n, SMALL, np.uint16)
    blobs = [struct.pack(">QI", f.nbytes, 8192) + bitshuffle.compress_lz4(f, 4096).tobytes() for f in frames]
    return blobs, list(frames), np.empty_like(frames), frames[0]


BSLZ4_U16 = [(32008, (0, 2, 2, 0, 2))]


def _small(benchmark, m, fn, label, rank, threads, **kw):
    blobs, want, out, _ = m
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=out.nbytes,
                 stored_bytes=sum(map(len, blobs)), frames=len(blobs), threads=threads, **kw)


@pytest.mark.benchmark(group="codec api, decode_many of 192x192 frames")
def test_small_decode_many_1_thread(benchmark, small_many):
    blobs, want, out, _ = small_many
    _small(benchmark, small_many, lambda: codecs.decode_many(blobs, BSLZ4_U16, SMALL, np.uint16, out=out, num_threads=1),
           "decode_many, 1 thread, reused out", 0, 1, baseline=True)
    _check_stack(out, want)


@pytest.mark.benchmark(group="codec api, decode_many of 192x192 frames")
def test_small_decode_many_2_threads(benchmark, small_many):
    blobs, want, out, _ = small_many
    _small(benchmark, small_many, lambda: codecs.decode_many(blobs, BSLZ4_U16, SMALL, np.uint16, out=out, num_threads=2),
           "decode_many, 2 threads, reused out", 1, 2)
    _check_stack(out, want)


@pytest.mark.benchmark(group="codec api, decode_many of 192x192 frames")
def test_small_bitshuffle_loop(benchmark, small_many):
    """What a stream consumer writes today: one bitshuffle.decompress_lz4 call per frame."""
    blobs, want, out, _ = small_many
    bodies = [np.frombuffer(b, np.uint8)[12:] for b in blobs]

    def loop():
        for i, body in enumerate(bodies):
            out[i] = bitshuffle.decompress_lz4(body, SMALL, np.dtype(np.uint16), 4096)

    _small(benchmark, small_many, loop, "bitshuffle.decompress_lz4 loop (OMP 1 thread)", 2, 1)
    _check_stack(out, want)


# -- zarr through our references ----------------------------------------------------------
@pytest.fixture(scope="module")
def series_refs(workload):
    """fastchunk.refs of the workload's file, and the zarr array over them."""
    refs = fastchunk.refs(workload.path, [DATASET])
    root = zarr.open_group(fsspec.filesystem("reference", fo=refs).get_mapper(), mode="r", zarr_format=2)
    return root[DATASET.strip("/")]


def _series(benchmark, workload, fn, label, rank, threads, **kw):
    benchmark.group = f"zarr via refs: {workload.name}"
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=workload.nbytes,
                 stored_bytes=workload.stored_bytes, frames=workload.frames, threads=threads, **kw)


def test_zarr_refs_h5py_frame_loop(benchmark, workload):
    with h5py.File(workload.path, "r") as f:
        dset = f[DATASET]

        def read_each(use=drop):
            for i in range(len(dset)):
                use(i, dset[i])

        _series(benchmark, workload, read_each, "h5py ds[i] frame loop", 0, 1, baseline=True)
        workload.check_each(read_each)


def test_zarr_refs_whole(benchmark, workload, series_refs):
    got = _series(benchmark, workload, lambda: series_refs[...],
                  "zarr (fsspec references, fastchunk.hdf5 codec) arr[...]", 1, 0)
    assert_identical(got, workload.ref)


def test_zarr_refs_frame_loop(benchmark, workload, series_refs):
    def read_each(use=drop):
        for i in range(series_refs.shape[0]):
            use(i, series_refs[i])

    _series(benchmark, workload, read_each, "zarr (references) arr[i] frame loop", 2, 1)
    workload.check_each(read_each)
