"""What groups and datasets share with h5py's objects: name, file, parent, attrs, id, equality,
truth, and pickling as (file, path, options) so a copy reopens read-only in any process."""
import posixpath

from .attrs import Attributes
from .errors import FileClosedError
from .libhdf5 import H5_LOCK


class Node:
    """Base of Group and Dataset. `path` is where the object was reached from the file's root;
    it differs from `name` (HDF5's name, in the file that holds the object) behind an
    external link, and is what a pickled copy reopens."""

    def __init__(self, h5obj, file, path=None, name=None):
        self._h5obj = h5obj
        self.file = file
        if name is None:
            name = h5obj.name if h5obj is not None else path
        self.name = name
        self.path = path or self.name

    @property
    def _h5(self):
        """The h5py object (a subclass may build it on first use)."""
        return self._h5obj

    @property
    def h5(self):
        """The underlying h5py object."""
        return self._h5

    @property
    def id(self):
        """h5py's low-level identifier of the object."""
        return self._h5.id if self._h5 is not None else None

    @property
    def attrs(self):
        """The object's attributes, read-only, values exactly as h5py returns them."""
        self.file.check_open()
        return Attributes(self._h5)

    @property
    def parent(self):
        """The group this object was reached from."""
        return self.file[posixpath.dirname(self.path.rstrip("/")) or "/"]

    def __bool__(self):
        if self.file.closed or self.id is None:
            return not self.file.closed
        with H5_LOCK:
            return bool(self.id)

    def __eq__(self, other):
        if self.id is None or not isinstance(getattr(other, "id", None), type(self.id)):
            return self is other
        with H5_LOCK:
            return self.id == other.id

    def __hash__(self):
        if self.id is None:
            return id(self)
        with H5_LOCK:
            return hash(self.id)

    def __reduce__(self):
        file = self.file
        if file.closed:
            raise FileClosedError(f"{file.filename}: cannot pickle an object of a closed file")
        return type(file).open_object, (file.filename, file.options, self.path)
