"""Seed corpus for the fuzz targets: real stored chunks, cut to a size that fuzzes fast.

Chunks come from every filtered dataset fastchunk reads natively in ../shared/realdata (when
present) and from small files written by fastchunk.testing (always). Each chunk is peeled
stage by stage in decode order, and every stage's input becomes a seed of that stage's target
in the target's input format (see fuzz/targets/*.c): a parameter prefix, then the bytes.
"""
import hashlib
import os
import pathlib
import struct
import tempfile
import zlib

import numpy as np

MAX_DECODED = 64 << 10  # seeds decode to at most this many bytes
PER_DATASET = 3         # chunks taken from one dataset
PER_TARGET = 300
DEFLATE, SHUFFLE, FLETCHER32, SZIP, SCALEOFFSET, LZF, BLOSC, LZ4, BITSHUFFLE, ZSTD = 1, 2, 3, 4, 6, 32000, 32001, 32004, 32008, 32015
# fuzz/targets/pipeline.c's table, as tuples of (id, bitshuffle compression or None)
BS_LZ4, BS_RAW, BS_ZSTD = (BITSHUFFLE, 2), (BITSHUFFLE, 0), (BITSHUFFLE, 3)
PIPELINES = [(BS_LZ4,), (BS_RAW,), ((LZ4, None),), ((DEFLATE, None),), ((SHUFFLE, None),),
             ((FLETCHER32, None),), ((SHUFFLE, None), (DEFLATE, None)),
             ((SHUFFLE, None), (DEFLATE, None), (FLETCHER32, None)),
             ((DEFLATE, None), (FLETCHER32, None)), ((LZ4, None), (FLETCHER32, None)),
             ((SHUFFLE, None), (LZ4, None)), (BS_LZ4, (FLETCHER32, None)),
             ((SHUFFLE, None), (FLETCHER32, None)), (BS_RAW, (LZ4, None)),
             (BS_RAW, (DEFLATE, None)), ((SHUFFLE, None), BS_LZ4, (DEFLATE, None)), (),
             ((LZF, None),), ((SHUFFLE, None), (LZF, None)),
             ((SHUFFLE, None), (LZF, None), (FLETCHER32, None)), (BS_ZSTD,), ((ZSTD, None),),
             ((SHUFFLE, None), (ZSTD, None), (FLETCHER32, None)), ((SZIP, None),),
             ((SHUFFLE, None), (SZIP, None), (FLETCHER32, None)), ((SZIP, None), (DEFLATE, None)),
             ((BLOSC, None),), ((SHUFFLE, None), (BLOSC, None), (FLETCHER32, None))]


def _key(fid, cd):
    return (fid, cd[2]) if fid == BITSHUFFLE else (fid, None)


class Seeds:
    """Seed files per target, deduplicated by content."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.counts = {}
        self.names = {}

    def add(self, target, data):
        if self.counts.get(target, 0) >= PER_TARGET:
            return
        d = self.root / target
        d.mkdir(parents=True, exist_ok=True)
        p = d / hashlib.sha1(data).hexdigest()[:16]
        if p.name not in self.names.setdefault(target, set()):
            self.names[target].add(p.name)
            p.write_bytes(data)
            self.counts[target] = self.counts.get(target, 0) + 1


def _u24(n):
    return struct.pack("<I", n)[:3]


def _lz4_blocks(raw, pos, sizes):
    """The raw LZ4 blocks framed as {u32 BE C | C bytes} from pos, with their decoded sizes."""
    for m in sizes:
        if pos + 4 > len(raw):
            return
        c = struct.unpack(">I", raw[pos:pos + 4])[0]
        if c != m:  # 32004 keeps incompressible blocks raw (C == m): not an LZ4 block
            yield raw[pos + 4:pos + 4 + c], m
        pos += 4 + c


def _trim_bslz4(raw, es):
    """Header + the first blocks of a bslz4 chunk, re-headed to decode to <= MAX_DECODED."""
    total, block = struct.unpack(">QI", raw[:12])
    if block == 0 or block % (8 * es):
        return raw, total // es
    keep, pos, n = 0, 12, 0
    nblocks = total // block
    while keep < nblocks and (keep + 1) * block <= MAX_DECODED and pos + 4 <= len(raw):
        pos += 4 + struct.unpack(">I", raw[pos:pos + 4])[0]
        keep += 1
    if keep == nblocks or keep == 0:
        return raw, total // es
    return struct.pack(">QI", keep * block, block) + raw[12:pos], keep * block // es


def peel(seeds, filters, es, raw, decoded_bytes, mask):
    """Seed every stage of one chunk; filters are (id, cd) in write order."""
    from fastchunk import _native

    active = [(fid, cd) for i, (fid, cd) in enumerate(filters) if not (mask >> i) & 1]
    keys = tuple(_key(fid, cd) for fid, cd in filters)
    n = decoded_bytes // es
    if keys in PIPELINES and decoded_bytes <= MAX_DECODED:
        seeds.add("pipeline", bytes([PIPELINES.index(keys), es - 1]) + _u24(n) + bytes([mask, 0]) + raw)
    cur = raw
    for fid, cd in reversed(active):
        if fid == FLETCHER32:
            seeds.add("fletcher32", cur[-(MAX_DECODED + 4):] if len(cur) > MAX_DECODED + 4 else cur)
            cur = cur[:-4]
        elif fid == DEFLATE:
            out = zlib.decompress(cur)
            if len(out) > MAX_DECODED:
                cur = zlib.compress(out[:MAX_DECODED], 4)
                out = out[:MAX_DECODED]
            seeds.add("deflate", _u24(len(out)) + cur)
            cur = out
        elif fid == LZ4:
            total, block = struct.unpack(">QI", cur[:12])
            block = min(block, total) or 1
            sizes = [min(block, total - k) for k in range(0, total, block)]
            for b, m in _lz4_blocks(cur, 12, sizes):
                if m <= MAX_DECODED:
                    seeds.add("lz4_block", _u24(m) + b)
            if total <= MAX_DECODED:
                seeds.add("lz4_filter", _u24(total) + cur)
            out = np.empty(total, np.uint8)
            _native.decode_chunk(_native.Layout((total,), 1, [(LZ4, ())]), np.frombuffer(cur, np.uint8), out)
            cur = out.tobytes()
        elif fid == LZF:
            if decoded_bytes <= MAX_DECODED:  # no size header: it decodes to the chunk
                seeds.add("lzf", _u24(decoded_bytes) + cur)
            out = np.empty(decoded_bytes, np.uint8)
            _native.decode_chunk(_native.Layout((decoded_bytes,), 1, [(LZF, ())]),
                                 np.frombuffer(cur, np.uint8), out)
            cur = out.tobytes()
        elif fid == ZSTD:
            if decoded_bytes <= MAX_DECODED:
                seeds.add("zstd", _u24(decoded_bytes) + cur)
            out = np.empty(decoded_bytes, np.uint8)
            _native.decode_chunk(_native.Layout((decoded_bytes,), 1, [(ZSTD, ())]),
                                 np.frombuffer(cur, np.uint8), out)
            cur = out.tobytes()
        elif fid == BITSHUFFLE and cd[2] == 3:
            block = struct.unpack(">I", cur[8:12])[0]
            for b, m in _lz4_blocks(cur, 12, [block] * 8):  # same framing as LZ4's blocks
                if m <= MAX_DECODED:
                    seeds.add("zstd", _u24(m) + b)
            break
        elif fid == BLOSC:
            if decoded_bytes <= MAX_DECODED:  # kernel byte 0: the generic kernels
                seeds.add("blosc", b"\0" + cur)
            out = np.empty(decoded_bytes, np.uint8)
            _native.decode_chunk(_native.Layout((decoded_bytes,), 1, [(BLOSC, ())]),
                                 np.frombuffer(cur, np.uint8), out)
            cur = out.tobytes()
        elif fid == SCALEOFFSET:
            if decoded_bytes <= MAX_DECODED:
                seeds.add("scaleoffset", struct.pack("<6I", *cd) + cur)
            break  # the first filter HDF5 runs: nothing decodes after it
        elif fid == SZIP:
            if decoded_bytes <= MAX_DECODED:
                seeds.add("szip", struct.pack("<4I", *cd) + cur)
            break  # what it decodes is shuffled or final: no other target's input
        elif fid == SHUFFLE:
            seeds.add("shuffle", bytes([cd[0] % 256, 0]) + cur[:MAX_DECODED])
            cur = None  # the unshuffled bytes are nobody's input here
        elif fid == BITSHUFFLE and cd[2] == 2:
            bes = cd[0]
            trimmed, nel = _trim_bslz4(cur, bes)
            if nel * bes <= MAX_DECODED and bes <= 16:
                seeds.add("bslz4", bytes([bes - 1]) + _u24(nel) + b"\0" + trimmed)
            block = struct.unpack(">I", cur[8:12])[0]
            for b, m in _lz4_blocks(cur, 12, [block] * 8):
                if m <= MAX_DECODED:
                    seeds.add("lz4_block", _u24(m) + b)
            break
        elif fid == BITSHUFFLE and cd[2] == 0:
            bes, be = cd[0], cd[1] or max(128, 8192 // cd[0] // 8 * 8)
            nel = len(cur) // bes
            if nel * bes > MAX_DECODED:
                nel = max(be, MAX_DECODED // bes // be * be)
            if bes <= 16 and be < 65536:
                seeds.add("bitshuffle", bytes([bes - 1]) + _u24(nel) + b"\0" + struct.pack("<H", be)
                          + cur[:nel * bes])
            break
        if cur is None:
            break


def from_file(seeds, path):
    """Seed from every native filtered dataset of one HDF5 file (errors skip the dataset)."""
    import h5py

    import fastchunk
    try:
        f = fastchunk.File(path)
    except Exception:  # not an HDF5 file we can open: nothing to seed
        return
    names = []
    with f:
        try:
            f.h5.visit(names.append)
        except Exception:  # a damaged file: seed from what was listed
            pass
        with open(f.filename, "rb") as fh:
            for name in names:
                try:
                    if not isinstance(f.h5.get(name, getlink=True), h5py.HardLink):
                        continue
                    ds = f[name]
                    if not isinstance(ds, fastchunk.Dataset):
                        continue
                    if not (ds.native and ds.chunks and ds.pipeline.native) or ds.data_file != f.filename:
                        continue
                    idx = ds.index
                    es = ds.dtype.itemsize
                    chunk_bytes = int(np.prod(ds.chunks)) * es
                    for k in range(min(PER_DATASET, len(idx))):
                        fh.seek(int(idx.offset[k]))
                        raw = fh.read(int(idx.nbytes[k]))
                        peel(seeds, ds.pipeline.native, es, raw, chunk_bytes, int(idx.filter_mask[k]))
                except Exception:  # a dataset that does not peel cleanly seeds nothing
                    continue


def synthetic_files(d):
    """Small files in the demo file's data (fastchunk.testing) with every codec we decode."""
    from fastchunk import testing
    d = pathlib.Path(d)
    out = []
    for i, (comp, shape, dtype, block) in enumerate([
            ("bslz4", (64, 96), np.uint32, 0), ("bslz4", (37, 41), np.uint16, 0),
            ("bslz4", (48, 40), np.uint8, 256), ("bitshuffle", (64, 48), np.uint16, 0),
            ("lz4", (64, 96), np.uint32, 0), ("lz4", (64, 96), np.uint16, 1000),
            ("deflate", (64, 96), np.uint32, 0), ("shuffle+deflate+fletcher32", (37, 41), np.uint32, 0),
            ("shuffle+lz4", (64, 96), np.uint16, 0), ("bslz4+fletcher32", (64, 48), np.uint32, 0),
            ("shuffle+fletcher32", (33, 17), np.uint32, 0), ("lz4+fletcher32", (64, 48), np.uint8, 0),
            ("lzf", (64, 96), np.uint32, 0), ("shuffle+lzf+fletcher32", (37, 41), np.uint16, 0)]):
        p = d / f"synthetic{i}.h5"
        testing.write_eiger_file(p, 3, shape, dtype, compression=comp, block_size=block, seed=i)
        out.append(p)
    frames = testing.eiger_frames(2, shape=(37, 41), dtype=np.int32)
    for i, (dtype, comp, kw) in enumerate([(np.int32, None, dict(scaleoffset=0)),
                                           (np.int16, "deflate", dict(scaleoffset=0, fillvalue=-1)),
                                           (np.float32, None, dict(scaleoffset=2)),
                                           (">f8", "shuffle", dict(scaleoffset=3))]):
        p = d / f"scaleoffset{i}.h5"
        data = frames.astype(dtype) if np.dtype(dtype).kind != "f" else frames * 0.37
        testing.write_dataset(p, "x", data.astype(dtype), (1, 37, 41), comp, **kw)
        out.append(p)
    for i, (dtype, opts, kw) in enumerate([(np.uint16, ("nn", 8), {}), ("<f8", ("ec", 16), {}),
                                           (">i4", ("nn", 32), dict(shuffle=True, fletcher32=True)),
                                           (np.uint8, ("ec", 10), {})]):
        p = d / f"szip{i}.h5"
        testing.write_dataset(p, "x", frames.astype(dtype), (1, 37, 41),
                              {"compression": "szip", "compression_opts": opts}, **kw)
        out.append(p)
    import hdf5plugin
    for i, (dtype, comp, kw) in enumerate([
            (np.uint16, hdf5plugin.Zstd(clevel=3), {}), (np.uint32, hdf5plugin.Zstd(clevel=19), {}),
            (np.uint32, hdf5plugin.Zstd(), dict(shuffle=True, fletcher32=True)),
            (np.uint32, hdf5plugin.Bitshuffle(cname="zstd"), {}),
            (np.uint8, hdf5plugin.Bitshuffle(nelems=256, cname="zstd"), {})]):
        p = d / f"zstd{i}.h5"
        testing.write_dataset(p, "x", frames.astype(dtype), (1, 37, 41), comp, **kw)
        out.append(p)
    for i, (dtype, cname, shuffle, kw) in enumerate([
            (np.uint16, "blosclz", 1, {}), (np.uint32, "lz4", 2, {}), (np.uint16, "snappy", 0, {}),
            (np.uint32, "zlib", 1, {}), (np.uint16, "zstd", 2, {}), (np.float64, "lz4hc", 1, {}),
            (np.uint32, "blosclz", 0, dict(shuffle=True, fletcher32=True))]):
        p = d / f"blosc{i}.h5"
        # 5-20 kB chunks of a multiple of 8 elements (else Blosc does not bit-shuffle them)
        data = np.concatenate([frames, frames[:, ::-1]], axis=2)[:, :32].astype(dtype)
        testing.write_dataset(p, "x", data, (1, 32, 82),
                              hdf5plugin.Blosc(cname=cname, clevel=9, shuffle=shuffle), **kw)
        out.append(p)
    return out


def _stored_chunks(path, name):
    """(stored bytes, filter_mask) of each chunk of one dataset, in chunk index order."""
    import h5py
    with h5py.File(path, "r") as f:
        dsid = f[name].id
        out = []
        for i in range(dsid.get_num_chunks()):
            info = dsid.get_chunk_info(i)
            mask, raw = dsid.read_direct_chunk(info.chunk_offset)
            out.append((raw, mask))
        return out


def _read_seed(chunks, es, pipeline, chunk, out, step, regions, threads=1, links=None):
    """One input of fuzz/targets/read.c: a valid plan whose rows are regions (cs, os, cnt per
    axis) of the stored chunks, which make up the file. regions: (chunk number, cs, os, cnt)."""
    nd = len(chunk)
    offsets, pos = [], 0
    for raw, _ in chunks:
        offsets.append(pos)
        pos += len(raw)
    b = bytes([(nd - 1) | (es.bit_length() - 1) << 2 | pipeline << 4 | threads - 1 << 7, 0, 0])
    for c, o, s in zip(chunk, out, step):
        b += struct.pack("<HHB", c - 1, o, s - 1)
    b += bytes([len(regions) - 1])
    for k, (ci, cs, os_, cnt) in enumerate(regions):
        mask = chunks[ci][1] & 1
        b += bytes([0, (links[k] if links else 0) | mask << 4])
        b += struct.pack("<qq", offsets[ci], len(chunks[ci][0]))
        # read.c takes cnt as "as many as fit, less v"
        most = [min((c - 1 - a) // s + 1, o) for c, a, s, o in zip(chunk, cs, step, out)]
        b += struct.pack(f"<{3 * nd}q", *cs, *os_, *[m - n for m, n in zip(most, cnt)])
    return b + b"".join(raw for raw, _ in chunks)


def read_seeds(seeds, tmp):
    """Valid plans over raw, bitshuffle+LZ4 and LZ4 chunks: scatter, strided (partial bslz4
    decode), a chunk shared by two rows (inline read), whole chunks read straight into out."""
    from fastchunk import testing
    path = pathlib.Path(tmp) / "read.h5"
    rng = np.random.default_rng(0)
    frame = lambda shape, dt: rng.poisson(3, shape).astype(dt)  # noqa: E731  (detector-like)
    for name, data, chunks, comp in [
            ("raw", frame((32, 48), np.uint16), (16, 24), None),
            ("bslz4", frame((32, 48), np.uint32), (16, 24), "bslz4"),
            ("big", frame((128, 128), np.uint32), (128, 128), None),
            ("lz4", frame((4096,), np.uint8), (4096,), "lz4"),
            ("raw3", frame((2, 16, 24), np.uint8), (1, 16, 24), None)]:
        testing.write_dataset(path, name, data, chunks, comp)
    raw, bs = _stored_chunks(path, "raw"), _stored_chunks(path, "bslz4")
    quads = [(k, (0, 0), (16 * (k // 2), 24 * (k % 2)), (16, 24)) for k in range(4)]
    seeds.add("read", _read_seed(raw, 2, 0, (16, 24), (32, 48), (1, 1), quads, threads=2))
    seeds.add("read", _read_seed(bs, 4, 1, (16, 24), (32, 48), (1, 1), quads, threads=2))
    strided = [(k, (0, 0), (8 * (k // 2), 8 * (k % 2)), (8, 8)) for k in range(4)]
    seeds.add("read", _read_seed(bs, 4, 1, (16, 24), (16, 16), (2, 3), strided))
    shared = [(0, (0, 0), (0, 0), (4, 24)), (0, (8, 3), (4, 0), (8, 20))]
    seeds.add("read", _read_seed(bs[:1], 4, 1, (16, 24), (12, 24), (1, 1), shared))
    # two rows on one 64 KiB chunk, told apart by FC_ROW_PARTIAL: two direct preads into out
    whole = [(0, (0, 0), (0, 0), (128, 128)), (0, (0, 0), (128, 0), (128, 128))]
    seeds.add("read", _read_seed(_stored_chunks(path, "big"), 4, 0, (128, 128), (256, 128), (1, 1),
                                 whole, threads=2, links=[0, 8]))
    seeds.add("read", _read_seed(_stored_chunks(path, "lz4"), 1, 2, (4096,), (4096,), (1,),
                                 [(0, (0,), (0,), (4096,))]))
    # Blosc chunks of 8 blocks of 1 kB: a strided region decodes some of them (partial decode)
    import h5py
    import hdf5plugin
    os.environ["BLOSC_BLOCKSIZE"] = "1024"  # c-blosc keeps it: this runs in the seed builder only
    with h5py.File(path, "a") as h:
        h.create_dataset("blosc", data=frame((32, 64), np.uint32), chunks=(32, 64),
                         compression=hdf5plugin.Blosc(cname="lz4"))
    del os.environ["BLOSC_BLOCKSIZE"]
    seeds.add("read", _read_seed(_stored_chunks(path, "blosc"), 4, 3, (32, 64), (8, 8), (4, 8),
                                 [(0, (0, 0), (0, 0), (8, 8))]))
    planes = [(k, (0, 0, 0), (k, 0, 0), (1, 16, 24)) for k in range(2)]
    seeds.add("read", _read_seed(_stored_chunks(path, "raw3"), 1, 0, (1, 16, 24), (2, 16, 24),
                                 (1, 1, 1), planes, threads=2))


def build(root, realdata=None):
    """Write seeds under root/<target>/; returns the count per target."""
    seeds = Seeds(root)
    with tempfile.TemporaryDirectory() as tmp:
        for p in synthetic_files(tmp):
            from_file(seeds, p)
        read_seeds(seeds, tmp)
    # a Blosc buffer stored as is after its header (other writers than hdf5-blosc keep those)
    seeds.add("blosc", b"\0" + struct.pack("<BBBBiii", 2, 1, 0x23, 4, 64, 64, 80) + bytes(range(64)))
    if realdata is not None and pathlib.Path(realdata).is_dir():
        for p in sorted(pathlib.Path(realdata).rglob("*")):
            if p.is_file() and p.suffix in (".h5", ".hdf5", ".nxs") and p.stat().st_size < (64 << 20):
                from_file(seeds, p)
    return seeds.counts
