"""Shared fixtures: SIMD kernels, real-data paths, and the report header."""
from hdf5_exit import skip_hdf5_exit_handler

# Before h5py: HDF5 2.0's exit handler can crash the process after the run (hdf5_exit.py).
HDF5_EXIT_HANDLER_SKIPPED = skip_hdf5_exit_handler()

import contextlib  # noqa: E402
import os  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import h5py  # noqa: E402
import hdf5plugin  # noqa: E402,F401
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastchunk  # noqa: E402
from fastchunk import _native, testing  # noqa: E402

REALDATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "realdata"


def pytest_report_header(config):
    return (f"fastchunk {fastchunk.__version__}, h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}, "
            f"numpy {np.__version__}; threads {fastchunk.default_num_threads()}; SIMD kernel "
            f"{_native.simd_kernel()} (available {','.join(_native.simd_available())})")


@pytest.fixture(params=_native.simd_available())
def simd(request):
    """Run the test once per SIMD kernel set this CPU has, then restore the default."""
    before = _native.simd_kernel()
    _native.simd_select(request.param)
    yield request.param
    _native.simd_select(before)


@pytest.fixture
def realdata():
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent")
    return REALDATA


@pytest.fixture(autouse=True)
def _demo_cache(tmp_path_factory, monkeypatch):
    # Never write the demo cache into the user's home from tests.
    monkeypatch.setenv("FASTCHUNK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def h5py_read(path, name, sel=()):
    with h5py.File(path, "r") as f:
        return f[name][sel]


def assert_identical(a, b):
    """Same shape, same dtype (byte order included) and the same bytes."""
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def assert_native_like_h5py(path, name, sels, codec):
    """fastchunk reads dataset `name` natively, with `codec` in its decode chain, and every
    selection in sels exactly as h5py does."""
    with fastchunk.File(path) as f:
        ds = f[name]
        assert ds.native, ds.reason
        assert codec in ds.pipeline.codec, ds.pipeline.codec
        for sel in sels:
            assert_identical(ds[sel], h5py_read(path, name, sel))


def pytest_terminal_summary(terminalreporter):
    """Print the real-file gate's and the fault sweep's counts when those modules ran."""
    import sys
    tr = terminalreporter
    faults = sys.modules.get("test_file_faults")
    if faults is not None and faults.SUMMARY:
        tr.section("file-level fault sweep (tests/test_file_faults.py)")
        for k, v in sorted(faults.SUMMARY.items()):
            tr.write_line(f"{k:<56}{v}")
        tr.write_line(f"{'cases in all':<56}{sum(faults.SUMMARY.values())}")
    mod = sys.modules.get("test_realdata_manifest")
    if mod is None or not mod.SUMMARY:
        return
    tr.section("real-file gate (../shared/realdata/manifest.json)")
    for k, v in mod.SUMMARY.items():
        tr.write_line(f"{k:<32}{v}")
    for reason, n in mod.FALLBACK_REASONS.most_common():
        tr.write_line(f"  h5py fallback x{n}: {reason}")


def run_threads(n, work):
    """Run work(i) on n threads started together; return their results or exceptions."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as e:  # reported by the test on the main thread
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a thread hung"
    return results


@contextlib.contextmanager
def sigint_timer(delay):
    """A timer whose start() sends this process SIGINT `delay` seconds later, with Python's
    default handler (KeyboardInterrupt) installed until the block ends; timer.sent holds the
    time it was sent."""
    sent = []

    def interrupt():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(delay, interrupt)
    timer.sent = sent
    try:
        yield timer
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


def chunk_location(path, name, coords):
    """(file offset, stored bytes) of the chunk starting at element coords, from h5py."""
    with h5py.File(path, "r") as f:
        info = f[name].id.get_chunk_info_by_coord(tuple(coords))
        # HDF5 < 1.14.4 reports addresses relative to the end of the user block.
        shift = f.userblock_size if h5py.version.hdf5_version_tuple < (1, 14, 4) else 0
        return info.byte_offset + shift, info.size


def patch_file(path, at, data):
    """Overwrite bytes of a file in place (only ever on a copy made by the test)."""
    with open(path, "r+b") as fh:
        fh.seek(at)
        fh.write(bytes(data))


def assert_names_chunk(message, path, name, coords, codec="bitshuffle+lz4"):
    """An error message says which file, dataset, chunk, byte offset and codec."""
    assert str(path) in message, message
    assert name in message, message
    assert str(tuple(coords)) in message, message
    assert codec in message, message
    assert re.search(r"\b(byte|offset) \d+", message), message


def edit_stored_chunk(path, coords, edit):
    """Replace the stored bytes of dataset /x's chunk at coords by edit(bytearray of them),
    keeping its filter_mask (on a file the test wrote)."""
    with h5py.File(path, "r+") as h:
        mask, raw = h["x"].id.read_direct_chunk(coords)
        h["x"].id.write_direct_chunk(coords, edit(bytearray(raw)), filter_mask=mask)


def write_blosc_in_child(path, name, data, chunks, cname, shuffle, env, clevel=5):
    """Write dataset name with hdf5plugin.Blosc in a child process whose environment has env
    (c-blosc's BLOSC_NTHREADS, BLOSC_SPLITMODE, BLOSC_BLOCKSIZE): c-blosc keeps what those set
    for the rest of the process, which would change what later tests write."""
    import os
    import subprocess
    import sys
    np.save(f"{path}.npy", data)
    code = ("import sys, numpy as np, hdf5plugin; from fastchunk import testing; "
            "a = sys.argv; testing.write_dataset(a[1], a[2], np.load(a[3]), eval(a[4]), "
            "hdf5plugin.Blosc(cname=a[5], clevel=int(a[6]), shuffle=int(a[7])), mode='w')")
    subprocess.run([sys.executable, "-c", code, str(path), name, f"{path}.npy", repr(tuple(chunks)),
                    cname, str(clevel), str(shuffle)], env={**os.environ, **env}, check=True)
    return path


def assert_damaged_chunk_reported(path, coords, codec, words, intact, num_threads):
    """Reading all of dataset /x raises ChunkDecodeError naming the chunk at coords, its codec
    and words; the frames in intact (index -> expected array) still read afterwards."""
    with fastchunk.File(path, num_threads=num_threads) as f:
        with pytest.raises(fastchunk.ChunkDecodeError) as info:
            f["x"][()]
        assert_names_chunk(str(info.value), path, "/x", coords, codec)
        assert words in str(info.value)
        for i, want in intact.items():
            assert_identical(f["x"][i], want)


@pytest.fixture(scope="session")
def big(tmp_path_factory):
    """300 sparse 1024x1024 u32 frames (one chunk each, 1.2 GB decoded): a read of one column
    decodes every chunk and takes about a second on one core, long enough to interrupt."""
    d = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    frame = np.zeros((1, 1024, 1024), np.uint32)
    frame.flat[rng.integers(0, frame.size, 2000)] = rng.integers(1, 1000, 2000)
    one = testing.write_dataset(d / "one.h5", "x", frame, frame.shape, "bslz4")
    with h5py.File(one, "r") as h:
        _, raw = h["x"].id.read_direct_chunk((0, 0, 0))
    path = testing.write_dataset(d / "big.h5", "x", None, frame.shape, "bslz4",
                                 shape=(300, 1024, 1024), dtype=np.uint32)
    with h5py.File(path, "r+") as h:
        for i in range(300):  # the same stored chunk, written directly: fast to make
            h["x"].id.write_direct_chunk((i, 0, 0), raw)
    return path, frame[0]
