"""Deflate (HDF5 filter 1) end to end and on one core, against the fastest readers a user can pick
instead (issue 19), one group per case, every peer in the same run:

- h5py (the baseline: a `ds[i]` frame loop for the frame stacks, `ds[...]` / `ds[:, k]` for the
  volume), fastchunk `ds.read(sel, out)`,
- a 2-thread Python pool: os.pread of each stored chunk (offsets from h5py's chunk_iter /
  get_chunk_info) + imagecodecs.deflate_decode(chunk, out=...) (libdeflate when `out` is given),
  numpy byte-unshuffle after it when the dataset has the shuffle filter,
- hidefix (Rust concurrent HDF5 reader, `pip install hidefix`; its rayon pool uses every CPU).

Cases: (a) 60 x 1M u16 Eiger frames, gzip 4; (b) the same with shuffle; (c) a 256^3 f4 volume
(smooth field + noise) in 64^3 chunks, shuffle+gzip 4, read whole; (d) one slab `[:, 128]` of
it; (e) 60 x 1M u32 frames, gzip 4. Frames are testing.eiger_frames (Poisson counts on a low
background, rings, Bragg spots, module gaps). Plus "deflate 1 chunk, 1 thread": one stored 1M
u16 frame decoded by our inflate (_native.decode_chunk), zlib.decompress and libdeflate.

Target (issue 19): fastchunk >= 1.25x the fastest of hidefix and the libdeflate pool on every
end-to-end case; on one core, our inflate faster than libdeflate.

Timings:  pytest benchmarks/test_deflate.py --benchmark-enable -p no:cacheprovider
Smoke:    pytest benchmarks/test_deflate.py -q --benchmark-disable -p no:cacheprovider
Interleaved rounds (every reader of a case in turn, R rounds, medians and per-round ratios;
what docs/benchmarks.md records, because the machine's load drifts between tests):
          python benchmarks/test_deflate.py [ROUNDS]              (default 9)
Sizes: 60 frames and a 256^3 volume when timing, 2 frames and a 128^3 volume in the smoke run;
FASTCHUNK_BENCH_FRAMES=N sets N * 60 / 50 frames (the conftest's knob).
The peers are optional: without imagecodecs or hidefix their tests skip with one reason.
"""
import contextlib
import math
import os
import sys
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pytest

import fastchunk
from bench_support import (THREADS, assert_identical, benchmarks_disabled, interleaved, print_group,
                           timed)
from fastchunk import _native, testing

DEFLATE = 1
LEVEL = 4  # gzip 4: the figures (testing.DEFLATE_LEVEL is 1)
FRAME_SHAPE = (1065, 1030)  # Eiger 1M
FULL = {"frames": 60, "edge": 256}
SMOKE = {"frames": 2, "edge": 128}
VOLUME_CHUNK = 64

# name: (kind, dtype, shuffle); the volume's slab case reads the file of the volume case.
CASES = {
    "1M-u16 frames, gzip 4": ("frames", np.uint16, False),
    "1M-u16 frames, shuffle+gzip 4": ("frames", np.uint16, True),
    "f4 volume, 64^3 chunks, shuffle+gzip 4": ("volume", np.float32, True),
    "f4 volume slab [:, edge/2], shuffle+gzip 4": ("slab", np.float32, True),
    "1M-u32 frames, gzip 4": ("frames", np.uint32, False),
}


def sizes(disabled):
    env = os.environ.get("FASTCHUNK_BENCH_FRAMES")
    s = dict(SMOKE if disabled else FULL)
    if env:
        s["frames"] = max(1, math.ceil(int(env) * FULL["frames"] / 50))
    return s


# --------------------------------------------------------------------------- files


def smooth_volume(edge, seed=0):
    """A smooth float32 field (a few low-frequency waves and Gaussian blobs, like a reconstructed
    tomogram or a simulation field) with 1 % noise: shuffle puts its sign/exponent bytes
    together, the low mantissa bytes stay noisy, as in real volumes."""
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[:edge, :edge, :edge]
    z, y, x = (a.astype(np.float32) / edge for a in (z, y, x))
    v = np.sin(7.1 * x + 1.3) * np.cos(5.3 * y) + 0.5 * np.sin(9.7 * (x + y + z))
    for _ in range(6):
        c = rng.random(3, dtype=np.float32)
        v = v + 2.0 * np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) / 0.01)
    v = v.astype(np.float32)
    v += rng.normal(0, 0.01, v.shape).astype(np.float32)
    return v


class Case:
    """One written file, the selection each reader reads, h5py's result (the oracle) and the
    stored chunks' table."""

    def __init__(self, name, tmpdir, n):
        self.name = name
        self.kind, dtype, self.shuffle = CASES[name]
        if self.kind == "frames":
            data, chunks = testing.eiger_frames(n["frames"], FRAME_SHAPE, dtype), (1, *FRAME_SHAPE)
            tag = f"frames_{np.dtype(dtype).name}_{n['frames']}{'_shuffle' if self.shuffle else ''}"
        else:
            data, chunks = smooth_volume(n["edge"]), (VOLUME_CHUNK,) * 3
            tag = f"volume_{n['edge']}"
        self.path = tmpdir / f"deflate_{tag}.h5"
        if not self.path.exists():  # the slab case reuses the volume's file
            testing.write_dataset(self.path, "/data", data, chunks,
                                  "shuffle+deflate" if self.shuffle else "deflate",
                                  compression_opts=LEVEL)
        self.sel = (slice(None), n["edge"] // 2) if self.kind == "slab" else ()
        with h5py.File(self.path, "r") as f:
            d = f["/data"]
            self.ref = d[self.sel]  # also leaves the file in the page cache
            self.shape, self.chunks, self.dtype = d.shape, d.chunks, d.dtype
            self.stored_bytes = d.id.get_storage_size()
            self.table = chunk_table(d)
        assert_identical(self.ref, data[self.sel])  # the oracle itself reads what was written
        self.frames = self.shape[0] if self.kind == "frames" else 1
        if self.kind == "slab":
            self.name = name.replace("edge/2", str(n["edge"] // 2))


def chunk_table(dset):
    """{chunk offset (tuple): (file byte offset, stored size)} of every stored chunk."""
    rows = {}

    def visit(info):
        assert info.filter_mask == 0, f"chunk {info.chunk_offset} skips filters {info.filter_mask}"
        rows[tuple(info.chunk_offset)] = (info.byte_offset, info.size)

    if callable(getattr(dset.id, "chunk_iter", None)):
        dset.id.chunk_iter(visit)
    else:
        for i in range(dset.id.get_num_chunks()):
            visit(dset.id.get_chunk_info(i))
    shift = dset.file.userblock_size if h5py.version.hdf5_version_tuple < (1, 14, 4) else 0
    return {k: (o + shift, s) for k, (o, s) in rows.items()}


# --------------------------------------------------------------------------- readers
# Each builder takes (case, stack: ExitStack, pool) and returns a no-argument function that reads
# the case's selection and returns the result (reused `out` where the reader can fill one).


def h5py_reader(case, stack, pool):
    d = stack.enter_context(h5py.File(case.path, "r"))["/data"]
    if case.kind == "frames":
        out = np.empty(case.shape, case.dtype)

        def loop():  # the frame loop a user writes; the copy into a stack is part of it
            for i in range(d.shape[0]):
                out[i] = d[i]
            return out
        return loop
    return lambda: d[case.sel]


def fastchunk_reader(case, stack, pool):
    ds = stack.enter_context(fastchunk.File(case.path))["/data"]
    assert ds.native, ds.reason
    out = np.empty(case.ref.shape, case.dtype)
    return lambda: ds.read(case.sel, out)


def libdeflate_pool_reader(case, stack, pool):
    """pread + imagecodecs.deflate_decode(chunk, out=...) (libdeflate), numpy unshuffle, on the
    pool's threads: the 20 lines a user writes instead of a reader."""
    imagecodecs = pytest.importorskip("imagecodecs", reason="imagecodecs (libdeflate) is not installed")
    fd = os.open(case.path, os.O_RDONLY)
    stack.callback(os.close, fd)
    isz = case.dtype.itemsize
    chunk_elems = math.prod(case.chunks)
    out = np.empty(case.ref.shape, case.dtype)
    local = threading.local()

    def scratch():
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = np.empty(chunk_elems * isz, np.uint8)
        return s

    def decode(key, dst_u8=None):
        """The stored chunk `key`, inflated into dst_u8 (bytes of a contiguous destination) or
        into this thread's scratch; returns the bytes it wrote to."""
        off, size = case.table[key]
        raw = os.pread(fd, size, off)
        into = dst_u8 if dst_u8 is not None and not case.shuffle else scratch()
        imagecodecs.deflate_decode(raw, out=into)
        return into

    def unshuffle(dst, planes):
        """Byte k of every element from plane k: one strided numpy copy per plane (8x faster
        here than assigning the transposed planes in one go)."""
        for k in range(isz):
            dst[..., k] = planes[k]

    if case.kind == "frames":
        frames_u8 = out.reshape(len(out), -1).view(np.uint8)

        def frame(i):
            dst = frames_u8[i]
            got = decode((i, 0, 0), dst)
            if case.shuffle:  # byte planes -> elements, straight into the frame
                unshuffle(dst.reshape(-1, isz), got.reshape(isz, -1))
        work = range(case.shape[0])
        fn = frame
    else:
        c = VOLUME_CHUNK
        out_u8 = out.view(np.uint8)  # (z, [y,] x * isz)
        y0 = case.sel[1] if case.kind == "slab" else None
        keys = sorted(k for k in case.table if y0 is None or k[1] <= y0 < k[1] + c)

        def chunk(key):
            z, y, x = key
            planes = decode(key).reshape(isz, c, c, c)  # shuffle: one plane per byte
            if y0 is None:
                unshuffle(out_u8[z:z + c, y:y + c, x * isz:(x + c) * isz].reshape(c, c, c, isz),
                          planes)
            else:
                unshuffle(out_u8[z:z + c, x * isz:(x + c) * isz].reshape(c, c, isz),
                          planes[:, :, y0 - y, :])
        assert case.shuffle, "the volume cases are shuffled"
        work, fn = keys, chunk

    def read():
        for _ in pool.map(fn, work):
            pass
        return out
    return read


def hidefix_reader(case, stack, pool):
    hidefix = pytest.importorskip("hidefix", reason="hidefix is not installed")
    d = hidefix.Index(str(case.path)).dataset("data")
    key = (slice(None), case.sel[1]) if case.kind == "slab" else ()
    return lambda: d[key]


# (test name suffix, label, rank, builder, threads)
READERS = [
    ("h5py", "h5py (ds[i] frame loop into a stack / ds[sel])", 0, h5py_reader, 1),
    ("fastchunk", "fastchunk ds.read(sel, out)", 1, fastchunk_reader, THREADS),
    ("libdeflate_pool", f"Python pool ({THREADS} threads): pread + libdeflate (imagecodecs)",
     2, libdeflate_pool_reader, THREADS),
    ("hidefix", "hidefix (Rust, rayon on every CPU)", 3, hidefix_reader, os.cpu_count() or 1),
]


def check(case, got):
    got = np.asarray(got)
    assert_identical(got.reshape(case.ref.shape), case.ref)


# --------------------------------------------------------------------------- pytest


@pytest.fixture(scope="module", params=list(CASES))
def deflate_case(request, tmp_path_factory):
    return Case(request.param, tmp_path_factory.getbasetemp(),
                sizes(benchmarks_disabled(request.config)))


@pytest.mark.parametrize("reader", [r[0] for r in READERS])
def test_deflate(benchmark, deflate_case, reader, py_pool):
    case = deflate_case
    _, label, rank, build, threads = next(r for r in READERS if r[0] == reader)
    benchmark.group = f"deflate: {case.name}"
    with contextlib.ExitStack() as stack:
        fn = build(case, stack, py_pool)
        got = timed(benchmark, fn, label=label, rank=rank, decoded_bytes=case.ref.nbytes,
                    stored_bytes=case.stored_bytes, frames=case.frames, threads=threads,
                    baseline=reader == "h5py")
        check(case, got)


# -- one core, one frame -----------------------------------------------------------------


@pytest.fixture(scope="module")
def frame_chunk(tmp_path_factory):
    """One stored 1M u16 Eiger frame, gzip 4, and its decoded bytes."""
    path = tmp_path_factory.getbasetemp() / "deflate_1M_u16_chunk.h5"
    frame = testing.eiger_frames(1, FRAME_SHAPE, np.uint16)
    testing.write_dataset(path, "/data", frame, (1, *FRAME_SHAPE), "deflate",
                          compression_opts=LEVEL)
    with h5py.File(path, "r") as f:
        mask, raw = f["/data"].id.read_direct_chunk((0, 0, 0))
    assert mask == 0
    return raw, frame[0]


def _one(benchmark, frame_chunk, fn, label, rank, **kw):
    raw, ref = frame_chunk
    return timed(benchmark, fn, label=label, rank=rank, decoded_bytes=ref.nbytes,
                 stored_bytes=len(raw), frames=1, threads=1, **kw)


ONE = "deflate 1 chunk, 1 thread: 1M-u16 gzip 4"


@pytest.mark.benchmark(group=ONE)
def test_deflate_one_zlib(benchmark, frame_chunk):
    raw, ref = frame_chunk
    got = _one(benchmark, frame_chunk, lambda: zlib.decompress(raw), "zlib.decompress (system zlib)",
               0, baseline=True)
    assert got == ref.tobytes()


@pytest.mark.benchmark(group=ONE)
def test_deflate_one_fastchunk_decode_chunk(benchmark, frame_chunk):
    raw, ref = frame_chunk
    layout = _native.Layout(ref.shape, ref.dtype.itemsize, [(DEFLATE, (LEVEL,))])
    src = np.frombuffer(raw, np.uint8)
    out = np.empty_like(ref)
    _one(benchmark, frame_chunk, lambda: _native.decode_chunk(layout, src, out),
         "fastchunk _native.decode_chunk (our inflate), reused out", 1)
    assert_identical(out, ref)


@pytest.mark.benchmark(group=ONE)
def test_deflate_one_libdeflate(benchmark, frame_chunk):
    imagecodecs = pytest.importorskip("imagecodecs", reason="imagecodecs (libdeflate) is not installed")
    raw, ref = frame_chunk
    out = np.empty_like(ref)
    flat = out.reshape(-1).view(np.uint8)  # imagecodecs wants a 1-D buffer
    _one(benchmark, frame_chunk, lambda: imagecodecs.deflate_decode(raw, out=flat),
         "libdeflate (imagecodecs.deflate_decode, out=), reused out", 2)
    assert_identical(out, ref)


# --------------------------------------------------------------------------- interleaved


def main(rounds=9):
    import pathlib
    import tempfile
    n = sizes(False)
    print(f"{sys.executable} benchmarks/test_deflate.py {rounds}: {rounds} interleaved rounds, "
          f"{n['frames']} frames, {n['edge']}^3 volume; fastchunk {fastchunk.__version__} (SIMD "
          f"{_native.simd_kernel()}), {THREADS} threads; h5py {h5py.__version__}, HDF5 "
          f"{h5py.version.hdf5_version}; {os.cpu_count()} CPUs; load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    from importlib import metadata
    for mod in ("imagecodecs", "hidefix"):
        try:
            __import__(mod)
            print(f"{mod} {metadata.version(mod)}")
        except ImportError:
            print(f"{mod}: not installed, its reader is left out")
    with tempfile.TemporaryDirectory() as tmp, \
            ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="bench-peer") as pool:
        tmp = pathlib.Path(tmp)
        for name in CASES:
            case = Case(name, tmp, n)
            with contextlib.ExitStack() as stack:
                readers = {}
                for key, label, _, build, _ in READERS:
                    try:
                        fn = build(case, stack, pool)
                    except pytest.skip.Exception:
                        continue
                    check(case, fn())  # warm-up and check
                    readers[key] = fn
                times = interleaved(readers, rounds)
            print_group(f"deflate: {case.name} ({case.ref.nbytes / 1e6:.1f} MB decoded, "
                        f"{case.stored_bytes / 1e6:.1f} MB stored)", times, "h5py",
                        "fastchunk", ("libdeflate_pool", "hidefix"), 1.25)
        # one core, one frame
        frame = testing.eiger_frames(1, FRAME_SHAPE, np.uint16)
        p = testing.write_dataset(tmp / "one.h5", "/data", frame, (1, *FRAME_SHAPE), "deflate",
                                  compression_opts=LEVEL)
        with h5py.File(p, "r") as f:
            raw = f["/data"].id.read_direct_chunk((0, 0, 0))[1]
        ref = frame[0]
        layout = _native.Layout(ref.shape, 2, [(DEFLATE, (LEVEL,))])
        src, out = np.frombuffer(raw, np.uint8), np.empty_like(ref)
        one = {"zlib.decompress": lambda: zlib.decompress(raw),
               "fastchunk": lambda: _native.decode_chunk(layout, src, out)}
        try:
            import imagecodecs
            out2 = np.empty(ref.nbytes, np.uint8)
            one["libdeflate (imagecodecs)"] = lambda: imagecodecs.deflate_decode(raw, out=out2)
        except ImportError:
            pass
        for fn in one.values():
            fn()
        assert_identical(out, ref)
        times = interleaved({k: (lambda f=f: [f() for _ in range(10)]) for k, f in one.items()},
                            rounds * 5)
        times = {k: [t / 10 for t in v] for k, v in times.items()}
        print_group(f"deflate 1 chunk, 1 thread: 1M-u16 gzip {LEVEL} ({ref.nbytes / 1e6:.2f} MB, "
                    f"{len(raw) / 1e6:.2f} MB stored)", times, "zlib.decompress",
                    "fastchunk", ("libdeflate (imagecodecs)",), 1.25)
    print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
