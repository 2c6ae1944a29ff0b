"""Group.read_many: many datasets in one call.

Metadata-sized objects are many and small, and one round trip each is what makes them slow
(seed 000's lesson). Here every dataset is opened under one lock, scalars and datasets the
engine does not read go to h5py, and the chunks of every native one-dimensional dataset of one
element size go into a single native read: one plan, one I/O thread, one pool wake-up for
all of them. Others (frame stacks, images) are read one by one, natively.

Before any of that, plain contiguous and compact datasets of numbers are read from their object
headers (plan/object_header.py): HDF5 is asked only where each one lives, and its own open,
which costs more than such a read, is skipped.
"""
import math
import os
import struct

import h5py
import numpy as np

from . import codecs, engine
from .errors import FastchunkError, chunk_context
from .libhdf5 import H5_LOCK
from .plan import object_header, parse_selection
from .plan.rows import merge_plans

HEAD_BYTES = 1024  # read at an object header's address at once: most dataset headers fit
# Chunked datasets read from their headers: small ones only (one thread decodes them here;
# bigger ones are worth the batched native read below).
HEADER_CHUNKS = 64
HEADER_BYTES = 256 << 10
PLAIN_BYTES = 1 << 20  # contiguous and compact: past this the open HDF5 skips is negligible


def read_many(group, names):
    """dict name -> exactly what group[name][()] gives, for every name."""
    out, batch = {}, {}
    headers = HeaderReader.for_group(group)
    for name in names:
        if headers is not None:
            value = headers.read(name)
            if value is not None:
                out[name] = value
                continue
        with H5_LOCK:
            try:
                ds = group[name]
            except KeyError as e:  # h5py names only the last missing component, or nothing
                why = e.args[0] if e.args else e
                raise KeyError(f"{group.file.filename}: no object {name!r} in {group.name!r} ({why})") from None
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


class HeaderReader:
    """Reads plain datasets of one group's file from their object headers (or says None)."""

    def __init__(self, group, fileno, base, fd):
        self.group, self.fileno, self.base, self.fd = group, fileno, base, fd
        self.loc = group.h5.id

    @classmethod
    def for_group(cls, group):
        """A reader, or None where addresses are not plain offsets into one file we can pread
        (another driver, SWMR, offsets or lengths of other than 8 bytes)."""
        file = group.file
        if file.swmr or file.driver not in ("sec2", "stdio"):
            return None
        with H5_LOCK:
            fid = file.h5.id
            fcpl = fid.get_create_plist()
            if tuple(fcpl.get_sizes()) != (8, 8):
                return None
            fileno = h5py.h5o.get_info(fid).fileno
            base = fcpl.get_userblock()
        with file.reading():
            fd = file.fd_for(file.filename)
        return cls(group, fileno, base, fd)

    def read(self, name):
        """What group[name][()] gives, or None: not found here (the caller's general path says
        why), not a plain dataset, or in another file."""
        try:
            with H5_LOCK:
                info = h5py.h5o.get_info(self.loc, name.encode("utf8"))
        except Exception:
            return None
        if info.type != h5py.h5o.TYPE_DATASET or info.fileno != self.fileno:
            return None
        with self.group.file.reading():
            head = os.pread(self.fd, HEAD_BYTES, self.base + info.addr)

            def read(addr, n):
                at = addr - info.addr
                if 0 <= at and at + n <= len(head):
                    return head[at:at + n]
                return os.pread(self.fd, n, self.base + addr)

            try:
                msgs = object_header.messages(read, info.addr)
                found = object_header.small_dataset(msgs) if msgs is not None else None
            except (struct.error, ValueError, OverflowError):  # damaged beyond what it checks
                return None
            if isinstance(found, object_header.Chunked):
                out = self._chunked(found, read)
            elif found is not None:
                out = self._plain(found)
            else:
                return None
        if out is None:
            return None
        return out[()] if out.ndim == 0 else out

    def _plain(self, plain):
        if math.prod(plain.shape) * plain.dtype.itemsize > PLAIN_BYTES:
            return None
        out = np.empty(plain.shape, plain.dtype)
        if plain.data is not None:
            out.reshape(-1).view(np.uint8)[:] = np.frombuffer(plain.data, np.uint8)
        elif out.nbytes and os.preadv(self.fd, [out], self.base + plain.address) != out.nbytes:
            return None  # a file cut short: HDF5's read reports it
        return out

    def _chunked(self, ds, read):
        """The whole dataset from its chunks, decoded here; None to leave it to the general
        path (too big, chunks missing, a filter we do not decode, a damaged chunk: that path
        names it)."""
        chunk_bytes = math.prod(ds.chunks) * ds.dtype.itemsize
        if math.prod(ds.shape) * ds.dtype.itemsize > HEADER_BYTES or chunk_bytes > HEADER_BYTES:
            return None
        records = object_header.chunk_records(read, ds, HEADER_CHUNKS)
        if records is None:
            return None
        out = np.empty(ds.shape, ds.dtype)
        for rec in records:
            if rec.nbytes > 2 * chunk_bytes + 4096:
                return None  # a size no filter makes: the general path refuses it by name
            raw = np.frombuffer(os.pread(self.fd, rec.nbytes, self.base + rec.address), np.uint8)
            if len(raw) != rec.nbytes:
                return None
            try:
                chunk = codecs.decode(raw, ds.pipeline, ds.chunks, ds.dtype, filter_mask=rec.filter_mask)
            except FastchunkError:
                return None
            where = tuple(slice(o, min(o + c, n)) for o, c, n in zip(rec.offset, ds.chunks, ds.shape))
            out[where] = chunk[tuple(slice(0, s.stop - s.start) for s in where)]
        return out
