"""Inputs the fuzzers (fuzz/) found, replayed through the Python entry points. They matter most
in the sanitizer build (FASTCHUNK_SANITIZE=1, the CI's sanitizer step), where undefined
behaviour aborts the run; fuzz/run.py replays the raw inputs in fuzz/regressions/ as well."""
import numpy as np
import pytest

import fastchunk
from fastchunk import _native

PIPELINES = {
    "none": [], "bitshuffle": [(32008, (1, 0, 0))], "bitshuffle+lz4": [(32008, (1, 0, 2))],
    "lz4": [(32004, ())], "deflate": [(1, ())], "shuffle": [(2, (4,))], "fletcher32": [(3, ())],
}


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_empty_chunk_with_no_stored_bytes(pipeline):
    """fuzz/regressions/pipeline/null-src-empty-chunk: a chunk of 0 bytes stored as 0 bytes
    reached memcpy(dst, NULL, 0) (UBSan: null pointer argument) in the unfiltered copy, the
    uncompressed bitshuffle tail and shuffle."""
    if pipeline == "deflate" and not _native.HAVE_ZLIB:
        pytest.skip("built without zlib")
    lay = _native.Layout((0,), 1, PIPELINES[pipeline])
    try:
        out = _native.decode_chunk(lay, np.zeros(0, np.uint8), np.zeros(0, np.uint8))
        assert out.size == 0
    except fastchunk.ChunkDecodeError:
        pass  # a filter that wants a header or a checksum may refuse nothing at all


def test_huge_step_on_a_one_element_axis(tmp_path):
    """A step of 2**62 on axes that select one element reads what numpy gives. scatter() and
    fc_mark_blocks() used to multiply such a step by the chunk stride: a signed overflow
    (unused for a one-element run) that the sanitizer run (.ci/sanitize, built -fno-wrapv)
    reports, as does the fuzz replay of fuzz/regressions/read/scatter-huge-step-one-element.
    With the fix undone, this test aborts there with UBSan's signed-integer-overflow."""
    from fastchunk import testing
    data = np.arange(48, dtype=np.uint16).reshape(6, 8)
    for comp in (None, "bslz4"):
        p = testing.write_dataset(tmp_path / f"{comp}.h5", "d", data, (3, 4), comp)
        with fastchunk.File(p) as f:
            np.testing.assert_array_equal(f["d"][::2**62, 5], data[::2**62, 5])
            np.testing.assert_array_equal(f["d"][::2**62, ::2**62], data[::2**62, ::2**62])
