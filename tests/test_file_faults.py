"""File-level faults swept over small real files: bytes flipped in chunk payloads and length
fields, files cut at and inside every chunk, an index pointing past the end of the file.

Every case must end like h5py where h5py returns data (the same bytes), or in a fastchunk
error that names the file and the chunk; never a crash, a hang, or data h5py does not give.
h5py reads the damaged files in a child process: some filter plugins trust stored lengths and
may crash on hostile bytes, and that must not take the test run down.
"""
import collections
import hashlib
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REALDATA, assert_names_chunk, patch_file

import fastchunk
from fastchunk import testing

# (file under ../shared/realdata, dataset): every codec fastchunk decodes, from real writers.
REAL = [
    ("rosettasciio/arina/test_00_data_000001.h5", "entry/data/data"),    # bitshuffle+lz4, detector
    ("jhdf/bitshuffle_datasets.hdf5", "float32_bs64_comp2"),             # bitshuffle+lz4
    ("jhdf/bitshuffle_datasets.hdf5", "float32_bs0_comp0"),              # bitshuffle
    ("hdf5_plugins/h5ex_d_bshuf.h5", "DS1"),                             # bitshuffle+lz4
    ("hdf5_plugins/h5ex_d_lz4.h5", "DS1"),                               # lz4, 3-byte blocks
    ("kerchunk/hdf5_compression_lz4.h5", "data"),                        # lz4
    ("jhdf/fletcher32_datasets_earliest.hdf5", "int/int32"),             # fletcher32
    ("jhdf/test_byteshuffle_compressed_datasets_earliest.hdf5", "int/int16"),  # shuffle+deflate
    ("pyfive/btreev2.hdf5", "btreev2_filters"),                          # deflate+fletcher32
    ("pyfive/compressed.hdf5", "dataset3"),                              # shuffle
    ("pyfive/compressed.hdf5", "dataset1"),                              # deflate
]
# Written by fastchunk.testing: always there, even without ../shared/realdata.
SYNTHETIC = [("bslz4", (37, 41), np.uint32), ("bitshuffle", (16, 24), np.uint16),
             ("lz4+fletcher32", (32, 20), np.uint8), ("shuffle+deflate+fletcher32", (19, 23), np.uint32)]
CHUNKS_PER_DATASET = 3
SUMMARY = collections.Counter()  # printed by conftest at the end of the run

ORACLE = r"""
import hashlib, json, sys
import h5py, hdf5plugin
cases = json.load(open(sys.argv[1]))
with open(sys.argv[2], "a") as out:
    for path, name in cases[int(sys.argv[3]):]:
        try:
            with h5py.File(path, "r") as f:
                a = f[name][()]
            res = "ok " + hashlib.sha1(a.tobytes()).hexdigest()
        except Exception as e:
            res = "error " + type(e).__name__
        out.write(res + "\n")
        out.flush()
"""


def h5py_results(cases, tmp_path):
    """h5py's outcome for each (path, dataset): 'ok <sha1>', 'error <type>' or 'crash'."""
    todo = tmp_path / "cases.json"
    todo.write_text(json.dumps([[str(p), n] for p, n in cases]))
    out = tmp_path / "h5py.txt"
    out.write_text("")
    while True:
        done = len(out.read_text().splitlines())
        if done >= len(cases):
            return out.read_text().splitlines()
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(ORACLE), str(todo), str(out), str(done)],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0 and len(out.read_text().splitlines()) == done:
            with open(out, "a") as fh:  # the case that killed h5py
                fh.write("crash\n")


def datasets(tmp_path):
    """(path, dataset) of every file the sweep damages."""
    found = []
    for i, (comp, shape, dtype) in enumerate(SYNTHETIC):
        p = testing.write_eiger_file(tmp_path / f"synthetic{i}.h5", 3, shape, dtype, compression=comp,
                                     seed=i, dataset="/data")
        found.append((p, "/data"))
    if REALDATA.is_dir():
        for rel, name in REAL:
            if (REALDATA / rel).is_file():
                found.append((REALDATA / rel, name))
    return found


def chunk_info(path, name):
    """(element coords, offset, nbytes) of the first chunks in file order, and the codec."""
    with fastchunk.File(path) as f:
        ds = f[name]
        assert ds.native, ds.reason
        idx = ds.index
        chunks = [(tuple(int(c) * n for c, n in zip(idx.coords[k], ds.chunks)), int(idx.offset[k]),
                   int(idx.nbytes[k])) for k in range(min(CHUNKS_PER_DATASET, len(idx)))]
        return chunks, ds.pipeline.codec


def flip_positions(n):
    """Length fields (bytes 0-15 hold the u64/u32 headers of LZ4 and bitshuffle chunks and
    zlib's header), the middle, the end (checksums, raw tails)."""
    return sorted({p for p in (0, 3, 7, 8, 11, 12, 15, n // 3, n // 2, n - 5, n - 1) if 0 <= p < n})


def outcome(path, name, codec, coords):
    """('ok', sha1) or ('error', exception), after checking an error names file and chunk."""
    try:
        with fastchunk.File(path) as f:
            a = f[name][()]
        return "ok", hashlib.sha1(a.tobytes()).hexdigest()
    except fastchunk.FastchunkError as e:
        assert_names_chunk(str(e), path, name, coords, codec)
        return "error", e


def test_flipped_bytes_match_h5py_or_name_the_chunk(tmp_path):
    cases, meta = [], []
    for n, (src, name) in enumerate(datasets(tmp_path)):
        chunks, codec = chunk_info(src, name)
        for c, (coords, offset, nbytes) in enumerate(chunks):
            for pos in flip_positions(nbytes):
                for mask in (0x01, 0xFF):
                    p = tmp_path / f"flip{n}_{c}_{pos}_{mask}.h5"
                    shutil.copy(src, p)
                    with open(p, "rb") as fh:
                        fh.seek(offset + pos)
                        byte = fh.read(1)[0]
                    patch_file(p, offset + pos, [byte ^ mask])
                    cases.append((p, name))
                    meta.append((codec, coords))
    oracle = h5py_results(cases, tmp_path)
    wrong = []
    for (p, name), (codec, coords), h in zip(cases, meta, oracle):
        kind, got = outcome(p, name, codec, coords)
        if kind == "ok" and h.startswith("ok"):
            SUMMARY["flip: same data as h5py"] += 1
            if got != h.split()[1]:
                wrong.append(f"{p.name}: data differs from h5py's")
        elif kind == "ok":
            SUMMARY["flip: data where h5py fails"] += 1
            wrong.append(f"{p.name}: fastchunk returned data, h5py {h}")
        elif h.startswith("ok"):
            SUMMARY["flip: fastchunk error, h5py returns data"] += 1  # bytes inconsistent, h5py lax
        else:
            SUMMARY[f"flip: both fail (h5py {h.split()[0]})"] += 1
    assert not wrong, wrong
    assert len(cases) >= 100


def test_truncated_files_read_what_is_there_or_name_the_chunk(tmp_path):
    for n, (src, name) in enumerate(datasets(tmp_path)):
        chunks, codec = chunk_info(src, name)
        with fastchunk.File(src) as f:
            expected = f[name][()]
        cuts = sorted({cut for _, off, nb in chunks for cut in (off, off + 1, off + nb // 2, off + nb - 1)})
        for cut in cuts:
            p = tmp_path / f"cut{n}_{cut}.h5"
            shutil.copy(src, p)
            with fastchunk.File(p) as f:
                ds = f[name]
                idx = ds.index  # built before the cut: HDF5 refuses to open a cut file
                bad = [k for k in range(len(idx)) if idx.offset[k] + idx.nbytes[k] > cut]
                with open(p, "r+b") as fh:
                    fh.truncate(cut)
                if not bad:
                    assert ds[()].tobytes() == expected.tobytes()
                    SUMMARY["cut: every chunk still there, same data"] += 1
                    continue
                with pytest.raises(fastchunk.ChunkReadError) as e:
                    ds[()]
                first = min(bad, key=lambda k: idx.offset[k])
                coords = tuple(int(c) * s for c, s in zip(idx.coords[first], ds.chunks))
                assert_names_chunk(str(e.value), p, name, coords, codec)
                assert "end of the file" in str(e.value)
                SUMMARY["cut: ChunkReadError naming the first missing chunk"] += 1
            # Opened afresh, the cut file fails in h5py's open, for fastchunk as for h5py.
            with pytest.raises(OSError):
                fastchunk.File(p)
            SUMMARY["cut: open refused as by h5py"] += 1


def test_index_pointing_past_the_end_of_the_file(tmp_path):
    for n, (src, name) in enumerate(datasets(tmp_path)):
        _, codec = chunk_info(src, name)
        size = src.stat().st_size
        for how in ("offset", "nbytes"):
            # strict: the native read, whose index this damages (a tiny dataset's whole read
            # would go to HDF5's read call, which uses HDF5's own, undamaged index)
            with fastchunk.File(src, strict=True) as f:
                ds = f[name]
                idx = ds.index
                last = int(np.argmax(idx.offset))  # keeps the index in file order
                if how == "offset":
                    idx.offset[last] = size + 4096
                else:
                    idx.nbytes[last] = size - idx.offset[last] + 1
                coords = tuple(int(c) * s for c, s in zip(idx.coords[last], ds.chunks))
                for sel in ((), tuple(slice(c, c + 1) for c in coords)):
                    with pytest.raises(fastchunk.ChunkReadError) as e:
                        ds[sel]
                    assert_names_chunk(str(e.value), src, name, coords, codec)
                    SUMMARY["index past EOF: ChunkReadError naming the chunk"] += 1
