"""`fastchunk bench`: time fastchunk against h5py on the same file in the same run."""
import os
import time
import warnings
from dataclasses import dataclass, field

import h5py
import hdf5plugin  # noqa: F401  (registers the filters h5py needs)
import numpy as np

from ..file import File
from ..nxmx import DATA_LINK, open_nxmx
from .interrupt import checkpoint
from .progress import Bar
from .targets import TargetError, frame_stack

H5PY = "h5py ds[i] loop"
BUSY = 0.05  # other processes' share of the CPUs above which a timing is flagged


@dataclass
class Timing:
    name: str
    seconds: list
    threads: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def median(self):
        return float(np.median(self.seconds))

    @property
    def min(self):
        return float(min(self.seconds))

    @property
    def max(self):
        return float(max(self.seconds))


def find_detector_dataset(h5file):
    """The obvious detector dataset: /entry/data/data if present, None for a DECTRIS master
    (data_NNNNNN links: all frames through open_nxmx), else the biggest >= 2-D one."""
    if isinstance(h5file.get("/entry/data/data"), h5py.Dataset):
        return "/entry/data/data"
    group = h5file.get("/entry/data")
    if isinstance(group, h5py.Group) and any(DATA_LINK.match(k) for k in group):
        return None
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.shape is not None and obj.ndim >= 2 and obj.size:
            found.append((obj.ndim >= 3, obj.size, "/" + name))
    h5file.visititems(visit)
    if not found:
        raise TargetError(f"{h5file.filename}: no 2-D or 3-D dataset to benchmark; name one "
                          "(fastchunk info FILE lists them)")
    return max(found)[2]


def cpu_clock():
    """(wall seconds, CPU seconds of every process, CPU seconds of this one), None off Linux."""
    try:
        with open("/proc/stat") as fh:  # first line: jiffies of all CPUs together
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fh.readline().split()[1:9])
    except (OSError, ValueError):
        return None
    own = os.times()
    return (time.perf_counter(), (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK"),
            own.user + own.system)


def others_share(before, after):
    """Share of all CPUs that other processes used between two cpu_clock() readings; None
    when less than 0.2 s passed (the kernel counts CPU time in 10 ms ticks)."""
    if before is None or after is None or after[0] - before[0] < 0.2:
        return None
    others = (after[1] - before[1]) - (after[2] - before[2])
    return min(1.0, max(0.0, others / ((after[0] - before[0]) * (os.cpu_count() or 1))))


def time_calls(fn, repeat, bar=None, busy=None):
    """Seconds each of `repeat` calls of fn() took; busy (a list), if given, gets the share of
    the CPUs other processes used meanwhile."""
    out = []
    before = cpu_clock()
    for _ in range(repeat):
        checkpoint()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        if bar is not None:
            bar.update()
    if busy is not None:
        busy.append(others_share(before, cpu_clock()))
    return out


def thread_steps(n):
    """1, 2, 4, ... below n, then n: the thread counts of a scaling run."""
    steps, t = [], 1
    while t < n:
        steps.append(t)
        t *= 2
    return steps + [n]


def run_bench(path, dataset=None, threads=None, repeat=5, frames=None, scaling=False):
    """Measure h5py's frame loop and fastchunk on one dataset; verify they agree bit for bit.

    scaling: also time fastchunk at 1, 2, 4, ... up to `threads` threads (for --plot).
    Returns a dict with the dataset facts, the timings and whether the results matched.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    if frames is not None and frames < 1:
        raise ValueError(f"frames must be at least 1, not {frames}")
    f = File(path, num_threads=threads)
    try:
        name = dataset or find_detector_dataset(f.h5)
        if name is None:  # DECTRIS master: every data file's frames, in image number order
            f.close()
            stack = open_nxmx(path, num_threads=threads)
            f, ds, name = stack.file, stack.dataset, "/entry/data/data_* (open_nxmx)"
        else:
            ds = frame_stack(f, name)
    except BaseException:
        f.close()
        raise
    with f:
        n = ds.shape[0] if frames is None else min(frames, ds.shape[0])
        sel = np.s_[:n]
        ref = np.empty((n,) + ds.shape[1:], dtype=ds.dtype)
        frame_sources = _h5py_frames(ds)

        def h5py_loop():  # what a user does with h5py: one frame at a time
            for i in range(n):
                h5, k = frame_sources[i]
                ref[i] = h5[k]

        out = np.empty_like(ref)
        reuse = lambda: ds.read(sel, out=out)  # noqa: E731
        fresh = lambda: ds.read(sel)  # noqa: E731
        reuse()  # warm the page cache, the chunk index and the pool
        h5py_loop()
        identical = bool(np.array_equal(ref.view(np.uint8), out.view(np.uint8)))
        steps = thread_steps(f.num_threads) if scaling else []
        busy = []
        with Bar((3 + len(steps)) * repeat, "timing", unit="call") as bar:
            timings = [Timing(H5PY, time_calls(h5py_loop, repeat, bar, busy)),
                       Timing("fastchunk, reused out", time_calls(reuse, repeat, bar, busy), f.num_threads),
                       Timing("fastchunk, fresh array", time_calls(fresh, repeat, bar, busy), f.num_threads)]
            for t in steps:
                timings.append(Timing(f"fastchunk, {t} thread{'s' if t > 1 else ''}", time_calls(
                    lambda t=t: ds.read(sel, out=out, num_threads=t), repeat, bar, busy), t, {"scaling": True}))
        for t, share in zip(timings, busy):
            t.extra["others_cpu"] = share
        return {"file": str(path), "dataset": name, "shape": ds.shape, "dtype": str(ds.dtype),
                "chunks": ds.chunks, "codec": _codec(ds), "native": ds.native,
                "reason": ds.reason, "frames": n, "bytes": ref.nbytes, "threads": f.num_threads,
                "repeat": repeat, "identical": identical, "timings": timings}


def _h5py_frames(ds):
    """Per frame of ds, the h5py dataset and index a user would read it from with h5py."""
    if ds.h5 is not None:
        return [(ds.h5, i) for i in range(ds.shape[0])]
    frames = [None] * ds.shape[0]
    for m in ds.mappings:  # a stack of DECTRIS data files
        for v, q in zip(m.P[0], m.Q[0]):
            frames[v] = (m.source.h5, int(q))
    if None in frames:
        raise ValueError("the data files leave frames out: no h5py frame loop to compare with")
    return frames


def _codec(ds):
    """The codec name; a virtual dataset's is its first source's."""
    if hasattr(ds, "pipeline"):
        return ds.pipeline.codec
    sources = [m.source for m in ds.mappings if m.source is not None]
    return f"virtual over {sources[0].pipeline.codec}" if sources else "virtual, no sources"


def _spread(values):
    return {"min": min(values), "median": float(np.median(values)), "max": max(values)}


def report_json(r, machine=None):
    """bench's result as one JSON-ready document: every timing with min / median / max of its
    seconds, GB/s and frames/s, its ratio to h5py's loop (of medians), and the machine."""
    if machine is None:
        from ..config import machine as get_machine
        machine = get_machine()
    base = r["timings"][0].median
    doc = {k: (list(v) if isinstance(v, tuple) else v) for k, v in r.items() if k != "timings"}
    doc["machine"] = machine
    doc["page_cache"] = "warm (one untimed read of each reader first)"
    doc["timings"] = []
    for t in r["timings"]:
        doc["timings"].append({
            "reader": t.name, "threads": t.threads, "scaling": bool(t.extra.get("scaling")),
            "seconds": _spread(t.seconds), "all_seconds": list(t.seconds),
            "gb_per_s": _spread([r["bytes"] / s / 1e9 for s in t.seconds]),
            "frames_per_s": _spread([r["frames"] / s for s in t.seconds]),
            "vs_h5py": base / t.median, "others_cpu": t.extra.get("others_cpu"),
            "cpu_busy": None if t.extra.get("others_cpu") is None else t.extra["others_cpu"] > BUSY})
    return doc


def format_report(r, machine=None):
    """The human-readable table `fastchunk bench` prints."""
    if machine is None:
        from ..config import machine as get_machine
        machine = get_machine()
    n = len(r["timings"][0].seconds)
    lines = [f"machine   {machine['cpu']}, {machine['usable_cores']} cores usable, SIMD kernel "
             f"{machine['simd_kernel']}; HDF5 {machine['hdf5']}, h5py {machine['h5py']}",
             f"file      {r['file']}",
             f"dataset   {r['dataset']}  shape {r['shape']} {r['dtype']} chunks {r['chunks']}",
             f"codec     {r['codec']}  ({'native' if r['native'] else 'h5py fallback: ' + r['reason']})",
             f"read      {r['frames']} frames, {r['bytes'] / 1e6:.1f} MB decoded, "
             f"{r['threads']} threads, warm page cache, {n} timed call{'s' if n > 1 else ''} each "
             "(median; min-max GB/s)",
             "",
             f"{'reader':<26}{'median s':>10}{'frames/s':>11}{'GB/s':>8}{'min-max GB/s':>15}{'vs h5py':>9}"
             f"{'CPU busy':>10}"]
    base = r["timings"][0].median
    for t in r["timings"]:
        lo, hi = r["bytes"] / t.max / 1e9, r["bytes"] / t.min / 1e9
        lines.append(f"{t.name:<26}{t.median:>10.4f}{r['frames'] / t.median:>11.0f}"
                     f"{r['bytes'] / t.median / 1e9:>8.2f}{f'{lo:.2f}-{hi:.2f}':>15}{base / t.median:>8.2f}x"
                     f"{_busy(t.extra.get('others_cpu')):>10}")
    shares = [t.extra.get("others_cpu") for t in r["timings"] if t.extra.get("others_cpu") is not None]
    lines.append("")
    if shares and max(shares) > BUSY:
        lines.append(f"CPU busy: other processes took up to {max(shares):.0%} of the CPUs while timing "
                     "(figures below what this machine gives idle)")
    lines.append("bit-identical to h5py: " + ("yes" if r["identical"] else "NO"))
    return "\n".join(lines)


def _busy(share):
    return "?" if share is None else f"yes {share:.0%}" if share > BUSY else "no"


def need_matplotlib():
    """matplotlib.pyplot with a file-only backend; ImportError with the command to install it."""
    try:
        with warnings.catch_warnings():  # an older matplotlib warns about a newer pyparsing
            warnings.simplefilter("ignore", DeprecationWarning)
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
    except ImportError as e:
        if isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] == "matplotlib":
            raise ImportError("--plot needs matplotlib, an optional extra: pip install 'fastchunk[plot]' "
                              "(or pip install matplotlib)") from e
        raise ImportError(f"--plot needs matplotlib, which is installed but cannot be imported: {e}") from e
    return plt


def plot(r, path, machine=None):
    """Throughput of fastchunk at 1, 2, ... N threads and of h5py's loop (same data, same run),
    as a PNG (or any format matplotlib writes, by path's suffix)."""
    plt = need_matplotlib()
    if machine is None:
        from ..config import machine as get_machine
        machine = get_machine()
    gb = lambda s: r["bytes"] / s / 1e9  # noqa: E731
    scaling = [t for t in r["timings"] if t.extra.get("scaling")]
    h5 = r["timings"][0]
    shares = [t.extra["others_cpu"] for t in r["timings"] if t.extra.get("others_cpu") is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    x = [t.threads for t in scaling]
    med = [gb(t.median) for t in scaling]
    ax.errorbar(x, med, yerr=[[m - gb(t.max) for m, t in zip(med, scaling)],
                              [gb(t.min) - m for m, t in zip(med, scaling)]],
                marker="o", capsize=4, label="fastchunk ds.read(...)")
    ax.axhline(gb(h5.median), color="tab:red", linestyle="--", label=f"h5py ds[i] loop ({gb(h5.median):.2f} GB/s)")
    for xi, m in zip(x, med):
        ax.annotate(f"{m:.2f} GB/s\n{m / gb(h5.median):.1f}x h5py", (xi, m), textcoords="offset points",
                    xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xticks(x)
    ax.margins(x=0.15)
    ax.set_xlabel("decoder threads")
    ax.set_ylabel("GB/s decoded (median; bars: min-max)")
    ax.set_ylim(0, max(med + [gb(h5.median)]) * 1.3)
    ax.set_title(f"{r['frames']} frames of {r['dataset']} ({r['codec']}, {r['dtype']})\n"
                 f"{machine['cpu']}, {machine['usable_cores']} cores, SIMD {machine['simd_kernel']}"
                 + (f"; CPU busy: others used up to {max(shares):.0%}" if shares and max(shares) > BUSY else ""),
                 fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
