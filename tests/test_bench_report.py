"""benchmarks/report.py turns pytest-benchmark's JSON into one readable report: case names in
words, GB/s, ratios to h5py and to the best peer, no ratio for bounds, the busy flag, the
machine on top, and the same as JSON."""
import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bench(name, group, median, **extra):
    return {"name": name, "fullname": f"benchmarks/test_x.py::{name}", "group": group,
            "stats": {"min": median * 0.9, "median": median, "max": median * 1.2, "rounds": 7},
            "extra_info": extra}


RUN = {
    "machine_info": {"cpu": {"brand_raw": "Test CPU 9000", "count": 2}, "python_version": "3.11.7",
                     "fastchunk_bench": {"simd": "avx2", "threads": 2, "h5py": "3.16.0", "hdf5": "2.0.0"}},
    "datetime": "2026-12-02T21:00:00",
    "benchmarks": [
        # test_codecs.py style: no label, bytes only, no CPU figure
        _bench("test_h5py_frame_loop[szip-u16]", "szip-u16", 0.010, bytes=2_000_000_000 // 100),
        _bench("test_fastchunk[szip-u16]", "szip-u16", 0.002, bytes=2_000_000_000 // 100, others_cpu=0.01),
        _bench("test_raw_pread[szip-u16]", "szip-u16", 0.00001, others_cpu=0.2),
        # test_read.py style: labels, ranks, a baseline, peers
        _bench("test_h5py_frame_loop[4M-u32]", "read 4M-u32", 1.0, label="h5py ds[i] frame loop", rank=0,
               baseline=True, decoded_bytes=10**9, frames=50, others_cpu=0.0),
        _bench("test_python_pool[4M-u32]", "read 4M-u32", 0.5, label="Python pool of bitshuffle", rank=1,
               decoded_bytes=10**9, frames=50, others_cpu=0.0),
        _bench("test_fastchunk_reused_out[4M-u32]", "read 4M-u32", 0.2, label="fastchunk ds.read(out=...)",
               rank=3, decoded_bytes=10**9, frames=50, others_cpu=0.0),
        _bench("test_memcpy[4M-u32]", "read 4M-u32", 0.05, label="memcpy of the output", rank=9,
               decoded_bytes=10**9, frames=50, others_cpu=0.0),
    ],
}


def test_document(report):
    doc = report.build([RUN])
    assert doc["machine"]["cpu"] == "Test CPU 9000" and doc["machine"]["simd_kernel"] == "avx2"
    cases = {c["group"]: c for c in doc["cases"]}
    szip = cases["szip-u16"]
    assert szip["case"] == "codec: szip, Eiger 1M uint16 frames, ds[:]"
    rows = {r["reader"]: r for r in szip["rows"]}
    fc = rows["fastchunk ds.read(out=...), every frame"]
    assert fc["vs_h5py"] == pytest.approx(5.0) and fc["gb_per_s"] == pytest.approx(10.0)
    bound = rows["raw pread of the stored chunks (no decoding)"]
    assert bound["kind"] == "bound" and bound["vs_h5py"] is None and bound["gb_per_s"] is None
    assert bound["cpu_busy"] is True and fc["cpu_busy"] is False
    assert rows["h5py ds[i], one frame at a time"]["others_cpu"] is None  # not measured: '?'
    read = {r["reader"]: r for r in cases["read 4M-u32"]["rows"]}
    assert cases["read 4M-u32"]["best_peer"] == "Python pool of bitshuffle"
    assert read["fastchunk ds.read(out=...)"]["vs_h5py"] == pytest.approx(5.0)
    assert read["fastchunk ds.read(out=...)"]["vs_best_peer"] == pytest.approx(2.5)
    assert read["memcpy of the output"]["kind"] == "bound" and read["memcpy of the output"]["vs_best_peer"] is None
    json.dumps(doc)  # JSON-ready


def test_text(report):
    text = report.format_report(report.build([RUN]))
    first = text.splitlines()[0]
    assert first.startswith("machine: Test CPU 9000, 2 cores, SIMD kernel avx2, fastchunk threads 2")
    assert "codec: szip, Eiger 1M uint16 frames, ds[:]" in text and "szip-u16\n" not in text
    assert "test_raw_pread" not in text  # names in words only
    line = next(x for x in text.splitlines() if "raw pread" in x)
    assert "[bound]" in line and line.split()[-1] == "20%" and " - " in line
    assert "vs best peer" in text and "CPU busy" in text


def test_cli(report, tmp_path, capsys):
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(RUN))
    assert report.main(["--no-run", "--saved", str(saved), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["cases"]) == 2
    assert report.main(["--no-run", "--saved", str(saved)]) == 0
    assert capsys.readouterr().out.startswith("machine: ")
    assert report.main(["--no-run", "--saved", str(tmp_path / "none.json")]) == 1
