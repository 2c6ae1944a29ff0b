"""Exception classes, and the table from native status codes to them."""


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


class FileClosedError(FastchunkError, ValueError):
    """The file was closed before or during the read (ValueError, as h5py raises for a closed file)."""


class NativeError(FastchunkError, RuntimeError):
    """The native layer refused a read plan or ran out of resources (a fastchunk bug or OOM)."""


# FC_E_* codes from csrc/fastchunk.h -> (exception class, short name)
CODES = {
    -1: (MemoryError, "out of memory"),
    -2: (ChunkReadError, "read failed"),
    -3: (ChunkReadError, "file ends before the chunk does"),
    -4: (ChunkDecodeError, "corrupt chunk"),
    -5: (UnsupportedFilterError, "filter not supported natively"),
    -6: (NativeError, "invalid read plan"),
    -7: (KeyboardInterrupt, "cancelled"),
    -8: (NativeError, "cannot start a thread"),
    -9: (ChunkDecodeError, "checksum mismatch"),
}


def error_from_status(code, what, context=""):
    """Build the exception for a native status code; context names file, dataset, chunk, offset."""
    cls, name = CODES.get(code, (NativeError, f"native error {code}"))
    detail = f"{name}: {what}" if what and what != name else name
    return cls(f"{detail}{'; ' + context if context else ''}")
