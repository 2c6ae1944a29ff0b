"""Shared pieces of the benchmark suite: file sizes, frame counts, checks and the timing helper.

Used by conftest.py and the test_*.py files next to it (a plain module, because test files
should not import conftest). Run the suite with `python benchmarks/report.py`; the smoke run is
`pytest benchmarks -q --benchmark-disable -p no:cacheprovider`.
"""
import math
import os
import pathlib
import statistics
import time
from dataclasses import dataclass

import h5py
import hdf5plugin
import numpy as np

import fastchunk
from fastchunk import testing

DATASET = testing.DEMO_DATASET
BITSHUFFLE = 32008
REAL_EIGER = (pathlib.Path(__file__).resolve().parents[2] / "shared" / "realdata" / "hdf5plugin"
              / "bitshuffle.h5")

# Synthetic Eiger-style files, name: (frame shape, dtype).
SIZES = {
    "1M-u16": ((1065, 1030), np.uint16),
    "4M-u32": ((2167, 2070), np.uint32),
    "16M-u32": ((4371, 4150), np.uint32),
}
# The real Eiger 4M frame (compresses 5x, synthetic frames 11x), repeated to make a stack.
REAL = "real-4M-u32"
# Frames per file, name: (when timing, in the smoke run).
FRAMES = {"1M-u16": (50, 2), "4M-u32": (50, 2), "16M-u32": (8, 1), REAL: (50, 2)}

# The Python pool and the threaded memcpy get as many threads as fastchunk uses by default, so
# every parallel reader runs on the same cores.
THREADS = fastchunk.default_num_threads()
# Thread-scaling points: never more threads than the machine has CPUs.
SCALING = [n for n in (1, 2, 4, 8, 16) if n <= (os.cpu_count() or 1)]


def benchmarks_disabled(config):
    """True in the smoke run, where pytest-benchmark calls each benchmarked function once."""
    return bool(config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"))


def frame_count(config, name):
    """Frames to write for one file size: few when only checking, enough to time otherwise.

    FASTCHUNK_BENCH_FRAMES=N overrides both: N frames for the 1M and 4M stacks, N * 8 / 50 for
    16M.
    """
    full, smoke = FRAMES[name]
    env = os.environ.get("FASTCHUNK_BENCH_FRAMES")
    if env:
        return max(1, math.ceil(int(env) * full / 50))
    return smoke if benchmarks_disabled(config) else full


# --------------------------------------------------------------------------- checks


def assert_identical(got, want):
    """Same shape, same dtype (byte order included), same bytes."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert np.array_equal(got.reshape(-1).view(np.uint8), want.reshape(-1).view(np.uint8))


def chunk_table(dset):
    """(byte offsets, stored sizes) of a one-frame-per-chunk dataset's chunks, in frame order."""
    assert dset.chunks == (1, *dset.shape[1:]), f"{dset.name}: chunks {dset.chunks} are not frames"
    rows = []

    def visit(info):
        # A set filter_mask bit means HDF5 stored that chunk unfiltered; the peers expect bslz4.
        assert info.filter_mask == 0, f"chunk {info.chunk_offset} skips filters {info.filter_mask}"
        rows.append((info.chunk_offset[0], info.byte_offset, info.size))

    if callable(getattr(dset.id, "chunk_iter", None)):
        dset.id.chunk_iter(visit)
    else:  # h5py without chunk_iter (HDF5 < 1.12.3): fine for a few hundred chunks
        for i in range(dset.id.get_num_chunks()):
            visit(dset.id.get_chunk_info(i))
    rows.sort()
    assert [r[0] for r in rows] == list(range(dset.shape[0])), "every frame needs a stored chunk"
    # HDF5 < 1.14.4 reports addresses relative to the end of the user block.
    shift = dset.file.userblock_size if h5py.version.hdf5_version_tuple < (1, 14, 4) else 0
    return [r[1] + shift for r in rows], [r[2] for r in rows]


def bslz4_cd(dset):
    """The native layout's (elem_size, block_size, compression) for a bitshuffle+LZ4 dataset."""
    dcpl = dset.id.get_create_plist()
    found = [dcpl.get_filter(i) for i in range(dcpl.get_nfilters())]
    assert [f[0] for f in found] == [BITSHUFFLE], f"{dset.name}: filters {found} are not bslz4"
    cd = found[0][2]
    # cd_values: major, minor, elem_size, block_size (elements, 0 = default), compression (2 = LZ4)
    assert len(cd) >= 5 and cd[4] == 2, f"{dset.name}: bitshuffle cd_values {cd} are not LZ4"
    return (dset.dtype.itemsize, cd[3], 2)


# --------------------------------------------------------------------------- timing


def _cpu_clock():
    """(wall seconds, CPU seconds used by every process, CPU seconds used by this one)."""
    try:
        with open("/proc/stat") as fh:  # first line: aggregate jiffies of all CPUs
            jiffies = fh.readline().split()[1:9]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, jiffies)
    except (OSError, ValueError):
        return None
    own = os.times()
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return time.perf_counter(), busy, own.user + own.system


def others_share(before, after):
    """Share of all CPUs that other processes (and the hypervisor, as steal) used in between."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    others = (after[1] - before[1]) - (after[2] - before[2])
    return max(0.0, others / ((after[0] - before[0]) * (os.cpu_count() or 1)))


def timed(benchmark, fn, *, label, rank, decoded_bytes, frames, threads, stored_bytes=0,
          baseline=False, helpers_cpu=None):
    """Time fn with pytest-benchmark and record what report.py needs; return fn's last result.

    rank orders a group's rows in the report; baseline marks the row ratios are taken against.
    When timing, one untimed call first builds the caches (chunk index, thread pools) and faults
    in reused output arrays, so every round measures the steady state. others_cpu records how
    much of the machine other processes took meanwhile: on a shared box that, not the code, is
    the usual reason a row is slow. helpers_cpu(), if given, returns the CPU seconds used so far
    by helper processes of the benchmark itself (dask workers), which others_cpu leaves out.
    """
    if not benchmark.disabled:
        fn()
    helpers_before = helpers_cpu() if helpers_cpu else 0.0
    before = _cpu_clock()
    result = benchmark(fn)
    after = _cpu_clock()
    if helpers_cpu and before is not None and after is not None:
        spent = helpers_cpu() - helpers_before
        after = (after[0], after[1], after[2] + spent)  # the helpers' CPU counts as our own
    share = others_share(before, after)
    benchmark.extra_info.update(label=label, rank=rank, decoded_bytes=int(decoded_bytes),
                                stored_bytes=int(stored_bytes), frames=int(frames),
                                threads=int(threads), baseline=baseline,
                                others_cpu=None if share is None else round(share, 3))
    return result


def interleaved(readers, rounds):
    """The scripts' own timing (`python benchmarks/test_X.py ROUNDS`): each reader once per round,
    in turn, so drifting load on a shared machine hits every reader alike; seconds per reader."""
    times = {k: [] for k in readers}
    for _ in range(rounds):
        for k, fn in readers.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return times


def print_group(title, times, base, ours=None, peers=(), goal=None):
    """One interleaved group: each reader's median and min, and base / reader per round. With
    `ours`, its ratio against the fastest of `peers` (by median): ratio of medians, and the
    median and quartiles of the per-round ratios, against `goal`."""
    print(f"\n{title}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        r = sorted(a / b for a, b in zip(times[base], v))
        print(f"  {k:<58} median {med[k] * 1e3:8.2f} ms  min {min(v) * 1e3:8.2f} ms  "
              f"{base} / this: {statistics.median(r):5.2f}x")
    peers = [k for k in peers if k in med]
    if ours in med and peers:
        best = min(peers, key=med.get)
        r = sorted(a / b for a, b in zip(times[best], times[ours]))
        print(f"  {ours} vs fastest peer ({best}): {med[best] / med[ours]:.2f}x of medians, "
              f"per-round median {statistics.median(r):.2f}x (quartiles {r[len(r) // 4]:.2f}-"
              f"{r[3 * len(r) // 4]:.2f})" + (f"; target >= {goal}x" if goal else ""))


# --------------------------------------------------------------------------- data


@dataclass
class Workload:
    """One Eiger-style bslz4 file and what every reader needs to read it and check the result."""

    name: str
    path: pathlib.Path
    ref: np.ndarray  # the whole dataset as h5py + hdf5plugin reads it: the oracle
    offsets: list  # stored chunk byte offsets, frame order
    sizes: list  # stored chunk sizes, frame order
    crcs: list  # crc32 of each stored chunk as h5py's read_direct_chunk returns it

    @property
    def frames(self):
        return self.ref.shape[0]

    @property
    def frame_shape(self):
        return self.ref.shape[1:]

    @property
    def dtype(self):
        return self.ref.dtype

    @property
    def nbytes(self):
        return self.ref.nbytes

    @property
    def stored_bytes(self):
        return sum(self.sizes)

    def check_each(self, read_each):
        """Run read_each(use) once, untimed, and check it hands use(i, frame) every frame in
        order, bit for bit."""
        seen = []

        def use(i, frame):
            assert_identical(frame, self.ref[i])
            seen.append(i)

        read_each(use)
        assert seen == list(range(self.frames))


def drop(i, frame):
    """What the timed rounds of a frame-at-a-time reader do with each frame: let it go."""


@dataclass
class ChunkSample:
    """One stored bslz4 chunk (a whole frame) and its decoded reference."""

    name: str
    raw: np.ndarray  # the stored chunk bytes, uint8
    chunk_shape: tuple
    cd: tuple  # native layout cd: (elem_size, block_size, compression)
    ref: np.ndarray  # the chunk as h5py decodes it, shape chunk_shape

    @property
    def dtype(self):
        return self.ref.dtype


def write_repeated_chunk(path, source, n_frames):
    """Write a stack of n_frames copies of source's first stored bslz4 chunk, copied raw (not
    re-encoded), so a real frame's compressibility can be timed over many chunks."""
    with h5py.File(source, "r") as f:
        src = f[DATASET]
        bslz4_cd(src)
        mask, raw = src.id.read_direct_chunk((0,) * src.ndim)
        assert mask == 0, f"{source}: first chunk skips filters {mask}"
        chunks, dtype = src.chunks, src.dtype
    with h5py.File(path, "w") as f:
        # The chunk header carries its own block size, so the filter's cd_values need only say LZ4.
        dset = f.create_dataset(DATASET, shape=(n_frames, *chunks[1:]), dtype=dtype, chunks=chunks,
                                **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
        for i in range(n_frames):
            dset.id.write_direct_chunk((i,) + (0,) * (len(chunks) - 1), raw, filter_mask=0)
    return path


def sample_first_chunk(name, path):
    """The first stored chunk of a bslz4 dataset and h5py's decoding of it."""
    with h5py.File(path, "r") as f:
        dset = f[DATASET]
        cd = bslz4_cd(dset)
        mask, raw = dset.id.read_direct_chunk((0,) * dset.ndim)
        assert mask == 0, f"{path}: first chunk skips filters {mask}"
        ref = dset[tuple(slice(0, n) for n in dset.chunks)]
        return ChunkSample(name, np.frombuffer(raw, np.uint8), dset.chunks, cd, ref)
