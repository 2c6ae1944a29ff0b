"""The `fastchunk` command: bench, info and verify.

Exit status: 0 done (and, for bench and verify, everything matched and read); 1 bench's result
differs from h5py or verify found damage; 2 a usage error or an input that is not what the
command needs (one line on stderr, no traceback); 130 interrupted (Ctrl-C).
"""
import argparse
import json
import os
import sys

from . import interrupt


def _count(text, what="a count"):
    """argparse type: a positive integer (1, 2, ...)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a positive integer, not {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{what} must be a positive integer (1 or more), not {text!r}")
    return n


def _threads(text):
    return _count(text, "a thread count")


def _repeat(text):
    return _count(text, "a repeat count")


def _frames(text):
    return _count(text, "a frame count")


def _bench(args):
    from .. import testing
    from ..config import machine
    from .bench import format_report, need_matplotlib, plot, report_json, run_bench
    from .progress import frames_callback
    if args.plot:
        need_matplotlib()  # before minutes of work, not after
    path = args.file
    if path is None:
        path = testing.ensure_demo_file(progress=frames_callback("writing demo file"))
        print(f"demo file: {path}", file=sys.stderr)
    report = run_bench(path, args.dataset, threads=args.threads, repeat=args.repeat,
                       frames=args.frames, scaling=bool(args.plot))
    m = machine()
    print(json.dumps(report_json(report, m), indent=2) if args.json else format_report(report, m))
    if args.plot:
        plot(report, args.plot, m)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0 if report["identical"] else 1


def _info(args):
    from .info import file_info, format_info
    doc = file_info(args.file, args.dataset)
    print(json.dumps(doc, indent=2) if args.json else format_info(doc))
    return 0


def _verify(args):
    from .verify import format_verify, verify_file
    doc = verify_file(args.file, args.dataset, against_h5py=args.h5py, num_threads=args.threads)
    print(json.dumps(doc, indent=2) if args.json else format_verify(doc))
    return 0 if doc["ok"] else 1


def _version(args):
    from .. import __version__
    if args.verbose:
        from ..config import show_config
        show_config()
    else:
        print(f"fastchunk {__version__}")
    return 0


def parser():
    p = argparse.ArgumentParser(
        prog="fastchunk", description="Read chunked HDF5 fast: time it against h5py (bench), "
        "describe a file's layout (info), decode every chunk (verify).",
        epilog="Exit status: 0 ok, 1 results differ from h5py or damage found, 2 usage or input "
        "error, 130 interrupted.")
    p.add_argument("--version", action="store_true",
                   help="print the version and exit (with --verbose: SIMD kernel, threads, HDF5, "
                   "h5py, whether deflate is native, the native codecs)")
    p.add_argument("-v", "--verbose", action="store_true", help="with --version: the whole configuration")
    sub = p.add_subparsers(dest="command", metavar="{bench,info,verify}")
    b = sub.add_parser("bench", help="time fastchunk against h5py (no FILE: an Eiger-style demo)",
                       description="Time h5py's frame-by-frame loop and fastchunk on the same frames "
                       "in the same run, after one untimed warm-up read, and check that both read "
                       "the same bytes. Without FILE, a 50-frame Eiger 4M uint32 demo file (bitshuffle+LZ4, "
                       "80 MB on disk, 0.9 GB decoded) is written once into $FASTCHUNK_CACHE, else "
                       "$XDG_CACHE_HOME/fastchunk, else ~/.cache/fastchunk.")
    b.add_argument("file", nargs="?", help="HDF5 file (default: write and use the demo file)")
    b.add_argument("dataset", nargs="?", help="dataset of frames (default: the obvious detector dataset)")
    b.add_argument("--threads", type=_threads, default=None, metavar="N",
                   help="decoder threads (default: FASTCHUNK_NUM_THREADS, else every usable core)")
    b.add_argument("--repeat", type=_repeat, default=5, metavar="N",
                   help="timed calls of each reader (median, min and max reported; default 5)")
    b.add_argument("--frames", type=_frames, default=None, metavar="N", help="read only the first N frames")
    b.add_argument("--json", action="store_true",
                   help="one JSON document: every timing (min / median / max) and the machine")
    b.add_argument("--plot", metavar="FILE.png",
                   help="also time 1, 2, 4 ... N threads and draw GB/s against h5py's (needs "
                   "matplotlib: pip install 'fastchunk[plot]')")
    b.set_defaults(run=_bench)
    i = sub.add_parser("info", help="layout, chunk index, filters, whether fastchunk reads it natively, and advice")
    i.add_argument("file")
    i.add_argument("dataset", nargs="?", help="a dataset, or a group: every dataset below it (default: the whole file)")
    i.add_argument("--json", action="store_true", help="one machine-readable JSON document")
    i.set_defaults(run=_info)
    v = sub.add_parser("verify", help="decode every chunk and list each damaged one (exit status 1 if any)")
    v.add_argument("file")
    v.add_argument("dataset", nargs="*", help="datasets, or groups: every dataset below them (default: the whole file)")
    v.add_argument("--h5py", action="store_true", help="also compare every byte with h5py's read")
    v.add_argument("--threads", type=_threads, default=None, metavar="N",
                   help="decoder threads (default: FASTCHUNK_NUM_THREADS, else every usable core)")
    v.add_argument("--json", action="store_true", help="one machine-readable JSON document")
    v.set_defaults(run=_verify)
    from .refs import add_parser as add_refs_parser  # fastchunk refs (cli/refs.py)
    add_refs_parser(sub)
    return p


def one_line(e, args=None):
    """The message for an error the command reports without a traceback."""
    from ..errors import NotHDF5Error
    path = getattr(args, "file", None)
    if isinstance(e, NotHDF5Error):
        msg = f"{e.filename}: {e.reason}"
    elif isinstance(e, FileNotFoundError) and path is not None and not os.path.exists(path):
        msg = f"{path}: no such file"
    elif isinstance(e, PermissionError) and path is not None:
        msg = f"{path}: permission denied"
    elif isinstance(e, KeyError) and e.args:
        msg = str(e.args[0])
    else:
        msg = str(e) or type(e).__name__
    return " ".join(msg.split())  # HDF5's messages can hold newlines


def main(argv=None):
    """Entry point of the `fastchunk` command; returns the exit status."""
    from ..errors import FastchunkError
    p = parser()
    args, rest = p.parse_known_args(argv)
    if rest and getattr(args, "command", None) == "verify" and not any(a.startswith("-") for a in rest):
        args.dataset += rest  # names after an option: verify FILE --h5py /grp
    elif rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.version:
        args.run = _version
    elif args.command is None:
        p.error("a command is required: bench, info or verify (fastchunk COMMAND --help)")
    with interrupt.catching() as state:
        try:
            status = args.run(args)
            interrupt.checkpoint()  # a Ctrl-C that a finalizer swallowed still counts
            return status
        except BrokenPipeError:  # fastchunk info FILE | head: the reader left, nothing to say
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
        except KeyboardInterrupt:
            sys.stdout.flush()
            print("fastchunk: interrupted", file=sys.stderr)
            return 130
        except (OSError, ValueError, KeyError, ImportError, FastchunkError) as e:
            if state.hit:
                print("fastchunk: interrupted", file=sys.stderr)
                return 130
            print(f"fastchunk: {one_line(e, args)}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
