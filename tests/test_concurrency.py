"""Reads from many Python threads, after fork(), and under Ctrl-C give h5py's bytes and leave
the shared pool usable."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings

import h5py
import numpy as np
import pytest
from conftest import (assert_identical, assert_names_chunk, chunk_location, h5py_read, patch_file,
                      run_threads, sigint_timer)

import fastchunk
from fastchunk import _native, testing

EIGER = testing.DEMO_DATASET


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two bslz4 files of different kinds, and a copy of the first with one corrupt chunk."""
    d = tmp_path_factory.mktemp("concurrency")
    frames = testing.write_eiger_file(d / "frames.h5", 12, (96, 80), np.uint32)
    rng = np.random.default_rng(3)
    tiles = testing.write_dataset(d / "tiles.h5", "t", rng.poisson(3, (300, 201)).astype("u2"),
                                  (32, 48), "bslz4")
    bad = shutil.copy(frames, d / "bad.h5")
    offset, _ = chunk_location(bad, EIGER, (5, 0, 0))
    patch_file(bad, offset, struct.pack(">Q", 12345))  # header size disagrees
    return {"frames": frames, "tiles": tiles, "bad": bad}


JOBS = [("frames", EIGER, np.s_[:]), ("frames", EIGER, np.s_[3]), ("frames", EIGER, np.s_[2:9, 10:70, ::3]),
        ("frames", EIGER, np.s_[::4, 5]), ("tiles", "t", np.s_[:]), ("tiles", "t", np.s_[17:250:3, 40:]),
        ("tiles", "t", np.s_[..., 100]), ("tiles", "t", np.s_[31:33, 47:49])]


# Files and Datasets are opened on this thread and shared by the readers: opening them from
# several threads at once is left out until the H5Pget_chunk_opts race is fixed (see report).


def test_eight_threads_match_h5py(files):
    expected = [h5py_read(files[k], name, sel) for k, name, sel in JOBS]
    opened = {k: fastchunk.File(files[k], num_threads=2) for k in ("frames", "tiles")}
    try:
        # Two Dataset objects per job: threads share them, and several read the same one.
        dsets = [[opened[k][name] for k, name, _ in JOBS] for _ in range(2)]

        def work(i):
            got = []
            for r in range(6):
                j = (i + r) % len(JOBS)
                got.append((j, dsets[i % 2][j].read(JOBS[j][2], num_threads=1 + (i + r) % 4)))
            return got
        results = run_threads(8, work)
    finally:
        for f in opened.values():
            f.close()
    for res in results:
        assert not isinstance(res, BaseException), repr(res)
        for j, a in res:
            assert_identical(a, expected[j])


def test_small_reads_from_four_threads_lose_no_wakeup(files):
    """Many reads of two to four chunks, four threads at once, each read's caller racing the
    pool's worker for its first task: every read is woken when it is done. A lost wake-up shows
    as a wait that runs out its 50 ms slice on a finished read. It once did, a few times in 600
    reads: the caller let go of the pool mutex to fetch its scratch and missed the end. With
    that bug put back, this test failed in 2 of 3 runs of half as many reads."""
    expected = h5py_read(files["tiles"], "t", ())
    before = _native.missed_wakeups()
    with fastchunk.File(files["tiles"], num_threads=2) as f:
        ds = f["t"]

        def work(i):
            rng = np.random.default_rng(i)
            for _ in range(300):
                a, b = int(rng.integers(0, 250)), int(rng.integers(0, 120))
                sel = np.s_[a:a + 40, b:b + 60]
                if ds.read(sel).tobytes() != expected[sel].tobytes():
                    return False
            return True
        results = run_threads(4, work)
    assert results == [True] * 4, results
    assert _native.missed_wakeups() == before


def test_error_in_one_thread_leaves_others_alone(files):
    expected = [h5py_read(files[k], name, sel) for k, name, sel in JOBS]
    with fastchunk.File(files["bad"], num_threads=3) as bad, \
            fastchunk.File(files["frames"], num_threads=3) as good:
        dsets = [bad[EIGER] if i < 2 else good[EIGER] for i in range(8)]

        def work(i):
            out = []
            for r in range(8):
                if i < 2:
                    try:
                        dsets[i][()]
                        out.append("no error")
                    except fastchunk.ChunkDecodeError as e:
                        out.append(str(e))
                else:
                    j = (i + r) % 4  # the frames jobs
                    out.append((j, dsets[i][JOBS[j][2]]))
            return out
        results = run_threads(8, work)
        assert_identical(dsets[0][0:5], expected[0][0:5])  # the bad file's good chunks still read
    for i, res in enumerate(results):
        assert not isinstance(res, BaseException), repr(res)
        for item in res:
            if i < 2:
                assert_names_chunk(item, files["bad"], EIGER, (5, 0, 0))
            else:
                assert_identical(item[1], expected[item[0]])


def _wait_child(pid, timeout=60):
    """Exit code of a forked child; a child that hangs is killed and fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


def _fork(child):
    """Fork; the child runs child() and exits 0 if it returned True, else non-zero."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:
        code = 3
        try:
            code = 0 if child() else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 2
        finally:
            os._exit(code)
    return _wait_child(pid)


def _read_all_and_compare(ds, expected, num_threads):
    for sel in (np.s_[:], np.s_[4], np.s_[1:10:2, 7:50]):
        if ds.read(sel, num_threads=num_threads).tobytes() != expected[sel].tobytes():
            return False
    return True


def test_fork_after_the_pool_was_used(files):
    expected = h5py_read(files["frames"], EIGER)
    with fastchunk.File(files["frames"]) as f:
        ds = f[EIGER]
        assert _read_all_and_compare(ds, expected, 4)
        assert _native.pool_size() >= 1

        def child():
            ok = _read_all_and_compare(ds, expected, 4)
            with fastchunk.File(files["frames"]) as g:
                ok = ok and _read_all_and_compare(g[EIGER], expected, 3)
            return ok and 1 <= _native.pool_size() <= 4
        assert _fork(child) == 0
        assert _read_all_and_compare(ds, expected, 4)


def test_fork_while_another_thread_reads(files):
    expected = h5py_read(files["frames"], EIGER)
    stop = threading.Event()
    with fastchunk.File(files["frames"]) as f:
        ds = f[EIGER]
        def hammer():
            while not stop.is_set():
                ds.read(num_threads=2)
        t = threading.Thread(target=hammer)
        t.start()
        try:
            time.sleep(0.02)
            # A fresh File in the child: the parent's fd-cache lock may be held by the hammer.
            codes = [_fork(lambda: _read_all_and_compare(fastchunk.File(files["frames"])[EIGER], expected, 2))
                     for _ in range(5)]
        finally:
            stop.set()
            t.join()
        assert codes == [0] * 5
        assert _read_all_and_compare(ds, expected, 2)


FRESH_PROCESS = """
import os, sys, h5py, hdf5plugin, numpy as np, fastchunk
path, name = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as h:
    expected = h[name][()]
pid = os.fork()  # before this process ever started the pool
with fastchunk.File(path, num_threads=4) as f:
    ok = f[name][()].tobytes() == expected.tobytes() and f[name][3].tobytes() == expected[3].tobytes()
if pid == 0:
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
sys.exit(0 if ok and os.waitstatus_to_exitcode(status) == 0 else 1)
"""


def test_fork_before_the_pool_exists(files):
    r = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(files["frames"]), EIGER],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("num_threads", [1, 4])
def test_ctrl_c_cancels_a_long_read(big, num_threads):
    path, frame = big
    with sigint_timer(0.05) as timer, fastchunk.File(path, num_threads=num_threads) as f:
        ds = f["x"]
        sel = np.s_[:, :, 5]
        out = np.empty((300, 1024), np.uint32)
        ds.read(np.s_[:4], num_threads=num_threads)  # index and pool warm
        deadline = time.monotonic() + 5
        with pytest.raises(KeyboardInterrupt):
            timer.start()
            while time.monotonic() < deadline:
                ds.read(sel, out=out)
        caught = time.monotonic()
        timer.join()
        assert timer.sent, "no SIGINT was sent within the time bound"
        assert caught - timer.sent[0] < 0.5
        assert_identical(ds.read(np.s_[::23, :, 5]), np.repeat(frame[None, :, 5], 14, axis=0))
        assert_identical(ds[7:9], h5py_read(path, "x", np.s_[7:9]))


def _os_threads():
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc/self/task")
def test_pool_and_threads_stay_bounded(files):
    """Workers never exceed the largest num_threads asked for. Each running read has one I/O
    thread, which parks for the next read afterwards (fc_pool.c), and a new one is started only
    when none is parked: six concurrent readers leave at most six more threads, however many
    rounds they read."""
    def settled(limit):
        # Threads that ended take a moment to vanish from /proc.
        deadline = time.monotonic() + 2
        while _os_threads() > limit and time.monotonic() < deadline:
            time.sleep(0.01)
        return _os_threads()

    with fastchunk.File(files["tiles"]) as f:
        dsets = [f["t"] for _ in range(6)]
        dsets[0].read(num_threads=4)
        pool, threads = _native.pool_size(), _os_threads()

        def work(i):
            for r in range(25):
                dsets[i].read(np.s_[r:], num_threads=1 + (i + r) % 4)
        for _ in range(3):
            assert run_threads(6, work) == [None] * 6
            assert settled(threads + 6) <= threads + 6, sorted(os.listdir("/proc/self/task"))
    assert _native.pool_size() == pool  # no read asked for more workers than before


def test_open_per_thread_beside_plain_h5py(tmp_path):
    """Regression: opening datasets (H5Pget_chunk_opts via ctypes) raced plain h5py calls in
    other threads and crashed HDF5, which is not built thread-safe here."""
    p = testing.write_dataset(tmp_path / "race.h5", "t", np.zeros((300, 201), "u2"), (32, 48), "bslz4")
    errors = []

    def fc():
        try:
            for _ in range(200):
                with fastchunk.File(p) as f:
                    assert f["t"][5, 7] == 0
        except Exception as e:  # collected and asserted below
            errors.append(repr(e))

    def plain():
        try:
            with h5py.File(p, "r") as h:
                for _ in range(2000):
                    h["t"].id.get_create_plist().get_nfilters()
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=fn) for fn in (fc, fc, plain, plain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
