"""The `fastchunk` command: bench, info and verify."""
import argparse
import json
import sys


def _bench(args):
    from .. import testing
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


def _verify(args):
    from .verify import format_verify, verify_file
    doc = verify_file(args.file, args.dataset, against_h5py=args.h5py, num_threads=args.threads)
    print(json.dumps(doc, indent=2) if args.json else format_verify(doc))
    return 0 if doc["ok"] else 1


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
    v = sub.add_parser("verify", help="decode every chunk and list each damaged one (exit status 1 if any)")
    v.add_argument("file")
    v.add_argument("dataset", nargs="*", help="datasets to check (default: every dataset in the file)")
    v.add_argument("--h5py", action="store_true", help="also compare every byte with h5py's read")
    v.add_argument("--threads", type=int, default=None, help="decoder threads (FASTCHUNK_NUM_THREADS)")
    v.add_argument("--json", action="store_true", help="one machine-readable JSON document")
    v.set_defaults(run=_verify)
    args = p.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError, KeyError) as e:
        print(f"fastchunk: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
