"""Run the benchmark suite (or read a saved run) and print one table per group: median seconds,
GB/s of decoded output and the ratio to the group's baseline, then the target ratios.

    python benchmarks/report.py                          # run benchmarks/, then print
    python benchmarks/report.py --frames 20              # quicker, smaller files
    python benchmarks/report.py --json run.json --no-run # print a saved run
    python benchmarks/report.py -- benchmarks/test_read.py -k 4M   # pass arguments to pytest

A ratio above 1 means faster than the baseline: the h5py frame loop for whole-file reads, the
bitshuffle package for single-chunk decodes. Files are read from a warm page cache; glibc's mmap
threshold is pinned unless FASTCHUNK_BENCH_MALLOC=default (see conftest.py). Other work on the
machine makes rows slow and noisy: the load average is printed before and after the run.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_JSON = HERE.parent / ".benchmarks" / "fastchunk-report.json"  # .benchmarks/ is gitignored

# (what, group prefixes, numerator test, denominator test, target): numerator / denominator speed.
TARGETS = [
    ("fastchunk reused out vs h5py frame loop", ("read 4M-u32", "read real-4M-u32"),
     "test_fastchunk_reused_out", "test_h5py_frame_loop", 4.5),
    ("fastchunk reused out vs Python pool", ("read ",),
     "test_fastchunk_reused_out", "test_python_pool", 1.25),
    ("decode_chunk vs bitshuffle.decompress_lz4, 1 thread", ("decode 1 chunk",),
     "test_fastchunk_decode_chunk", "test_bitshuffle_decompress_lz4", 1.3),
]


def run_suite(json_path, frames, pytest_args):
    """Run pytest with timing on; return its exit status."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if frames:
        env["FASTCHUNK_BENCH_FRAMES"] = str(frames)
    cmd = [sys.executable, "-m", "pytest", *(pytest_args or [str(HERE)]), "-q", "-p", "no:cacheprovider",
           "--benchmark-enable", f"--benchmark-json={json_path}", "--benchmark-min-rounds=7",
           "--benchmark-max-time=2", "--benchmark-columns=median,rounds"]
    print("$", " ".join(cmd), flush=True)
    # The suite must run from the repository root so pyproject.toml's pytest config applies.
    return subprocess.call(cmd, cwd=HERE.parent, env=env)


def _base(bench):
    return bench["name"].split("[")[0]


def _decoded_bytes(bench):
    info = bench.get("extra_info", {})
    return info.get("decoded_bytes") or info.get("bytes") or 0


def _baseline(rows):
    marked = [b for b in rows if b.get("extra_info", {}).get("baseline")]
    if marked:
        return marked[0]
    loops = [b for b in rows if _base(b) == "test_h5py_frame_loop"]
    return loops[0] if loops else None


def _order(bench):
    rank = bench.get("extra_info", {}).get("rank")
    return (rank is None, rank if rank is not None else 0, bench["stats"]["median"])


def format_group(group, rows):
    """One group's table: label, median, GB/s, ratio to the baseline."""
    rows = sorted(rows, key=_order)
    base = _baseline(rows)
    info = rows[0].get("extra_info", {})
    facts = []
    if info.get("frames"):
        facts.append(f"{info['frames']} frame(s)")
    if _decoded_bytes(rows[0]):
        facts.append(f"{_decoded_bytes(rows[0]) / 1e6:.1f} MB decoded")
    if info.get("stored_bytes"):
        facts.append(f"{info['stored_bytes'] / 1e6:.1f} MB stored")
    vs = f"vs {base.get('extra_info', {}).get('label', _base(base))}" if base else ""
    lines = [f"{group}  ({', '.join(facts)})" if facts else group,
             f"  {'reader':<62} {'median s':>10} {'GB/s':>7} {'ratio':>7}  {vs}"]
    for b in rows:
        median = b["stats"]["median"]
        nbytes = _decoded_bytes(b)
        gbs = f"{nbytes / median / 1e9:7.2f}" if nbytes else f"{'':>7}"
        ratio = f"{base['stats']['median'] / median:6.2f}x" if base else ""
        label = b.get("extra_info", {}).get("label") or b["name"]
        lines.append(f"  {label:<62} {median:10.5f} {gbs} {ratio:>7}")
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
            lines.append(f"  {group:<38} {what:<52} {ratio:6.2f}x  (target >= {target}x: {verdict})")
    return "\n".join(lines)


def format_machine(data):
    m = data.get("machine_info", {})
    cpu = m.get("cpu", {}).get("brand_raw", m.get("processor", "?"))
    lines = [f"machine: {cpu}, {os.cpu_count()} CPUs here; python {m.get('python_version', '?')}"]
    extra = m.get("fastchunk_bench")
    if extra:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in extra.items()))
    commit = data.get("commit_info", {})
    if commit.get("id"):
        lines.append(f"commit {commit['id'][:12]}{' (dirty tree)' if commit.get('dirty') else ''}")
    return "\n".join(lines)


def report(data):
    benchmarks = data.get("benchmarks", [])
    if not benchmarks:
        return "no timings in this run (were benchmarks disabled?)"
    groups = {}
    for b in benchmarks:
        groups.setdefault(b["group"] or "(no group)", []).append(b)
    parts = [format_machine(data)]
    parts += [format_group(g, groups[g]) for g in sorted(groups)]
    parts.append(format_targets(benchmarks))
    return "\n\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=pathlib.Path, default=DEFAULT_JSON,
                        help=f"where pytest-benchmark writes (or wrote) the run (default {DEFAULT_JSON})")
    parser.add_argument("--no-run", action="store_true", help="only print the saved --json run")
    parser.add_argument("--frames", type=int, default=0,
                        help="FASTCHUNK_BENCH_FRAMES for this run (default: 50 for 1M and 4M, 8 for 16M)")
    parser.add_argument("pytest_args", nargs="*", help="after --: paths and options for pytest")
    args = parser.parse_args(argv)
    status = 0
    if not args.no_run:
        load = os.getloadavg()[0]
        if load > 0.5:
            print(f"warning: load average {load:.1f} before the run; timings on a busy machine are "
                  "slow and noisy", file=sys.stderr)
        status = run_suite(args.json, args.frames, args.pytest_args)
        # Other work on the machine shows up as slow, noisy rows: say how busy it was.
        print(f"load average (1 min): {load:.2f} before the run, {os.getloadavg()[0]:.2f} after "
              f"(this run itself adds up to {os.cpu_count()})")
    if not args.json.is_file():
        print(f"{args.json}: no such run", file=sys.stderr)
        return status or 1
    print()
    print(report(json.loads(args.json.read_text())))
    return status


if __name__ == "__main__":
    sys.exit(main())
