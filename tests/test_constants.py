"""One source for the constants: what Python reads without the extension (fastchunk._constants,
which setup.py writes from csrc/fastchunk.h) is what the compiled C uses (fastchunk._native,
which reads it from the compiled header's tables and from fc_strerror)."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from fastchunk import _constants, _native

NAMES = sorted(n for n in vars(_constants) if not n.startswith("_"))
# what the Python side reads from _constants (more may come; none of these may go)
USED = {"MAX_DIMS", "MAX_FILTERS", "FILTER_DEFLATE", "FILTER_SHUFFLE", "FILTER_FLETCHER32",
        "FILTER_SZIP", "FILTER_SCALEOFFSET", "FILTER_LZF", "FILTER_BLOSC", "FILTER_LZ4",
        "FILTER_BITSHUFFLE", "FILTER_ZSTD", "BSHUF_NONE", "BSHUF_LZ4", "BSHUF_ZSTD", "SZIP_MSB",
        "SZIP_NN", "LAYOUT_DONT_FILTER_PARTIAL", "ROW_PARTIAL", "OK", "E_NOMEM", "E_IO",
        "E_SHORT_READ", "E_CORRUPT", "E_UNSUPPORTED", "E_INVALID", "E_CANCELLED", "E_THREAD",
        "E_CHECKSUM", "ERRORS", "ROW_FIELDS"}


def test_the_generated_module_says_where_it_comes_from():
    with open(_constants.__file__, encoding="utf-8") as fh:
        assert fh.readline() == "# generated from csrc/fastchunk.h by setup.py; do not edit\n"


def test_every_name_python_uses_is_there():
    assert USED <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_native_reports_the_same_value(name):
    assert getattr(_native, name) == getattr(_constants, name)


def test_error_table_matches_the_codes_and_todays_messages():
    assert _native.ERRORS == _constants.ERRORS
    for code, (name, _) in _constants.ERRORS.items():
        assert getattr(_constants, name) == code < 0
    assert {code: message for code, (_, message) in _constants.ERRORS.items()} == {
        -1: "out of memory", -2: "read failed", -3: "file ends before the chunk does",
        -4: "corrupt chunk", -5: "filter not supported natively", -6: "invalid read plan",
        -7: "cancelled", -8: "cannot start a thread", -9: "checksum mismatch"}


def test_row_dtype_is_the_c_struct():
    # _native.ROW_DTYPE carries fc_row_t's own offsets and size: a padded or reordered struct
    # would differ from the packed dtype Python builds from ROW_FIELDS
    assert _native.ROW_DTYPE == np.dtype(_constants.ROW_FIELDS)
    assert _native.ROW_DTYPE.itemsize == 32
    assert _native.ROW_FIELDS == _constants.ROW_FIELDS


def test_a_stale_generated_module_stops_the_import():
    # In a fresh interpreter: the package as an empty shell (its __init__ imports _native),
    # the real _constants with one value changed, then _native, which must refuse.
    pkg = importlib.util.find_spec("fastchunk").submodule_search_locations[0]
    code = f"""
import sys, types
shell = types.ModuleType("fastchunk")
shell.__path__ = [{pkg!r}]
sys.modules["fastchunk"] = shell
from fastchunk import _constants
_constants.FILTER_LZ4 += 1
try:
    import fastchunk._native
except ImportError as e:
    print(e)
else:
    print("imported")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "FILTER_LZ4" in out.stdout and "stale" in out.stdout, out.stdout + out.stderr
