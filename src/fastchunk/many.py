"""Group.read_many: many datasets in one call.

Metadata-sized objects are many and small, and one round trip each is what makes them slow
(seed 000's lesson). Here every dataset is opened under one lock, scalars and datasets the
engine does not read go to h5py, and the chunks of every native one-dimensional dataset of one
element size go into a single native read: one plan, one I/O thread, one pool wake-up for
all of them. Others (frame stacks, images) are read one by one, natively.
"""
import numpy as np

from . import engine
from .errors import chunk_context
from .libhdf5 import H5_LOCK
from .plan import parse_selection
from .plan.rows import merge_plans


def read_many(group, names):
    """dict name -> exactly what group[name][()] gives, for every name."""
    out, batch = {}, {}
    for name in names:
        with H5_LOCK:
            ds = group[name]  # KeyError naming it when missing
        if not hasattr(ds, "read"):
            raise TypeError(f"{group.file.filename}: {name!r} is a group, not a dataset")
        if _batchable(ds):
            batch.setdefault(ds.dtype.itemsize, []).append((name, ds))
        else:
            # Read now and let go: hundreds of datasets held open at once make HDF5's
            # metadata cache, and every later open, slower than reading them one by one.
            out[name] = ds[()]
    for itemsize, members in batch.items():
        out.update(_read_together(group.file, itemsize, members))
    return {name: out[name] for name in names}  # in the order asked


def _batchable(ds):
    """1-D chunked datasets read natively; not tiny ones, which HDF5's read call takes for
    less than their share of a plan (Dataset.tiny)."""
    return (ds.reads_rows and ds.chunks is not None and len(ds.shape or ()) == 1
            and ds.shape[0] > 0 and not ds.tiny and ds.native)


def _read_together(file, itemsize, members):
    """One native read of every chunk of 1-D datasets of one element size, each into its own
    stretch of one buffer."""
    total = sum(ds.shape[0] for _, ds in members)
    arena = np.empty(total, dtype=np.dtype(f"V{itemsize}"))
    merged, layouts, fds, owners, results = [], [], [], [], {}
    base = 0
    with file.reading() as closing:
        for name, ds in members:
            n = ds.shape[0]
            results[name] = arena[base:base + n].view(ds.dtype)
            plan = ds.plan(parse_selection((), ds.shape))
            if plan.missing:
                results[name][...] = ds.fillvalue
            if len(plan.rows):
                fd = file.fd_for(ds.data_file)
                if fd not in fds:
                    fds.append(fd)
                merged.append((plan, len(layouts), fds.index(fd), base))
                owners.append((ds, plan))
                layouts.extend(ds.native_layouts())
            base += n
        if merged:
            rows, regions, locate = merge_plans(merged)

            def describe(row, at, code):
                part, k = locate(row)
                ds, plan = owners[part]
                where = f"file {ds.data_file!r}, dataset {ds.name!r}, codec {ds.pipeline.codec}"
                return chunk_context(where, plan, k, ds.chunks, at, code)

            engine.run(file, "read_many", rows, regions, np.ones(1, np.int64), (total,), arena,
                       fds, layouts, None, describe, closing)
    return results
