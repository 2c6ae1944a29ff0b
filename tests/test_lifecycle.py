"""Lifecycle and resource limits: closing a file under a read, many opens, streaming memory,
and sizes that lie (rejected before anything is allocated for them)."""
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import assert_identical, h5py_read

import fastchunk
from fastchunk import testing

UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
HAVE_PROC = os.path.isdir("/proc/self/fd") and os.path.isdir("/proc/self/task")


def _fds():
    return len(os.listdir("/proc/self/fd"))


def _threads():
    return len(os.listdir("/proc/self/task"))


def _settle(count, limit, timeout=5):
    """count() once it is at most limit (joined threads take a moment to vanish), or its last value."""
    deadline = time.monotonic() + timeout
    while count() > limit and time.monotonic() < deadline:
        time.sleep(0.01)
    return count()


@pytest.mark.parametrize("num_threads", [1, 4])
def test_close_while_another_thread_reads(big, num_threads):
    """close() from another thread stops the read with FileClosedError (not EBADF, not another
    file's bytes through a reused descriptor, not a crash) and leaves the pool usable."""
    path, frame = big
    f = fastchunk.File(path, num_threads=num_threads)
    ds = f["x"]
    ds.read(np.s_[:2])  # index built, pool warm
    started, outcome = threading.Event(), []

    def reader():
        out = np.empty((300, 1024), np.uint32)
        try:
            while True:  # each read decodes 300 chunks: the close lands inside one
                started.set()
                ds.read(np.s_[:, :, 5], out=out)
        except BaseException as e:  # checked on the main thread
            outcome.append(e)
    t = threading.Thread(target=reader)
    t.start()
    assert started.wait(10)
    time.sleep(0.1)
    f.close()
    t.join(10)
    assert not t.is_alive(), "the reader did not stop after close()"
    assert len(outcome) == 1 and isinstance(outcome[0], fastchunk.FileClosedError), outcome
    assert isinstance(outcome[0], ValueError)
    assert str(path) in str(outcome[0])
    with pytest.raises(fastchunk.FileClosedError, match="closed"):
        ds[0]
    with pytest.raises(fastchunk.FileClosedError):
        f["x"]
    f.close()  # twice is fine
    with fastchunk.File(path, num_threads=num_threads) as g:
        assert_identical(g["x"][::50, :, 5], np.repeat(frame[None, :, 5], 6, axis=0))


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc/self/fd")
def test_close_waits_for_no_descriptor_reuse(big, tmp_path):
    """The descriptors of a closed File go away once its last read is out, not before."""
    path, _ = big
    before = _fds()
    f = fastchunk.File(path)
    f["x"][0]
    assert _fds() > before
    f.close()
    assert _fds() == before


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc/self/fd and /proc/self/task")
def test_ten_thousand_opens_leak_nothing(tmp_path):
    p = testing.write_dataset(tmp_path / "o.h5", "t", np.arange(600, dtype="u2").reshape(30, 20),
                              (8, 8), "bslz4")
    expected = h5py_read(p, "t", np.s_[3])
    with fastchunk.File(p) as f:  # pool and caches warm before counting
        f["t"][:]
    gc.collect()
    fds, threads = _fds(), _threads()
    for i in range(10_000):
        if i % 10 == 0:  # a tenth read (with the native engine, so a descriptor is opened)
            with fastchunk.File(p) as f:
                assert f["t"][3].tobytes() == expected.tobytes()
        elif i % 10 == 1:  # dropped without close(): the garbage collector gives it all back
            g = fastchunk.File(p)
            g["t"]
            del g
        else:
            fastchunk.File(p).close()
    gc.collect()
    assert _fds() == fds
    assert _settle(_threads, threads) <= threads


@pytest.mark.skipif(UNDER_ASAN, reason="ASan's quarantine keeps freed memory on purpose")
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm")
def test_streaming_memory_stays_flat(big):
    """iter_frames over 10x the memory budget, twice: resident memory grows by less than twice
    the budget, and hardly in the second pass (it does not grow with what was read)."""
    path, frame = big
    page = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * page
    frames, batch = 240, 2
    budget = frames * frame.nbytes // 10  # 10x the budget is streamed per pass
    with fastchunk.File(path) as f:
        ds = f["x"]
        for _ in ds.iter_frames(batch=batch, stop=8):  # buffers, pool and index warm
            pass
        base, peaks = rss(), [0, 0]
        for stream in range(2):
            for start, block in ds.iter_frames(batch=batch, stop=frames):
                assert block[:, 100:104, 7].tobytes() == np.repeat(frame[None, 100:104, 7], len(block), 0).tobytes()
                del block
                peaks[stream] = max(peaks[stream], rss())
    grown = max(peaks) - base
    # Measured 60-100 MiB against a 96 MiB budget, as the pool's cached read buffers and
    # glibc's per-thread arenas settle (100 once, in a full run beside another): the bound is
    # twice that, still a fifth of what was streamed.
    assert grown < 2 * budget, f"grew {grown >> 20} MiB streaming {frames * frame.nbytes >> 20} MiB"
    # Memory that grew with what was read would add 10x the budget in the second pass. The
    # allocator's settling is not done halfway through the first pass (the halves of one pass,
    # as this compared before, once differed by exactly 24 MiB in CI), but is after it.
    assert peaks[1] - peaks[0] < budget // 4, [p >> 20 for p in peaks]


LIARS = r"""
import os, resource, struct, sys
import numpy as np
import fastchunk
from fastchunk import _native
# Allocating what a lying size claims would fail here, so only a check made before
# allocating can give the right error.
if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # ASan reserves terabytes of shadow
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
out = []
def expect(cls, fn):
    try:
        fn()
        out.append("no error")
    except cls as e:
        out.append("ok")
    except BaseException as e:
        out.append(f"{type(e).__name__}: {e}")

chunk = np.zeros(64, np.uint8)
def decode(filters, src):
    _native.decode_chunk(_native.Layout((64,), 1, filters), np.frombuffer(src, np.uint8), chunk)
huge = struct.pack(">QI", 1 << 62, 8192)
expect(fastchunk.ChunkDecodeError, lambda: decode([(32008, (1, 0, 2))], huge + bytes(8)))
expect(fastchunk.ChunkDecodeError, lambda: decode([(32004, ())], huge + bytes(8)))
# LZ4 32004 under bitshuffle: an intermediate stage whose header claims 2**62 bytes.
expect(fastchunk.ChunkDecodeError, lambda: decode([(32008, (1, 0, 0)), (32004, ())], huge + bytes(8)))

# A plan row whose stored size is far beyond anything the chunk's filters could produce,
# inside a (sparse) file big enough to hold it, and one pointing past the end of the file.
path = sys.argv[1]
with open(path, "wb") as fh:
    fh.truncate(1 << 36)
fd = os.open(path, os.O_RDONLY)
lay = _native.Layout((16,), 1, [(32008, (1, 0, 2))])
def read(offset, nbytes, nrows=1):
    rows = np.zeros(nrows, _native.ROW_DTYPE)
    rows["offset"] = offset + np.arange(nrows) * 64
    rows["nbytes"] = nbytes
    regions = np.zeros((nrows, 3, 1), np.int64)
    regions[:, 1, 0] = np.arange(nrows) * 16
    regions[:, 2, 0] = 16
    buf = np.empty(16 * nrows, np.uint8)
    _native.read(rows, regions, [1], [16 * nrows], buf, [fd], [lay], 2)
for nrows in (1, 3):  # inline and threaded
    expect(fastchunk.ChunkDecodeError, lambda: read(0, 1 << 35, nrows))
    expect(fastchunk.ChunkReadError, lambda: read((1 << 36) - 100, 1 << 20, nrows))
print(" ".join(out))
"""


def test_lying_sizes_are_rejected_before_allocating(tmp_path):
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(LIARS), str(tmp_path / "sparse.bin")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok"] * 7, r.stdout
