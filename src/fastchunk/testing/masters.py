"""Writers of detector *master* files with their data files, as beamlines lay them out.

- DECTRIS: ``<prefix>_master.h5`` whose ``/entry/data/data_00000N`` are external links to
  ``<prefix>_data_00000N.h5:/entry/data/data`` (attributes image_nr_low/high, 1-based).
- Diamond: ``<prefix>.nxs`` whose ``/entry/data/data`` is a VDS over ``"."`` +
  ``/entry/data/data_00000N``, each an external link to ``<prefix>_00000N.h5:/data``; the VDS
  type (int32 by default) differs from the data (uint32), so module gaps at the uint32 maximum
  read as INT32_MAX.
"""
from __future__ import annotations

import pathlib

import h5py
import numpy as np

from .detector import eiger_frames
from .writers import filter_kwargs, nexus_attrs

__all__ = ["SMALL_FRAME", "write_dectris_master", "write_diamond_master"]

SMALL_FRAME = (96, 80)  # fast to write; still several bitshuffle blocks per frame


def _write_frames(path, name, first, n, shape, dtype, compression, seed):
    """A data file holding frames first..first+n-1 of the deterministic series, one chunk each."""
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(name, shape=(n, *shape), dtype=dtype, chunks=(1, *shape),
                              **filter_kwargs(compression))
        if n:
            ds[...] = eiger_frames(n, shape, dtype, seed=seed, start=first)
    return path


def _split(n_frames, frames_per_file):
    return [(a, min(frames_per_file, n_frames - a)) for a in range(0, n_frames, frames_per_file)]


def write_dectris_master(directory, prefix="series", n_frames=10, frames_per_file=4,
                         shape=SMALL_FRAME, dtype=np.uint32, *, compression="bslz4", seed=0,
                         missing=()) -> pathlib.Path:
    """DECTRIS layout; data files whose 1-based number is in `missing` are not written."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    master = directory / f"{prefix}_master.h5"
    with h5py.File(master, "w") as m:
        group = m.require_group("/entry/data")
        for number, (first, n) in enumerate(_split(n_frames, frames_per_file), start=1):
            data_name = f"{prefix}_data_{number:06d}.h5"
            if number not in missing:
                _write_frames(directory / data_name, "/entry/data/data", first, n, shape, dtype,
                              compression, seed)
                with h5py.File(directory / data_name, "a") as f:
                    f["/entry/data/data"].attrs["image_nr_low"] = np.int32(first + 1)
                    f["/entry/data/data"].attrs["image_nr_high"] = np.int32(first + n)
            group[f"data_{number:06d}"] = h5py.ExternalLink(data_name, "/entry/data/data")
        nexus_attrs(m, "/entry/data/data_000001")
    return master


def write_diamond_master(directory, prefix="scan", n_frames=10, frames_per_file=4,
                         shape=SMALL_FRAME, dtype=np.uint32, vds_dtype=np.int32, *,
                         compression="bslz4", seed=0, missing=(), fillvalue=0) -> pathlib.Path:
    """Diamond layout; data files whose 1-based number is in `missing` are not written."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    master = directory / f"{prefix}.nxs"
    layout = h5py.VirtualLayout(shape=(n_frames, *shape), dtype=vds_dtype)
    with h5py.File(master, "w") as m:
        for number, (first, n) in enumerate(_split(n_frames, frames_per_file), start=1):
            data_name = f"{prefix}_{number:06d}.h5"
            if number not in missing:
                _write_frames(directory / data_name, "/data", first, n, shape, dtype,
                              compression, seed)
            link = f"/entry/data/data_{number:06d}"
            m[link] = h5py.ExternalLink(data_name, "/data")
            layout[first:first + n] = h5py.VirtualSource(".", link, shape=(n, *shape), dtype=dtype)
        m.create_virtual_dataset("/entry/data/data", layout, fillvalue=fillvalue)
        nexus_attrs(m, "/entry/data/data")
    return master
