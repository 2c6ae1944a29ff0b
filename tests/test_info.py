"""`fastchunk info`: the facts it reports match HDF5's, and the advice fires where the layout
hurts and stays quiet where it does not."""
import json

import h5py
import numpy as np
import pytest

from fastchunk import testing
from fastchunk.cli import main
from fastchunk.cli.info import file_info, format_info


def _one(path, name):
    (info,) = file_info(path, name)["datasets"]
    return info


def test_facts_match_hdf5(tmp_path):
    data = testing.eiger_frames(4, shape=(40, 30), dtype=np.uint16)
    p = testing.write_dataset(tmp_path / "e.h5", "x", data, (1, 40, 30), "bslz4")
    info = _one(p, "x")
    with h5py.File(p, "r") as f:
        ds = f["x"]
        sizes = [ds.id.get_chunk_info(i).size for i in range(4)]
        addrs = [ds.id.get_chunk_info(i).byte_offset for i in range(4)]
        cd = list(ds.id.get_create_plist().get_filter(0)[2])
    assert info["chunks_allocated"] == info["chunks_in_grid"] == 4
    assert info["stored_bytes"] == sum(sizes)
    assert info["compression_ratio"] == round(data.nbytes / sum(sizes), 3)
    assert info["chunk_stored_bytes"]["min"] == min(sizes) and info["chunk_stored_bytes"]["max"] == max(sizes)
    assert info["first_chunk_address"] == min(addrs)
    assert info["byte_range"] == [min(addrs), max(a + s for a, s in zip(addrs, sizes))]
    assert info["filters"] == [{"id": 32008, "name": "bitshuffle", "hdf5_name": info["filters"][0]["hdf5_name"],
                                "flags": info["filters"][0]["flags"], "optional": info["filters"][0]["optional"],
                                "cd_values": cd}]
    assert info["native"] and info["index_type"] in ("fixed array", "v1 B-tree")
    assert info["read_amplification"]["frame ds[i]"] == 1.0
    assert info["advice"] == []


@pytest.mark.parametrize("libver,kw,want", [
    ("earliest", {}, "v1 B-tree"),
    ("latest", {}, "fixed array"),
    ("latest", {"maxshape": (None, 10)}, "extensible array"),
    ("latest", {"maxshape": (None, None)}, "v2 B-tree"),
])
def test_index_types(tmp_path, libver, kw, want):
    p = tmp_path / "i.h5"
    with h5py.File(p, "w", libver=libver) as f:
        f.create_dataset("x", data=np.zeros((20, 10)), chunks=(5, 5), **kw)
    assert _one(p, "x")["index_type"] == want


def test_advice_for_tiny_chunks_and_interleaving(tmp_path):
    p = testing.write_dataset(tmp_path / "t.h5", "t", np.arange(5000.0), (1,), None)
    info = _one(p, "t")
    tips = " | ".join(info["advice"])
    assert "tiny chunks: 5000 chunks of 8 bytes" in tips and "h5repack -l /t:CHUNK=5000" in tips
    assert info["contiguity"] < 0.9 and "h5repack makes them one run" in tips


def test_advice_for_amplification(tmp_path):
    p = testing.write_dataset(tmp_path / "a.h5", "a", np.ones((256, 64, 64), "u1"), (128, 64, 64), None)
    info = _one(p, "a")
    assert info["read_amplification"] == {"frame ds[i]": 128.0, "series ds[:, j, ...]": 4096.0}
    assert any("one frame ds[i] decodes 128x" in t for t in info["advice"])
    assert not any("chunk cache" in t for t in info["advice"])


def test_advice_for_chunk_cache(tmp_path):
    p = testing.write_dataset(tmp_path / "c.h5", "c", np.ones((64, 256, 256), "u4"), (64, 256, 256), None)
    info = _one(p, "c")
    assert info["chunk_bytes"] == 64 * 256 * 256 * 4 > info["chunk_cache_bytes"]
    assert [t for t in info["advice"] if "bigger than HDF5's chunk cache" in t]
    assert not any("frame ds[i] decodes" in t for t in info["advice"])  # 64x for a frame: below the bar


def test_unallocated_and_text(tmp_path, capsys):
    p = testing.write_dataset(tmp_path / "u.h5", "u", None, (10, 10), "bslz4", shape=(40, 40), dtype="i2")
    with h5py.File(p, "a") as f:
        f["u"][:10] = 3
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "4 allocated / 16 in grid" in out and "12 chunks are not allocated" in out
    assert "bitshuffle (id 32008) cd_values" in out and "native    yes" in out
    assert main(["info", str(p), "u", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in doc["datasets"]] == ["/u"]


def test_real_files(realdata, capsys):
    for rel in ("hdf5/h5fc_edge_v3.h5", "hdf5plugin/bitshuffle.h5"):
        path = realdata / rel
        if not path.is_file():
            continue
        doc = file_info(path)
        assert doc["datasets"]
        for d in doc["datasets"]:
            if d["layout"] == "chunked":
                assert d["index_type"] in ("v1 B-tree", "single chunk", "implicit (no index)",
                                           "fixed array", "extensible array", "v2 B-tree")
        assert format_info(doc).startswith(str(path))


def test_virtual_dataset_lists_its_sources(tmp_path, capsys):
    master = testing.write_diamond_master(tmp_path, n_frames=6, frames_per_file=2, missing=(2,))
    doc = file_info(master, "/entry/data/data")
    (vds,) = doc["datasets"]
    assert vds["layout"] == "virtual" and vds["native"] and vds["sources_missing"] == 1
    files = [s["file"] for s in vds["sources"]]
    assert files[0].endswith("scan_000001.h5") and files[1] is None and files[2].endswith("scan_000003.h5")
    assert [s["virtual_start"][0] for s in vds["sources"]] == [0, 2, 4]
    assert main(["info", str(master), "/entry/data/data"]) == 0
    text = capsys.readouterr().out
    assert "scan_000003.h5:/data (2, 96, 80) uint32 bitshuffle+lz4 (native)" in text
    assert "missing: reads as the fill value" in text
