"""`fastchunk info`: what a dataset's layout is and whether fastchunk reads it natively."""
import h5py
import hdf5plugin  # noqa: F401  (so h5py can describe plugin filters)
import numpy as np

from .dataset import File


def dataset_info(ds):
    """A JSON-ready description of one fastchunk Dataset."""
    info = {"name": ds.name, "shape": list(ds.shape), "dtype": str(ds.dtype),
            "chunks": list(ds.chunks) if ds.chunks else None, "native": ds.native,
            "reason": ds.reason, "codec": ds.pipeline.codec,
            "filters": [{"id": fid, "name": name.decode(errors="replace") if isinstance(name, bytes) else name,
                         "flags": flags, "cd_values": list(cd)}
                        for fid, flags, cd, name in ds.pipeline.filters]}
    if ds.chunks and ds._h5.id.get_create_plist().get_layout() == h5py.h5d.CHUNKED:
        idx = ds.index
        grid = [-(-n // c) for n, c in zip(ds.shape, ds.chunks)]
        info["chunks_allocated"] = len(idx)
        info["chunks_in_grid"] = int(np.prod(grid, dtype=np.int64))
        info["stored_bytes"] = idx.stored_bytes
        chunk_bytes = int(np.prod(ds.chunks, dtype=np.int64)) * ds.dtype.itemsize
        if len(idx):
            info["compression_ratio"] = round(len(idx) * chunk_bytes / max(1, idx.stored_bytes), 3)
            info["chunk_stored_bytes"] = {"min": int(idx.nbytes.min()), "median": float(np.median(idx.nbytes)),
                                          "max": int(idx.nbytes.max())}
            info["first_chunk_address"] = int(idx.offset[0])
            info["byte_range"] = [int(idx.offset[0]), int((idx.offset + idx.nbytes).max())]
    return info


def file_info(path, dataset=None):
    """Info for one dataset, or for every dataset in the file."""
    with File(path) as f:
        if dataset:
            return [dataset_info(f[dataset])]
        names = []
        f.h5.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
        return [dataset_info(f[n]) for n in names]


def format_info(infos):
    out = []
    for i in infos:
        out.append(f"{i['name']}: shape {tuple(i['shape'])} {i['dtype']} chunks "
                   f"{tuple(i['chunks']) if i['chunks'] else None}")
        out.append(f"  filters   {i['codec']}")
        if "chunks_allocated" in i:
            out.append(f"  chunks    {i['chunks_allocated']} allocated / {i['chunks_in_grid']} in grid, "
                       f"{i['stored_bytes']} stored bytes")
            if "compression_ratio" in i:
                s = i["chunk_stored_bytes"]
                out.append(f"  ratio     {i['compression_ratio']}  chunk bytes min {s['min']} "
                           f"median {s['median']:.0f} max {s['max']}")
                out.append(f"  range     bytes {i['byte_range'][0]}..{i['byte_range'][1]}")
        out.append("  native    " + ("yes" if i["native"] else f"no: {i['reason']}"))
    return "\n".join(out)
