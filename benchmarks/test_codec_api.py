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
- "zarr via refs": a bslz4 Eiger series read through fastchunk.refs + fsspec + zarr (our
  numcodecs codec) against h5py, read for read: frame loops (arr[i], ds[i]), whole reads into a
  fresh array (arr[...], ds[()]) and into a reused one (get_basic_selection(out=), read_direct).
  Target: >= 2x h5py. The reused-array pair is the decoding path alone: on this VM a fresh
  900 MB array faults in at ~0.14 GB/s, seconds that swamp both readers' decoding. The
  interleaved run also reads the same frames stored uncompressed through zarr: zarr's own
  floor, what no codec can go below.

Timings:  pytest benchmarks/test_codec_api.py --benchmark-enable -p no:cacheprovider
Interleaved rounds, ratios per round:  python benchmarks/test_codec_api.py [ROUNDS]
Smoke:    pytest benchmarks/test_codec_api.py -q --benchmark-disable -p no:cacheprovider
FASTCHUNK_BENCH_FRAMES=N: frames for decode_many (default 100 when timing, 4 in the smoke run).
"""
import os
import statistics
import struct
import sys

if __name__ == "__main__":
    # As benchmarks/conftest.py does under pytest: bitshuffle's OpenMP reads this once, when it
    # loads, and the peers here are one thread per call (the Python pool: one per worker).
    os.environ["OMP_NUM_THREADS"] = "1"
import bitshuffle  # noqa: E402 (after OMP_NUM_THREADS)
import fsspec
import h5py
import numpy as np
import pytest
import zarr
from zarr.core.buffer import default_buffer_prototype

import fastchunk
from bench_support import (DATASET, FRAMES, REAL, REAL_EIGER, SIZES, THREADS, assert_identical,
                           benchmarks_disabled, drop, interleaved, print_group, sample_first_chunk,
                           timed, write_repeated_chunk)
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


def test_zarr_refs_h5py_whole(benchmark, workload):
    """h5py's ds[()]: like zarr's arr[...], one fresh array for the whole series."""
    with h5py.File(workload.path, "r") as f:
        dset = f[DATASET]
        got = _series(benchmark, workload, lambda: dset[()], "h5py ds[()]", 3, 1)
    assert_identical(got, workload.ref)


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


def _zarr_into(arr, out):
    """zarr's whole read into a reused array (`get_basic_selection(..., out=)`)."""
    nd = default_buffer_prototype().nd_buffer.from_numpy_array(out)
    return lambda: arr.get_basic_selection(Ellipsis, out=nd)


def test_zarr_refs_h5py_read_direct(benchmark, workload):
    """h5py's read_direct into a reused array: the whole read without faulting fresh memory in,
    which on a VM can cost more than the decoding (docs/benchmarks.md)."""
    out = np.empty_like(workload.ref)
    with h5py.File(workload.path, "r") as f:
        dset = f[DATASET]
        _series(benchmark, workload, lambda: dset.read_direct(out), "h5py read_direct, reused out",
                5, 1)
    assert_identical(out, workload.ref)


def test_zarr_refs_into_out(benchmark, workload, series_refs):
    out = np.empty_like(workload.ref)
    _series(benchmark, workload, _zarr_into(series_refs, out),
            "zarr (references) get_basic_selection, reused out", 4, 0)
    assert_identical(out, workload.ref)


# -- interleaved rounds ---------------------------------------------------------------------
def _zarr_array(path):
    refs = fastchunk.refs(path, [DATASET])
    root = zarr.open_group(fsspec.filesystem("reference", fo=refs).get_mapper(), mode="r", zarr_format=2)
    return root[DATASET.strip("/")]


def _one_frame_group(s, rounds):
    block = int.from_bytes(s.raw[8:12].tobytes(), "big") // s.dtype.itemsize
    body, out = s.raw[12:], np.empty(s.chunk_shape, s.dtype)
    readers = {
        "bitshuffle.decompress_lz4": lambda: bitshuffle.decompress_lz4(body, s.chunk_shape, s.dtype, block),
        "codecs.decode_bslz4, 1 thread": lambda: codecs.decode_bslz4(
            s.raw, s.chunk_shape, s.dtype, out=out, num_threads=1),
        f"codecs.decode_bslz4 in parts, {THREADS} threads": lambda: codecs.decode_bslz4(
            s.raw, s.chunk_shape, s.dtype, out=out, num_threads=THREADS),
    }
    try:
        from dectris import compression
        raw = s.raw.tobytes()
        readers["dectris-compression decompress"] = lambda: compression.decompress(
            raw, "bslz4", elem_size=s.dtype.itemsize)
    except ImportError:
        print("dectris-compression is not installed: its reader is left out")
    got = {k: fn() for k, fn in readers.items()}  # warm up, and check every reader
    assert_identical(got["bitshuffle.decompress_lz4"], s.ref)
    assert_identical(out, s.ref)
    if "dectris-compression decompress" in got:
        assert got["dectris-compression decompress"] == s.ref.tobytes()
    times = interleaved({k: (lambda f=f: [f() for _ in range(5)]) for k, f in readers.items()}, rounds * 4)
    print_group(f"1 frame, 1 thread: {s.name} ({s.ref.nbytes / 1e6:.1f} MB, {s.raw.nbytes / 1e6:.2f} MB "
                f"stored; 5 calls a round)", {k: [t / 5 for t in v] for k, v in times.items()},
                "bitshuffle.decompress_lz4", "codecs.decode_bslz4, 1 thread",
                ("bitshuffle.decompress_lz4", "dectris-compression decompress"), 2)


def _decode_many_group(s, n, pool, rounds):
    raw = s.raw.tobytes()
    blobs, out = [raw] * n, np.empty((n, *s.chunk_shape), s.dtype)
    block = int.from_bytes(raw[8:12], "big") // s.dtype.itemsize
    bodies = [np.frombuffer(b, np.uint8)[12:] for b in blobs]

    def one(i):
        out[i] = bitshuffle.decompress_lz4(bodies[i], s.chunk_shape, s.dtype, block)

    readers = {f"decode_many, {t} thread{'s' * (t > 1)}": (
        lambda t=t: codecs.decode_many(blobs, BSLZ4_U32, s.chunk_shape, s.dtype, out=out, num_threads=t))
        for t in (1, THREADS)}
    readers[f"Python pool ({THREADS} threads) over bitshuffle"] = lambda: list(pool.map(one, range(n)))
    for fn in readers.values():
        out[...] = 0
        fn()
        _check_stack(out, [s.ref] * n)
    times = interleaved(readers, rounds)
    many = f"decode_many, {THREADS} threads"
    print_group(f"decode_many of {n} x {s.name}", times, "decode_many, 1 thread", many,
                ("decode_many, 1 thread",), 1.8)
    best = f"Python pool ({THREADS} threads) over bitshuffle"
    r = sorted(a / b for a, b in zip(times[best], times[many]))
    print(f"  {many} vs {best}: per-round median {statistics.median(r):.2f}x")


def _zarr_group(name, path, rounds):
    arr = _zarr_array(path)
    with h5py.File(path, "r") as f:
        dset = f[DATASET]
        ref = dset[()]
        out = np.empty_like(ref)
        # zarr's floor: the same frames stored uncompressed, read the same way (no codec at all)
        plain = path.with_name(path.stem + "_uncompressed.h5")
        with h5py.File(plain, "w") as g:
            g.create_dataset(DATASET, data=ref, chunks=dset.chunks)
        floor = _zarr_array(plain)

        def loop(read):
            def run():
                for i in range(len(ref)):
                    read(i)
            return run

        readers = {
            "h5py ds[i] frame loop": loop(lambda i: dset[i]),
            "zarr arr[i] frame loop": loop(lambda i: arr[i]),
            "h5py ds[()]": lambda: dset[()],
            "zarr arr[...]": lambda: arr[...],
            "h5py read_direct, reused out": lambda: dset.read_direct(out),
            "zarr get_basic_selection, reused out": _zarr_into(arr, out),
            "zarr, frames stored uncompressed, reused out": _zarr_into(floor, out),
        }
        assert_identical(arr[...], ref)
        for key, fn in readers.items():  # warm up; check every read into `out`
            out[...] = 0
            fn()
            if "reused out" in key:
                assert_identical(out, ref)
        times = interleaved(readers, rounds)
    plain.unlink()
    title = f"zarr via refs: {name} ({ref.shape[0]} frames, {ref.nbytes / 1e6:.0f} MB)"
    print_group(title, times, "h5py ds[i] frame loop")
    for ours, base in (("zarr arr[i] frame loop", "h5py ds[i] frame loop"),
                       ("zarr arr[...]", "h5py ds[()]"),
                       ("zarr get_basic_selection, reused out", "h5py read_direct, reused out")):
        r = sorted(a / b for a, b in zip(times[base], times[ours]))
        print(f"  {ours} vs {base}: {statistics.median(times[base]) / statistics.median(times[ours]):.2f}x "
              f"of medians, per-round median {statistics.median(r):.2f}x; target >= 2x")
    base, top = "h5py read_direct, reused out", "zarr, frames stored uncompressed, reused out"
    print(f"  the most any codec could give zarr here (uncompressed frames vs {base}): "
          f"{statistics.median(times[base]) / statistics.median(times[top]):.2f}x")


def main(rounds=9):
    """python benchmarks/test_codec_api.py [ROUNDS]: every group in interleaved rounds."""
    import pathlib
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    print(f"{sys.executable} benchmarks/test_codec_api.py {rounds}: fastchunk {fastchunk.__version__}, "
          f"{THREADS} threads, zarr {zarr.__version__}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}, {os.cpu_count()} CPUs; load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp, \
            ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="bench-peer") as pool:
        tmp = pathlib.Path(tmp)
        files = {}
        if REAL_EIGER.is_file():
            files[REAL] = write_repeated_chunk(tmp / "real.h5", REAL_EIGER, FRAMES[REAL][0])
        for name, (shape, dtype) in SIZES.items():
            files[name] = testing.write_eiger_file(tmp / f"{name}.h5", n_frames=FRAMES[name][0],
                                                   shape=shape, dtype=dtype, compression="bslz4")
        samples = [sample_first_chunk(n, files[n]) for n in ("4M-u32", REAL) if n in files]
        for s in samples:
            _one_frame_group(s, rounds)
        _decode_many_group(samples[-1], 100, pool, rounds)
        for name, path in files.items():
            _zarr_group(name, path, rounds)
    print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
