"""The `fastchunk` command: bench and info print what they promise, and bad input gives exit
status 2 with a one-line message, not a traceback."""
import importlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import weakref

import h5py
import hdf5plugin
import numpy as np
import pytest

import fastchunk
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
    assert err == f"fastchunk: {junk}: not an HDF5 file: no HDF5 signature at byte 0, 512, 1024, ... (1600 bytes of text)\n"


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


# ---- what a stranger types: groups, odd datasets, bad numbers, bad files, Ctrl-C ----------

@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    """Frames, a group of datasets, a scalar, a null dataspace, an empty stack, a 1-D dataset."""
    p = testing.write_eiger_file(tmp_path_factory.mktemp("odd") / "odd.h5", 3, (64, 48), np.uint16)
    with h5py.File(p, "a") as f:
        f.create_dataset("grp/x", data=np.arange(10))
        f.create_dataset("grp/sub/y", data=np.arange(100).reshape(10, 10), chunks=(5, 10), compression="gzip")
        f.create_dataset("empty", data=h5py.Empty("f4"))
        f.create_dataset("no_frames", shape=(0, 4, 4), maxshape=(None, 4, 4), chunks=(1, 4, 4), dtype="u2")
        f["scalar"] = 3.5
    return p


def _lines(text):
    return [x for x in text.splitlines() if x.strip()]


def test_verify_walks_a_group(odd, capsys):
    assert _status(["verify", str(odd), "/grp"]) == 0
    out = capsys.readouterr().out
    assert "/grp/x: " in out and "/grp/sub/y: " in out and testing.DEMO_DATASET not in out
    assert out.rstrip().endswith("2 datasets, all readable")
    assert _status(["verify", str(odd), "/grp", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(d["name"] for d in doc["datasets"]) == ["/grp/sub/y", "/grp/x"]


def test_verify_of_the_root_and_of_nested_groups(odd, capsys):
    names = []
    for argv in (["/"], []):
        assert _status(["verify", str(odd), "--json"] + argv) == 0
        names.append([d["name"] for d in json.loads(capsys.readouterr().out)["datasets"]])
    assert names[0] == names[1] == ["/empty", testing.DEMO_DATASET, "/grp/sub/y", "/grp/x",
                                    "/no_frames", "/scalar"]
    assert _status(["verify", str(odd), "grp/sub"]) == 0
    assert "1 datasets, all readable" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["verify", "info", "bench"])
def test_a_missing_name_is_an_error(odd, capsys, command):
    assert _status([command, str(odd), "/no/such/thing"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"fastchunk: {odd}: no object named /no/such/thing\n"
    assert captured.out == ""


def test_verify_missing_name_among_good_ones(odd, capsys):
    assert _status(["verify", str(odd), "/grp/x", "/nope"]) == 2
    captured = capsys.readouterr()
    assert "no object named /nope" in captured.err and "damage" not in captured.out + captured.err


def test_null_dataspace_is_listed_and_skipped(odd, capsys):
    assert _status(["info", str(odd)]) == 0
    out = capsys.readouterr().out
    assert "/empty: null dataspace (h5py.Empty) float32: no data, nothing to read" in out
    assert "/scalar: scalar float64" in out and testing.DEMO_DATASET in out  # the rest goes on
    assert _status(["info", str(odd), "--json"]) == 0
    infos = {i["name"]: i for i in json.loads(capsys.readouterr().out)["datasets"]}
    assert infos["/empty"]["null_dataspace"] and infos["/empty"]["shape"] is None
    assert _status(["verify", str(odd)]) == 0
    out = capsys.readouterr().out
    assert "/empty: null dataspace (h5py.Empty) float32: no data to check, skipped" in out
    assert out.rstrip().endswith("6 datasets, all readable")
    assert _status(["verify", str(odd), "/empty", "--json"]) == 0
    (d,) = json.loads(capsys.readouterr().out)["datasets"]
    assert d["empty"] and d["ok"] and d["shape"] is None


def test_info_on_a_group_describes_what_is_below_it(odd, capsys):
    assert _status(["info", str(odd), "/grp"]) == 0
    out = capsys.readouterr().out
    assert "/grp/x: 10 int64, contiguous" in out and "/grp/sub/y: 10 x 10 int64, chunked" in out
    assert testing.DEMO_DATASET not in out


@pytest.mark.parametrize("name, what", [
    ("/grp", "is a group with 2 members; bench needs a dataset of frames"),
    ("/scalar", "is a scalar dataset (float64, one value); bench needs"),
    ("/empty", "is a dataset with a null dataspace (h5py.Empty, float32): no data; bench needs"),
    ("/no_frames", "is a 3-D dataset (0, 4, 4) uint16 with no frames; bench needs"),
])
def test_bench_refuses_what_is_not_a_frame_stack(odd, capsys, name, what):
    assert _status(["bench", str(odd), name, "--repeat", "1"]) == 2
    captured = capsys.readouterr()
    (line,) = _lines(captured.err)
    assert line.startswith(f"fastchunk: {name} in {odd} {what}") and captured.out == ""


def test_bench_on_a_group_names_datasets_below_it(odd, capsys):
    assert _status(["bench", str(odd), "/grp"]) == 2
    assert "datasets below it: /grp/sub/y, /grp/x" in capsys.readouterr().err


def test_bench_on_a_1d_dataset(odd, capsys):
    assert _status(["bench", str(odd), "/grp/x", "--repeat", "1"]) == 0
    assert "bit-identical to h5py: yes" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["bench", "--repeat", "0"], "argument --repeat: a repeat count must be a positive integer (1 or more), not '0'"),
    (["bench", "--repeat", "-1"], "argument --repeat: a repeat count must be a positive integer (1 or more), not '-1'"),
    (["bench", "--frames", "0"], "argument --frames: a frame count must be a positive integer (1 or more), not '0'"),
    (["bench", "--frames", "-3"], "argument --frames: a frame count must be a positive integer (1 or more), not '-3'"),
    (["bench", "--threads", "-3"], "argument --threads: a thread count must be a positive integer (1 or more), not '-3'"),
    (["bench", "--threads", "0"], "argument --threads: a thread count must be a positive integer (1 or more), not '0'"),
    (["bench", "--threads", "two"], "argument --threads: a thread count must be a positive integer, not 'two'"),
    (["bench", "--repeat", "1.5"], "argument --repeat: a repeat count must be a positive integer, not '1.5'"),
    (["verify", "x.h5", "--threads", "0"], "argument --threads: a thread count must be a positive integer (1 or more), not '0'"),
])
def test_numbers_are_checked_when_parsed(capsys, argv, message):
    """argparse's own format (usage, then 'fastchunk CMD: error: ...'), exit 2, before any work."""
    assert _status(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("usage: fastchunk " + argv[0])
    assert captured.err.rstrip().endswith(f"fastchunk {argv[0]}: error: {message}")
    assert captured.out == ""


def test_run_bench_refuses_bad_counts(small):
    from fastchunk.cli.bench import run_bench
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        run_bench(small, repeat=0)
    with pytest.raises(ValueError, match="frames must be at least 1"):
        run_bench(small, frames=0)


@pytest.fixture(scope="module")
def not_hdf5(tmp_path_factory, small):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.h5").write_bytes(b"")
    (d / "text.h5").write_text("frame,value\n1,2\n")
    (d / "folder.h5").mkdir()
    data = small.read_bytes()
    (d / "cut.h5").write_bytes(data[: len(data) // 2])
    return d, len(data)


@pytest.mark.parametrize("command", ["info", "verify", "bench"])
def test_files_that_are_not_hdf5(not_hdf5, capsys, command):
    d, full = not_hdf5
    expect = {"empty.h5": "empty file (0 bytes): not an HDF5 file",
              "text.h5": "not an HDF5 file: no HDF5 signature at byte 0, 512, 1024, ... (16 bytes of text)",
              "folder.h5": "is a directory",
              "cut.h5": f"truncated: {full // 2} bytes of the {full} bytes the superblock announces"}
    for name, why in expect.items():
        assert _status([command, str(d / name)]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"fastchunk: {d / name}: {why}\n", name
        assert captured.out == ""


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"fastchunk {fastchunk.__version__}\n"
    assert main(["--version", "--verbose"]) == 0
    out = capsys.readouterr().out
    for word in ("SIMD kernel", "threads", "h5py", "HDF5", "deflate", "bitshuffle", "native codecs"):
        assert word in out


def test_python_dash_m(small):
    """python -m fastchunk is the same command (exit status and output)."""
    run = subprocess.run([sys.executable, "-m", "fastchunk", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout == f"fastchunk {fastchunk.__version__}\n"
    run = subprocess.run([sys.executable, "-m", "fastchunk", "info", str(small), "/nope"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr == f"fastchunk: {small}: no object named /nope\n"


def test_bench_json(small, capsys):
    assert main(["bench", str(small), "--repeat", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    m = doc["machine"]
    assert m["cores"] >= 1 and m["simd_kernel"] == fastchunk.simd_kernel() and m["threads"] >= 1
    assert "cpu" in m and m["hdf5"] and m["h5py"]
    assert doc["identical"] and doc["frames"] == 3 and doc["repeat"] == 3
    assert [t["reader"] for t in doc["timings"]] == ["h5py ds[i] loop", "fastchunk, reused out",
                                                     "fastchunk, fresh array"]
    for t in doc["timings"]:
        assert len(t["all_seconds"]) == 3
        for key in ("seconds", "gb_per_s", "frames_per_s"):
            assert t[key]["min"] <= t[key]["median"] <= t[key]["max"]
        assert t["vs_h5py"] > 0
        assert "others_cpu" in t and t["cpu_busy"] in (None, True, False)
    assert doc["timings"][0]["vs_h5py"] == 1


def test_bench_busy_share():
    from fastchunk.cli.bench import others_share
    assert others_share((0.0, 10.0, 1.0), (0.1, 10.2, 1.1)) is None  # too short to tell
    cores = os.cpu_count()
    # 1 s, every CPU busy, this process used 0.5 s of it: the others took the rest
    assert others_share((0.0, 0.0, 0.0), (1.0, float(cores), 0.5)) == pytest.approx((cores - 0.5) / cores)
    assert others_share((0.0, 0.0, 0.0), (1.0, 0.5, 0.5)) == 0.0
    assert others_share(None, (1.0, 1.0, 1.0)) is None


def test_bench_plot(small, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "scaling.png"
    assert main(["bench", str(small), "--repeat", "2", "--threads", "2", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "fastchunk, 1 thread " in out and "fastchunk, 2 threads" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_plot_without_matplotlib(small, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    png = tmp_path / "scaling.png"
    assert _status(["bench", str(small), "--plot", str(png)]) == 2
    captured = capsys.readouterr()
    assert captured.err == ("fastchunk: --plot needs matplotlib, an optional extra: pip install "
                            "'fastchunk[plot]' (or pip install matplotlib)\n")
    assert captured.out == "" and not png.exists()


def test_no_progress_bar_when_not_a_terminal(capsys):
    """Bars go to stderr only when it is a terminal (pytest's capture is not)."""
    assert main(["bench", "--repeat", "1", "--frames", "1"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and _lines(err) == [f"demo file: {testing.demo_path()}"]


def test_progress_bar_on_a_terminal(capsys):
    from fastchunk.cli.progress import Bar, frames_callback

    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty = Tty()
    with Bar(4, "verifying", stream=tty) as bar:
        for _ in range(4):
            bar.update()
    assert "verifying" in tty.getvalue() and "/4 [" in tty.getvalue()  # tqdm redraws at its own pace
    quiet = io.StringIO()
    with Bar(4, "verifying", stream=quiet) as bar:
        bar.update(4)
    assert quiet.getvalue() == ""
    frames_callback()(1, 2)  # stderr is captured here: nothing drawn, nothing raised


def test_a_swallowed_interrupt_still_lands(small, capsys, monkeypatch):
    """Ctrl-C raised inside a finalizer (as h5py's WeakValueDictionary callbacks get it) is
    swallowed by Python; the command still ends with 'interrupted' and status 130."""
    cli_main = importlib.import_module("fastchunk.cli.main")

    class Thing:
        pass

    def swallowed(args):
        def finalizer():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the handler runs here, inside the finalizer
        thing = Thing()
        weakref.finalize(thing, finalizer)
        del thing  # the KeyboardInterrupt is raised in the finalizer and swallowed
        return 0
    monkeypatch.setattr(cli_main, "_info", swallowed)
    assert cli_main.main(["info", str(small)]) == 130
    captured = capsys.readouterr()
    assert captured.err == "fastchunk: interrupted\n"  # no "Exception ignored in" either
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def _wait_for(predicate, timeout=60):
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("when", ["writing the demo file", "timing"])
def test_ctrl_c(tmp_path, when):
    """Ctrl-C: one line, status 130, no traceback, no partial demo file, whatever it hits."""
    cache = tmp_path / "cache"
    env = dict(os.environ, FASTCHUNK_CACHE=str(cache))
    if when == "timing":  # the session's demo file (conftest's cache), written once
        env["FASTCHUNK_CACHE"] = str(testing.ensure_demo_file().parent)
    p = subprocess.Popen([sys.executable, "-m", "fastchunk", "bench", "--repeat", "20"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if when == "timing":
            _wait_for(lambda: p.stderr.readline().startswith("demo file:"))
            time.sleep(0.3)
        else:
            _wait_for(lambda: cache.is_dir() and any(n.name.endswith(".tmp") for n in cache.iterdir()))
            time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == "fastchunk: interrupted" and "Traceback" not in err
    assert "Exception ignored" not in err
    if when != "timing":
        assert list(cache.iterdir()) == []  # no partial file, no temporary


def test_info_follows_a_dectris_masters_links(tmp_path, capsys):
    master = testing.write_dectris_master(tmp_path, n_frames=10, frames_per_file=4, missing=(2,))
    assert _status(["info", str(master)]) == 0
    out = capsys.readouterr().out
    assert "/entry/data/data_000001: 4 x 96 x 80 uint32, chunked" in out
    assert "  link      external link to series_data_000001.h5:/entry/data/data" in out
    assert "/entry/data/data_000003: 2 x 96 x 80 uint32" in out
    assert "/entry/data/data_000002: dangling external link to series_data_000002.h5:/entry/data/data" in out
    assert out.rstrip().endswith("1 dangling external link")
    assert _status(["info", str(master), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    infos = {i["name"]: i for i in doc["datasets"]}
    assert doc["dangling_links"] == 1 and "ExternalLinkError" in infos["/entry/data/data_000002"]["dangling"]
    first = infos["/entry/data/data_000001"]
    assert first["native"] and first["chunks_allocated"] == 4
    assert first["data_file"].endswith("series_data_000001.h5")


def test_info_of_a_diamond_master_lists_its_sources(tmp_path, capsys):
    master = testing.write_diamond_master(tmp_path, n_frames=6, frames_per_file=2, missing=(2,))
    assert _status(["info", str(master)]) == 0
    out = capsys.readouterr().out
    assert "/entry/data/data: 6 x 96 x 80 int32, virtual" in out
    assert "  sources   3 mappings to source datasets, 1 of them missing" in out
    assert "scan_000001.h5:/data (2, 96, 80) uint32 bitshuffle+lz4 (native)" in out
    assert "missing: reads as the fill value" in out


def test_info_labels_say_what_they_mean(small, capsys):
    assert _status(["info", str(small), testing.DEMO_DATASET]) == 0
    out = capsys.readouterr().out
    assert "bytes decoded per byte returned (whole chunks decode): one frame ds[i]: 1x" in out
    assert "one element's series along the first axis ds[:, j, ...]: 3072x" in out
    assert "compression ratio" in out and "stored chunk sizes: min" in out


def test_bench_plot_with_a_broken_matplotlib(small, tmp_path, capsys, monkeypatch):
    """Installed but unimportable (say, built for another numpy): the reason, not 'install it'."""
    import builtins
    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("Matplotlib requires numpy>=1.23; you have 1.22.4")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", broken)
    assert _status(["bench", str(small), "--plot", str(tmp_path / "p.png")]) == 2
    assert capsys.readouterr().err == ("fastchunk: --plot needs matplotlib, which is installed but cannot "
                                       "be imported: Matplotlib requires numpy>=1.23; you have 1.22.4\n")
