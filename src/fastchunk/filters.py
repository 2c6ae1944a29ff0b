"""HDF5 filter pipeline and datatype -> native codec spec, or the reason it is not native."""
from dataclasses import dataclass, field

import h5py

BITSHUFFLE = 32008
FILTER_NAMES = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                6: "scaleoffset", 32000: "lzf", 32001: "blosc", 32004: "lz4",
                32008: "bitshuffle", 32015: "zstd", 32026: "blosc2"}
BSHUF_COMPRESSION = {0: "none", 2: "lz4", 3: "zstd"}


@dataclass
class Pipeline:
    """The filters of a dataset as HDF5 stores them, and whether fastchunk decodes them."""

    filters: list = field(default_factory=list)  # (id, flags, cd_values, name) in write order
    native: list = field(default_factory=list)   # (id, normalized cd) for the C layout
    reason: str = ""                              # why not native ("" when native)

    @property
    def codec(self):
        """Short human name of the pipeline, e.g. 'bitshuffle+lz4'."""
        names = [_describe(fid, cd) for fid, _, cd, _ in self.filters]
        return "+".join(reversed(names)) if names else "none"


def filter_name(fid):
    return FILTER_NAMES.get(fid, f"filter {fid}")


def _describe(fid, cd):
    if fid == BITSHUFFLE:
        comp = cd[4] if len(cd) >= 5 else 0
        return "bitshuffle" + ("" if comp == 0 else "+" + BSHUF_COMPRESSION.get(comp, str(comp)))
    return filter_name(fid)


def _bitshuffle_spec(cd, itemsize):
    """Normalize 32008 cd_values [major, minor, elem_size, block, compression, level]."""
    elem = cd[2] if len(cd) > 2 and cd[2] else itemsize
    block = cd[3] if len(cd) > 3 else 0
    comp = cd[4] if len(cd) >= 5 else 0
    if comp not in (0, 2):
        return None, f"bitshuffle with {BSHUF_COMPRESSION.get(comp, comp)} compression"
    if block % 8:
        return None, f"bitshuffle block size {block} is not a multiple of 8"
    return (elem, block, comp), ""


def read_pipeline(dcpl, dtype):
    """Filters of a dataset creation property list, with the native spec or the reason why not."""
    p = Pipeline()
    for i in range(dcpl.get_nfilters()):
        fid, flags, cd, name = dcpl.get_filter(i)
        p.filters.append((fid, flags, tuple(cd), name))
    for fid, _, cd, _ in p.filters:
        if fid == BITSHUFFLE:
            spec, why = _bitshuffle_spec(cd, dtype.itemsize)
        else:
            spec, why = None, f"{filter_name(fid)} ({fid}) not decoded natively yet"
        if spec is None:
            p.reason = why
            p.native = []
            break
        p.native.append((fid, spec))
    return p


def dtype_reason(dtype):
    """Why a dtype cannot pass through natively as raw bytes ("" when it can)."""
    if dtype.hasobject or h5py.check_dtype(vlen=dtype) is not None or h5py.check_dtype(ref=dtype) is not None:
        return f"datatype {dtype} needs HDF5 conversion (variable length or reference)"
    if dtype.subdtype is not None:
        return f"array datatype {dtype}"
    if dtype.itemsize == 0:
        return "zero-size datatype"
    return ""


def layout_reason(dset):
    """Why the storage layout of an h5py dataset is not read natively ("" when it is)."""
    dcpl = dset.id.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        return "virtual dataset (read through h5py)"
    if layout != h5py.h5d.CHUNKED:
        kind = {h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.COMPACT: "compact"}.get(layout, str(layout))
        return f"{kind} layout not read natively yet"
    if dcpl.get_external_count():
        return "external raw storage"
    return ""

