"""Attributes of a file, group or dataset: h5py's AttributeManager, read-only.

Attributes are metadata: h5py reads them, so values are exactly what h5py returns (str,
bytes, numpy scalars and arrays, h5py.Empty). Writing is refused before HDF5 is asked.
"""
from collections.abc import Mapping

from .libhdf5 import H5_LOCK


class Attributes(Mapping):
    """Read-only view of an object's attributes (h5py's ``obj.attrs``)."""

    def __init__(self, h5obj):
        self._attrs = h5obj.attrs

    def __getitem__(self, name):
        with H5_LOCK:
            return self._attrs[name]

    def get(self, name, default=None):
        with H5_LOCK:
            return self._attrs.get(name, default)

    def get_id(self, name):
        """h5py's low-level AttrID of one attribute."""
        with H5_LOCK:
            return self._attrs.get_id(name)

    def __contains__(self, name):
        with H5_LOCK:
            return name in self._attrs

    def __iter__(self):
        with H5_LOCK:
            names = list(self._attrs)
        return iter(names)

    def __len__(self):
        with H5_LOCK:
            return len(self._attrs)

    def _refuse(self, *args, **kwargs):
        raise ValueError("fastchunk opens files read-only: attributes cannot be changed "
                         "(use h5py to write)")

    __setitem__ = __delitem__ = create = modify = _refuse

    def __repr__(self):
        return f"<fastchunk attributes of {len(self)} names>"
