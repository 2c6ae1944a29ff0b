"""What a small dataset's object header says, read from the file's bytes: enough to read a
plain contiguous or compact dataset of numbers without opening it through HDF5.

Opening a dataset through HDF5 costs ~40-70 us on the machines we measure (its object, its
dataspace, type, creation properties and chunk cache), and for metadata-sized datasets that is
most of a read. read_many (issue 22) asks HDF5 only where each object lives (H5Oget_info, one
call) and reads the rest here. Anything this module does not recognise makes it return None,
and the caller opens the dataset through HDF5 as usual: so it covers only the plainest case,
and on that case it must agree with HDF5 bit for bit (tests/test_object_header.py compares it
with h5py on every dataset of ../shared/realdata).

Format facts, HDF5 File Format Specification version 3.0:
- Version 1 object header (IV.A.1.a): version 1, a reserved byte, the number of messages (2
  bytes), the reference count (4), the size of the first block of messages (4), 4 bytes of
  padding; then messages, each: type (2), size of its body (2), flags (1), 3 reserved bytes,
  the body. A continuation message (type 0x10: offset and length) names one more block of
  messages. Version 2 headers ("OHDR", with checksums) are left to HDF5.
- Dataspace (0x01), version 1: version, rank, flags (bit 0: max dims present), 5 reserved
  bytes, the dimensions; version 2: version, rank, flags, type (0 scalar, 1 simple, 2 null),
  the dimensions.
- Datatype (0x03): class and version in byte 0 (class in the low 4 bits), 3 bytes of class
  bits, the size (4 bytes), the properties. Fixed-point (class 0): bit 0 byte order (1 big
  endian), bit 3 signed; bit offset (2), precision (2). Floating point (class 1): bit 0 byte
  order, bit 6 must be 0 (else VAX order), bits 4-5 mantissa normalisation, bits 8-15 the sign
  bit; bit offset (2), precision (2), exponent location, exponent size, mantissa location,
  mantissa size (1 each), exponent bias (4).
- Data layout (0x08), versions 3 and 4: version, class (0 compact: size (2) and the data;
  1 contiguous: address and size; 2 chunked; 3 virtual). Version 3 chunked: dimensionality
  (rank + 1), the address of the chunk index (a version 1 B-tree), the chunk's dimensions (4
  bytes each, the last one the element size). Version 4's chunk indexes are left to HDF5.
- Filter pipeline (0x0B): version, number of filters, (version 1: 6 reserved bytes); per
  filter: id (2), name length (2; version 2: only for ids >= 256), flags (2), number of client
  values (2), the name (version 1: padded to 8 bytes), the values (4 bytes each; version 1:
  padded to an even count).
- Version 1 B-tree of chunks (III.A.1): "TREE", node type 1, level, entries used (2), left and
  right siblings; then key, child, key, ..., key. A key: chunk size in bytes (4), filter mask
  (4), the chunk's offset in each dimension and a 0 for the element (8 bytes each). Children
  of level 0 are chunks, of higher levels nodes.
- External data files (0x07) and a shared message (flag bit 1) are left to HDF5.
Every address is relative to the file's base address (its user block).
"""
import math
import struct
from typing import NamedTuple, Optional

import numpy as np

DATASPACE, DATATYPE, EXTERNAL, LAYOUT, FILTERS, CONTINUATION = 0x01, 0x03, 0x07, 0x08, 0x0B, 0x10
SHARED = 0x02  # message flag: the body is a reference to a message kept elsewhere
UNDEFINED = (1 << 64) - 1  # an address never allocated
MAX_MESSAGES = 1024  # more than any dataset header we read has; a corrupt count stops here
MAX_DEPTH = 8  # B-tree levels; a 2-level tree of 64-entry nodes already holds 4096 chunks
MAX_BLOCK = 1 << 20  # bytes of one block of header messages; more is a damaged size field

# IEEE 754 layouts as HDF5 describes them: size -> (precision, exponent location, exponent size,
# mantissa location, mantissa size, exponent bias, sign location). Others go to HDF5.
IEEE = {2: (16, 10, 5, 0, 10, 15, 15), 4: (32, 23, 8, 0, 23, 127, 31),
        8: (64, 52, 11, 0, 52, 1023, 63)}


class Plain(NamedTuple):
    """A contiguous or compact dataset of numbers: its shape and dtype, and where its bytes
    are (file address and size) or the bytes themselves (compact)."""
    shape: tuple
    dtype: np.dtype
    address: Optional[int]
    data: Optional[bytes]


class Chunked(NamedTuple):
    """A chunked dataset of numbers indexed by a version 1 B-tree."""
    shape: tuple
    dtype: np.dtype
    chunks: tuple
    pipeline: tuple  # ((filter id, cd values), ...) in write order, as h5py reports them
    btree: int


class ChunkRecord(NamedTuple):
    offset: tuple
    nbytes: int
    filter_mask: int
    address: int


def messages(read, addr):
    """[(type, flags, body)] of the version 1 object header at addr, or None. read(addr, n)
    gives up to n bytes at a file address (relative to the base address)."""
    head = read(addr, 16)
    if len(head) < 16 or head[0] != 1:
        return None
    count, = struct.unpack_from("<H", head, 2)
    first, = struct.unpack_from("<I", head, 8)
    blocks, out = [(addr + 16, first)], []
    while blocks and len(out) < min(count, MAX_MESSAGES):
        start, length = blocks.pop(0)
        if length > MAX_BLOCK:
            return None
        buf = read(start, length)
        if len(buf) < length:
            return None
        pos = 0
        while pos + 8 <= length and len(out) < count:
            mtype, size, flags = struct.unpack_from("<HHB", buf, pos)
            body = buf[pos + 8:pos + 8 + size]
            if len(body) < size:
                return None
            pos += 8 + size
            if mtype == CONTINUATION:
                if size < 16:
                    return None
                blocks.append(struct.unpack_from("<QQ", body))
            out.append((mtype, flags, body))
    return out if len(out) == count else None


def dataspace(body):
    """The shape a dataspace message gives, or None (null dataspace, or unknown)."""
    if len(body) < 4:
        return None
    version, rank, flags = body[0], body[1], body[2]
    if version == 1:
        start = 8
    elif version == 2:
        if body[3] == 2:  # null: h5py.Empty
            return None
        start = 4
    else:
        return None
    if flags & ~1 or len(body) < start + 8 * rank:
        return None
    return struct.unpack_from(f"<{rank}Q", body, start)


def datatype(body):
    """The numpy dtype of a fixed-point or IEEE floating-point datatype message, else None."""
    if len(body) < 12:
        return None
    cls, bits = body[0] & 0x0F, int.from_bytes(body[1:4], "little")
    size, = struct.unpack_from("<I", body, 4)
    order = ">" if bits & 1 else "<"
    offset, precision = struct.unpack_from("<HH", body, 8)
    if cls == 0:
        if size not in (1, 2, 4, 8) or offset or precision != 8 * size or bits & ~0x09:
            return None
        return np.dtype(f"{order}{'i' if bits & 8 else 'u'}{size}")
    if cls == 1:
        if size not in IEEE or len(body) < 20 or offset or bits & 0x40:
            return None
        ieee = (precision, *body[12:16], struct.unpack_from("<I", body, 16)[0], bits >> 8 & 0xFF)
        if ieee != IEEE[size] or (bits >> 4) & 3 != 2 or bits & 0x0E:
            return None
        return np.dtype(f"{order}f{size}")
    return None


def filter_pipeline(body):
    """((filter id, cd values), ...) of a filter pipeline message, or None."""
    if len(body) < 2 or body[0] not in (1, 2):
        return None
    version, count = body[0], body[1]
    pos, out = (8 if version == 1 else 2), []
    try:
        for _ in range(count):
            fid, = struct.unpack_from("<H", body, pos)
            pos += 2
            name_len = 0
            if version == 1 or fid >= 256:
                name_len, = struct.unpack_from("<H", body, pos)
                pos += 2
            _flags, ncd = struct.unpack_from("<HH", body, pos)
            pos += 4 + (name_len + 7) // 8 * 8 if version == 1 else 4 + name_len
            cd = struct.unpack_from(f"<{ncd}I", body, pos)
            pos += 4 * (ncd + (ncd & 1 if version == 1 else 0))
            out.append((fid, cd))
    except struct.error:
        return None
    return tuple(out)


def small_dataset(msgs):
    """A Plain (contiguous or compact) or a Chunked (version 1 B-tree) dataset of numbers, or
    None for anything else."""
    found = {}
    for mtype, flags, body in msgs:
        if mtype in (DATASPACE, DATATYPE, LAYOUT, FILTERS):
            if flags & SHARED or mtype in found:
                return None
            found[mtype] = body
        elif mtype == EXTERNAL:
            return None
    if DATASPACE not in found or DATATYPE not in found or LAYOUT not in found:
        return None
    shape, dtype, layout = dataspace(found[DATASPACE]), datatype(found[DATATYPE]), found[LAYOUT]
    if shape is None or dtype is None or len(layout) < 2 or layout[0] not in (3, 4):
        return None
    nbytes = math.prod(shape) * dtype.itemsize
    if layout[1] == 2:
        return _chunked(shape, dtype, layout, found.get(FILTERS))
    if FILTERS in found:
        return None
    if layout[1] == 0:  # compact
        if len(layout) < 4:
            return None
        size, = struct.unpack_from("<H", layout, 2)
        if size != nbytes or len(layout) < 4 + size:
            return None
        return Plain(tuple(shape), dtype, None, bytes(layout[4:4 + size]))
    if layout[1] == 1:  # contiguous
        if len(layout) < 18:
            return None
        address, size = struct.unpack_from("<QQ", layout, 2)
        if address == UNDEFINED or size != nbytes:
            return None  # never written: HDF5 gives the fill value
        return Plain(tuple(shape), dtype, address, None)
    return None


def _chunked(shape, dtype, layout, filters):
    if layout[0] != 3 or len(layout) < 3:
        return None
    dims = layout[2]
    if dims != len(shape) + 1 or len(layout) < 11 + 4 * dims:
        return None
    btree, = struct.unpack_from("<Q", layout, 3)
    chunks = struct.unpack_from(f"<{dims}I", layout, 11)
    if chunks[-1] != dtype.itemsize or 0 in chunks or btree == UNDEFINED:
        return None
    pipeline = filter_pipeline(filters) if filters is not None else ()
    if pipeline is None or not shape:
        return None
    return Chunked(tuple(shape), dtype, tuple(chunks[:-1]), pipeline, btree)


def chunk_records(read, ds, most):
    """The ChunkRecords of a Chunked dataset's B-tree, or None: more than `most`, a node that
    is not a chunk B-tree node, or chunk offsets that do not tile the dataset's grid once."""
    rank, out = len(ds.shape), []
    key = 8 + 8 * (rank + 1)
    pending = [(ds.btree, None)]
    while pending:
        addr, level_above = pending.pop()
        head = read(addr, 24)
        if len(head) < 24 or head[:5] != b"TREE\x01":
            return None
        level, used = head[5], struct.unpack_from("<H", head, 6)[0]
        if (level_above is not None and level != level_above - 1) or level >= MAX_DEPTH:
            return None
        if level == 0 and len(out) + used > most:
            return None
        body = read(addr + 24, used * (key + 8) + key)
        if len(body) < used * (key + 8) + key:
            return None
        for i in range(used):
            at = i * (key + 8)
            nbytes, mask = struct.unpack_from("<II", body, at)
            offset = struct.unpack_from(f"<{rank}Q", body, at + 8)
            child, = struct.unpack_from("<Q", body, at + key)
            if level:
                pending.append((child, level))
            else:
                out.append(ChunkRecord(offset, nbytes, mask, child))
    grid = [(n + c - 1) // c for n, c in zip(ds.shape, ds.chunks)]
    seen = set()
    for rec in out:
        if any(o % c or o >= n for o, c, n in zip(rec.offset, ds.chunks, ds.shape)) or rec.offset in seen:
            return None
        seen.add(rec.offset)
    return out if len(out) == math.prod(grid) else None  # missing chunks: HDF5 fills them
