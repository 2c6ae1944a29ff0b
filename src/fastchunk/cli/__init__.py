"""The `fastchunk` command: bench, info and verify (main.py parses, one module per command)."""
import os as _os
import sys as _sys


def _quiet_exit(signum, frame):
    """Ctrl-C before main() installs its own handler: nothing is open or half-written yet."""
    _os.write(2, b"fastchunk: interrupted\n")
    _os._exit(130)


def _started_as_the_command():
    """True in the `fastchunk` script and in `python -m fastchunk`, not when imported."""
    argv0 = _sys.argv[0] if _sys.argv else ""
    name = _os.path.basename(argv0)
    return name == "fastchunk" or (name == "__main__.py" and
                                   _os.path.basename(_os.path.dirname(argv0)) == "fastchunk")


if _started_as_the_command():  # covers the imports below (argparse ...) and argument parsing
    import signal as _signal
    _signal.signal(_signal.SIGINT, _quiet_exit)

from .main import main  # noqa: E402

__all__ = ["main"]
