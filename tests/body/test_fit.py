"""Body fit: a known synthetic body's joints are recovered (closed-form pose, fitted shape)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from simpose.body.fit import (
    bone_lengths, body_joints, body_vertices, fit_body, fit_pose, fit_pose_rotmats, fit_shape, min_rotation, min_rotations, reference_joints,
)  # fmt: skip
from simpose.body.model import POSE_LIMITS_RAD, sample_shape


@pytest.fixture(scope="module")
def known(body):
    """A random body (shape, 24 poses within 60% of the joint limits, orientations, translations)."""
    rng = np.random.default_rng(3)
    T = 24
    lim = POSE_LIMITS_RAD
    pose = rng.uniform(0.6 * lim[..., 0], 0.6 * lim[..., 1], size=(T, 19, 3))
    shape = sample_shape(1, rng)[0]
    glob = rng.normal(0, 0.6, (T, 3))
    trans = rng.normal(0, 0.5, (T, 3)) + [0, 0, 4]
    joints = body.forward_joints(
        "anny", torch.as_tensor(pose), torch.as_tensor(shape)[None], torch.as_tensor(glob), torch.as_tensor(trans)
    ).numpy()
    return joints, shape


def test_pose_fit_with_the_true_shape_is_exact(body, known):
    joints, shape = known
    fit = fit_pose(body, joints, shape)
    err = np.linalg.norm(body_joints(body, fit) - joints, axis=-1)
    assert err.max() < 1e-3  # metres: the native joints follow a rigid tree, so the fit is exact


def test_fit_body_recovers_joints_and_beats_the_average_shape(body, known):
    joints, _ = known
    fit = fit_body(body, joints)
    err = np.linalg.norm(body_joints(body, fit) - joints, axis=-1)
    avg = np.linalg.norm(body_joints(body, fit_pose(body, joints, np.full(6, 0.5))) - joints, axis=-1)
    assert err.mean() < 0.003 and err.max() < 0.01
    assert err.mean() < 0.2 * avg.mean()
    assert np.all((fit.shape_params >= 0) & (fit.shape_params <= 1))


def test_shape_fit_matches_bone_lengths(body, known):
    joints, _ = known
    shape = fit_shape(body, joints)
    ref = body_joints(body, fit_pose(body, joints[:1], shape))
    assert np.abs(bone_lengths(ref[0]) - bone_lengths(joints[0])).max() < 0.01


def test_invalid_frames_stay_nan_and_vertices_follow_the_fit(body, known):
    joints, shape = known
    joints = joints.copy()
    joints[5] = np.nan
    fit = fit_pose(body, joints, shape)
    assert not fit.valid[5] and fit.valid.sum() == len(joints) - 1
    assert np.isnan(fit.pose_rotvecs[5]).all() and np.isnan(body_joints(body, fit)[5]).all()
    verts = body_vertices(body, fit, np.array([0]))
    # the root sits at the fitted translation; the mesh surrounds it
    assert np.linalg.norm(verts[0].mean(0) - fit.trans[0]) < 0.3


def test_pose_fit_matches_the_numpy_implementation_it_replaced(body):
    """Golden file written by the numpy fit (Kabsch with numpy's SVD, minimal rotations as rotation
    vectors) before it became :func:`fit_pose_rotmats` on tensors: noisy joints, one frame missing."""
    d = np.load(Path(__file__).parent / "data" / "fit_pose_golden.npz")
    fit = fit_pose(body, d["joints"], d["shape_params"])
    assert np.array_equal(fit.valid, np.isfinite(d["pose_rotvecs"]).all((-1, -2)))
    np.testing.assert_allclose(fit.pose_rotvecs, d["pose_rotvecs"], atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(fit.global_rotvecs, d["global_rotvecs"], atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(fit.trans, d["trans"], atol=1e-12, equal_nan=True)


def test_pose_fit_gradient_matches_finite_differences(body, known):
    joints, shape = known
    ref = torch.as_tensor(reference_joints(body, shape), dtype=torch.float64)
    rng = np.random.default_rng(5)
    x = torch.as_tensor(joints[:2] + rng.normal(0, 0.02, joints[:2].shape)).requires_grad_()

    def rotmats(x):
        G_root, local = fit_pose_rotmats(body, x, ref)
        return G_root, local

    assert torch.autograd.gradcheck(rotmats, (x,), eps=1e-6, atol=1e-6)


def test_min_rotations_closed_form_and_gradient():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    R = min_rotation(a, b)
    an, bn = a / np.linalg.norm(a, axis=-1, keepdims=True), b / np.linalg.norm(b, axis=-1, keepdims=True)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", R, an), bn, atol=1e-12)  # takes a onto b
    np.testing.assert_allclose(np.einsum("nij,nj->ni", R, np.cross(an, bn)), np.cross(an, bn), atol=1e-12)  # about a x b: no twist
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    # parallel, opposite and zero: the identity; nearly opposite: still a rotation taking a onto b
    special = min_rotation(np.array([[1.0, 0, 0], [1, 0, 0], [0, 0, 0]]), np.array([[2.0, 0, 0], [-1, 0, 0], [1, 0, 0]]))
    np.testing.assert_array_equal(special, np.broadcast_to(np.eye(3), (3, 3, 3)))
    near = min_rotation(np.array([[1.0, 0, 0]]), np.array([[-1.0, 1e-6, 0]]))[0]
    np.testing.assert_allclose(near @ [1.0, 0, 0], np.array([-1.0, 1e-6, 0]) / np.hypot(1.0, 1e-6), atol=1e-9)
    ta, tb = (torch.as_tensor(v[:4]).requires_grad_() for v in (a, b))
    assert torch.autograd.gradcheck(min_rotations, (ta, tb), eps=1e-6, atol=1e-6)
