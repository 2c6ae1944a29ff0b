"""Progress bars (tqdm) for the commands' long work: writing the demo file, verifying a big
file, a long benchmark. Drawn on stderr, and only when stderr is a terminal: piped or
redirected output stays clean. Each update is also a Ctrl-C checkpoint (see interrupt.py)."""
import sys

from .interrupt import checkpoint


def shown(stream=None):
    """Whether bars are drawn: stderr (or stream) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Bar:
    """A tqdm bar when shown(), else nothing drawn; update() and close() either way."""

    def __init__(self, total, desc, unit="it", unit_scale=False, stream=None):
        self._bar = None
        if shown(stream):
            try:
                from tqdm import tqdm
            except ImportError:  # a dependency, but a bar is not worth failing for
                return
            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale,
                             file=sys.stderr if stream is None else stream, leave=False,
                             dynamic_ncols=True)

    def update(self, n=1):
        checkpoint()
        if self._bar is not None:
            self._bar.update(n)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def frames_callback(desc="writing demo file"):
    """A progress(done_frames, total_frames) callback for fastchunk.testing's writers."""
    state = {"bar": None, "done": 0}

    def progress(done, total):
        if state["bar"] is None:
            state["bar"] = Bar(total, desc, unit="frame")
        state["bar"].update(done - state["done"])
        state["done"] = done
        if done >= total:
            state["bar"].close()
    return progress
