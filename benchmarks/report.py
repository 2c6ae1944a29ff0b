"""The benchmark suite's one report: run benchmarks/ with pytest-benchmark (or read saved
runs) and print, per case, each reader's GB/s, its ratio to h5py and to the best other reader
(the "peers"), and whether the machine was busy while it ran; the machine on top, the project's
target ratios at the end.

    python benchmarks/report.py                          # run benchmarks/ once, then print
    python benchmarks/report.py --json                   # the same as one JSON document
    python benchmarks/report.py --runs 3                 # three runs; each row from its quietest
    python benchmarks/report.py --frames 20              # quicker, smaller files
    python benchmarks/report.py -- benchmarks/test_read.py -k 4M   # arguments for pytest
    python benchmarks/report.py --no-run --saved a.json --saved b.json   # print saved run(s)

pytest-benchmark does the timing and writes its JSON (--benchmark-json; its own tables are
turned off here, --benchmark-quiet); this script only reads that JSON. Its groups are the cases;
each row is one reader. GB/s is decoded output bytes per second at the median of the rounds.
"vs h5py" is h5py's median time over the row's (above 1: faster than h5py); "vs best peer" is
the same against the fastest reader that is neither fastchunk nor a bound. Bounds (a raw pread
of the stored bytes, a memcpy of the output) decode nothing: they show how near the hardware a
reader gets and carry no ratio. Files are read from a warm page cache; glibc's mmap threshold
is pinned unless FASTCHUNK_BENCH_MALLOC=default (see conftest.py). "CPU busy" flags a row
during which other processes used more than 5 % of all CPUs: its figure is less reliable. With
several runs each row is taken from the run where that share was lowest (never the fastest).
"""
import argparse
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_JSON = HERE.parent / ".benchmarks" / "fastchunk-report.json"  # .benchmarks/ is gitignored
BUSY = 0.05  # others' share of the CPUs above which a row is flagged

# (what, group prefixes, numerator test, denominator test, target): numerator / denominator speed.
TARGETS = [
    ("fastchunk reused out vs h5py frame loop", ("read 4M-u32", "read real-4M-u32"),
     "test_fastchunk_reused_out", "test_h5py_frame_loop", 4.5),
    ("fastchunk reused out vs Python pool", ("read ",),
     "test_fastchunk_reused_out", "test_python_pool", 1.25),
    ("decode_chunk vs bitshuffle.decompress_lz4, 1 thread", ("decode 1 chunk",),
     "test_fastchunk_decode_chunk", "test_bitshuffle_decompress_lz4", 1.3),
    ("fastchunk vs h5py, small region (partial decode)", ("region 64x64 patch",),
     "test_region_fastchunk", "test_region_h5py", 10.0),
    ("fastchunk VDS vs h5py VDS frame loop", ("masters ",),
     "test_fastchunk_vds", "test_h5py_vds_frame_loop", 4.5),
    ("fastchunk VDS vs one data file (>= 0.9: within 10 %)", ("masters ",),
     "test_fastchunk_vds", "test_fastchunk_single_file", 0.9),
    ("fastchunk vs h5py frame loop, deflate and shuffle+deflate", ("deflate-", "shuffle+deflate-"),
     "test_fastchunk", "test_h5py_frame_loop", 1.8),
    ("fastchunk vs h5py frame loop, LZ4 32004", ("lz4-",),
     "test_fastchunk", "test_h5py_frame_loop", 4.0),
    ("fastchunk vs raw pread of the dataset, contiguous", ("contiguous-",),
     "test_fastchunk", "test_raw_pread", 0.8),
    ("fastchunk slabs vs h5py (cold chunk cache)", ("slab axis",),
     "test_slab_fastchunk", "test_slab_h5py", 3.0),
    ("fastchunk open+index+ds[:] vs h5py open+ds[:]", ("tiny chunks",),
     "test_tiny_fastchunk", "test_tiny_h5py", 4.0),
    ("da.from_array(fastchunk ds) vs h5py dask.delayed tasks, 2 workers", ("dask.distributed",),
     "test_fastchunk_from_array", "test_h5py_delayed_tasks", 2.5),
]


def run_suite(json_path, frames, pytest_args):
    """Run pytest with timing on; return its exit status. pytest-benchmark's own tables are off
    (--benchmark-quiet): this report replaces them."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    if frames:
        env["FASTCHUNK_BENCH_FRAMES"] = str(frames)
    cmd = [sys.executable, "-m", "pytest", *(pytest_args or [str(HERE)]), "-q", "-p", "no:cacheprovider",
           "-p", "report_plugin", "--benchmark-enable", "--benchmark-quiet",
           f"--benchmark-json={json_path}", "--benchmark-min-rounds=7"]
    print("$", shlex.join(cmd), file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    # From the repository root, so that pyproject.toml's pytest configuration applies; pytest's
    # own lines go to stderr, so that stdout holds the report alone.
    status = subprocess.call(cmd, cwd=HERE.parent, env=env, stdout=sys.stderr)
    print(f"load average (1 min): {load:.2f} before the run, {os.getloadavg()[0]:.2f} after "
          f"(this run itself adds up to {os.cpu_count()})", file=sys.stderr, flush=True)
    return status


def _base(bench):
    return bench["name"].split("[")[0]


def _info(bench):
    return bench.get("extra_info") or {}


def _decoded_bytes(bench):
    return _info(bench).get("decoded_bytes") or _info(bench).get("bytes") or 0


def _others(bench):
    share = _info(bench).get("others_cpu")
    return 0.0 if share is None else share


def merge_runs(runs):
    """One benchmark list from several runs: per benchmark, the entry whose run had the least
    CPU taken by other processes (the first run's entry when none says)."""
    chosen = {}
    for k, data in enumerate(runs):
        for b in data.get("benchmarks", []):
            key = (b["group"], b["fullname"])
            if key not in chosen or _others(b) < _others(chosen[key][1]):
                chosen[key] = (k, b)
    merged = []
    for k, b in chosen.values():
        b = dict(b)
        b["run"] = k
        merged.append(b)
    return merged


# Rows whose test does not name itself (extra_info "label"): what they are, in words.
LABELS = {
    "test_h5py_frame_loop": "h5py ds[i], one frame at a time",
    "test_fastchunk": "fastchunk ds.read(out=...), every frame",
    "test_raw_pread": "raw pread of the stored chunks (no decoding)",
}
# Rows that decode nothing (a raw pread, a memcpy, h5py answering from its chunk cache): they
# show what the hardware or a cache gives, and carry no ratio.
BOUNDS = ("test_raw_pread", "test_memcpy", "test_memcpy_threads", "test_slab_h5py_cached")
# test_codecs.py's groups are its case names, CODEC-TYPE: what each codec is.
CODECS = {
    "deflate": "deflate (gzip)", "shuffle+deflate": "shuffle + deflate", "lz4": "LZ4 (filter 32004)",
    "lzf": "LZF", "zstd": "zstd (filter 32015)", "bitshuffle+zstd": "bitshuffle + zstd",
    "szip": "szip", "blosc-blosclz": "Blosc with BloscLZ", "blosc-lz4": "Blosc with LZ4",
    "blosc-zstd": "Blosc with zstd", "contiguous": "no compression, contiguous layout",
    "lz4-real": "LZ4 (filter 32004), a real Eiger frame repeated",
}
DTYPES = {"u8": "uint8", "u16": "uint16", "u32": "uint32"}


def title(group):
    """A case name a user understands, from a pytest-benchmark group name."""
    m = re.fullmatch(r"(.+?)(?:-(real))?-(4M|1M|16M)?-?(u8|u16|u32)", group)
    if m and m.group(1) in CODECS:
        codec = CODECS[m.group(1) + ("-real" if m.group(2) else "")]
        size = m.group(3) or "1M"
        return f"codec: {codec}, Eiger {size} {DTYPES[m.group(4)]} frames, ds[:]"
    m = re.fullmatch(r"(?:(\S+) )?region (.+), (\w+)-(u\d+)", group)
    if m:
        codec = {"blosc-lz4": "Blosc with LZ4"}.get(m.group(1), m.group(1) or "bitshuffle+LZ4")
        return f"a small region ({m.group(2)}) through every frame: {m.group(3)} {DTYPES.get(m.group(4))}, {codec}"
    m = re.fullmatch(r"masters (\w+)-(u\d+), (.+)", group)
    if m:
        return f"a detector master over {m.group(3)}: {m.group(1)} {DTYPES.get(m.group(2))} frames, bitshuffle+LZ4"
    m = re.fullmatch(r"decode 1 chunk, 1 thread: (real-)?(\w+)-(u\d+)", group)
    if m:
        kind = "a real Eiger frame" if m.group(1) else "a synthetic Eiger frame"
        return f"one chunk decoded on one thread: {m.group(2)} {DTYPES.get(m.group(3))}, {kind}, bitshuffle+LZ4"
    m = re.fullmatch(r"read (real-)?(\w+)-(u\d+)", group)
    if m:
        kind = "a real Eiger frame repeated" if m.group(1) else "synthetic Eiger frames"
        return f"every frame of a bitshuffle+LZ4 stack: {m.group(2)} {DTYPES.get(m.group(3), m.group(3))}, {kind}"
    return group


def kind(bench):
    """'fastchunk', 'bound' (decodes nothing) or 'peer' (any other reader: h5py, pools, ...)."""
    base = _base(bench)
    if base in BOUNDS or _info(bench).get("bound"):
        return "bound"
    return "fastchunk" if "fastchunk" in base else "peer"


def _h5py_row(rows):
    marked = [b for b in rows if kind(b) == "peer" and _info(b).get("baseline")
              and (_info(b).get("label") or LABELS.get(_base(b), "")).startswith("h5py")]
    if marked:
        return marked[0]
    loops = [b for b in rows if _base(b) == "test_h5py_frame_loop"]
    if loops:
        return loops[0]
    h5 = [b for b in rows if kind(b) == "peer" and "h5py" in _base(b)]
    return min(h5, key=lambda b: b["stats"]["median"]) if h5 else None


def _order(bench):
    rank = _info(bench).get("rank")
    order = {"peer": 0, "fastchunk": 1, "bound": 2}[kind(bench)]
    return (rank is None, rank if rank is not None else order, bench["stats"]["median"])


def group_doc(group, rows):
    """One case: its facts and one dict per reader with every figure of the report."""
    rows = sorted(rows, key=_order)
    h5 = _h5py_row(rows)
    peers = [b for b in rows if kind(b) == "peer"]
    best = min(peers, key=lambda b: b["stats"]["median"]) if peers else None
    nbytes = max((_decoded_bytes(b) for b in rows), default=0)  # the same data in every row
    info = next((_info(b) for b in rows if _info(b).get("frames")), {})
    out = {"group": group, "case": title(group), "decoded_bytes": nbytes or None,
           "frames": info.get("frames"), "stored_bytes": info.get("stored_bytes") or None,
           "h5py_reader": (_info(h5).get("label") or LABELS.get(_base(h5), h5["name"])) if h5 else None,
           "best_peer": (_info(best).get("label") or LABELS.get(_base(best), best["name"])) if best else None,
           "rows": []}
    for b in rows:
        st, k = b["stats"], kind(b)
        own = _decoded_bytes(b) or (nbytes if k != "bound" else 0)
        share = _info(b).get("others_cpu")
        out["rows"].append({
            "reader": _info(b).get("label") or LABELS.get(_base(b), b["name"]), "test": b["fullname"],
            "kind": k, "threads": _info(b).get("threads"), "rounds": st.get("rounds"),
            "seconds": {"min": st["min"], "median": st["median"], "max": st["max"]},
            "gb_per_s": own / st["median"] / 1e9 if own else None,
            "vs_h5py": h5["stats"]["median"] / st["median"] if h5 is not None and k != "bound" else None,
            "vs_best_peer": best["stats"]["median"] / st["median"] if best is not None and k != "bound" else None,
            "others_cpu": share, "cpu_busy": None if share is None else share > BUSY,
            "run": b.get("run", 0) + 1})
    return out


def machine_doc(data):
    m = data.get("machine_info", {})
    fc = m.get("fastchunk_bench", {})
    cpu = m.get("cpu", {})
    doc = {"cpu": cpu.get("brand_raw") or m.get("processor") or "?", "cores": cpu.get("count"),
           "simd_kernel": fc.get("simd"), "threads": fc.get("threads"),
           "python": m.get("python_version"), "datetime": data.get("datetime")}
    doc.update({k: v for k, v in fc.items() if k not in ("simd", "threads")})
    commit = data.get("commit_info", {})
    if commit.get("id"):
        doc["commit"] = commit["id"][:12] + (" (dirty tree)" if commit.get("dirty") else "")
    return doc


def target_docs(benchmarks):
    """The ratios the project promises, each with its target and whether it is met."""
    by_group = {}
    for b in benchmarks:
        by_group.setdefault(b["group"] or "", {})[_base(b)] = b
    out = []
    for what, prefixes, num, den, target in TARGETS:
        for group in sorted(by_group):
            tests = by_group[group]
            if not group.startswith(prefixes) or num not in tests or den not in tests:
                continue
            ratio = tests[den]["stats"]["median"] / tests[num]["stats"]["median"]
            busy = max(_others(tests[num]), _others(tests[den]))
            out.append({"case": title(group), "group": group, "what": what, "ratio": ratio,
                        "target": target, "met": ratio >= target, "others_cpu": busy})
    return out


def build(runs):
    """The whole report as one JSON-ready document."""
    benchmarks = merge_runs(runs)
    groups = {}
    for b in benchmarks:
        groups.setdefault(b["group"] or "(no group)", []).append(b)
    return {"machine": machine_doc(runs[0]) if runs else {}, "runs": len(runs),
            "busy_threshold": BUSY,
            "cases": [group_doc(g, groups[g]) for g in sorted(groups, key=lambda g: title(g))],
            "targets": target_docs(benchmarks)}


def _x(v):
    return f"{v:.2f}x" if v is not None else "-"


def format_report(doc):
    """The printed report: the machine, one table per case, the targets."""
    if not doc["cases"]:
        return "no timings in this run (were benchmarks disabled?)"
    m = doc["machine"]
    lines = [f"machine: {m.get('cpu')}, {m.get('cores')} cores, SIMD kernel {m.get('simd_kernel')}, "
             f"fastchunk threads {m.get('threads')}; python {m.get('python')}, h5py {m.get('h5py')}, "
             f"HDF5 {m.get('hdf5')}" + (f"; commit {m['commit']}" if m.get("commit") else "")
             + (f"; {m['datetime'][:16]}" if m.get("datetime") else ""),
             "GB/s: decoded bytes per second, median round. vs h5py / vs best peer: how many times "
             "faster than h5py / than the fastest other reader (bounds decode nothing: no ratio). "
             f"CPU busy: other processes took over {doc['busy_threshold']:.0%} of the CPUs during the row."]
    if doc["runs"] > 1:
        lines.append(f"{doc['runs']} runs merged: each row comes from the run in which other processes "
                     "took the least CPU while it ran (column 'run')")
    run_col = "  run" if doc["runs"] > 1 else ""
    for c in doc["cases"]:
        facts = []
        if c["frames"]:
            facts.append(f"{c['frames']} frame(s)")
        if c["decoded_bytes"]:
            facts.append(f"{c['decoded_bytes'] / 1e6:.1f} MB decoded")
        if c["stored_bytes"]:
            facts.append(f"{c['stored_bytes'] / 1e6:.1f} MB stored")
        lines += ["", c["case"] + (f"  ({', '.join(facts)})" if facts else ""),
                  f"  {'reader':<58} {'median ms':>10} {'GB/s':>7} {'vs h5py':>8} {'vs best peer':>13} "
                  f"{'CPU busy':>9}{run_col}"]
        for r in c["rows"]:
            gbs = (f"{'-':>7}" if not r["gb_per_s"] else f"{'<0.01':>7}" if r["gb_per_s"] < 0.005
                   else f"{r['gb_per_s']:7.2f}")
            busy = ("?" if r["others_cpu"] is None else
                    f"yes {r['others_cpu']:.0%}" if r["cpu_busy"] else "no")
            name = r["reader"] + (" [bound]" if r["kind"] == "bound" else "")
            run = f"  {r['run']:>3}" if doc["runs"] > 1 else ""
            lines.append(f"  {name:<58} {r['seconds']['median'] * 1e3:10.3f} {gbs} {_x(r['vs_h5py']):>8} "
                         f"{_x(r['vs_best_peer']):>13} {busy:>9}{run}")
    if doc["targets"]:
        lines += ["", "targets (ratio = speed of the first over the second, medians):"]
        for t in doc["targets"]:
            note = f"; machine busy ({t['others_cpu']:.0%} taken by others)" if t["others_cpu"] > BUSY else ""
            lines.append(f"  {t['case']}: {t['what']}  {t['ratio']:.2f}x "
                         f"(target >= {t['target']}x: {'met' if t['met'] else 'NOT met'}{note})")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[4:11]))
    parser.add_argument("--saved", type=pathlib.Path, action="append", metavar="RUN.json",
                        help=f"pytest-benchmark's JSON of a run: written when running (default "
                             f"{DEFAULT_JSON}), read with --no-run (repeat to merge saved runs)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument("--no-run", action="store_true", help="only report the --saved run(s)")
    parser.add_argument("--runs", type=int, default=1, help="run the suite this many times")
    parser.add_argument("--frames", type=int, default=0,
                        help="FASTCHUNK_BENCH_FRAMES for the run (default: 50, 8 for the 16M file)")
    parser.add_argument("pytest_args", nargs="*", help="paths and options for pytest (after -- if "
                        "they start with -)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    paths = args.saved or [DEFAULT_JSON]
    status = 0
    if not args.no_run:
        if len(paths) != 1:
            parser.error("give one --saved when running; its name gets .1, .2, ... with --runs")
        if args.runs > 1:
            paths = [paths[0].with_suffix(f".{k + 1}.json") for k in range(args.runs)]
        for path in paths:
            status = run_suite(path, args.frames, args.pytest_args) or status
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"no such run: {', '.join(map(str, missing))}", file=sys.stderr)
        return status or 1
    doc = build([json.loads(p.read_text()) for p in paths])
    print(json.dumps(doc, indent=2) if args.json else format_report(doc))
    return status


if __name__ == "__main__":
    sys.exit(main())
