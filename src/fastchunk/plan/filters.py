"""HDF5 filter pipeline and datatype -> native codec spec, or the reason it is not native."""
from dataclasses import dataclass, field

import h5py

from .. import _constants as C
from .. import libhdf5

DEFLATE, SHUFFLE, FLETCHER32, SZIP = C.FILTER_DEFLATE, C.FILTER_SHUFFLE, C.FILTER_FLETCHER32, C.FILTER_SZIP
SCALEOFFSET, LZF, BLOSC, LZ4 = C.FILTER_SCALEOFFSET, C.FILTER_LZF, C.FILTER_BLOSC, C.FILTER_LZ4
BITSHUFFLE, ZSTD = C.FILTER_BITSHUFFLE, C.FILTER_ZSTD
FILTER_NAMES = {DEFLATE: "deflate", SHUFFLE: "shuffle", FLETCHER32: "fletcher32", SZIP: "szip", 5: "nbit",
                SCALEOFFSET: "scaleoffset", LZF: "lzf", BLOSC: "blosc", LZ4: "lz4",
                BITSHUFFLE: "bitshuffle", ZSTD: "zstd", 32026: "blosc2"}
BSHUF_COMPRESSION = {C.BSHUF_NONE: "none", C.BSHUF_LZ4: "lz4", C.BSHUF_ZSTD: "zstd"}
# hdf5-blosc cd_values[6] and [5]; a chunk's own header says what it holds, these are for naming
BLOSC_CODECS = {0: "blosclz", 1: "lz4", 2: "lz4hc", 3: "snappy", 4: "zlib", 5: "zstd"}
BLOSC_SHUFFLES = {0: "", 1: ",shuffle", 2: ",bitshuffle"}
DONT_FILTER_PARTIAL_CHUNKS = 0x2  # H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS
SZIP_MSB_OPTION, SZIP_NN_OPTION = 16, 32  # H5_SZIP_MSB_OPTION_MASK, H5_SZIP_NN_OPTION_MASK


@dataclass
class Pipeline:
    """The filters of a dataset as HDF5 stores them, and how fastchunk decodes them.

    native holds one (id, cd) per filter, in write order; filters fastchunk cannot decode are
    listed in `unsupported` (by pipeline position) with the reason: chunks whose filter_mask
    skips all of them can still be read natively.
    """

    filters: list = field(default_factory=list)      # (id, flags, cd_values, name), write order
    native: list = field(default_factory=list)       # (id, normalized cd) for the C layout
    unsupported: dict = field(default_factory=dict)  # position -> reason

    @property
    def codec(self):
        """Short human name of the decode chain, e.g. 'bitshuffle+lz4' or 'fletcher32+deflate+shuffle'."""
        names = [_describe(fid, cd) for fid, _, cd, _ in self.filters]
        return "+".join(reversed(names)) if names else "none"

    @property
    def reason(self):
        return "; ".join(self.unsupported.values())

    def unsupported_mask(self):
        """Bits of the filters that must be skipped (filter_mask) for a native decode."""
        return sum(1 << i for i in self.unsupported)


def filter_name(fid):
    return FILTER_NAMES.get(fid, f"filter {fid}")


def _describe(fid, cd):
    if fid == BITSHUFFLE:
        comp = cd[4] if len(cd) >= 5 else 0
        return "bitshuffle" + ("" if comp == 0 else "+" + BSHUF_COMPRESSION.get(comp, str(comp)))
    if fid == BLOSC and len(cd) >= 7:
        return f"blosc({BLOSC_CODECS.get(cd[6], cd[6])}{BLOSC_SHUFFLES.get(cd[5], f',shuffle {cd[5]}')})"
    return filter_name(fid)


def _bitshuffle_spec(cd, itemsize):
    """Normalize 32008 cd_values [major, minor, elem_size, block, compression, level]."""
    elem = cd[2] if len(cd) > 2 and cd[2] else itemsize
    block = cd[3] if len(cd) > 3 else 0
    comp = cd[4] if len(cd) >= 5 else 0
    if comp not in BSHUF_COMPRESSION:
        return None, f"bitshuffle with compression {comp} (read through h5py)"
    if block % 8:
        return None, f"bitshuffle block size {block} is not a multiple of 8"
    return (elem, block, comp), ""


def _scaleoffset_spec(cd):
    """Normalize scale-offset's 20 cd_values [scale type, factor, elements, class, size, sign,
    order, fill defined, fill value words...] to the 6 csrc/fc_scaleoffset.c reads."""
    if len(cd) != 20:
        return None, f"scaleoffset with {len(cd)} cd_values (HDF5 writes 20)"
    scale_type, factor, nelmts, cls, size, _sign, order, fill_defined = cd[:8]
    # HDF5 decodes integers (scale type 2) and floats with D-scaling (0); E-scaling never shipped
    if (cls, scale_type) not in ((0, 2), (1, 0)) or size not in ((1, 2, 4, 8) if cls == 0 else (4, 8)):
        return None, f"scaleoffset parameters {cd[:8]} that HDF5 cannot decode either"
    flags = size | cls << 8 | (order == 1) << 9 | (fill_defined == 1) << 10
    return (scale_type, factor, nelmts, flags, cd[8], cd[9]), ""


def _szip_spec(cd):
    """Normalize szip's 4 cd_values [options mask, pixels per block, bits per pixel, pixels per
    scanline] to the flags csrc/fc_szip.c reads; libaec looks only at the MSB and NN options."""
    if len(cd) != 4:
        return None, f"szip with {len(cd)} cd_values (HDF5 writes 4)"
    mask, block, bits, scanline = cd
    if block < 2 or block > 64 or block % 2 or scanline < 1 or not (1 <= bits <= 32 or bits == 64):
        return None, f"szip parameters {list(cd)} that libaec cannot decode either"
    flags = (C.SZIP_MSB if mask & SZIP_MSB_OPTION else 0) | (C.SZIP_NN if mask & SZIP_NN_OPTION else 0)
    return (flags, block, bits, scanline), ""


def _native_spec(fid, cd, itemsize, have_deflate):
    """(normalized cd, "") for a filter the C decoders know, else (None, reason)."""
    if fid == BITSHUFFLE:
        return _bitshuffle_spec(cd, itemsize)
    if fid == SHUFFLE:
        return (cd[0] if cd else itemsize,), ""
    if fid == SCALEOFFSET:
        return _scaleoffset_spec(cd)
    if fid == SZIP:
        return _szip_spec(cd)
    if fid in (LZ4, LZF, ZSTD, FLETCHER32, BLOSC):
        return (), ""
    if fid == DEFLATE:
        if have_deflate:
            return (), ""
        return None, "deflate: fastchunk was built without zlib"
    return None, f"{filter_name(fid)} ({fid}) is not decoded natively"


def read_pipeline(dcpl, dtype, have_deflate=True):
    """Filters of a dataset creation property list, with the native spec of each
    (have_deflate: whether the native build decodes deflate)."""
    p = Pipeline()
    for i in range(dcpl.get_nfilters()):
        fid, flags, cd, name = dcpl.get_filter(i)
        p.filters.append((fid, flags, tuple(cd), name))
        spec, why = _native_spec(fid, tuple(cd), dtype.itemsize, have_deflate)
        if spec is None:
            p.unsupported[i] = why
            spec = ()
        p.native.append((fid, spec))
    return p


def dtype_reason(dtype):
    """Why a dtype cannot pass through natively as raw bytes ("" when it can)."""
    if dtype.kind in "iuf" and dtype.metadata is None:
        return ""  # plain numbers: the common case, decided without asking h5py
    if dtype.hasobject or h5py.check_dtype(vlen=dtype) is not None or h5py.check_dtype(ref=dtype) is not None:
        return f"datatype {dtype} needs HDF5 conversion (variable length or reference)"
    if dtype.subdtype is not None:
        return f"array datatype {dtype}"
    if dtype.itemsize == 0:
        return "zero-size datatype"
    return ""


# IEEE layouts (sign pos, exponent pos, exponent bits, mantissa pos, mantissa bits; bias) by size
IEEE_FLOATS = {2: ((15, 10, 5, 0, 10), 15), 4: ((31, 23, 8, 0, 23), 127), 8: ((63, 52, 11, 0, 52), 1023)}


def type_reason(tid):
    """Why a file datatype's bytes are not the values numpy reads from them ("" when they are):
    fewer significant bits than bytes (HDF5 sign-extends and masks them when converting) or a
    float that is not IEEE; checked inside compound and enum types too."""
    cls = tid.get_class()
    if cls in (h5py.h5t.INTEGER, h5py.h5t.FLOAT):
        size, precision, offset = tid.get_size(), tid.get_precision(), tid.get_offset()
        if precision != 8 * size or offset:
            return (f"datatype with {precision} significant bits at bit {offset} of {size} bytes "
                    "needs HDF5's conversion")
        if cls == h5py.h5t.FLOAT and size in IEEE_FLOATS:
            if (tid.get_fields(), tid.get_ebias()) != IEEE_FLOATS[size]:
                return f"{size}-byte float that is not IEEE {tid.get_fields()} needs HDF5's conversion"
    elif cls == h5py.h5t.COMPOUND:
        for i in range(tid.get_nmembers()):
            why = type_reason(tid.get_member_type(i))
            if why:
                return f"member {tid.get_member_name(i).decode(errors='replace')}: {why}"
    elif cls == h5py.h5t.ENUM:
        return type_reason(tid.get_super())
    return ""


def layout_reason(dset, dcpl=None, shape=()):
    """Why the storage layout of an h5py dataset is not read natively ("" when it is);
    dcpl and shape, when the caller has them, spare asking HDF5 again."""
    dcpl = dset.id.get_create_plist() if dcpl is None else dcpl
    shape = dset.shape if shape == () else shape
    layout = dcpl.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        return "virtual dataset (read through h5py)"
    if dcpl.get_external_count():
        return "external raw storage (read through h5py)"
    if layout == h5py.h5d.COMPACT:
        return "compact layout: the data sits in the object header (read through h5py)"
    if layout not in (h5py.h5d.CHUNKED, h5py.h5d.CONTIGUOUS):
        return f"layout {layout} not read natively"
    if shape is None:
        return "null dataspace: no elements (h5py.Empty, read through h5py)"
    if not shape:
        return "scalar dataset (read through h5py)"
    if layout != h5py.h5d.CHUNKED:
        return ""  # only chunked datasets have unlimited dimensions
    unlimited = [d for d, m in enumerate(dset.maxshape or ()) if m is None]
    if len(unlimited) == 1 and unlimited[0] > 0 and libhdf5.chunk_index_type(dset.id) in (libhdf5.EARRAY_INDEX, None):
        # An extensible-array index swizzles the unlimited dimension to the front, and HDF5's
        # chunk queries report the swizzled coordinates (seen in h5fc_ext_none.h5); older
        # files index the same datasets with a v1 B-tree, whose coordinates are right.
        return "one unlimited dimension that is not the first, extensible-array index: HDF5 reports wrong chunk coordinates"
    return ""


def pipeline_reason(pipeline, dcpl, shape, chunks, get_index):
    """Why the filters stop a native read ("" if they do not), and the layout flags that
    follow from them. get_index() gives the chunk index, asked for only when a filter is not
    decoded natively: chunks whose filter_mask skips every such filter are plain bytes to us."""
    p = pipeline
    if p.unsupported:
        need = p.unsupported_mask()
        if not ((get_index().filter_mask & need) == need).all():
            return p.reason, 0
    flags = 0
    if p.filters:
        opts = libhdf5.chunk_opts(dcpl)
        if opts is None and any(n % c for n, c in zip(shape, chunks)):
            return "cannot ask HDF5 whether partial edge chunks are filtered (H5Pget_chunk_opts)", 0
        if opts and opts & DONT_FILTER_PARTIAL_CHUNKS:
            flags = C.LAYOUT_DONT_FILTER_PARTIAL
    return "", flags
