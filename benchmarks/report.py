"""Run the benchmark suite (or read saved runs) and print one table per group: median seconds,
GB/s of decoded output and the ratio to the group's baseline, then the target ratios.

    python benchmarks/report.py                          # run benchmarks/ once, then print
    python benchmarks/report.py --runs 3                 # three runs; each row from its quietest
    python benchmarks/report.py --frames 20              # quicker, smaller files
    python benchmarks/report.py --no-run --json a.json --json b.json   # print saved run(s)
    python benchmarks/report.py -- benchmarks/test_read.py -k 4M       # arguments for pytest

A ratio above 1 means faster than the baseline: the h5py frame loop for whole-file reads, the
bitshuffle package for single-chunk decodes. Files are read from a warm page cache; glibc's mmap
threshold is pinned unless FASTCHUNK_BENCH_MALLOC=default (see conftest.py). The "others" column
is the share of all CPUs other processes used while the row ran: rows above ~5 % were measured
on a busy machine. With several runs each row is taken from the run where that share was
lowest (never the fastest run), and the table says which.
"""
import argparse
import json
import os
import pathlib
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
    """Run pytest with timing on; return its exit status."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if frames:
        env["FASTCHUNK_BENCH_FRAMES"] = str(frames)
    cmd = [sys.executable, "-m", "pytest", *(pytest_args or [str(HERE)]), "-q", "-p", "no:cacheprovider",
           "--benchmark-enable", f"--benchmark-json={json_path}", "--benchmark-min-rounds=7",
           "--benchmark-columns=median,rounds"]
    print("$", shlex.join(cmd), flush=True)
    load = os.getloadavg()[0]
    # From the repository root, so that pyproject.toml's pytest configuration applies.
    status = subprocess.call(cmd, cwd=HERE.parent, env=env)
    print(f"load average (1 min): {load:.2f} before the run, {os.getloadavg()[0]:.2f} after "
          f"(this run itself adds up to {os.cpu_count()})", flush=True)
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


def _baseline(rows):
    marked = [b for b in rows if _info(b).get("baseline")]
    if marked:
        return marked[0]
    loops = [b for b in rows if _base(b) == "test_h5py_frame_loop"]
    return loops[0] if loops else None


def _order(bench):
    rank = _info(bench).get("rank")
    return (rank is None, rank if rank is not None else 0, bench["stats"]["median"])


def format_group(group, rows, nruns):
    """One group's table: label, median, GB/s, ratio to the baseline, others' CPU share."""
    rows = sorted(rows, key=_order)
    base = _baseline(rows)
    info = _info(rows[0])
    facts = []
    if info.get("frames"):
        facts.append(f"{info['frames']} frame(s)")
    if _decoded_bytes(rows[0]):
        facts.append(f"{_decoded_bytes(rows[0]) / 1e6:.1f} MB decoded")
    if info.get("stored_bytes"):
        facts.append(f"{info['stored_bytes'] / 1e6:.1f} MB stored")
    vs = f"ratio vs {_info(base).get('label', _base(base))}" if base else ""
    run_col = "  run" if nruns > 1 else ""
    lines = [f"{group}  ({', '.join(facts)})" if facts else group,
             f"  {'reader':<62} {'median s':>10} {'GB/s':>7} {'ratio':>7} {'others':>7}{run_col}  {vs}"]
    for b in rows:
        median = b["stats"]["median"]
        nbytes = _decoded_bytes(b)
        gbs = f"{nbytes / median / 1e9:7.2f}" if nbytes else f"{'':>7}"
        ratio = f"{base['stats']['median'] / median:6.2f}x" if base else ""
        share = _info(b).get("others_cpu")
        others = f"{share:6.0%}{'!' if share > BUSY else ' '}" if share is not None else f"{'':>7}"
        run = f"  {b['run'] + 1:>3}" if nruns > 1 else ""
        label = _info(b).get("label") or b["name"]
        lines.append(f"  {label:<62} {median:10.5f} {gbs} {ratio:>7} {others}{run}")
    return "\n".join(lines)


def format_targets(benchmarks):
    """The ratios the project promises, each with its target and whether it is met."""
    by_group = {}
    for b in benchmarks:
        by_group.setdefault(b["group"] or "", {})[_base(b)] = b
    lines = ["targets (ratio = speed of the first over the second, medians):"]
    for what, prefixes, num, den, target in TARGETS:
        for group in sorted(by_group):
            tests = by_group[group]
            if not group.startswith(prefixes) or num not in tests or den not in tests:
                continue
            ratio = tests[den]["stats"]["median"] / tests[num]["stats"]["median"]
            verdict = "met" if ratio >= target else "NOT met"
            busy = max(_others(tests[num]), _others(tests[den]))
            note = f"; machine busy ({busy:.0%} taken by others)" if busy > BUSY else ""
            lines.append(f"  {group:<38} {what:<52} {ratio:6.2f}x  "
                         f"(target >= {target}x: {verdict}{note})")
    return "\n".join(lines)


def format_machine(data):
    m = data.get("machine_info", {})
    cpu = m.get("cpu", {}).get("brand_raw", m.get("processor", "?"))
    count = m.get("cpu", {}).get("count", "?")
    lines = [f"machine: {cpu}, {count} CPUs; python {m.get('python_version', '?')}"]
    extra = m.get("fastchunk_bench")
    if extra:
        lines.append("setup: " + ", ".join(f"{k} {v}" for k, v in extra.items()))
    commit = data.get("commit_info", {})
    if commit.get("id"):
        lines.append(f"commit {commit['id'][:12]}{' (dirty tree)' if commit.get('dirty') else ''}")
    return "\n".join(lines)


def report(runs):
    """The whole printed report for one or more runs of the suite."""
    benchmarks = merge_runs(runs)
    if not benchmarks:
        return "no timings in this run (were benchmarks disabled?)"
    groups = {}
    for b in benchmarks:
        groups.setdefault(b["group"] or "(no group)", []).append(b)
    parts = [format_machine(runs[0])]
    if len(runs) > 1:
        parts.append(f"{len(runs)} runs merged: each row comes from the run in which other "
                     "processes took the least CPU while it ran (column 'run')")
    parts += [format_group(g, groups[g], len(runs)) for g in sorted(groups)]
    parts.append(format_targets(benchmarks))
    return "\n\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=pathlib.Path, action="append",
                        help=f"a run pytest-benchmark writes or wrote (default {DEFAULT_JSON}); "
                             "repeat with --no-run to merge saved runs")
    parser.add_argument("--no-run", action="store_true", help="only print the saved --json run(s)")
    parser.add_argument("--runs", type=int, default=1, help="run the suite this many times")
    parser.add_argument("--frames", type=int, default=0,
                        help="FASTCHUNK_BENCH_FRAMES for the run (default: 50, 8 for the 16M file)")
    parser.add_argument("pytest_args", nargs="*", help="after --: paths and options for pytest")
    args = parser.parse_args(argv)
    paths = args.json or [DEFAULT_JSON]
    status = 0
    if not args.no_run:
        if len(paths) != 1:
            parser.error("give one --json when running; its name gets .1, .2, ... with --runs")
        if args.runs > 1:
            paths = [paths[0].with_suffix(f".{k + 1}.json") for k in range(args.runs)]
        for path in paths:
            status = run_suite(path, args.frames, args.pytest_args) or status
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"no such run: {', '.join(map(str, missing))}", file=sys.stderr)
        return status or 1
    print()
    print(report([json.loads(p.read_text()) for p in paths]))
    return status


if __name__ == "__main__":
    sys.exit(main())
