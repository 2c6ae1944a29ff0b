"""Why a path h5py refused is not a readable HDF5 file: a directory, an empty file, no HDF5
signature, or a file shorter than its superblock announces.

Pure Python (no h5py, no extension): it reads the superblock itself. The format (HDF5 File
Format Specification, section II.A): the 8-byte signature \\x89HDF\\r\\n\\x1a\\n sits at byte 0,
512, 1024, 2048, ... (a user block comes first); then the superblock version, and for
  version 0 and 1: free-space, root-group and shared-message versions, a reserved byte, the
    size of offsets, the size of lengths, a reserved byte, two 2-byte K values, 4 bytes of
    flags (version 1: 2 more bytes of K and 2 reserved), then base address, free-space info
    address, end-of-file address, ... each `size of offsets` bytes;
  version 2 and 3: size of offsets, size of lengths, one byte of flags, then base address,
    superblock extension address, end-of-file address, ... each `size of offsets` bytes.
All integers are little-endian; the end-of-file address is relative to the base address.
"""
import os

SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _mb(n):
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def find_superblock(fh, size):
    """Byte offset of the HDF5 signature (0, 512, 1024, ... below size), or None."""
    at = 0
    while at + len(SIGNATURE) <= size:
        fh.seek(at)
        if fh.read(len(SIGNATURE)) == SIGNATURE:
            return at
        at = 512 if at == 0 else at * 2
    return None


def announced_size(fh, at):
    """Bytes the superblock at `at` says the file holds (base address + end-of-file address),
    or None when the superblock is of an unknown version or itself cut short."""
    fh.seek(at + len(SIGNATURE))
    head = fh.read(16)
    if not head:
        return None
    version = head[0]
    if version in (0, 1):
        if len(head) < 6:
            return None
        offsets = head[5]
        fields = at + 24 + (4 if version == 1 else 0)
    elif version in (2, 3):
        if len(head) < 2:
            return None
        offsets = head[1]
        fields = at + 12
    else:
        return None
    if offsets not in (2, 4, 8, 16):
        return None
    fh.seek(fields)
    raw = fh.read(3 * offsets)
    if len(raw) < 3 * offsets:
        return None
    base = int.from_bytes(raw[:offsets], "little")
    eof = int.from_bytes(raw[2 * offsets:], "little")
    if eof == (1 << (8 * offsets)) - 1:  # the undefined address
        return None
    return base + eof


def diagnose(path):
    """A few words on why `path` is not a readable HDF5 file ("is a directory", "empty file:
    not an HDF5 file", "not an HDF5 file: ...", "truncated: ..."), or None when none of these
    applies (a missing file, no permission, or damage further in: the caller's error stands)."""
    if os.path.isdir(path):
        return "is a directory"
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty file (0 bytes): not an HDF5 file"
        with open(path, "rb") as fh:
            at = find_superblock(fh, size)
            if at is None:
                fh.seek(0)
                start = fh.read(64)
                kind = "text" if start and all(32 <= b < 127 or b in b"\t\r\n" for b in start) else "data"
                return (f"not an HDF5 file: no HDF5 signature at byte 0, 512, 1024, ... "
                        f"({_mb(size)} of {kind})")
            want = announced_size(fh, at)
    except OSError:
        return None
    if want is not None and size < want:
        return f"truncated: {_mb(size)} of the {_mb(want)} the superblock announces"
    return None
