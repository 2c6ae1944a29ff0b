"""Chunk index: offset, stored size and filter mask of every allocated chunk, from HDF5; a
contiguous dataset as an index of row slabs."""
import warnings

import h5py
import numpy as np

from .. import libhdf5

SLOW_SCAN_CHUNKS = 2000  # get_chunk_info(i) is O(n) per call: warn above this many chunks
LOOKUP_MIN_CHUNKS = 1024  # below this, scanning every row per read is as cheap as a lookup
LOOKUP_MAX_SPARSITY = 8  # no grid lookup when the grid holds 8x more chunks than are allocated
SLAB_BYTES = 4 << 20  # a contiguous dataset is read in row slabs of about this size


class ChunkIndex:
    """Allocated chunks of one dataset, sorted by file offset.

    Attributes
    ----------
    coords : (n, ndim) int64 array, chunk grid coordinates (element offset // chunk shape)
    offset, nbytes : (n,) int64 arrays, where the stored bytes are in the file
    filter_mask : (n,) uint32 array, bit i set = filter i skipped for that chunk
    """

    def __init__(self, coords, offset, nbytes, filter_mask):
        order = np.argsort(offset, kind="stable")
        self.coords = coords[order]
        self.offset = offset[order]
        self.nbytes = nbytes[order]
        self.filter_mask = filter_mask[order]

    def __len__(self):
        return len(self.offset)

    @property
    def stored_bytes(self):
        return int(self.nbytes.sum())

    def lookup_grid(self):
        """Shape of the grid lookup (through the last allocated chunk on each axis), or None
        when there is none (few rows, or a grid mostly unallocated): scan every row then."""
        if not hasattr(self, "_lookup"):
            self._lookup = None
            n = len(self)
            if n >= LOOKUP_MIN_CHUNKS:
                grid = tuple(int(g) for g in self.coords.max(axis=0) + 1)
                if np.prod(grid, dtype=np.float64) <= LOOKUP_MAX_SPARSITY * n:
                    lookup = np.full(grid, -1, dtype=np.int64)
                    lookup[tuple(self.coords.T)] = np.arange(n)
                    self._lookup = lookup
        return None if self._lookup is None else self._lookup.shape

    def rows_in_box(self, per_axis):
        """Rows (ascending) of the allocated chunks whose grid coordinates lie in the product of
        per_axis (one sorted array of coordinates below lookup_grid() per axis), without
        looking at the other rows: one frame of 100,000 is then planned as fast as one of 10."""
        lin = np.zeros(1, dtype=np.int64)
        for c, n in zip(per_axis, self._lookup.shape):
            lin = (lin[:, None] * n + np.asarray(c, dtype=np.int64)[None, :]).ravel()
        rows = self._lookup.reshape(-1)[lin]
        return np.sort(rows[rows >= 0])


def _address_shift(h5file):
    # HDF5 < 1.14.4 reports chunk addresses relative to the end of the user block.
    if h5py.version.hdf5_version_tuple < (1, 14, 4):
        return h5file.userblock_size
    return 0


def build_index(dset, scan=None):
    """Read the chunk index of an h5py chunked dataset.

    scan(dset, ndim) -> (n, ndim + 3) int64 records (element offsets, address, stored size,
    filter mask) or None: the native scanner the caller hands in (H5Dchunk_iter with a C
    visitor); without one, or when it returns None, h5py's chunk_iter, else get_chunk_info one
    chunk at a time.
    """
    chunks = np.asarray(dset.chunks, dtype=np.int64)
    ndim = len(chunks)
    rec = scan(dset, ndim) if scan is not None else None
    if rec is not None:
        return ChunkIndex(rec[:, :ndim] // chunks, rec[:, ndim] + _address_shift(dset.file),
                          rec[:, ndim + 1].copy(), rec[:, ndim + 2].astype(np.uint32))
    dsid = dset.id
    offsets, sizes, masks, coords = [], [], [], []
    if callable(getattr(dsid, "chunk_iter", None)):
        def visit(info):
            coords.append(info.chunk_offset)
            offsets.append(info.byte_offset)
            sizes.append(info.size)
            masks.append(info.filter_mask)
        dsid.chunk_iter(visit)
    else:
        n = dsid.get_num_chunks()
        if n > SLOW_SCAN_CHUNKS:
            warnings.warn(f"{dset.name}: h5py lacks chunk_iter (HDF5 < 1.12.3); indexing {n} chunks "
                          "with get_chunk_info is O(n^2) and will be slow", RuntimeWarning, stacklevel=3)
        for i in range(n):
            info = dsid.get_chunk_info(i)
            coords.append(info.chunk_offset)
            offsets.append(info.byte_offset)
            sizes.append(info.size)
            masks.append(info.filter_mask)
    coords = np.array(coords, dtype=np.int64).reshape(-1, ndim) // chunks
    offset = np.array(offsets, dtype=np.int64) + _address_shift(dset.file)
    return ChunkIndex(coords, offset, np.array(sizes, dtype=np.int64), np.array(masks, dtype=np.uint32))


def contiguous_slab(shape, itemsize):
    """Slab shape that splits a contiguous dataset along axis 0 for parallel reads."""
    if not shape or 0 in shape:
        return None
    row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    return (max(1, min(shape[0], SLAB_BYTES // max(row, 1))),) + tuple(shape[1:])


def has_duplicate_coords(index):
    """True when several chunks claim the same grid coordinates: after a SWMR refresh of a
    virtual dataset's sources, HDF5 1.14 reports every chunk at (0, ..., 0) (h5py's
    get_chunk_info too), though the addresses are right."""
    coords = index.coords
    return len(coords) > 1 and len(np.unique(coords, axis=0)) < len(coords)


def contiguous_index(dset, slab):
    """A contiguous dataset as an index of row slabs (empty when no storage is allocated)."""
    base = libhdf5.contiguous_offset(dset.id)
    n = -(-dset.shape[0] // slab[0])
    slab_bytes = int(np.prod(slab, dtype=np.int64)) * dset.dtype.itemsize
    if base is None or n == 0:
        return ChunkIndex(np.zeros((0, len(slab)), np.int64), np.zeros(0, np.int64),
                          np.zeros(0, np.int64), np.zeros(0, np.uint32))
    coords = np.zeros((n, len(slab)), dtype=np.int64)
    coords[:, 0] = np.arange(n)
    offset = base + coords[:, 0] * slab_bytes  # get_offset is already an absolute address
    nbytes = np.full(n, slab_bytes, dtype=np.int64)
    nbytes[-1] = dset.id.get_storage_size() - (n - 1) * slab_bytes
    return ChunkIndex(coords, offset, nbytes, np.zeros(n, np.uint32))
