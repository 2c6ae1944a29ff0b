"""Deterministic writers of realistic chunked HDF5 test and demo files (synthetic Eiger 4M data).

One job per module; each uses only the ones above it in this list:

- :mod:`.detector`: the Eiger-like frame model (:func:`eiger_frames`, :data:`DEMO_SHAPE`,
  :data:`FORMAT_VERSION`).
- :mod:`.writers`: HDF5 file writers (:func:`write_dataset`, :func:`write_eiger_file`) and the
  compression names they take.
- :mod:`.masters`: DECTRIS and Diamond master files with their data files.
- :mod:`.demo`: the cached demo file behind ``fastchunk bench`` (:func:`ensure_demo_file`).
- :mod:`.progress`: a one-line text progress bar (:func:`text_progress`), standalone.

Everything listed in ``__all__`` is importable from here: ``from fastchunk.testing import X``.
"""

from .demo import demo_path, ensure_demo_file
from .detector import DEMO_SHAPE, FORMAT_VERSION, eiger_frames
from .masters import write_dectris_master, write_diamond_master
from .progress import text_progress
from .writers import DEFLATE_LEVEL, DEMO_DATASET, DEMO_FRAMES, write_dataset, write_eiger_file

__all__ = [
    "DEMO_SHAPE",
    "DEMO_FRAMES",
    "DEMO_DATASET",
    "DEFLATE_LEVEL",
    "FORMAT_VERSION",
    "eiger_frames",
    "write_eiger_file",
    "write_dataset",
    "demo_path",
    "ensure_demo_file",
    "text_progress",
    "write_dectris_master",
    "write_diamond_master",
]
