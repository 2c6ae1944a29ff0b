"""Read-ahead for loops of single-frame reads (`for i in range(n): ds[i]`).

One frame of a detector stack is one chunk, and one chunk is decoded by one core: a loop of
`ds[i]` leaves the other cores idle and pays a whole read's set-up per frame. Once the loop is
seen (frame i asked right after frame i - 1), the next frames are read as one block, all
cores decoding it, and the frames that follow are handed out of that block. The block doubles
while the loop goes on, up to MAX_FRAMES frames or MAX_BYTES, as a file system's read-ahead
window does; any other access pattern reads just the frame asked for.

MAX_BYTES was chosen by measurement on 2 cores (docs/benchmarks.md, "Small reads, second
pass"): 192x192
u16 frames read 3.4-3.7x h5py's loop with blocks of 64 frames (1.2-1.7x without read-ahead);
1M u16 frames 2.7x with 8 MiB blocks, 2.6x without, 1.9-2.4x with 32 MiB blocks (fresh big
blocks cost page faults and leave the caches); a 4M u32 frame (18 MB) gets no read-ahead.

Frames handed out are views of their block: writeable, C-contiguous, values identical to a
single read; the block's memory is freed when no frame of it is referenced any more.
"""

import threading

MAX_FRAMES = 64
MAX_BYTES = 8 << 20


class ReadAhead:
    """The read-ahead state of one dataset of n_frames frames of frame_bytes each."""

    __slots__ = ("n", "cap", "next", "window", "block", "lock")

    def __init__(self, n_frames, frame_bytes):
        self.n = n_frames
        self.cap = max(1, min(MAX_FRAMES, MAX_BYTES // max(1, frame_bytes)))
        self.next = None  # the frame a loop asks for next
        self.window = 1
        self.block = None  # (first frame, array of frames)
        self.lock = threading.Lock()  # threads sharing the dataset: each frame handed out once

    def frame(self, i, read):
        """Frame i out of a block, or None: the caller reads frame i itself. read(a, b)
        reads frames [a, b) as one array (a callable, not kept: no cycle with the dataset)."""
        with self.lock:
            if i != self.next or self.cap < 2:
                self.next, self.window, self.block = i + 1, 1, None
                return None
            self.next = i + 1
            block = self.block
            if block is not None and block[0] <= i < block[0] + len(block[1]):
                # Each frame of a block is handed out once: a caller writing into the frame it
                # got must not see that in a later read of the same frame.
                return block[1][i - block[0]]
            self.window = min(2 * self.window, self.cap)
            stop = min(self.n, i + self.window)
            self.block = None
        try:
            frames = read(i, stop)  # outside the lock: other threads' reads go on
        except Exception:
            # A damaged chunk further on must not fail this frame: read it alone, so its own
            # error (or its data) is what the caller gets, and start the window again.
            with self.lock:
                self.window = 1
            return None
        with self.lock:
            if self.next == i + 1:
                self.block = (i, frames)
        return frames[0]
