"""A one-line text progress bar for long writes (the demo file); it knows nothing of HDF5."""

from __future__ import annotations

import sys

__all__ = ["text_progress"]


def text_progress(stream=None, label="writing demo file", width=30):
    """Make a progress callback drawing a one-line text progress bar.

    Parameters
    ----------
    stream : file-like, optional
        Where to draw; None means ``sys.stderr`` at call time (so redirection
        done later, e.g. by pytest, is honoured).
    label : str, optional
        Text before the bar.
    width : int, optional
        Bar width in characters.

    Returns
    -------
    callable
        ``progress(done, total)`` drawing e.g.
        ``writing demo file [#####.....] 25/50 frames`` with a carriage
        return, and a newline once ``done >= total``.
    """

    def progress(done, total):
        out = sys.stderr if stream is None else stream
        filled = width * done // total if total > 0 else width
        filled = min(max(filled, 0), width)
        bar = "#" * filled + "." * (width - filled)
        out.write(f"\r{label} [{bar}] {done}/{total} frames")
        if done >= total:
            out.write("\n")
        out.flush()

    return progress
