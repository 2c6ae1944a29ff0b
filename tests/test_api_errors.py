"""Mistakes in calls are refused with a message that says what was wrong and what is wanted:
iter_frames' batch and num_threads, open_nxmx on a file that is not a detector master."""
import h5py
import numpy as np
import pytest

import fastchunk
from fastchunk import testing


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    p = testing.write_eiger_file(tmp_path_factory.mktemp("api") / "f.h5", 5, (32, 24), np.uint16)
    with h5py.File(p, "a") as f:
        f["scalar"] = 1.0
        f["grp/x"] = np.arange(3)
    return p


@pytest.mark.parametrize("batch", [0, -1, 2.5, True, "8"])
def test_iter_frames_batch(frames, batch):
    with fastchunk.File(frames) as f:
        with pytest.raises(ValueError, match=r"iter_frames: batch must be a positive number of frames, not"):
            f[testing.DEMO_DATASET].iter_frames(batch=batch)  # refused at the call, not at the first next()


@pytest.mark.parametrize("threads", [0, -2, 1.5])
def test_iter_frames_threads(frames, threads):
    with fastchunk.File(frames) as f:
        with pytest.raises(ValueError, match="iter_frames: num_threads must be a positive integer"):
            f[testing.DEMO_DATASET].iter_frames(num_threads=threads)


def test_iter_frames_still_iterates(frames):
    with fastchunk.File(frames) as f:
        got = [(i, block.shape[0]) for i, block in f[testing.DEMO_DATASET].iter_frames(batch=2, num_threads=1)]
    assert got == [(0, 2), (2, 2), (4, 1)]


def test_iter_frames_of_a_scalar(frames):
    with fastchunk.File(frames) as f, pytest.raises(TypeError, match="no first axis"):
        f["scalar"].iter_frames()


@pytest.mark.parametrize("threads", [0, -1])
def test_num_threads_refused(frames, threads):
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        fastchunk.File(frames, num_threads=threads)
    with fastchunk.File(frames) as f, pytest.raises(ValueError, match="num_threads must be a positive integer"):
        f[testing.DEMO_DATASET].read(num_threads=threads)


@pytest.mark.parametrize("group, says", [
    ("/grp", "looked for /grp/data (a Diamond or NXmx dataset or VDS) and /grp/data_000001, data_000002, "
             "... (links to DECTRIS data files), and found neither"),
    ("/nope", "there is no /nope; looked for /nope/data"),
    ("/scalar", "/scalar is a dataset, not a group; looked for /scalar/data"),
])
def test_open_nxmx_on_a_file_that_is_not_a_master(frames, group, says):
    with pytest.raises(KeyError) as info:
        fastchunk.open_nxmx(frames, group)
    msg = info.value.args[0]
    assert msg.startswith(f"{frames} is not a DECTRIS or NXmx master file: ") and says in msg


def test_open_nxmx_default_group_names_what_it_looked_for(tmp_path):
    p = testing.write_dataset(tmp_path / "plain.h5", "/images", np.zeros((2, 4, 4), "u2"), (1, 4, 4))
    with pytest.raises(KeyError, match=r"there is no /entry/data; looked for /entry/data/data .* /entry/data/data_000001"):
        fastchunk.open_nxmx(p)
