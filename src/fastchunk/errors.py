"""Exception classes, and the table from native status codes to them."""
from . import _constants as C


class FastchunkError(Exception):
    """Base class of every error fastchunk raises on purpose."""


class ChunkReadError(FastchunkError, OSError):
    """The stored bytes of a chunk could not be read (I/O error, file cut short)."""


class ChunkDecodeError(FastchunkError, ValueError):
    """The stored bytes of a chunk are not a valid encoding of the chunk."""


class UnsupportedFilterError(FastchunkError, NotImplementedError):
    """The dataset needs a filter or conversion the native path does not do (strict=True)."""


class ExternalLinkError(FastchunkError, KeyError):
    """An external link whose target file or object cannot be opened."""

    def __str__(self):  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class NotHDF5Error(FastchunkError, OSError):
    """The path cannot be an HDF5 file: a directory, an empty file, no HDF5 signature, or a file
    shorter than its superblock says (cut short by a copy). `filename` is the path, `reason`
    says what is wrong in a few words, `h5py_message` is what h5py said when it refused it."""

    def __init__(self, filename, reason, h5py_message=""):
        h5py_message = " ".join(str(h5py_message).split())  # HDF5's can hold newlines
        super().__init__(f"{filename}: {reason}" + (f" (h5py: {h5py_message})" if h5py_message else ""))
        self.filename, self.reason, self.h5py_message = filename, reason, h5py_message

    def __str__(self):  # OSError's would print "[Errno None] None: 'path'" once filename is set
        return str(self.args[0])

    def __reduce__(self):
        return type(self), (self.filename, self.reason, self.h5py_message)


class FileClosedError(FastchunkError, ValueError):
    """The file was closed before or during the read (ValueError, as h5py raises for a closed file)."""


class NativeError(FastchunkError, RuntimeError):
    """The native layer refused a read plan or ran out of resources (a fastchunk bug or OOM)."""


# FC_E_* names of csrc/fastchunk.h (messages come from there too) -> exception class
CLASSES = {"E_NOMEM": MemoryError, "E_IO": ChunkReadError, "E_SHORT_READ": ChunkReadError,
           "E_CORRUPT": ChunkDecodeError, "E_UNSUPPORTED": UnsupportedFilterError,
           "E_INVALID": NativeError, "E_CANCELLED": KeyboardInterrupt, "E_THREAD": NativeError,
           "E_CHECKSUM": ChunkDecodeError}
CODES = {code: (CLASSES[name], message) for code, (name, message) in C.ERRORS.items()}
IO_CODES = (C.E_IO, C.E_SHORT_READ)  # their byte offset is in the file, not in the chunk


def error_from_status(code, what, context=""):
    """Build the exception for a native status code; context names file, dataset, chunk, offset."""
    cls, name = CODES.get(code, (NativeError, f"native error {code}"))
    detail = f"{name}: {what}" if what and what != name else name
    return cls(f"{detail}{'; ' + context if context else ''}")


def chunk_context(where, plan, row, grid, at, code):
    """Error context for row `row` of a plan: `where` (file, dataset, codec), then the chunk's
    position, its stored bytes and the byte offset of the problem."""
    if row < 0 or row >= len(plan.rows):
        return where
    r = plan.rows[row]
    coords = tuple(int(c) * n for c, n in zip(plan.coords[row], grid))
    pos = f"at file offset {at}" if code in IO_CODES else f"at byte {at} of the chunk"
    return (f"{where}, chunk at element {coords} (file offset {int(r['offset'])}, "
            f"{int(r['nbytes'])} stored bytes), {pos}")
