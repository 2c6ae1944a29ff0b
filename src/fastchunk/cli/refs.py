"""`fastchunk refs FILE [DATASET ...] [-o refs.json]`: kerchunk references whose codecs are
fastchunk's (see fastchunk.refs); what is not referenced is listed on stderr with the reason."""
import json
import sys

DESCRIPTION = (
    "Write kerchunk references (format version 1, zarr v2 metadata) to the chunks of FILE: "
    "every dataset fastchunk reads natively, attributes included, behind external links too "
    "(a DECTRIS master's references point into its data files, and its frames are stacked as "
    "<group>/data); virtual datasets whose mappings line up with their sources' chunks. The "
    "chunks are not copied; zarr decodes them with the fastchunk.hdf5 numcodecs codec. Open "
    "the result with fsspec.filesystem('reference', fo='refs.json') and zarr.open_group(fs."
    "get_mapper(), mode='r', zarr_format=2). Datasets that cannot be referenced are listed on "
    "stderr, each with the reason (and in the JSON under fastchunk.skipped).")


def add_parser(sub):
    """Add the refs subcommand to the `fastchunk` subparsers."""
    r = sub.add_parser("refs", help="kerchunk/zarr references to the chunks, decoded by fastchunk's codecs",
                       description=DESCRIPTION,
                       epilog="Exit status: 0 written (some datasets may be listed as not "
                       "referenced), 2 usage or input error.")
    r.add_argument("file")
    r.add_argument("dataset", nargs="*",
                   help="datasets or groups to reference (default: the whole file)")
    r.add_argument("-o", "--output", metavar="REFS.json", help="where to write (default: stdout)")
    r.add_argument("--inline-threshold", type=int, default=500, metavar="BYTES",
                   help="inline datasets that are not read natively up to this size "
                   "(scalars, compact, strings; default 500, 0: none)")
    r.add_argument("--no-stack", action="store_true",
                   help="do not add the stacked frames of a DECTRIS master as <group>/data")
    r.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    r.set_defaults(run=run)
    if isinstance(sub.metavar, str) and sub.metavar.endswith("}") and "refs" not in sub.metavar:
        sub.metavar = sub.metavar[:-1] + ",refs}"
    return r


def summary(doc):
    """Lines about what the references hold and what they leave out."""
    refs = doc["refs"]
    arrays = sum(1 for k in refs if k.endswith("/.zarray"))
    chunks = sum(1 for k, v in refs.items() if isinstance(v, list))
    inline = sum(1 for k, v in refs.items() if isinstance(v, str) and v.startswith("base64:"))
    skipped = doc["fastchunk"]["skipped"]
    lines = [f"{arrays} arrays, {chunks} chunk references, {inline} inlined chunks; "
             f"{len(skipped)} not referenced"]
    lines += [f"  not referenced: {name}: {why}" for name, why in sorted(skipped.items())]
    return lines


def run(args):
    from ..refs import refs, write_refs
    if args.inline_threshold < 0:
        raise ValueError(f"--inline-threshold must be 0 or more, not {args.inline_threshold}")
    doc = refs(args.file, args.dataset or None, inline_threshold=args.inline_threshold,
               stack=not args.no_stack)
    if args.output:
        write_refs(doc, args.output)
    else:
        json.dump(doc, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    if not args.quiet:
        for line in summary(doc):
            print(line, file=sys.stderr)
        if args.output:
            print(f"references: {args.output}", file=sys.stderr)
    return 0
