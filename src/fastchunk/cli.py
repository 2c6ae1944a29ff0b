"""The `fastchunk` command: bench and info."""
import argparse
import json
import sys


def _bench(args):
    from . import testing
    from .bench import format_report, run_bench
    path = args.file
    if path is None:
        path = testing.ensure_demo_file(progress=testing.text_progress())
        print(f"demo file: {path}", file=sys.stderr)
    report = run_bench(path, args.dataset, threads=args.threads, repeat=args.repeat, frames=args.frames)
    print(format_report(report))
    return 0 if report["identical"] else 1


def _info(args):
    from .info import file_info, format_info
    doc = file_info(args.file, args.dataset)
    print(json.dumps(doc, indent=2) if args.json else format_info(doc))
    return 0


def main(argv=None):
    """Entry point of the `fastchunk` command; returns the exit status."""
    p = argparse.ArgumentParser(prog="fastchunk", description="Fast chunked HDF5 reads.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time fastchunk against h5py (no FILE: an Eiger-style demo)")
    b.add_argument("file", nargs="?", help="HDF5 file (default: write and use the demo file)")
    b.add_argument("dataset", nargs="?", help="dataset (default: the obvious detector dataset)")
    b.add_argument("--threads", type=int, default=None, help="decoder threads (FASTCHUNK_NUM_THREADS)")
    b.add_argument("--repeat", type=int, default=5, help="timed repetitions (median reported)")
    b.add_argument("--frames", type=int, default=None, help="read only the first N frames")
    b.set_defaults(run=_bench)
    i = sub.add_parser("info", help="layout, chunk index, filters, whether fastchunk reads it natively, and advice")
    i.add_argument("file")
    i.add_argument("dataset", nargs="?", help="one dataset (default: every dataset in the file)")
    i.add_argument("--json", action="store_true", help="one machine-readable JSON document")
    i.set_defaults(run=_info)
    args = p.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError, KeyError) as e:
        print(f"fastchunk: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
