"""The `fastchunk` command: bench and info print what they promise, and bad input gives exit
status 2 with a one-line message, not a traceback."""
import json
import os

import hdf5plugin
import numpy as np
import pytest

from fastchunk import testing
from fastchunk.cli import main

OTHER = "/other/blosc2"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """3 Eiger-style frames (bslz4) and a dataset fastchunk reads through h5py (blosc2)."""
    p = testing.write_eiger_file(tmp_path_factory.mktemp("cli") / "small.h5", 3, (64, 48), np.uint16)
    testing.write_dataset(p, OTHER, np.arange(600, dtype="i4").reshape(20, 30), (5, 30), hdf5plugin.Blosc2())
    return p


def _status(argv):
    """main()'s exit status, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def test_bench_on_a_file(small, capsys):
    assert main(["bench", str(small), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "bit-identical to h5py: yes" in out
    assert testing.DEMO_DATASET in out and "bitshuffle+lz4" in out and "native" in out
    for reader in ("h5py", "fastchunk, reused out", "fastchunk, fresh array"):
        assert reader in out


def test_bench_names_a_dataset_and_threads(small, capsys):
    assert main(["bench", str(small), OTHER, "--repeat", "1", "--threads", "2", "--frames", "7"]) == 0
    out = capsys.readouterr().out
    assert "bit-identical to h5py: yes" in out
    assert "h5py fallback" in out and "7 frames" in out and "2 threads" in out


def test_bench_writes_the_demo_file(capsys):
    cache = os.environ["FASTCHUNK_CACHE"]  # conftest points it at a temporary directory
    demo = testing.demo_path()
    assert str(demo).startswith(cache)
    # Writing 50 Eiger 4M frames takes about 3 s here: cheap enough to run every time.
    assert main(["bench", "--repeat", "1", "--frames", "2"]) == 0
    captured = capsys.readouterr()
    assert "bit-identical to h5py: yes" in captured.out
    assert "2 frames" in captured.out
    assert str(demo) in captured.err
    assert demo.is_file()
    assert not [p for p in demo.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary left
    mtime = demo.stat().st_mtime_ns
    assert main(["bench", "--repeat", "1", "--frames", "1"]) == 0  # reuses the cached file
    assert demo.stat().st_mtime_ns == mtime


def test_info_text(small, capsys):
    assert main(["info", str(small)]) == 0
    out = capsys.readouterr().out
    assert testing.DEMO_DATASET in out and OTHER in out
    assert "native    yes" in out
    assert "native    no: blosc2" in out
    assert "3 allocated / 3 in grid" in out


def test_info_json(small, capsys):
    assert main(["info", str(small), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["file"] == str(small) and doc["file_bytes"] == small.stat().st_size
    infos = {i["name"]: i for i in doc["datasets"]}
    assert set(infos) == {testing.DEMO_DATASET, OTHER}
    eiger = infos[testing.DEMO_DATASET]
    assert eiger["shape"] == [3, 64, 48]
    assert eiger["dtype"] == "uint16"
    assert eiger["chunks"] == [1, 64, 48]
    assert eiger["native"] is True and eiger["reason"] == ""
    assert eiger["chunks_allocated"] == 3
    assert eiger["compression_ratio"] > 1
    other = infos[OTHER]
    assert other["native"] is False and "blosc2" in other["reason"]
    assert other["chunks_allocated"] == 4


def test_info_one_dataset(small, capsys):
    assert main(["info", str(small), OTHER, "--json"]) == 0
    (info,) = json.loads(capsys.readouterr().out)["datasets"]
    assert info["name"] == OTHER and info["shape"] == [20, 30]


@pytest.mark.parametrize("argv", [["info", "{missing}"], ["info", "{missing}", "--json"],
                                  ["bench", "{missing}", "--repeat", "1"]], ids=lambda a: " ".join(a))
def test_missing_file(tmp_path, capsys, argv):
    missing = tmp_path / "no_such_file.h5"
    assert _status([a.format(missing=missing) for a in argv]) == 2
    captured = capsys.readouterr()
    assert str(missing) in captured.err
    assert captured.err.startswith("fastchunk:")
    assert "Traceback" not in captured.err + captured.out


def test_not_an_hdf5_file(tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not HDF5" * 100)
    assert _status(["info", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastchunk:") and "Traceback" not in err


def test_missing_dataset(small, capsys):
    assert _status(["info", str(small), "/no/such/dataset"]) == 2
    assert _status(["bench", str(small), "/no/such/dataset", "--repeat", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("fastchunk:") == 2 and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    assert _status([]) == 2
    assert _status(["frobnicate"]) == 2
    assert _status(["bench", "--repeat", "many"]) == 2
    assert "usage" in capsys.readouterr().err
