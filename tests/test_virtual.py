"""Virtual datasets, external links and detector masters: every read equals h5py's, bit for bit."""
import os
import shutil

import h5py
import numpy as np
import pytest

import fastchunk
from fastchunk.testing import write_dataset, write_dectris_master, write_diamond_master

from conftest import assert_identical

UNLIM = h5py.h5s.UNLIMITED
SELECTIONS = [np.s_[...], np.s_[0], np.s_[-1], np.s_[1:4], np.s_[::2], np.s_[2:9:3, 5:40, ::7],
              np.s_[..., 3], np.s_[:, 10:11, 20:60:5]]


def compare(path, name, selections=SELECTIONS, threads=(1, 3), native=True):
    with h5py.File(path, "r") as h, fastchunk.File(path) as f:
        ds = f[name]
        assert ds.native is native, ds.reason
        for sel in selections:
            if len(h[name].shape) < 3 and isinstance(sel, tuple) and len(sel) > len(h[name].shape):
                continue
            try:
                expected = h[name][sel]
            except OSError:  # HDF5 fails empty selections of printf-named VDS ("selection
                expected = None  # bounds"); the result is simply empty
            except (IndexError, ValueError, TypeError) as e:
                with pytest.raises(type(e)):
                    ds.read(sel)
                continue
            if expected is None and not native:  # read through h5py: its error
                with pytest.raises(OSError):
                    ds.read(sel)
                continue
            for t in threads:
                got = ds.read(sel, num_threads=t)
                if expected is None:
                    assert got.size == 0 and got.dtype == h[name].dtype
                else:
                    assert_identical(got, expected)
        if h[name].size < 10**7:
            out = np.empty(h[name].shape, h[name].dtype)
            ds.read(..., out=out)
            assert_identical(out, h[name][...])
    return ds


# --------------------------------------------------------------------------- detector masters
@pytest.fixture
def diamond(tmp_path):
    return write_diamond_master(tmp_path, n_frames=11, frames_per_file=4)


def test_diamond_master_reads_natively_with_saturation(diamond):
    ds = compare(diamond, "/entry/data/data",
                 SELECTIONS + [np.s_[3:5], np.s_[2:10], np.s_[4], np.s_[7:9, 30:40, 50:70]])
    assert len(ds.mappings) == 3
    with h5py.File(diamond) as h:
        # module gaps sit at the uint32 maximum in the data files and saturate in the VDS
        assert (h["/entry/data/data"][0] == np.iinfo(np.int32).max).any()


@pytest.mark.parametrize("src, vds", [(np.uint16, np.int32), (np.uint32, np.int64),
                                      (np.uint32, np.uint16), (np.uint16, np.int8)])
def test_diamond_master_other_types(tmp_path, src, vds):
    master = write_diamond_master(tmp_path, n_frames=5, frames_per_file=2, dtype=src, vds_dtype=vds)
    compare(master, "/entry/data/data", [np.s_[...], np.s_[1:4, 3:50]])


def test_diamond_missing_data_file_reads_as_fill(tmp_path):
    master = write_diamond_master(tmp_path, n_frames=12, frames_per_file=4, missing=(2,),
                                  fillvalue=-5)
    compare(master, "/entry/data/data", [np.s_[...], np.s_[3:9], np.s_[5]])
    with fastchunk.File(master) as f:
        assert (f["/entry/data/data"][4:8] == -5).all()
        with pytest.raises(fastchunk.ExternalLinkError, match="scan_000002.h5"):
            f["/entry/data/data_000002"]


def test_master_moved_to_another_directory(tmp_path, monkeypatch):
    master = write_diamond_master(tmp_path / "a", n_frames=6, frames_per_file=4)
    dmaster = write_dectris_master(tmp_path / "a", n_frames=6, frames_per_file=4)
    shutil.move(tmp_path / "a", tmp_path / "b")
    monkeypatch.chdir(tmp_path)  # relative resolution must not depend on the cwd
    compare(tmp_path / "b" / master.name, "/entry/data/data", [np.s_[...], np.s_[3:5]])
    with fastchunk.open_nxmx(tmp_path / "b" / dmaster.name) as frames:
        assert frames.shape[0] == 6 and frames.native


def test_dectris_link_reads_natively_from_the_data_file(tmp_path):
    master = write_dectris_master(tmp_path, n_frames=9, frames_per_file=4)
    with fastchunk.File(master) as f, h5py.File(master) as h:
        ds = f["/entry/data/data_000002"]
        assert ds.native and ds.data_file.endswith("series_data_000002.h5")
        assert_identical(ds[...], h["/entry/data/data_000002"][...])
        assert_identical(ds[1:3, 4:9], h["/entry/data/data_000002"][1:3, 4:9])


def test_open_nxmx_stacks_by_image_number(tmp_path):
    master = write_dectris_master(tmp_path, n_frames=10, frames_per_file=4)
    with h5py.File(master, "a") as m:  # links listed out of image order must not matter
        a, b = m["/entry/data"].get("data_000001", getlink=True), m["/entry/data"].get("data_000003", getlink=True)
        del m["/entry/data/data_000001"], m["/entry/data/data_000003"]
        m["/entry/data/data_000001"], m["/entry/data/data_000003"] = b, a
    with h5py.File(master) as h:
        parts = {int(h[f"/entry/data/data_{i:06d}"].attrs["image_nr_low"]): h[f"/entry/data/data_{i:06d}"][...]
                 for i in (1, 2, 3)}
    expected = np.concatenate([parts[k] for k in sorted(parts)])
    with fastchunk.open_nxmx(master, num_threads=2) as frames:
        assert frames.shape == expected.shape and frames.native
        assert_identical(frames[...], expected)
        for sel in (np.s_[3:6], np.s_[7], np.s_[::3, 10:20, -5:], np.s_[2:9:2]):
            assert_identical(frames[sel], expected[sel])
        blocks = [b for _, b in frames.iter_frames(batch=3)]
        assert_identical(np.concatenate(blocks), expected)


def test_open_nxmx_dangling_link_names_file_and_places(tmp_path):
    master = write_dectris_master(tmp_path, n_frames=8, frames_per_file=4, missing=(2,))
    with pytest.raises(fastchunk.ExternalLinkError) as e:
        fastchunk.open_nxmx(master)
    msg = str(e.value)
    assert "data_000002" in msg and "series_data_000002.h5" in msg and str(tmp_path) in msg
    assert isinstance(e.value, KeyError)


def test_open_nxmx_on_diamond_master_is_the_vds(diamond):
    with fastchunk.open_nxmx(diamond) as frames, h5py.File(diamond) as h:
        assert isinstance(frames.dataset, fastchunk.VirtualDataset)
        assert_identical(frames[2:7], h["/entry/data/data"][2:7])


def test_corrupt_chunk_in_a_source_names_vds_file_and_chunk(tmp_path):
    master = write_diamond_master(tmp_path, n_frames=6, frames_per_file=3)
    data = tmp_path / "scan_000002.h5"
    with h5py.File(data) as h:
        info = h["/data"].id.get_chunk_info_by_coord((1, 0, 0))
    with open(data, "r+b") as fh:
        fh.seek(info.byte_offset + 12)
        fh.write(b"\xff" * 4)  # first block's compressed size: far past the chunk
    with fastchunk.File(master) as f:
        with pytest.raises(fastchunk.ChunkDecodeError) as e:
            f["/entry/data/data"][...]
        msg = str(e.value)
        assert "scan_000002.h5" in msg and "(1, 0, 0)" in msg and "/entry/data/data" in msg
        assert_identical(f["/entry/data/data"][0:3], h5py.File(master)["/entry/data/data"][0:3])


# --------------------------------------------------------------------------- general VDS shapes
def _space(shape, sel, maxshape=None):
    """A dataspace with sel = "all" or (start, stride, count, block) selected; None in shape
    is an unlimited axis."""
    maxshape = [UNLIM if m is None else m for m in (maxshape or shape)]
    space = h5py.h5s.create_simple(tuple(1 if n is None else n for n in shape), tuple(maxshape))
    if sel != "all":
        start, stride, count, block = sel
        space.select_hyperslab(start, count, stride, block)
    return space


def make_vds(path, name, shape, dtype, maps, fill=0, maxshape=None):
    """maps: (virtual selection, source file, source dataset, source shape, source selection)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_fill_value(np.array(fill, dtype=dtype))
    for vsel, sfile, sname, sshape, ssel in maps:
        dcpl.set_virtual(_space(shape, vsel, maxshape), sfile.encode(), sname.encode(),
                         _space(sshape, ssel))
    with h5py.File(path, "a") as f:
        space = _space(shape, "all", maxshape)
        h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(np.dtype(dtype)), space, dcpl=dcpl)
    return path


def _source(path, name, shape, dtype=np.int32, seed=1, compression="deflate", chunks=None, maxshape=None):
    data = np.random.default_rng(seed).integers(-1000, 1000, size=shape).astype(dtype)
    write_dataset(path, name, data, chunks or tuple(max(1, n // 2) for n in shape), compression,
                  maxshape=maxshape)
    return data


def test_tiles_with_gaps_and_same_file_source(tmp_path):
    p = tmp_path / "v.h5"
    _source(tmp_path / "a.h5", "d", (6, 5))
    _source(p, "inner", (6, 4), seed=2, compression="bslz4", chunks=(4, 3))
    make_vds(p, "v", (8, 12), np.int32, [
        (((1, 0), (1, 1), (1, 1), (6, 5)), "a.h5", "d", (6, 5), "all"),
        (((0, 7), (1, 1), (1, 1), (6, 4)), ".", "/inner", (6, 4), "all"),
    ], fill=-9)
    compare(p, "v")


def test_strided_and_blocked_selections(tmp_path):
    p = tmp_path / "v.h5"
    for i in range(3):
        _source(tmp_path / f"s{i}.h5", "d", (8, 6, 5), seed=i, compression="bslz4", chunks=(2, 3, 5))
    maps = [(((i, 0, 0), (3, 1, 1), (4, 1, 1), (1, 6, 5)), f"s{i}.h5", "d", (8, 6, 5),
             ((1, 0, 0), (2, 1, 1), (4, 1, 1), (1, 6, 5))) for i in range(3)]
    # and a blocked source selection: rows 0-1 and 4-5 of every frame of s0 -> a side panel
    maps.append((((0, 0, 5), (1, 1, 1), (1, 1, 1), (8, 4, 5)), "s0.h5", "d", (8, 6, 5),
                 ((0, 0, 0), (1, 4, 1), (1, 2, 1), (8, 2, 5))))
    make_vds(p, "v", (12, 6, 10), np.int32, maps, fill=7)
    compare(p, "v")


def test_unlimited_mappings_follow_the_source_extent(tmp_path):
    p = tmp_path / "v.h5"
    for i, n in enumerate((5, 3)):
        _source(tmp_path / f"u{i}.h5", "d", (n, 4, 4), seed=i, maxshape=(None, 4, 4), chunks=(2, 4, 4))
    maps = [(((i, 0, 0), (2, 1, 1), (UNLIM, 1, 1), (1, 4, 4)), f"u{i}.h5", "d", (None, 4, 4),
             ((0, 0, 0), (1, 1, 1), (UNLIM, 1, 1), (1, 4, 4))) for i in range(2)]
    make_vds(p, "v", (0, 4, 4), np.int32, maps, fill=-1, maxshape=(None, 4, 4))
    with h5py.File(p) as h:
        assert h["v"].shape == (9, 4, 4)  # u0 frames at 0,2,..,8; u1 at 1,3,5; 7 unmapped
    compare(p, "v")


def test_printf_sources_stop_at_the_first_missing_file(tmp_path):
    p = tmp_path / "v.h5"
    for b in (0, 1, 3):  # 2 is missing: block 3 is never reached
        _source(tmp_path / f"f%-{b}.h5", "d", (2, 3, 3), seed=b)
    maps = [(((0, 0, 0), (2, 1, 1), (UNLIM, 1, 1), (2, 3, 3)), "f%%-%b.h5", "d", (2, 3, 3), "all")]
    make_vds(p, "v", (0, 3, 3), np.int32, maps, fill=-2, maxshape=(None, 3, 3))
    with h5py.File(p) as h:
        assert h["v"].shape == (4, 3, 3)
    compare(p, "v")


def test_missing_source_dataset_and_file_read_as_fill(tmp_path):
    p = tmp_path / "v.h5"
    _source(tmp_path / "a.h5", "d", (4, 4))
    maps = [(((0, 0), (1, 1), (1, 1), (4, 4)), "a.h5", "nope", (4, 4), "all"),
            (((4, 0), (1, 1), (1, 1), (4, 4)), "absent.h5", "d", (4, 4), "all"),
            (((8, 0), (1, 1), (1, 1), (4, 4)), "a.h5", "d", (4, 4), "all")]
    make_vds(p, "v", (12, 4), np.int32, maps, fill=3)
    compare(p, "v", [np.s_[...], np.s_[2:10], np.s_[9]])


def test_source_found_through_hdf5_vds_prefix(tmp_path, monkeypatch):
    p = tmp_path / "v.h5"
    (tmp_path / "sub").mkdir()
    _source(tmp_path / "sub" / "a.h5", "d", (4, 4))
    make_vds(p, "v", (4, 4), np.int32, [("all", "a.h5", "d", (4, 4), "all")], fill=1)
    with fastchunk.File(p) as f:
        assert (f["v"][...] == 1).all()  # not found without the prefix: fill, as in HDF5
    monkeypatch.setenv("HDF5_VDS_PREFIX", "/nonexistent:${ORIGIN}/sub")  # HDF5 expands ${ORIGIN}
    compare(p, "v", [np.s_[...]])                                        # only at the start
    with fastchunk.File(p) as f:  # (a closed file's datasets raise FileClosedError)
        assert (f["v"][...] == 1).all()
    monkeypatch.setenv("HDF5_VDS_PREFIX", "${ORIGIN}/nonexistent:" + str(tmp_path / "sub"))
    compare(p, "v", [np.s_[...]])
    with fastchunk.File(p) as f:
        assert (f["v"][...] != 1).any()


def test_strict_and_fallback_for_unsupported_sources(tmp_path):
    p = tmp_path / "v.h5"
    _source(tmp_path / "a.h5", "d", (4, 4), dtype=np.float32)
    make_vds(p, "v", (4, 4), np.float64, [("all", "a.h5", "d", (4, 4), "all")])
    ds = compare(p, "v", [np.s_[...], np.s_[1:3]], native=False)
    assert "conversion" in ds.reason
    with fastchunk.File(p, strict=True) as f:
        with pytest.raises(fastchunk.UnsupportedFilterError):
            f["v"][...]


def test_realdata_masters(realdata):
    cases = {"hdf5/vds/1_vds.h5": "vds_dset", "hdf5/vds/2_vds.h5": "vds_dset",
             "hdf5/vds/3_1_vds.h5": "vds_dset", "hdf5/vds/3_2_vds.h5": "vds_dset",
             "hdf5/vds/4_vds.h5": "vds_dset", "hdf5/vds/5_vds.h5": "vds_dset",
             "hdf5/vds/vds-percival-unlim-maxmin.h5": "VDS-Percival-unlim-maxmin"}
    for rel, name in cases.items():
        compare(realdata / rel, name)
    big = [np.s_[0, :16, :16], np.s_[998:1002, 100:104, 7], np.s_[-1, -3:, -3:]]
    for rel in ("mx-bluesky/ins_8_5.nxs", "nexgen/xrc_209_master.h5", "nexusformat/Therm_6_2.nxs"):
        compare(realdata / rel, "entry/data/data", big, threads=(2,))
    compare(realdata / "hdf5/vds/vds-eiger.h5", "VDS-Eiger", native=False)  # big-endian source
    with fastchunk.open_nxmx(realdata / "rosettasciio/arina/test_00_master.h5") as frames, \
            h5py.File(realdata / "rosettasciio/arina/test_00_master.h5") as h:
        names = sorted(k for k in h["/entry/data"] if k.startswith("data_"))
        expected = np.concatenate([h["/entry/data"][k][...] for k in names])
        assert frames.native
        assert_identical(frames[...], expected)


def test_data_files_found_through_hdf5_ext_prefix(tmp_path, monkeypatch):
    master = write_dectris_master(tmp_path, n_frames=6, frames_per_file=3)
    (tmp_path / "elsewhere").mkdir()
    for p in tmp_path.glob("series_data_*.h5"):
        shutil.move(p, tmp_path / "elsewhere" / p.name)
    with pytest.raises(fastchunk.ExternalLinkError, match="HDF5_EXT_PREFIX"):
        fastchunk.open_nxmx(master)
    monkeypatch.setenv("HDF5_EXT_PREFIX", "${ORIGIN}/elsewhere")  # HDF5 2.0 does not expand it
    with pytest.raises(fastchunk.ExternalLinkError, match="ORIGIN"):  # for external links
        fastchunk.open_nxmx(master)
    monkeypatch.setenv("HDF5_EXT_PREFIX", f"/nonexistent:{tmp_path / 'elsewhere'}")
    with fastchunk.open_nxmx(master) as frames, h5py.File(master) as h:
        assert frames.native
        assert_identical(frames[4], h["/entry/data/data_000002"][1])


@pytest.mark.parametrize("writer", [write_dectris_master, write_diamond_master])
def test_bench_on_masters(tmp_path, writer):
    from fastchunk.cli.bench import run_bench
    master = writer(tmp_path, n_frames=5, frames_per_file=2)
    report = run_bench(master, repeat=1)
    assert report["identical"] and report["native"] and report["frames"] == 5
