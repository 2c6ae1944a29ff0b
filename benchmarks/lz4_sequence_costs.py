"""Where the time of an LZ4 32004 frame goes: decode one frame as stored and rewritten so that
one kind of sequence is gone (one thread), then read a stack of such frames (2 threads by
default) and split its CPU time into decoding (user) and the kernel's copy of the stored bytes
(sys), next to the h5py frame loop.

    python benchmarks/lz4_sequence_costs.py                   # Eiger 1M uint16 and uint32
    python benchmarks/lz4_sequence_costs.py --repeat 200 --frames 40

Over unshuffled detector frames an LZ4 block is a stream of short literal-free matches; the
decoder's pixel loop (csrc/fc_lz4.c) takes those with a length of at most 16 and an offset of 2
or at least 8. Each rewriting keeps every sequence's place and length in the output (only where
it copies from changes), so the decoder writes the same bytes in the same steps but meets fewer
of one kind of event:

  as stored            the frame as HDF5's LZ4 filter wrote it
  offset 2 -> 16       matches of offset 2 (runs of one 16-bit value) copy from 16 bytes back:
                       no branch the predictor cannot learn between the two kinds of copy
  far offsets          matches of offset 8 or more copy from 2-2.3 KB back: no load of bytes
                       that the last few sequences stored and that may still sit, split across
                       two stores, in the store buffer
  no loop exits        sequences the pixel loop does not take (literals, lengths over 16,
                       offsets 3-7) split into matches it does take
  floor                all three rewritings: the pixel loop alone

The time a rewriting saves is what that kind of sequence costs. README.md's "Why LZ4 32004
misses" quotes this script. Timings are medians.
"""
import argparse
import pathlib
import resource
import statistics
import struct
import sys
import tempfile

import h5py
import hdf5plugin  # noqa: F401
import numpy as np

import fastchunk
from fastchunk import _native, testing
from fastchunk.cli.bench import time_calls

SHAPE = (1065, 1030)  # Eiger 1M
MAX_PIXEL_MATCH = 16  # the pixel loop's longest match (csrc/fc_lz4.c)
KEEP = 10  # sequences left as they are at each end (a block starts and ends with literals)


def read_length(block, i, n):
    """Add an LZ4 length extension (bytes of 255 continue it) to n; return (n, next index)."""
    while True:
        b = block[i]
        i += 1
        n += b
        if b != 255:
            return n, i


def parse(block):
    """An LZ4 block as a list of (literal bytes, offset, match length); the last has no match."""
    seqs, i = [], 0
    while True:
        token = block[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            lit, i = read_length(block, i, lit)
        literals = bytes(block[i:i + lit])
        i += lit
        if i >= len(block):
            seqs.append((literals, None, None))
            return seqs
        offset = block[i] | block[i + 1] << 8
        i += 2
        mlen = token & 15
        if mlen == 15:
            mlen, i = read_length(block, i, mlen)
        seqs.append((literals, offset, mlen + 4))


def put_length(out, n):
    """Append an LZ4 length extension for n (the part above 15)."""
    while n >= 255:
        out.append(255)
        n -= 255
    out.append(n)


def encode(seqs):
    """The inverse of parse()."""
    out = bytearray()
    for literals, offset, mlen in seqs:
        lit = len(literals)
        m = 0 if mlen is None else mlen - 4
        out.append(min(lit, 15) << 4 | min(m, 15))
        if lit >= 15:
            put_length(out, lit - 15)
        out += literals
        if mlen is None:
            break
        out += struct.pack("<H", offset)
        if m >= 15:
            put_length(out, m - 15)
    return bytes(out)


def pixel_offset(offset):
    return offset == 2 or offset >= 8


def takes(seq):
    """Whether the pixel loop decodes this sequence."""
    literals, offset, mlen = seq
    return not literals and mlen <= MAX_PIXEL_MATCH and pixel_offset(offset)


def pieces(n):
    """Split n >= 4 bytes into match lengths of 4..16."""
    k = -(-n // MAX_PIXEL_MATCH)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def rewrite(seqs, change):
    """seqs with change(seq, op) -> [seq, ...] applied to all but the KEEP at each end; op is the
    output position where the sequence starts."""
    out, op = [], 0
    for i, seq in enumerate(seqs):
        literals, _, mlen = seq
        out += change(seq, op) if KEEP <= i < len(seqs) - KEEP else [seq]
        op += len(literals) + (mlen or 0)
    return out


def offset2_as_16(seq, op):
    literals, offset, mlen = seq
    return [(literals, 16 if offset == 2 else offset, mlen)]


def no_exits(seq, op):
    if takes(seq):
        return [seq]
    literals, offset, mlen = seq
    offset = offset if pixel_offset(offset) else 8
    return [(b"", offset, n) for n in pieces(len(literals) + mlen)]


def far_offsets(seq, op):
    literals, offset, mlen = seq
    if offset < 8:
        return [seq]
    return [(literals, max(8, min(op, 2048 + 4 * (offset % 64))), mlen)]


def variants(block):
    """(name, LZ4 block) for every rewriting; each decodes to the same number of bytes."""
    seqs = parse(block)
    assert encode(seqs) == bytes(block), "the re-encoder does not reproduce the stored block"
    loop_only = rewrite(rewrite(seqs, no_exits), offset2_as_16)
    return [
        ("as stored", bytes(block)),
        ("offset 2 -> 16", encode(rewrite(seqs, offset2_as_16))),
        ("far offsets", encode(rewrite(seqs, far_offsets))),
        ("no loop exits", encode(rewrite(seqs, no_exits))),
        ("floor", encode(rewrite(loop_only, far_offsets))),
    ]


def frames_file(dtype, frames, directory):
    """Eiger 1M frames in an LZ4 32004 file, one chunk per frame, as benchmarks/test_codecs.py
    writes them."""
    path = pathlib.Path(directory) / f"lz4-{np.dtype(dtype).name}.h5"
    testing.write_dataset(path, "/data", testing.eiger_frames(frames, shape=SHAPE, dtype=dtype),
                          (1,) + SHAPE, "lz4")
    return path


def median_seconds(fn, repeat):
    return statistics.median(time_calls(fn, repeat))


def decode_costs(path, dtype, repeat):
    """Rows (variant, sequences, share the pixel loop takes, median ms) for the first frame."""
    with h5py.File(path, "r") as h:
        mask, chunk = h["/data"].id.read_direct_chunk((0, 0, 0))
    size, block_size, stored = struct.unpack(">QII", chunk[:16])
    assert mask == 0 and block_size >= size and stored + 16 == len(chunk) and stored < size, \
        "expected one compressed LZ4 block per chunk"
    with fastchunk.File(path) as f:
        layout = f["/data"].native_layouts()[0]
    out = np.empty((1,) + SHAPE, dtype)
    rows = []
    for name, block in variants(chunk[16:]):
        raw = np.frombuffer(chunk[:12] + struct.pack(">I", len(block)) + block, np.uint8)
        _native.decode_chunk(layout, raw, out)  # raises if the rewriting is not a valid block
        seqs = parse(block)[:-1]
        share = sum(map(takes, seqs)) / len(seqs)
        ms = median_seconds(lambda: _native.decode_chunk(layout, raw, out), repeat) * 1e3
        rows.append((name, len(seqs), share, ms))
    return rows


def read_costs(path, threads, repeat):
    """Per frame, in ms: fastchunk's wall, user and sys time for whole-file reads into a reused
    out, and the h5py frame loop's wall time."""
    with fastchunk.File(path, num_threads=threads) as f:
        ds = f["/data"]
        out = np.empty(ds.shape, ds.dtype)
        ds.read((), out)
        before = resource.getrusage(resource.RUSAGE_SELF)
        walls = [median_seconds(lambda: ds.read((), out), 1) for _ in range(repeat)]
        after = resource.getrusage(resource.RUSAGE_SELF)
        n = ds.shape[0] * repeat
    fc = (statistics.median(walls) / ds.shape[0] * 1e3, (after.ru_utime - before.ru_utime) / n * 1e3,
          (after.ru_stime - before.ru_stime) / n * 1e3)
    with h5py.File(path, "r") as h:
        d = h["/data"]

        def loop():
            for i in range(d.shape[0]):
                out[i] = d[i]
        h5 = median_seconds(loop, max(3, repeat // 10)) / d.shape[0] * 1e3
    return fc, h5


def report(dtype, args, directory):
    path = frames_file(dtype, args.frames, directory)
    rows = decode_costs(path, dtype, args.repeat)
    base = rows[0][3]
    print(f"\n1M {np.dtype(dtype).name}, one frame, one thread:")
    print(f"  {'variant':16} {'sequences':>9} {'in pixel loop':>13} {'median ms':>9} "
          f"{'ns/seq':>6} {'saved':>6}")
    for name, n, share, ms in rows:
        print(f"  {name:16} {n:9d} {share:13.1%} {ms:9.3f} {ms * 1e6 / n:6.2f} "
              f"{1 - ms / base:6.0%}")
    (wall, user, sys_), h5 = read_costs(path, args.threads, args.repeat // 5 or 1)
    print(f"  {args.frames} frames, {args.threads} threads, per frame: fastchunk {wall:.3f} ms "
          f"(CPU: user {user:.3f} + sys {sys_:.3f} ms), h5py frame loop {h5:.3f} ms: "
          f"{h5 / wall:.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=100, help="decodes per variant (default 100)")
    ap.add_argument("--frames", type=int, default=20, help="frames in the file (default 20)")
    ap.add_argument("--threads", type=int, default=2, help="threads of the whole-file read")
    ap.add_argument("--dtype", action="append", help="uint16, uint32 (default both)")
    args = ap.parse_args(argv)
    print(f"SIMD kernels: {_native.simd_kernel()}")
    with tempfile.TemporaryDirectory() as directory:
        for dtype in args.dtype or ["uint16", "uint32"]:
            report(dtype, args, directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
