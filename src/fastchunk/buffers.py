"""Output buffers handed out again once nobody holds them, for decoders whose callers cannot pass
`out=` (numcodecs' `decode(buf)`, as zarr calls it).

Fresh memory costs: the kernel faults a new array in page by page and zeroes every page. A zarr
read of 4M Eiger frames through our codec spent 80 % of its time in the kernel's page clearing
(perf, this VM), more than decoding, because every chunk decoded into a new 18 MB array. Here
each lease wraps a kept allocation in a memoryview of its own: every array made from the lease
(views, reshapes) keeps that memoryview alive, and when the last of them is gone a weakref
callback puts the allocation back on the free list. Only the memoryview's life counts, so a
caller that keeps any view keeps the memory to itself; nothing is ever handed out twice.
"""
import threading
import weakref

import numpy as np

# Leases below this size come from numpy as usual: small arrays are recycled by malloc anyway.
MIN_BYTES = 1 << 20
# Free allocations kept per size, and in all; more are dropped (returned to the allocator).
# zarr decodes up to `async.concurrency` (10) chunks at once: with 4 kept, a zarr read of 4M
# frames still faulted a fresh 18 MB array in for 23 of 120 chunks, and took 150-440 ms per
# 20 frames instead of 115-140 ms (this VM, where fresh memory faults in at ~0.14 GB/s).
KEEP = 16
MAX_IDLE_BYTES = 256 << 20


class BufferPool:
    """Free allocations per size (bytes); lease(n) gives a writable uint8 array of n bytes."""

    def __init__(self, keep=KEEP, min_bytes=MIN_BYTES, max_idle_bytes=MAX_IDLE_BYTES):
        self.keep = keep
        self.min_bytes = min_bytes
        self.max_idle_bytes = max_idle_bytes
        self._idle = 0
        self._free = {}
        self._lock = threading.RLock()  # a release can run inside a lease (any refcount drop)

    def lease(self, nbytes):
        if nbytes < self.min_bytes:
            return np.empty(nbytes, np.uint8)
        with self._lock:
            free = self._free.get(nbytes)
            mem = free.pop() if free else None
            if mem is not None:
                self._idle -= nbytes
        if mem is None:
            mem = np.empty(nbytes, np.uint8)
        arr = np.frombuffer(memoryview(mem), np.uint8)
        # arr.base is the memoryview numpy made for arr: every view of arr keeps it alive
        weakref.finalize(arr.base, self._release, mem)
        return arr

    def _release(self, mem):
        with self._lock:
            free = self._free.setdefault(mem.nbytes, [])
            if len(free) < self.keep and self._idle + mem.nbytes <= self.max_idle_bytes:
                free.append(mem)
                self._idle += mem.nbytes

    def clear(self):
        """Return every idle allocation to the allocator (leases still held are unaffected)."""
        with self._lock:
            self._free.clear()
            self._idle = 0

    def idle_bytes(self):
        """Bytes kept for reuse now (tests, diagnostics)."""
        with self._lock:
            return self._idle


POOL = BufferPool()
