"""fastchunk.refs / `fastchunk refs`: kerchunk references read back through real fsspec + zarr
(and xarray) give what h5py gives, for generated files of every native codec, DECTRIS and
Diamond masters, VDS, filter masks, and the real files in ../shared/realdata."""
import base64
import json
import os

import fsspec
import h5py
import hdf5plugin
import numpy as np
import pytest
import zarr
from conftest import REALDATA

import fastchunk
from fastchunk import testing
from fastchunk.cli.main import main as cli_main


def open_refs(refs):
    fs = fsspec.filesystem("reference", fo=refs)
    return zarr.open_group(fs.get_mapper(), mode="r", zarr_format=2)


def _arrays(refs):
    return [k[: -len("/.zarray")] for k in refs["refs"] if k.endswith("/.zarray")]


def _same(got, want):
    if isinstance(want, bytes) or (isinstance(want, np.ndarray) and want.dtype.kind == "O"):
        dec = np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])
        want, got = np.asarray(want, dtype=object), np.asarray(got, dtype=object)
        return got.shape == want.shape and bool((dec(got) == dec(want)).all())
    want = np.asarray(want)
    return (got.shape == want.shape and got.dtype == want.dtype
            and np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes())


HUGE = 64 << 20


def check_like_h5py(path, refs=None, **kw):
    """Every referenced array read through zarr equals h5py's read of the same name (huge ones:
    the region of each of their first stored chunks); returns (names checked, skipped)."""
    refs = fastchunk.refs(path, **kw) if refs is None else refs
    json.dumps(refs)  # JSON-able as it is
    root = open_refs(refs)
    names = _arrays(refs)
    with h5py.File(path, "r") as h:
        for name in names:
            if name not in h:
                continue  # a DECTRIS stack (checked against open_nxmx by its test)
            hd, z = h[name], root[name]
            if hd.shape and hd.size * hd.dtype.itemsize > HUGE:
                keys = [k.rsplit("/", 1)[1] for k, v in refs["refs"].items()
                        if k.startswith(name + "/") and not k.rsplit("/", 1)[1].startswith(".")][:4]
                for key in keys + [".".join("0" for _ in z.chunks)]:
                    sel = tuple(slice(int(c) * n, int(c) * n + n) for c, n in zip(key.split("."), z.chunks))
                    assert _same(z[sel], hd[sel]), (path, name, key)
                continue
            assert _same(z[...], hd[()]), (path, name)
    return names, refs["fastchunk"]["skipped"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One file with a dataset per native codec and the awkward cases around them."""
    p = tmp_path_factory.mktemp("refs") / "gen.h5"
    d = testing.eiger_frames(3, shape=(37, 41), dtype=np.int32)
    for comp in ["bslz4", "lz4", "lzf", "deflate", "shuffle+deflate+fletcher32", "bitshuffle", None]:
        testing.write_dataset(p, f"codec/{comp}", d.astype(np.uint16), (1, 16, 41), comp)
    testing.write_dataset(p, "codec/szip", d.astype(np.uint16), (1, 37, 41),
                          {"compression": "szip", "compression_opts": ("nn", 8)})
    testing.write_dataset(p, "codec/so_int", d, (1, 37, 41), None, scaleoffset=0)
    testing.write_dataset(p, "codec/so_float", (d * 0.37).astype(">f8"), (1, 37, 41), "shuffle", scaleoffset=3)
    testing.write_dataset(p, "codec/blosc", d.astype(np.uint32), (1, 32, 41), hdf5plugin.Blosc(cname="lz4", shuffle=2))
    testing.write_dataset(p, "codec/zstd", d.astype(np.uint32), (2, 32, 41), hdf5plugin.Zstd())
    testing.write_dataset(p, "fill/nan", None, (2, 16, 8), "bslz4", shape=(5, 37, 41), dtype="f4", fillvalue=np.nan)
    testing.write_dataset(p, "fill/int", None, (2, 16, 8), "lz4", shape=(5, 37, 41), dtype="i2", fillvalue=-7)
    with h5py.File(p, "a") as f:
        f["fill/int"][1, :5, :5] = 3  # one chunk written, the others the fill value
        f["types/S3"] = np.array([[b"abc", b"de"]] * 7)
        f["types/contig"] = np.arange(1000 * 37, dtype=">i8").reshape(1000, 37)
        f.create_dataset("types/big_contig", data=np.arange(3 * 1024 * 1024, dtype="u4").reshape(3 * 64, 16384))
        f["types/scalar"] = 3.5
        f["types/str"] = "hello"
        f["types/strs"] = ["a", "bcd"]
        f["types/compound"] = np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "<i4"), ("b", "<f8")])
        f.create_dataset("types/cchunk", data=np.array([(1, 2.0), (3, 4.0)] * 10, dtype=[("a", "<i4"), ("b", "<f8")]),
                         chunks=(4,), compression="gzip")
        f.create_dataset("types/bool", data=np.arange(20) % 3 == 0, chunks=(7,), compression="lzf")
        f.create_dataset("types/cplx", data=np.arange(20) * (1 + 2j), chunks=(7,))
        f.create_dataset("types/empty", data=h5py.Empty("f4"))
        f["links/soft"] = h5py.SoftLink("/codec/bslz4")
        f["links/dangling"] = h5py.SoftLink("/nowhere")
        f.attrs.update({"title": "x", "arr": np.arange(3), "b": b"bytes", "nan": np.nan,
                        "strs": np.array([b"a", b"bc"]), "empty": h5py.Empty("f4")})
        f["codec/bslz4"].attrs["units"] = "counts"
    return p


def test_every_native_codec_through_zarr(generated):
    names, skipped = check_like_h5py(generated)
    for want in ["codec/bslz4", "codec/lz4", "codec/lzf", "codec/deflate", "codec/szip", "codec/so_int",
                 "codec/so_float", "codec/blosc", "codec/zstd", "codec/shuffle+deflate+fletcher32",
                 "fill/nan", "fill/int", "types/S3", "types/contig", "types/big_contig", "types/scalar",
                 "types/str", "types/strs", "types/compound", "types/cchunk", "types/bool",
                 "types/cplx", "links/soft"]:
        assert want in names, want
    assert "null dataspace" in skipped["/types/empty"]
    assert "dangling SoftLink" in skipped["/links/dangling"]


def test_metadata_and_attributes(generated):
    refs = fastchunk.refs(generated)
    r = refs["refs"]
    zarray = json.loads(r["codec/bslz4/.zarray"])
    assert zarray["compressor"] == {"id": "fastchunk.hdf5", "filters": [[32008, [0, 4, 2, 0, 2]]],
                                    "elem_size": 2, "chunks": [1, 16, 41]}
    assert zarray["filters"] is None and zarray["chunks"] == [1, 16, 41] and zarray["dtype"] == "<u2"
    assert json.loads(r["fill/nan/.zarray"])["fill_value"] == "NaN"
    assert json.loads(r["fill/int/.zarray"])["fill_value"] == -7
    key = r["codec/bslz4/0.1.0"]
    with h5py.File(generated, "r") as h:
        info = h["codec/bslz4"].id.get_chunk_info_by_coord((0, 16, 0))
    assert key == [os.path.abspath(generated), info.byte_offset, info.size]
    assert json.loads(r["types/big_contig/.zarray"])["chunks"][0] * 16384 * 4 <= 4 << 20  # cut in row chunks
    root = open_refs(refs)
    attrs = dict(root.attrs)
    assert attrs["title"] == "x" and attrs["arr"] == [0, 1, 2] and attrs["b"] == "bytes"
    assert attrs["strs"] == ["a", "bc"] and np.isnan(attrs["nan"]) and "empty" not in attrs
    assert "attribute 'empty' left out" in refs["fastchunk"]["notes"]["/"][0]
    assert dict(root["codec/bslz4"].attrs)["units"] == "counts"
    assert root["codec/bslz4"].attrs["_ARRAY_DIMENSIONS"] == ["phony_dim_0", "phony_dim_1", "phony_dim_2"]
    # only some datasets: their groups come along
    some = fastchunk.refs(generated, ["codec/lz4", "/types"])
    assert set(_arrays(some)) == {"codec/lz4", "types/S3", "types/contig", "types/big_contig", "types/scalar",
                                  "types/str", "types/strs", "types/compound", "types/cchunk", "types/bool", "types/cplx"}
    assert "codec/.zgroup" in some["refs"] and json.loads(some["refs"][".zattrs"])["title"] == "x"
    assert "not found" in fastchunk.refs(generated, ["nope"])["fastchunk"]["skipped"]["/nope"]
    # no inlining: the small datasets HDF5 keeps in the object header are listed instead
    none = fastchunk.refs(generated, ["types"], inline_threshold=0)
    assert "types/scalar" not in _arrays(none) and "scalar" in none["fastchunk"]["skipped"]["/types/scalar"]


def test_refs_is_callable_as_attribute_and_module(generated):
    import sys

    import fastchunk.refs  # noqa: F401
    module = sys.modules["fastchunk.refs"]
    assert callable(module) and module(generated, ["codec/lz4"])["version"] == 1
    assert callable(fastchunk.refs)
    assert fastchunk.refs(generated, ["codec/lz4"])["refs"].keys() == module.refs(generated, ["codec/lz4"])["refs"].keys()


def test_dectris_master(tmp_path):
    master = testing.write_dectris_master(tmp_path, n_frames=10, frames_per_file=4)
    names, skipped = check_like_h5py(master)
    assert not skipped
    assert {"entry/data/data_000001", "entry/data/data_000002", "entry/data/data_000003",
            "entry/data/data"} <= set(names)
    refs = fastchunk.refs(master)
    data_files = {v[0] for v in refs["refs"].values() if isinstance(v, list)}
    assert data_files == {str(tmp_path / f"series_data_00000{i}.h5") for i in (1, 2, 3)}  # not the master
    root = open_refs(refs)
    with fastchunk.open_nxmx(master) as frames:
        assert _same(root["entry/data/data"][...], frames[()])
        assert _same(root["entry/data/data"][3:7, 10:20], frames[3:7, 10:20])
    assert "entry/data/data" not in _arrays(fastchunk.refs(master, stack=False))


def test_dectris_master_with_a_missing_data_file(tmp_path):
    master = testing.write_dectris_master(tmp_path, n_frames=10, frames_per_file=4, missing=(2,))
    names, skipped = check_like_h5py(master)
    assert "dangling ExternalLink" in skipped["/entry/data/data_000002"]
    assert "not stacked" in skipped["/entry/data/data"]
    assert "entry/data/data_000003" in names


def test_diamond_master_vds(tmp_path):
    same = testing.write_diamond_master(tmp_path / "same", n_frames=10, frames_per_file=4, vds_dtype=np.uint32)
    names, skipped = check_like_h5py(same)
    assert "entry/data/data" in names and not skipped
    gaps = testing.write_diamond_master(tmp_path / "gaps", n_frames=10, frames_per_file=4, vds_dtype=np.uint32,
                                        missing=(2,), fillvalue=7)
    names, skipped = check_like_h5py(gaps)  # frames of the missing file read as the fill value
    assert "entry/data/data" in names
    converted = testing.write_diamond_master(tmp_path / "conv", n_frames=6, frames_per_file=4)  # int32 over uint32
    names, skipped = check_like_h5py(converted)
    assert "entry/data/data" not in names and "converts" in skipped["/entry/data/data"]


def test_vds_that_does_not_line_up(tmp_path):
    data = testing.eiger_frames(6, shape=(16, 16), dtype=np.uint16)
    src = testing.write_dataset(tmp_path / "src.h5", "x", data, (2, 16, 16), "bslz4")
    p = tmp_path / "vds.h5"
    for name, at in [("aligned", 2), ("shifted", 1)]:
        layout = h5py.VirtualLayout(shape=(8, 16, 16), dtype=np.uint16)
        layout[at:at + 6] = h5py.VirtualSource(str(src), "x", shape=data.shape)
        with h5py.File(p, "a") as f:
            f.create_virtual_dataset(name, layout, fillvalue=0)
    names, skipped = check_like_h5py(p)
    assert "aligned" in names
    assert "starts inside a chunk" in skipped["/shifted"]


def test_filter_masks(tmp_path):
    import zlib
    data = np.arange(64, dtype=np.int32).reshape(8, 8)
    p = testing.write_dataset(tmp_path / "m.h5", "mixed", None, (4, 8), "shuffle+deflate", shape=(8, 8), dtype="i4")
    testing.write_dataset(p, "uniform", None, (4, 8), "shuffle+deflate", shape=(8, 8), dtype="i4")
    with h5py.File(p, "a") as h:
        h["mixed"].id.write_direct_chunk((0, 0), data[:4].tobytes(), filter_mask=0b11)
        h["mixed"].id.write_direct_chunk((4, 0), zlib.compress(data[4:].tobytes()), filter_mask=0b01)
        for r in (0, 4):  # every chunk skips shuffle: the references carry deflate alone
            h["uniform"].id.write_direct_chunk((r, 0), zlib.compress(data[r:r + 4].tobytes()), filter_mask=0b01)
    names, skipped = check_like_h5py(p)
    assert "filter_mask" in skipped["/mixed"] and "one codec chain" in skipped["/mixed"]
    assert "uniform" in names
    refs = fastchunk.refs(p, ["uniform"])
    assert json.loads(refs["refs"]["uniform/.zarray"])["compressor"]["filters"] == [[1, [testing.DEFLATE_LEVEL]]]


def test_cli_writes_references(generated, tmp_path, capsys):
    out = tmp_path / "refs.json"
    assert cli_main(["refs", str(generated), "codec", "links", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "arrays" in err and "not referenced: /links/dangling" in err and str(out) in err
    root = zarr.open_group(fsspec.filesystem("reference", fo=str(out)).get_mapper(), mode="r", zarr_format=2)
    with h5py.File(generated, "r") as h:
        assert _same(root["codec/szip"][...], h["codec/szip"][()])
    assert cli_main(["refs", str(generated), "codec/lz4", "-q"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["refs"]["codec/lz4/.zarray"] and captured.err == ""
    assert cli_main(["refs", str(tmp_path / "nope.h5")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_xarray_opens_a_group(tmp_path):
    xr = pytest.importorskip("xarray")
    master = testing.write_dectris_master(tmp_path, n_frames=6, frames_per_file=4)
    refs = fastchunk.refs(master)
    # the group's mapper (xarray takes no group= with a mapper, and with a "reference://" URL
    # plus storage_options zarr-python 3.1 lists no members in a subgroup)
    mapper = fsspec.filesystem("reference", fo=refs).get_mapper("entry/data")
    # mask_and_scale=False: else xarray reads zarr's fill_value as CF's _FillValue (0 -> NaN)
    ds = xr.open_dataset(mapper, engine="zarr", consolidated=False, zarr_format=2, mask_and_scale=False)
    with fastchunk.open_nxmx(master) as frames:
        assert _same(ds["data"].values, frames[()])
    with h5py.File(master, "r") as h:
        assert _same(ds["data_000002"].values, h["entry/data/data_000002"][()])


@pytest.mark.filterwarnings("ignore:Numcodecs codecs are not in the Zarr version 3:UserWarning")
def test_virtualizarr_hdf_parser_with_our_codec(tmp_path, monkeypatch):
    """virtualizarr's HDF parser refuses bitshuffle (it maps filters one by one through
    hdf5plugin names: 'bshuf' is no numcodecs codec); with its codecs_from_dataset replaced by
    ours and our codecs registered for zarr v3, the ManifestStore reads as h5py does."""
    virtualizarr = pytest.importorskip("virtualizarr")
    xr = pytest.importorskip("xarray")
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore
    from virtualizarr.parsers import HDFParser
    from virtualizarr.parsers.hdf import hdf as vz_hdf

    from fastchunk import numcodecs_codecs
    p = testing.write_eiger_file(tmp_path / "e.h5", n_frames=4, shape=(96, 80), dtype=np.uint32, compression="bslz4")
    registry = ObjectStoreRegistry({"file://": LocalStore()})
    url = f"file://{p}"
    with pytest.raises(Exception, match="bshuf"):
        virtualizarr.open_virtual_dataset(url, registry=registry, parser=HDFParser(group="entry/data"))
    monkeypatch.setattr(vz_hdf, "codecs_from_dataset", numcodecs_codecs.codecs_for_h5py)
    numcodecs_codecs.register_zarr3()
    store = HDFParser(group="entry/data")(url, registry=registry)
    ds = xr.open_zarr(store, consolidated=False, zarr_format=3, mask_and_scale=False)
    with h5py.File(p, "r") as h:
        assert _same(ds["data"].values, h["entry/data/data"][()])


def test_inline_chunks_are_base64(generated):
    refs = fastchunk.refs(generated, ["types/scalar"])
    v = refs["refs"]["types/scalar/0"]
    assert v.startswith("base64:") and np.frombuffer(base64.b64decode(v[7:]), "<f8")[0] == 3.5


# -- real files --------------------------------------------------------------------------
# A representative subset in the normal run; FASTCHUNK_SLOW=1 checks every file.
SUBSET = ["bitshuffle/regression_0.4.0.h5", "hdf5plugin/bitshuffle.h5", "rosettasciio/arina/test_00_master.h5",
          "jhdf/lz4_datasets.hdf5", "hdf5/be_data.h5", "hdf5/h5repack_soffset.h5", "kerchunk/hdf5_mini_blosc.h5",
          "hdf5/binfp64.h5", "hdf5/vds/4_vds.h5", "nexusformat/NXtest.h5"]
# what zarr v2 cannot express, by file: dataset -> words of the reason
EXPECTED_SKIPS = {
    "hdf5/h5fc_edge_v3.h5": {"/DSET_EDGE": "DONT_FILTER_PARTIAL"},
    "kerchunk/hdf5_mali_chunk.h5": {"/data": "filter_mask"},
    "jhdf/compound_datasets_latest.hdf5": {"/nested_chunked_compound": "nested"},
    "hdf5/vds/1_vds.h5": {"/vds_dset": "one chunk shape"},
    "hdf5/vds/5_vds.h5": {"/vds_dset": "strided"},
}


def _realdata_files():
    if not REALDATA.is_dir():
        return []
    return sorted(str(p.relative_to(REALDATA)) for p in REALDATA.rglob("*")
                  if p.suffix in (".h5", ".hdf5", ".nxs", ".nc") and p.is_file())


def _h5py_opens(path):
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("name", SUBSET + sorted(EXPECTED_SKIPS))
def test_realdata_subset(realdata, name):
    names, skipped = check_like_h5py(realdata / name)
    for ds, words in EXPECTED_SKIPS.get(name, {}).items():
        assert words in skipped[ds], (ds, skipped.get(ds))
    assert names or skipped


@pytest.mark.skipif(not os.environ.get("FASTCHUNK_SLOW"), reason="every real file: FASTCHUNK_SLOW=1")
def test_realdata_every_file(realdata):
    """Every file h5py opens: each referenced array equals h5py's read (a few minutes)."""
    failures, checked = [], 0
    for name in _realdata_files():
        if not _h5py_opens(realdata / name):
            continue  # see MANIFEST.md: h5py cannot open it either
        try:
            names, skipped = check_like_h5py(realdata / name)
            checked += len(names)
        except Exception as e:  # noqa: BLE001  (collect them all, then fail once)
            failures.append(f"{name}: {type(e).__name__}: {e}")
    assert not failures, "\n".join(failures)
    assert checked


def test_docs_other_libraries_examples_run(tmp_path, monkeypatch):
    """docs/other-libraries.md's examples run as written (virtualizarr's where it is installed)."""
    import importlib.util
    import pathlib
    import re
    import warnings
    doc = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "other-libraries.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) >= 4
    scope = {}
    for code in blocks:
        if "virtualizarr" in code:
            if importlib.util.find_spec("virtualizarr") is None:
                continue
            from virtualizarr.parsers.hdf import hdf as vz_hdf
            monkeypatch.setattr(vz_hdf, "codecs_from_dataset", vz_hdf.codecs_from_dataset)  # undone after
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr's "numcodecs codecs are not in the v3 spec"
            exec(compile(code.replace("/tmp/fc-demo", str(tmp_path)), "other-libraries.md", "exec"), scope)
