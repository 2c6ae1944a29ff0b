"""The LZ4 block decoder against two oracles, on random, adversarial and hand-built blocks.

A small Python model of the block format (below) says exactly what fastchunk must do: the same
bytes, or an error. The reference library (lz4.block) is stricter at the end of a block (the
spec's last-literals rules) and does not insist on filling the output, so it is a one-way
oracle: whenever it yields exactly n bytes, fastchunk must yield the same n bytes.
Run it under FASTCHUNK_SANITIZE=1 too: every case that raises must do so without touching
memory outside the buffers.
"""
import lz4.block
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastchunk
from fastchunk import _native

CORRUPT = "corrupt"


def _decode(src, n, pixels=False):
    # A copy: its own heap buffer of exactly len(src) bytes, so that ASan sees any overread
    # (a bytes object has a NUL after its end, and small ones live in pymalloc's arenas).
    return _native.lz4_block_decode(np.frombuffer(bytes(src), np.uint8).copy(), n, pixels)


def _ours(src, n):
    """fastchunk's bytes or CORRUPT, the same from both decoder variants: the general one and
    the one with a loop for literal-free short matches (filter 32004's)."""
    got = []
    for pixels in (False, True):
        try:
            got.append(_decode(src, n, pixels))
        except fastchunk.ChunkDecodeError:
            got.append(CORRUPT)
    assert got[0] == got[1]
    return got[0]


def _reference(src, n):
    try:
        got = lz4.block.decompress(bytes(src), uncompressed_size=n)
    except lz4.block.LZ4BlockError:
        return CORRUPT
    return got if len(got) == n else CORRUPT


def _model(src, n):
    """The block format, one rule a line: sequences of literals then a match; the last
    sequence is literals only and ends the input exactly; the output must be exactly n bytes."""
    src, out, i = bytes(src), bytearray(), 0

    def length(nibble):
        nonlocal i
        while nibble >= 15:
            if i >= len(src):
                raise ValueError("length runs off the input")
            b = src[i]
            i += 1
            nibble += b
            if b != 255:
                break
        return nibble

    try:
        if not src:
            raise ValueError("empty")
        while True:
            token = src[i]
            i += 1
            lit = length(token >> 4)
            if lit > len(src) - i or lit > n - len(out):
                raise ValueError("literals overrun")
            out += src[i:i + lit]
            i += lit
            if i == len(src):
                break
            if len(src) - i < 2:
                raise ValueError("no room for the offset")
            off = src[i] | src[i + 1] << 8
            i += 2
            mlen = length(token & 15) + 4
            if off == 0 or off > len(out) or mlen > n - len(out):
                raise ValueError("bad match")
            while mlen:  # overlapping copy, one period at a time
                take = min(mlen, off)
                out += out[len(out) - off:len(out) - off + take]
                mlen -= take
            if i >= len(src):
                raise ValueError("ends in a match")
        if len(out) != n:
            raise ValueError("output not filled")
    except ValueError:
        return CORRUPT
    return bytes(out)


def _check(src, n):
    """fastchunk agrees with the model, and with the reference wherever that one succeeds."""
    ours = _ours(src, n)
    assert ours == _model(src, n)
    ref = _reference(src, n)
    if ref is not CORRUPT:
        assert ours == ref
    return ours


def _length(n):
    return b"\xff" * (n // 255) + bytes([n % 255])


def _build(rng, n_seq, max_off, max_lit, max_mlen):
    """A valid block of random sequences (the model decodes it); unlike lz4.block.compress it
    puts matches right up to the end of the output and offsets right back to its start."""
    out, block = bytearray(), bytearray()
    for k in range(n_seq + 1):
        last = k == n_seq
        lit = int(rng.integers(0, max_lit + 1)) if rng.random() < 0.7 else 0
        if not out and not last:
            lit = max(lit, 1)
        literals = rng.integers(0, 256, lit, dtype=np.uint8).tobytes()
        out += literals
        if last:
            mlen, off = 0, 0
        else:
            mlen = int(rng.integers(4, max_mlen + 1))
            off = int(rng.integers(1, min(max_off, len(out)) + 1))
            if rng.random() < 0.2:
                off = min(len(out), 65535)  # the farthest legal offset
        m = max(mlen - 4, 0)
        block.append((min(lit, 15) << 4) | min(m, 15))
        block += (_length(lit - 15) if lit >= 15 else b"") + literals
        if last:
            break
        block += off.to_bytes(2, "little") + (_length(m - 15) if m >= 15 else b"")
        for _ in range(mlen):
            out.append(out[-off])
    return bytes(block), bytes(out)


SHAPES = {  # (sequences, max offset, max literals, max match length)
    "short offsets, long matches": (20, 17, 8, 600),
    "offsets around 16 and 32": (40, 40, 40, 80),
    "long literal runs": (10, 65535, 700, 40),
    "many short sequences": (300, 65535, 14, 18),
    "short matches from near offsets": (300, 40, 2, 20),
    "one sequence": (1, 20, 3, 5000),
}


@pytest.mark.parametrize("shape", list(SHAPES), ids=str)
def test_random_valid_sequences(shape):
    rng = np.random.default_rng(list(SHAPES).index(shape))
    for _ in range(60):
        block, data = _build(rng, *SHAPES[shape])
        assert _check(block, len(data)) == data


def test_every_end_position_of_a_long_match():
    """A long run ending 0..40 bytes before the output end: the wide-then-exact tail path."""
    for period in (1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33):
        head = bytes(range(1, period + 1))
        for tail in range(0, 41):
            mlen = 300 + tail % 7
            block = bytearray([(min(period, 15) << 4) | 15])
            block += (_length(period - 15) if period >= 15 else b"") + head
            block += period.to_bytes(2, "little") + _length(mlen - 4 - 15)
            block.append(min(tail, 15) << 4)
            block += (_length(tail - 15) if tail >= 15 else b"") + b"t" * tail
            expected = (head * (mlen // period + 2))[:period + mlen] + b"t" * tail
            if tail == 0:
                block = block[:-1]  # a block may not end in an empty sequence's token alone
                assert _check(block, len(expected)) == CORRUPT
            else:
                assert _check(block, len(expected)) == expected


@pytest.mark.parametrize("mlen", [4, 18, 19, 100])
def test_offset_back_to_the_output_start_and_one_past(mlen):
    """off == bytes written is the farthest legal match; one more reads before the output."""
    for lit in range(1, 70):
        head = bytes(range(lit))
        for off, ok in ((lit, True), (lit + 1, False)):
            block = bytearray([(min(lit, 15) << 4) | min(mlen - 4, 15)])
            block += (_length(lit - 15) if lit >= 15 else b"") + head + off.to_bytes(2, "little")
            block += (_length(mlen - 19) if mlen >= 19 else b"") + bytes([0x50]) + b"12345"
            n = lit + mlen + 5
            assert (_check(block, n) != CORRUPT) == ok, (lit, off)


def test_literal_runs_at_every_distance_from_both_ends():
    """Each literal length (all residues of the wide copy's 32-byte step) followed by each
    small remainder of input and output: where the fast copy's slack runs out exactly."""
    for lit in range(0, 73):
        head = bytes((7 * k + 1) % 256 for k in range(max(lit, 1)))
        first = bytearray([(min(len(head), 15) << 4)]) + (_length(len(head) - 15) if len(head) >= 15 else b"") + head
        for mlen in range(4, 21):
            for final in range(1, 37):
                block = first[:]
                block[0] |= min(mlen - 4, 15)
                block += (1).to_bytes(2, "little") + (_length(mlen - 19) if mlen >= 19 else b"")
                block += bytes([min(final, 15) << 4]) + (_length(final - 15) if final >= 15 else b"")
                block += b"f" * final
                expected = head + head[-1:] * mlen + b"f" * final
                assert _ours(block, len(expected)) == expected, (lit, mlen, final)


def test_output_short_by_a_few_bytes():
    """A valid stream decoded into an output 1..35 bytes too small. In a valid stream the output
    left nearly always outlasts the input left, so this is what reaches the fast copies'
    output-side checks; they must give up before writing past the end (ASan watches that)."""
    prefix = bytes((5 * k + 3) % 256 for k in range(64))
    for lit in (0, 1, 2, 15, 16, 17, 18, 31, 32, 33, 48, 49, 50):
        for off in (1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64):
            for mlen in (4, 5, 16, 17, 18, 33, 34, 49, 65, 100):
                literals = prefix + bytes(range(lit))
                block = bytearray([0xF0 | min(mlen - 4, 15)]) + _length(len(literals) - 15) + literals
                block += off.to_bytes(2, "little") + (_length(mlen - 19) if mlen >= 19 else b"")
                # 40 final literals: enough input left that only the output can stop a copy
                block += bytes([0xF0, 40 - 15]) + b"z" * 40
                n = len(literals) + mlen + 40
                for short in range(0, 36):
                    _check(block, n - short)


def test_literal_free_short_matches_near_both_ends():
    """Runs of literal-free matches of 4..16 bytes from offsets 8..40 (the pixel loop's case)
    ending at every distance from the output end, into outputs a few bytes short, and cut at
    every input length: where the loop's input and output limits apply."""
    rng = np.random.default_rng(7)
    head = bytes(range(1, 41))
    for k in range(40):
        # 40 literals and an 8-byte match, then k literal-free matches, then 1..5 literals
        block = bytearray([0xF4, 40 - 15]) + head + (40).to_bytes(2, "little")
        out = bytearray(head + head[:8])
        for _ in range(k):
            mlen, off = int(rng.integers(4, 17)), int(rng.integers(8, 41))
            block += bytes([mlen - 4]) + off.to_bytes(2, "little")
            for _ in range(mlen):
                out.append(out[-off])
        final = 1 + k % 5
        block += bytes([final << 4]) + b"e" * final
        out += b"e" * final
        assert _check(block, len(out)) == bytes(out)
        for short in range(1, 30):
            _check(block, len(out) - short)
        for cut in range(len(block) - 40, len(block)):
            _check(block[:cut], len(out))


def _compressible(rng, n):
    kind = int(rng.integers(4))
    if kind == 0:
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    if kind == 1:
        return rng.integers(0, 3, n, dtype=np.uint8).tobytes()
    if kind == 2:
        period = rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8).tobytes()
        return (period * (n // len(period) + 1))[:n]
    runs = [bytes([int(rng.integers(256))]) * int(rng.integers(1, 300)) for _ in range(n // 100 + 1)]
    return b"".join(runs)[:n]


def test_adversarial_blocks():
    """Random bytes, truncated, mutated and wrong-size blocks: never a crash, never a result
    the model disagrees with."""
    rng = np.random.default_rng(20240601)
    for it in range(1500):
        n = int(rng.integers(0, 5000))
        src = bytearray(lz4.block.compress(_compressible(rng, n), store_size=False))
        kind = it % 5
        if kind == 0:
            src = bytearray(rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8))
        elif kind == 1:
            src = src[:int(rng.integers(0, len(src) + 1))]
        elif kind == 2:
            for _ in range(int(rng.integers(1, 6))):
                src[int(rng.integers(len(src)))] = int(rng.integers(256))
        elif kind == 3:
            n = max(0, n + int(rng.integers(-40, 41)))
        else:  # splice: a valid block's sequences after random bytes
            src = bytearray(rng.integers(0, 256, int(rng.integers(1, 20)), dtype=np.uint8)) + src
        _check(src, n)


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(src=st.binary(max_size=120), n=st.integers(0, 400))
def test_hypothesis_arbitrary_bytes(src, n):
    _check(src, n)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(data=st.binary(min_size=1, max_size=3000), cut=st.integers(0, 3000), flip=st.integers(0, 2999),
       byte=st.integers(0, 255))
def test_hypothesis_damaged_valid_blocks(data, cut, flip, byte):
    block = bytearray(lz4.block.compress(data, store_size=False))
    assert _check(block, len(data)) == data
    block[flip % len(block)] = byte
    _check(block, len(data))
    _check(block[:cut % (len(block) + 1)], len(data))
