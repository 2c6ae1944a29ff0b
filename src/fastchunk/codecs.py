"""fastchunk's decoders without a file: undo an HDF5 filter pipeline on bytes you already have.

    from fastchunk import codecs
    frame = codecs.decode(chunk_bytes, [(32008, (0, 2, 4, 0, 2))], (2167, 2070), "uint32")
    frame = codecs.decode_bslz4(stream_blob, (2167, 2070), "uint32")   # a DECTRIS frame
    codecs.decode_many(blobs, pipeline, (2167, 2070), "uint32", out=stack)  # on every core

The pipeline is what h5py reports for a dataset: a list of (filter_id, cd_values) in write
order (``dcpl.get_filter(i)`` gives (filter_id, flags, cd_values, name); those 4-tuples are
taken as they are, and so is ``fastchunk.Dataset.pipeline``). The buffer is one chunk as the
file stores it (``h5py``'s ``read_direct_chunk``, a kerchunk byte range, a detector message).

Decoding runs on the calling thread with the GIL released; ``decode_many`` spreads a list of
buffers over a thread pool. The output never holds more bytes than ``shape`` and ``dtype``
say: a header that claims another size is an error, never an allocation. Corrupt input raises
``fastchunk.ChunkDecodeError`` whose message (and ``offset`` attribute) gives the byte offset
in the buffer where decoding failed; a filter fastchunk does not decode natively raises
``fastchunk.UnsupportedFilterError`` (the reason in its message).

The DECTRIS framings (``decode_dectris``), as DECTRIS documents them:

- Stream V2 (CBOR tag 56500) and dectris-compression: ``"bslz4"`` is the bitshuffle HDF5
  filter's chunk (12-byte header: u64 big-endian byte count, u32 big-endian block size in
  bytes, then per block a u32 big-endian compressed size and an LZ4 block); ``"lz4"`` is the
  HDF5 LZ4 filter's chunk (filter 32004: the same 12-byte header, then per block a u32
  big-endian compressed size and the block, stored as is when that size equals the block's).
- Stream V1 (``encoding`` of the image header): ``"bs32-lz4<"``, ``"bs16-lz4<"``,
  ``"bs8-lz4<"`` are the same bitshuffle chunk as above; ``"lz4<"`` is one bare LZ4 block
  (no header: its size comes from the image header's shape and type); ``"<"`` is raw.
"""
import functools
import re
import struct
import threading

import numpy as np

from . import _constants as C
from . import _native
from .errors import ChunkDecodeError, FastchunkError, UnsupportedFilterError
from .plan.filters import Pipeline, _describe, _native_spec

__all__ = ["decode", "decode_many", "decode_bslz4", "decode_lz4", "decode_dectris",
           "normalize_pipeline", "NATIVE_FILTERS", "BSLZ4", "LZ4"]

#: HDF5 filter ids fastchunk decodes natively (deflate only where built with zlib)
NATIVE_FILTERS = (C.FILTER_DEFLATE, C.FILTER_SHUFFLE, C.FILTER_FLETCHER32, C.FILTER_SZIP,
                  C.FILTER_SCALEOFFSET, C.FILTER_LZF, C.FILTER_BLOSC, C.FILTER_LZ4,
                  C.FILTER_BITSHUFFLE, C.FILTER_ZSTD)
BSLZ4 = C.FILTER_BITSHUFFLE
LZ4 = C.FILTER_LZ4
_CD_MAX = (1 << 32) - 1  # cd_values are C unsigned ints in HDF5
_OFFSET = re.compile(r"byte offset (\d+)")


# -- the pipeline ------------------------------------------------------------------------
def _entries(pipeline):
    """(filter_id, cd_values tuple) per filter, in write order, from any of the accepted forms."""
    if isinstance(pipeline, Pipeline):
        return tuple((int(fid), tuple(int(c) for c in cd)) for fid, _, cd, _ in pipeline.filters)
    if pipeline is None:
        return ()
    out = []
    for k, f in enumerate(pipeline):
        if isinstance(f, (int, np.integer)):
            fid, cd = f, ()
        elif isinstance(f, (tuple, list)) and len(f) == 2:
            fid, cd = f
        elif isinstance(f, (tuple, list)) and len(f) == 4:  # h5py's dcpl.get_filter(i)
            fid, _flags, cd, _name = f
        else:
            raise TypeError(f"pipeline entry {k}: expected (filter_id, cd_values) or h5py's "
                            f"(filter_id, flags, cd_values, name), got {f!r}")
        cd = () if cd is None else tuple(cd)
        try:
            fid = int(fid)
            cd = tuple(int(c) for c in cd)
        except (TypeError, ValueError):
            raise TypeError(f"pipeline entry {k}: filter id and cd_values must be integers, "
                            f"got {f!r}") from None
        if any(c < 0 or c > _CD_MAX for c in cd):
            raise ValueError(f"pipeline entry {k}: cd_values {list(cd)} outside 0..2**32-1")
        out.append((fid, cd))
    if len(out) > C.MAX_FILTERS:
        raise ValueError(f"a pipeline of {len(out)} filters (HDF5 allows {C.MAX_FILTERS})")
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _normalized(entries, itemsize):
    """The native (filter_id, normalized cd) list of a pipeline; UnsupportedFilterError with
    the reason for a filter the native decoders do not know."""
    native = []
    for k, (fid, cd) in enumerate(entries):
        spec, why = _native_spec(fid, cd, itemsize, _native.HAVE_ZLIB)
        if spec is None:
            raise UnsupportedFilterError(f"pipeline entry {k}: {why}")
        native.append((fid, tuple(spec)))
    return tuple(native)


def normalize_pipeline(pipeline, dtype):
    """The pipeline as the native decoder takes it: ((filter_id, normalized cd), ...).
    Raises UnsupportedFilterError for a filter that is not decoded natively."""
    return _normalized(_entries(pipeline), _dtype(dtype).itemsize)


def describe(pipeline):
    """Short name of a pipeline's decode chain, e.g. 'bitshuffle+lz4' or 'fletcher32+deflate'."""
    names = [_describe(fid, cd) for fid, cd in _entries(pipeline)]
    return "+".join(reversed(names)) if names else "none"


@functools.lru_cache(maxsize=256)
def _layout(native, nelems, itemsize):
    return _native.Layout((nelems,), itemsize, native)


# -- arguments ---------------------------------------------------------------------------
def _dtype(dtype):
    dt = np.dtype(dtype)
    if dt.hasobject or dt.itemsize == 0:
        raise TypeError(f"dtype {dt} has no fixed-size byte layout to decode into")
    return dt


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of integers, got {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"shape {shape} has a negative length")
    return shape


def _check_out(out, shape, dtype):
    """out validated (ndarray of exactly dtype and shape, C-contiguous, writeable), or a new one."""
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, the data are {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, the data are {shape}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


def _as_bytes(buffer, what="buffer"):
    """A 1-D uint8 view of a bytes-like object (copied only when it is not contiguous)."""
    if isinstance(buffer, np.ndarray):
        a = buffer
    else:
        try:
            a = np.frombuffer(buffer, np.uint8)
        except (TypeError, ValueError, BufferError):
            try:
                a = np.asarray(memoryview(buffer))
            except TypeError:
                raise TypeError(f"{what} must be bytes-like (bytes, bytearray, memoryview, "
                                f"numpy array), got {type(buffer).__name__}") from None
    if a.dtype.hasobject:
        raise TypeError(f"{what} is an object array, not bytes")
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a.reshape(-1).view(np.uint8)


def _context_error(e, text):
    """A copy of fastchunk error e whose message starts with text, offset attached."""
    m = _OFFSET.search(str(e))
    new = type(e)(f"{text}: {e}")
    new.offset = int(m.group(1)) if m else None
    return new


# -- decoding ----------------------------------------------------------------------------
# One bitshuffle chunk at least this big, decoded while no other decode of this module runs, is
# split into parts of its blocks decoded on every thread: a detector stream's single 4M frame, or
# zarr's arr[i], no longer waits on one core. Concurrent calls (a caller's own pool, zarr's
# concurrent chunks) keep one thread each, so they never crowd the pool with each other's parts.
SPLIT_MIN_BYTES = 4 << 20
_running = 0
_running_lock = threading.Lock()


class _Job:
    """One decode set-up: the native layout and the output, reused by decode_many."""

    def __init__(self, pipeline, shape, dtype):
        self.shape, self.dtype = _shape(shape), _dtype(dtype)
        self.entries = _entries(pipeline)
        self.native = _normalized(self.entries, self.dtype.itemsize)
        self.nelems = int(np.prod(self.shape, dtype=np.int64))
        self.layout = _layout(self.native, self.nelems, self.dtype.itemsize)
        self.splits = (len(self.native) == 1 and self.native[0][0] == C.FILTER_BITSHUFFLE
                       and self.nelems * self.dtype.itemsize >= SPLIT_MIN_BYTES)

    def what(self):
        return f"{describe(self.entries)} buffer decoding to {self.shape} {self.dtype}"

    def run(self, src, dest, filter_mask, num_threads=None):
        """Decode src (uint8 array) into dest (a C-contiguous array of the chunk's bytes); a big
        bitshuffle chunk on num_threads threads (None: every usable CPU if no other decode
        runs, else one)."""
        global _running
        with _running_lock:
            _running += 1
            alone = _running == 1
        try:
            threads = 1
            if self.splits and not filter_mask and (alone or num_threads is not None):
                from .engine import default_num_threads
                threads = int(num_threads) if num_threads is not None else default_num_threads()
            if threads > 1:
                _native.decode_many(self.layout, [src], dest.reshape(-1).view(np.uint8),
                                    _NO_MASK, threads, _at_offset, threads)
            else:
                _native.decode_chunk(self.layout, src, dest, filter_mask)
        except FastchunkError as e:
            raise _context_error(e, f"{self.what()} ({len(src)} stored bytes)") from None
        finally:
            with _running_lock:
                _running -= 1


_NO_MASK = np.zeros(1, np.uint32)


def _at_offset(index, at, code):
    """The context decode_chunk gives an error: where in the buffer."""
    return f"byte offset {at}"


def decode(buffer, pipeline, shape, dtype, out=None, *, filter_mask=0, num_threads=None):
    """Decode one stored chunk.

    Parameters
    ----------
    buffer : bytes-like
        The chunk as stored (bytes, bytearray, memoryview, numpy array of any dtype).
    pipeline : list of (filter_id, cd_values)
        The dataset's filters in write order, cd_values as the file stores them (h5py's
        ``dcpl.get_filter(i)``; its 4-tuples are accepted as is, and so is a
        fastchunk ``Dataset.pipeline``). An empty pipeline copies the first bytes.
    shape, dtype
        Of the decoded chunk (a chunk's full shape: HDF5 stores edge chunks whole).
    out : numpy array, optional
        Written in place: exactly `dtype` and `shape`, C-contiguous, writeable.
    filter_mask : int
        Bit i set: filter i of the pipeline was skipped for this chunk (HDF5's chunk mask).
    num_threads : int, optional
        A bitshuffle chunk of 4 MiB or more is decoded in parts on this many threads of the
        process-wide pool. None: every usable CPU (fastchunk.default_num_threads()) when no
        other decode of this module is running, else one thread. Other chunks: one thread.

    Returns out (or a new array).
    """
    if num_threads is not None and int(num_threads) < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    job = _Job(pipeline, shape, dtype)
    out = _check_out(out, job.shape, job.dtype)
    job.run(_as_bytes(buffer), out, int(filter_mask), num_threads)
    return out


def decode_many(buffers, pipeline, shape, dtype, out=None, *, num_threads=None, filter_mask=0):
    """Decode a list of stored chunks of one shape and pipeline into out[i], in parallel.

    out has shape (len(buffers), *shape) (a new array if None). Threads: num_threads, else
    fastchunk.default_num_threads() (FASTCHUNK_NUM_THREADS, the usable CPUs). The buffers are
    decoded on fastchunk's process-wide worker pool, the GIL released, small ones several to a
    task, the caller's thread decoding too. The first error stops the rest; it is raised with
    the index of its buffer in the message and as its ``index`` attribute (buffers decoded
    before it are in out; others may be, or not). Ctrl-C stops the decode and raises
    KeyboardInterrupt. filter_mask: one int for all, or one per buffer.
    """
    from .engine import default_num_threads

    buffers = list(buffers)
    n = len(buffers)
    job = _Job(pipeline, shape, dtype)
    out = _check_out(out, (n,) + job.shape, job.dtype)
    masks = ([int(filter_mask)] * n if isinstance(filter_mask, (int, np.integer))
             else [int(m) for m in filter_mask])
    if len(masks) != n:
        raise ValueError(f"{len(masks)} filter masks for {n} buffers")
    if num_threads is not None and int(num_threads) < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    # bytes (a stream message) go to the native side as they are: converting 3000 small frames
    # one by one cost 11 ms, a third of decoding them on 2 threads
    srcs = [b if type(b) is bytes else _as_bytes(b, f"buffer {i}") for i, b in enumerate(buffers)]
    threads = min(max(n, 1), int(num_threads) if num_threads is not None else default_num_threads())

    failed = {}

    def describe(i, at, code):
        failed.update(index=i if 0 <= i < n else None, offset=at)
        where = f"{job.what()} ({len(srcs[i])} stored bytes)" if 0 <= i < n else job.what()
        return f"buffer {i} of {n}: {where}, byte offset {at}"

    try:
        _native.decode_many(job.layout, srcs, out.reshape(-1).view(np.uint8),
                            np.array(masks, dtype=np.uint32), threads, describe)
    except FastchunkError as e:
        e.index, e.offset = failed.get("index"), failed.get("offset")
        raise
    return out


# -- detector framings -------------------------------------------------------------------
def _bitshuffle_pipeline(itemsize, compression=C.BSHUF_LZ4):
    """32008 cd_values as the filter stores them: major, minor, element size, block 0 (from
    the chunk's header), LZ4 (or zstd)."""
    return [(BSLZ4, (0, 4, itemsize, 0, compression))]


def default_block_size(itemsize):
    """bitshuffle's default block (elements): 8 KiB of data, a multiple of 8, at least 128."""
    return max(128, (8192 // itemsize) // 8 * 8)


def decode_bslz4(buffer, shape, dtype, out=None, *, block_size=None, num_threads=None):
    """Decode bitshuffle+LZ4 as HDF5 filter 32008 stores it, which is also DECTRIS's "bslz4"
    (Stream V2, dectris-compression) and "bsNN-lz4<" (Stream V1): a 12-byte header (u64 BE
    bytes, u32 BE block bytes), then the blocks.

    block_size (elements): the buffer has no header, as ``bitshuffle.compress_lz4(a,
    block_size)`` returns it (0: bitshuffle's default block); one is put in front (a copy of
    the buffer). num_threads: as for decode() (a 4M frame decodes on every core).
    """
    dt = _dtype(dtype)
    if block_size is not None:
        shape_t = _shape(shape)
        nbytes = int(np.prod(shape_t, dtype=np.int64)) * dt.itemsize
        block = int(block_size) or default_block_size(dt.itemsize)
        if block < 0 or block % 8:
            raise ValueError(f"block_size {block_size} is not a multiple of 8")
        src = _as_bytes(buffer)
        framed = np.empty(12 + len(src), np.uint8)
        framed[:12] = np.frombuffer(struct.pack(">QI", nbytes, block * dt.itemsize), np.uint8)
        framed[12:] = src
        buffer = framed
    return decode(buffer, _bitshuffle_pipeline(dt.itemsize), shape, dt, out, num_threads=num_threads)


def decode_lz4(buffer, shape, dtype, out=None, *, framing="hdf5"):
    """Decode LZ4.

    framing "hdf5": HDF5 filter 32004's chunk (u64 BE bytes, u32 BE block bytes, then per
    block u32 BE compressed size + block), which is also DECTRIS's Stream V2 "lz4" and
    dectris-compression's LZ4. framing "block": one bare LZ4 block (Stream V1 "lz4<", what
    ``lz4.block.compress(data, store_size=False)`` gives).
    """
    if framing == "hdf5":
        return decode(buffer, [(LZ4, ())], shape, dtype, out)
    if framing != "block":
        raise ValueError(f"framing must be 'hdf5' or 'block', got {framing!r}")
    dt, shape = _dtype(dtype), _shape(shape)
    out = _check_out(out, shape, dt)
    nbytes = out.nbytes
    src = _as_bytes(buffer)
    if len(src) == nbytes:  # 32004 would take a block of exactly its size as stored raw
        try:
            raw = _native.lz4_block_decode(src, nbytes)
        except FastchunkError as e:
            raise _context_error(e, f"lz4 block decoding to {shape} {dt} ({len(src)} bytes)") from None
        out.reshape(-1).view(np.uint8)[:] = np.frombuffer(raw, np.uint8)
        return out
    framed = np.empty(16 + len(src), np.uint8)
    framed[:16] = np.frombuffer(struct.pack(">QII", nbytes, max(nbytes, 1), len(src)), np.uint8)
    framed[16:] = src
    try:
        _native.decode_chunk(_layout(((LZ4, ()),), nbytes, 1), framed, out.reshape(-1).view(np.uint8))
    except FastchunkError as e:  # offsets in the bare block, not in the framing put in front
        m = _OFFSET.search(str(e))
        at = max(0, int(m.group(1)) - 16) if m else None
        err = type(e)(f"lz4 block decoding to {shape} {dt} ({len(src)} bytes): "
                      + _OFFSET.sub(f"byte offset {at}", str(e)))
        err.offset = at
        raise err from None
    return out


_STREAM_V1 = re.compile(r"^bs(8|16|32)-lz4<$")


def decode_dectris(buffer, encoding, shape, dtype, out=None):
    """Decode one frame as a DECTRIS detector sends it. encoding: Stream V2's compression
    algorithm ("bslz4", "lz4", or "bszstd" as dectris-compression also decodes it: the bslz4
    framing with zstd blocks; the CBOR tag 56500 array is [algorithm, element size, bytes]),
    or Stream V1's image ``encoding`` ("bs32-lz4<", "bs16-lz4<", "bs8-lz4<", "lz4<", "<")."""
    dt = _dtype(dtype)
    if encoding == "bslz4":
        return decode_bslz4(buffer, shape, dt, out)
    if encoding == "bszstd":
        return decode(buffer, _bitshuffle_pipeline(dt.itemsize, C.BSHUF_ZSTD), shape, dt, out)
    m = _STREAM_V1.match(encoding)
    if m:
        if int(m.group(1)) != 8 * dt.itemsize:
            raise ValueError(f"encoding {encoding!r} is for {m.group(1)}-bit data, dtype is {dt}")
        return decode_bslz4(buffer, shape, dt, out)
    if encoding == "lz4":
        return decode_lz4(buffer, shape, dt, out, framing="hdf5")
    if encoding == "lz4<":
        return decode_lz4(buffer, shape, dt, out, framing="block")
    if encoding in ("<", "none", ""):
        return decode(buffer, [], shape, dt, out)
    raise ValueError(f"unknown DECTRIS encoding {encoding!r} (Stream V2: 'bslz4', 'lz4', 'bszstd'; "
                     "Stream V1: 'bs32-lz4<', 'bs16-lz4<', 'bs8-lz4<', 'lz4<', '<')")
