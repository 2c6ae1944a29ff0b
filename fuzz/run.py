"""Build the fuzz targets with gcc, seed them from real chunks, run each for a time budget.

    python fuzz/run.py                      # every target, 20 s each (the CI step)
    python fuzz/run.py --budget 600 bslz4   # a longer run of one target
    python fuzz/run.py --replay-only        # replay seeds and fuzz/regressions/ once

Targets are built with -fsanitize=address,undefined and gcc's -fsanitize-coverage=trace-pc,
trace-cmp on the decoders (fuzz/engine.c is the coverage-guided loop). For each target it
prints executions, edges and basic blocks reached, and the line coverage of the target's C
files (a gcov build replays the final corpus). Exits non-zero if any input crashed a target,
tripped a sanitizer, hung, or if a regression input no longer runs clean.
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
CSRC = ROOT / "csrc"
# kernel file -> its flags (as in setup.py); fc_cpu.c runs only what this CPU has
SIMD = {"simd/fc_bitplane_sse2.c": ["-msse2"], "simd/fc_unshuffle_sse2.c": ["-msse2"],
        "simd/fc_bitplane_avx2.c": ["-mavx2"], "simd/fc_unshuffle_avx2.c": ["-mavx2"],
        "simd/fc_bitplane_avx512.c": ["-mavx512f", "-mavx512bw", "-mgfni"]}
# the decoders: every other C file of csrc/'s layers up to the pipeline
DECODERS = sorted(f for layer in ("common", "simd", "codecs", "pipeline")
                  for f in (str(p.relative_to(CSRC)) for p in (CSRC / layer).glob("*.c"))
                  if f not in SIMD)
# target -> the C files whose coverage it is about
TARGETS = {
    "bslz4": ["codecs/fc_bitshuffle.c", "codecs/fc_lz4.c"],
    "bitshuffle": ["codecs/fc_bitshuffle.c", "simd/fc_bitplane_generic.c"],
    "lz4_filter": ["codecs/fc_lz4_filter.c", "codecs/fc_lz4.c"],
    "lz4_block": ["codecs/fc_lz4.c"],
    "lzf": ["codecs/fc_lzf.c"],
    "blosc": ["codecs/fc_blosc.c", "codecs/fc_blosclz.c", "codecs/fc_snappy.c"],
    "scaleoffset": ["codecs/fc_scaleoffset.c"],
    "szip": ["codecs/fc_szip.c"],
    "zstd": ["codecs/fc_zstd.c", "codecs/fc_zstd_entropy.c"],
    "deflate": ["codecs/fc_inflate.c", "codecs/fc_inflate_core.c"],
    "shuffle": ["codecs/fc_shuffle.c", "simd/fc_unshuffle_generic.c"],
    "fletcher32": ["codecs/fc_fletcher32.c"],
    "pipeline": ["pipeline/fc_pipeline.c"],
    "read": ["engine/fc_plan_check.c", "engine/fc_rows.c", "engine/fc_run_rows.c",
             "engine/fc_scatter.c", "engine/fc_partial.c", "engine/fc_job.c"],
}
# target -> C files it links beyond the decoders: only `read` drives the engine (the job, I/O
# thread and pool; csrc/plan/ is left out: Python plans before C reads)
EXTRA = {"read": sorted(str(p.relative_to(CSRC)) for p in (CSRC / "engine").glob("*.c"))}
# built without trace-pc: which thread runs a task, whether an I/O thread or a buffer is
# reused and who wakes whom is timing, not input, and would read as new coverage
UNTRACED = {"engine/fc_pool.c", "engine/fc_io_thread.c", "engine/fc_cache.c",
            "engine/fc_thread.c", "engine/fc_job_signal.c"}
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
SAN_ENV = {
    # A decoder must reject a lying size before it allocates: anything over 64 MiB is a bug.
    "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=1:detect_leaks=1:max_allocation_size_mb=64:"
                    "allocator_may_return_null=0:hard_rss_limit_mb=2048",
    "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=1:print_stacktrace=1",
}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def obj(out, name):
    """A C file's object: flat in out, as gcov -o out looks for it (the names are unique)."""
    return out / (pathlib.Path(name).stem + ".o")


def compile_all(out, extra, coverage_flags):
    """Objects of the decoders (instrumented) and the engine (not); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    base = ["gcc", "-std=gnu11", "-g", "-I", str(CSRC), "-DFC_HAVE_SSE2=1",
            "-DFC_HAVE_AVX2=1", "-DFC_HAVE_AVX512=1"] + extra
    jobs = []
    extra_srcs = sorted({f for fs in EXTRA.values() for f in fs})
    for name in DECODERS + list(SIMD) + extra_srcs:
        flags = (coverage_flags if name not in UNTRACED else []) + SIMD.get(name, [])
        jobs.append(base + flags + ["-c", str(CSRC / name), "-o", str(obj(out, name))])
    jobs.append(base + ["-c", str(HERE / "engine.c"), "-o", str(out / "engine.o")])
    for t in TARGETS:
        jobs.append(base + ["-I", str(HERE / "targets"), "-c", str(HERE / "targets" / f"{t}.c"),
                            "-o", str(out / f"target_{t}.o")])
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        for f in [ex.submit(sh, j) for j in jobs]:
            f.result()
    objs = [obj(out, n) for n in DECODERS + list(SIMD)]
    for t in TARGETS:
        own = [str(obj(out, n)) for n in EXTRA.get(t, [])]
        sh(["gcc"] + extra + [str(out / "engine.o"), str(out / f"target_{t}.o")]
           + [str(o) for o in objs] + own + ["-lm", "-pthread", "-o", str(out / f"fuzz-{t}")])
    return out


def build(work):
    """The fuzzing build (ASan, UBSan, trace-pc/trace-cmp) and the gcov replay build."""
    fuzz = compile_all(work / "bin", ["-O1"] + SANITIZE, ["-fsanitize-coverage=trace-pc,trace-cmp"])
    cov = {}
    for t in TARGETS:  # one object dir per target: gcov counts live beside the objects
        cov[t] = compile_all(work / "gcov" / t, ["-O0", "--coverage"], [])
    return fuzz, cov


def gcov_lines(objdir, files):
    """Line coverage of files after replaying into the build in objdir: (covered, total)."""
    covered = total = 0
    for f in files:
        r = subprocess.run(["gcov", "-n", "-o", str(objdir), str(CSRC / f)], capture_output=True,
                           text=True, cwd=objdir)
        m = re.search(rf"File '[^']*{re.escape(f)}'\s*\nLines executed:([\d.]+)% of (\d+)", r.stdout)
        if m:
            n = int(m.group(2))
            covered += round(float(m.group(1)) * n / 100)
            total += n
    return covered, total


def inputs(*dirs):
    return [str(p) for d in dirs if d.is_dir() for p in sorted(d.iterdir()) if p.is_file()]


def replay(binary, files, env):
    """Run each file once through binary (in batches: argv has a limit)."""
    for i in range(0, max(len(files), 1), 500):
        r = subprocess.run([str(binary)] + files[i:i + 500], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            return r
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", default=list(TARGETS))
    ap.add_argument("--budget", type=float, default=20, help="seconds of fuzzing per target")
    ap.add_argument("--work", type=pathlib.Path, default=ROOT / "build" / "fuzz")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="targets run at once")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--realdata", type=pathlib.Path, default=ROOT.parent / "shared" / "realdata")
    ap.add_argument("--replay-only", action="store_true")
    args = ap.parse_args(argv)
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown targets {sorted(unknown)}; have {list(TARGETS)}")

    t0 = time.monotonic()
    work = args.work.resolve()
    binaries, cov = build(work)
    sys.path.insert(0, str(HERE))
    import corpus  # noqa: E402  (needs h5py; the build above does not)
    seeds = work / "seeds"
    shutil.rmtree(seeds, ignore_errors=True)
    counts = corpus.build(seeds, args.realdata)
    print(f"fuzz: built in {time.monotonic() - t0:.0f} s; seeds per target: "
          + ", ".join(f"{t} {counts.get(t, 0)}" for t in TARGETS), flush=True)

    env = dict(os.environ, **SAN_ENV)
    failures = []
    regress = HERE / "regressions"
    for t in args.targets:  # regressions first: a fixed bug must stay fixed
        r = replay(binaries / f"fuzz-{t}", inputs(regress / t, seeds / t), env)
        if r is not None:
            failures.append(f"{t}: a regression or seed input fails:\n{r.stderr[-3000:]}")

    results = {}
    if not args.replay_only:
        def fuzz_one(t):
            corpus_dir = work / "corpus" / t
            corpus_dir.mkdir(parents=True, exist_ok=True)
            crashes = work / "crashes" / t
            crashes.mkdir(parents=True, exist_ok=True)
            cmd = [str(binaries / f"fuzz-{t}"), f"-max_total_time={args.budget}",
                   f"-seed={args.seed}", "-timeout=10", f"-artifact_prefix={crashes}/",
                   str(corpus_dir), str(seeds / t), str(regress / t)]
            return t, subprocess.run(cmd, env=env, capture_output=True, text=True)
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            for t, r in ex.map(fuzz_one, args.targets):
                m = re.search(r"FUZZ-STATS (.*)", r.stdout)
                stats = dict(kv.split("=") for kv in m.group(1).split()) if m else {}
                results[t] = stats
                if r.returncode != 0 or not m:
                    failures.append(f"{t}: fuzzing stopped (exit {r.returncode}); inputs in "
                                    f"{work / 'crashes' / t}:\n{r.stderr[-4000:]}")

    print(f"\n{'target':<12}{'execs':>11}{'exec/s':>9}{'edges':>7}{'blocks':>8}{'corpus':>8}"
          f"   line coverage of its C files (gcov, seeds + corpus replayed)")
    for t in args.targets:
        files = inputs(seeds / t, regress / t, work / "corpus" / t)
        for g in (cov[t]).glob("*.gcda"):
            g.unlink()
        replay(cov[t] / f"fuzz-{t}", files, os.environ)
        c, n = gcov_lines(cov[t], TARGETS[t])
        s = results.get(t, {})
        print(f"{t:<12}{s.get('execs', '-'):>11}{s.get('execs_per_s', '-'):>9}{s.get('edges', '-'):>7}"
              f"{s.get('blocks', '-'):>8}{s.get('corpus', len(files)):>8}   "
              f"{100.0 * c / max(n, 1):5.1f}% of {n} lines ({', '.join(TARGETS[t])})")
    print(f"fuzz: {len(args.targets)} targets, {time.monotonic() - t0:.0f} s in all")
    for f in failures:
        print(f"\nFAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
