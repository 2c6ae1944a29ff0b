"""fastchunk.buffers: decode outputs reused once nobody holds them, never while anybody does."""
import gc

import numpy as np
import pytest
from conftest import run_threads

from fastchunk import testing
from fastchunk.buffers import BufferPool
from fastchunk.numcodecs_codecs import Bslz4

BIG = 2 << 20


def test_a_dropped_lease_is_handed_out_again():
    pool = BufferPool()
    a = pool.lease(BIG)
    assert a.nbytes == BIG and a.dtype == np.uint8 and a.flags.writeable
    where = a.ctypes.data
    del a
    gc.collect()
    assert pool.idle_bytes() == BIG
    b = pool.lease(BIG)
    assert b.ctypes.data == where
    assert pool.idle_bytes() == 0


@pytest.mark.parametrize("keep", ["view", "reshape", "slice", "asarray", "memoryview"])
def test_a_lease_is_never_handed_out_while_any_view_of_it_lives(keep):
    pool = BufferPool()
    a = pool.lease(BIG)
    a[:] = 7
    held = {"view": lambda x: x.view(np.uint32), "reshape": lambda x: x.reshape(2, -1),
            "slice": lambda x: x[10:20], "asarray": np.asarray,
            "memoryview": memoryview}[keep](a)
    del a
    gc.collect()
    assert pool.idle_bytes() == 0
    b = pool.lease(BIG)
    b[:] = 9
    assert bytes(memoryview(held).cast("B")[:4]) == b"\x07" * 4
    del held
    gc.collect()
    assert pool.idle_bytes() == BIG


def test_small_leases_are_plain_arrays_and_the_pool_keeps_a_bounded_amount():
    pool = BufferPool(keep=2, max_idle_bytes=3 * BIG)
    assert pool.lease(100).base is None  # below min_bytes: numpy's own
    leases = [pool.lease(BIG) for _ in range(4)]
    del leases
    gc.collect()
    assert pool.idle_bytes() == 2 * BIG  # keep=2 per size
    other = [pool.lease(BIG // 2 * 3) for _ in range(2)]
    del other
    gc.collect()
    assert pool.idle_bytes() <= 3 * BIG  # max_idle_bytes in all
    pool.clear()
    assert pool.idle_bytes() == 0
    again = pool.lease(BIG)  # a fresh allocation after clear(), still returned when dropped
    del again
    gc.collect()
    assert pool.idle_bytes() == BIG


def test_the_default_pool_keeps_as_many_chunks_as_zarr_decodes_at_once():
    """zarr-python 3 decodes up to async.concurrency (10) chunks at once; the pool must keep
    that many 4M u32 frames (18 MB) or every read faults fresh memory in again."""
    frame = 2167 * 2070 * 4
    pool = BufferPool()
    leases = [pool.lease(frame) for _ in range(10)]
    del leases
    gc.collect()
    assert pool.idle_bytes() == 10 * frame


def test_codec_results_stay_intact_while_the_caller_keeps_them():
    """numcodecs' decode(buf) without out: two results alive at once never share memory."""
    frames = testing.eiger_frames(3, (512, 1030), np.uint32)
    codec = Bslz4(elem_size=4, chunks=[512, 1030], dtype="<u4")
    bufs = [codec.encode(f) for f in frames]
    kept = [codec.decode(b) for b in bufs]
    for _ in range(3):  # churn: results made and dropped between the kept ones
        codec.decode(bufs[0])
    for got, want in zip(kept, frames):
        np.testing.assert_array_equal(got, want)
    assert len({k.ctypes.data for k in kept}) == 3


def test_codec_decodes_from_many_threads_at_once():
    frames = testing.eiger_frames(4, (512, 1030), np.uint32)
    codec = Bslz4(elem_size=4, chunks=[512, 1030], dtype="<u4")
    bufs = [codec.encode(f) for f in frames]
    errors = []

    def work(k):
        held = []
        for i in range(40):
            got = codec.decode(bufs[(i + k) % 4])
            held.append((got, (i + k) % 4))
            if len(held) > 2:
                held.pop(0)
            for g, j in held:
                if not np.array_equal(g, frames[j]):
                    errors.append((k, i, j))

    assert run_threads(4, work) == [None] * 4
    assert errors == []
