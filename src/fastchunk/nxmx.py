"""open_nxmx: all frames of a detector master file as one dataset.

A Diamond master already has one VDS at /entry/data/data. A DECTRIS master has one external
link per data file (/entry/data/data_000001, ...); their frames are stacked along axis 0 in
the order of the data files' image_nr_low/image_nr_high (1-based, inclusive), with frame
numbers nobody wrote reading as the fill value.
"""
import re

import numpy as np

from .file import File
from .libhdf5 import H5_LOCK
from .plan.vds import Mapping
from .virtual import VirtualDataset

DATA_LINK = re.compile(r"^data_\d{6}$")


class Frames:
    """The frames of a master file; a dataset (shape, dtype, [sel], read, iter_frames...) that
    owns its File: use it as a context manager or call close()."""

    def __init__(self, file, dataset, group="/entry/data"):
        self.file = file
        self.dataset = dataset
        self.group = group

    def __getattr__(self, name):
        return getattr(self.dataset, name)

    def __getitem__(self, sel):
        return self.dataset[sel]

    def __len__(self):
        return len(self.dataset)

    def __array__(self, dtype=None, copy=None):
        return self.dataset.__array__(dtype)

    def close(self):
        self.file.close()

    def __reduce__(self):
        if self.file.closed:
            return self.dataset.__reduce__()  # raises FileClosedError
        return _reopen_frames, (self.file.filename, self.file.options, self.group)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<fastchunk.Frames of {self.file.filename!r}: {self.dataset!r}>"


def open_nxmx(path, group="/entry/data", **file_kwargs):
    """Open a DECTRIS or Diamond master file; returns Frames over every frame.

    file_kwargs go to fastchunk.File (num_threads, strict, io_inflight_bytes). A dangling
    data-file link raises ExternalLinkError (HDF5 cannot open it either).
    """
    f = File(path, **file_kwargs)
    try:
        return Frames(f, frames_dataset(f, group), group)
    except BaseException:
        f.close()
        raise


def frames_dataset(f, group):
    """The frames below `group` of an open File: its data dataset, or the data_NNNNNN links
    of a DECTRIS master stacked in image-number order."""
    looked = (f"looked for {group}/data (a Diamond or NXmx dataset or VDS) and {group}/data_000001, "
              f"data_000002, ... (links to DECTRIS data files)")
    g = f.get(group)
    if g is None or not hasattr(g, "keys"):
        what = "there is no " + group if g is None else f"{group} is a dataset, not a group"
        raise KeyError(f"{f.filename} is not a DECTRIS or NXmx master file: {what}; {looked}")
    if "data" in g:
        return g["data"]
    names = sorted(k for k in g.keys() if DATA_LINK.match(k))
    if not names:
        raise KeyError(f"{f.filename} is not a DECTRIS or NXmx master file: {looked}, and found "
                       f"neither")
    parts = [g[name] for name in names]  # ExternalLinkError for a dangling link
    first = parts[0]
    for p in parts[1:]:
        if p.shape[1:] != first.shape[1:] or p.dtype != first.dtype:
            raise ValueError(f"{f.filename}: {p.name} has frames {p.shape[1:]} {p.dtype}, "
                             f"{first.name} {first.shape[1:]} {first.dtype}")
    mappings, end = [], 0
    with H5_LOCK:
        for p in parts:
            low = int(p.h5.attrs.get("image_nr_low", end + 1)) - 1
            n = p.shape[0]
            frames = np.arange(low, low + n, dtype=np.int64)
            P = [frames] + [np.arange(k, dtype=np.int64) for k in p.shape[1:]]
            Q = [np.arange(n, dtype=np.int64)] + P[1:]
            mappings.append(Mapping(P, Q, p))
            end = max(end, low + n)
        fill = first.fillvalue
    spans = sorted((int(m.P[0][0]), len(m.P[0])) for m in mappings if len(m.P[0]))
    for (a, n), (b, _) in zip(spans, spans[1:]):
        if a + n > b:
            raise ValueError(f"{f.filename}: data files claim overlapping image numbers")
    return VirtualDataset.stacked(f, group, (end,) + first.shape[1:], first.dtype, mappings, fill,
                                  _reopen_stack)


def _reopen_stack(filename, options, group):
    """A pickled stack, unpickled: open the master again and stack its data files."""
    return frames_dataset(File(filename, **options), group)


def _reopen_frames(filename, options, group):
    """Pickled Frames, unpickled: the master opened again with the same options."""
    return open_nxmx(filename, group, **options)
