"""MPI-INF-3DHP test-set reader on small annot_data.mat files (MATLAB v5 and, with h5py, v7.3)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from helpers_data import k_3dhp, make_3dhp, write_3dhp_v5, write_3dhp_v73
from simpose.data.mpi_inf_3dhp import load_mpi_inf_3dhp, read_annot_mat
from simpose.data.records import DatasetError


@pytest.fixture
def test_set(tmp_path):
    variables = {ts: make_3dhp(ts, T=6, seed=i) for i, ts in enumerate(("TS1", "TS5"))}
    for ts, v in variables.items():
        write_3dhp_v5(tmp_path / ts / "annot_data.mat", v)
    return tmp_path, variables


def test_v5_values_units_and_cameras(test_set):
    root, variables = test_set
    seqs = load_mpi_inf_3dhp(root, sequences=("TS1", "TS5"))
    for seq in seqs:
        v = variables[seq.name]
        T = v["annot3"].shape[0]
        assert seq.joint_set == "mpi_inf_3dhp17" and seq.joints3d.shape == (T, 1, 17, 3)
        np.testing.assert_allclose(seq.joints3d, v["annot3"] / 1000.0, rtol=1e-12)  # mm -> m
        np.testing.assert_allclose(seq.joints2d, v["annot2"], rtol=1e-12)
        np.testing.assert_array_equal(seq.valid[:, 0], v["valid_frame"][:, 0] > 0)
        np.testing.assert_array_equal(seq.meta["activity_ids"], np.arange(T) % 7 + 1)
        K, size = k_3dhp(seq.name)
        assert seq.camera.image_size == size
        np.testing.assert_allclose(seq.camera.K.numpy(), K, rtol=1e-12)
        # the 2D of the file is the 3D projected with these intrinsics
        uv = seq.camera.project_camera(torch.from_numpy(seq.joints3d[:, 0])).numpy()
        np.testing.assert_allclose(uv, seq.joints2d[:, 0], atol=1e-6)
        assert seq.image_path(0).name == "img_000001.jpg" and seq.image_path(0).parent.parent.name == seq.name
    assert seqs[0].meta["opencv_distortion_k1k2p1p2k3"] is None and len(seqs[1].meta["opencv_distortion_k1k2p1p2k3"]) == 5


def test_published_pixel_intrinsics(test_set):
    """The pixel values quoted by the lifting code (aspect ignored) agree with ours to within the aspect."""
    root, _ = test_set
    ts1, ts5 = load_mpi_inf_3dhp(root, sequences=("TS1", "TS5"))
    np.testing.assert_allclose(ts1.camera.K[0, [0, 2]].numpy(), [1500.172, 1017.387], atol=1e-3)
    np.testing.assert_allclose(ts5.camera.K[0, [0, 2]].numpy(), [1683.983, 939.857], atol=1e-3)


def test_universal_skeleton(test_set):
    root, variables = test_set
    (seq,) = load_mpi_inf_3dhp(root, sequences=("TS1",), universal=True)
    np.testing.assert_allclose(seq.joints3d, variables["TS1"]["univ_annot3"] / 1000.0, rtol=1e-12)


def test_v73_hdf5_matches_v5(tmp_path):
    pytest.importorskip("h5py", reason="h5py is not installed: the MATLAB v7.3 (HDF5) path is untested here")
    variables = make_3dhp("TS2", T=4)
    a = read_annot_mat(write_3dhp_v5(tmp_path / "v5.mat", variables))
    b = read_annot_mat(write_3dhp_v73(tmp_path / "v73.mat", variables))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_v73_without_h5py_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "annot_data.mat"
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" ")
    path.write_bytes(header + b"\x89HDF\r\n\x1a\n" + bytes(64))
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if h5py were not installed
    with pytest.raises(ImportError, match="needs h5py"):
        read_annot_mat(path)


def test_nan_only_allowed_on_invalid_frames(tmp_path):
    v = make_3dhp("TS3", T=5)
    v["annot3"][2, 0, 4] = np.nan  # frame 2 is marked invalid
    write_3dhp_v5(tmp_path / "TS3" / "annot_data.mat", v)
    load_mpi_inf_3dhp(tmp_path, sequences=("TS3",))
    v["annot3"][3, 0, 4] = np.nan
    write_3dhp_v5(tmp_path / "TS3" / "annot_data.mat", v)
    with pytest.raises(DatasetError, match="annot3 has 3 non-finite") as info:
        load_mpi_inf_3dhp(tmp_path, sequences=("TS3",))
    assert "TS3/annot_data.mat" in str(info.value)


def test_bad_files(tmp_path):
    (tmp_path / "text.mat").write_text("just text")
    with pytest.raises(DatasetError, match="not a MATLAB"):
        read_annot_mat(tmp_path / "text.mat")
    v = make_3dhp("TS1", T=3)
    with pytest.raises(DatasetError, match=r"missing \['annot3'\]"):
        read_annot_mat(write_3dhp_v5(tmp_path / "a.mat", {k: x for k, x in v.items() if k != "annot3"}))
    with pytest.raises(DatasetError, match=r"annot3 has shape \(3, 1, 16, 3\)"):
        read_annot_mat(write_3dhp_v5(tmp_path / "b.mat", dict(v, annot3=v["annot3"][:, :, :16])))
    with pytest.raises(DatasetError, match="valid_frame has 2 entries for 3 frames"):
        read_annot_mat(write_3dhp_v5(tmp_path / "c.mat", dict(v, valid_frame=v["valid_frame"][:2])))
    with pytest.raises(DatasetError, match="unknown test sequence 'TS7'"):
        load_mpi_inf_3dhp(tmp_path, sequences=("TS7",))
