"""The fast posing path (simpose.body.skinning) against BodyModel.forward, the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simpose.body.model import BodyModel
from simpose.body.skinning import FastBodyModel, Skinner

TOL_M = 1e-4  # 0.1 mm


@pytest.fixture(scope="module")
def models():
    return BodyModel(), FastBodyModel()


def _inputs(seed: int, T: int = 12):
    g = torch.Generator().manual_seed(seed)
    pose = (torch.rand(T, 19, 3, generator=g, dtype=torch.float64) - 0.5) * 1.6
    shape = torch.rand(1, 6, generator=g, dtype=torch.float64)
    glob = torch.randn(T, 3, generator=g, dtype=torch.float64)
    trans = torch.randn(T, 3, generator=g, dtype=torch.float64) * 2
    return pose, shape, glob, trans


@pytest.mark.parametrize("seed", [0, 1])
def test_skinner_matches_body_model(models, seed):
    body, _ = models
    pose, shape, glob, trans = _inputs(seed)
    with torch.no_grad():
        ref = body(pose, shape, glob, trans)
    sk = Skinner(body)
    verts, heads = sk.pose(sk.rest(shape.numpy()[0]), pose.numpy(), glob.numpy(), trans.numpy())
    assert verts.dtype == np.float32 and verts.shape == tuple(ref.vertices.shape)
    assert np.abs(verts - ref.vertices.numpy()).max() < TOL_M
    assert np.abs(heads - ref.bone_heads.numpy()).max() < 1e-9
    # a subset of rows gives the same rows
    rows = np.array([0, 17, 5000, len(verts[0]) - 1])
    sub, _ = sk.pose(sk.rest(shape.numpy()[0]), pose.numpy(), glob.numpy(), trans.numpy(), rows=rows)
    np.testing.assert_allclose(sub, verts[:, rows], atol=1e-6)


def test_fast_body_model_is_a_drop_in(models):
    body, fast = models
    pose, shape, glob, trans = _inputs(2)
    with torch.no_grad():
        a, b = body(pose, shape, glob, trans), fast(pose, shape, glob, trans)
        for k in ("vertices", "joints", "bone_heads", "bone_rotmats"):
            assert getattr(b, k).dtype == torch.float64
            assert (getattr(a, k) - getattr(b, k)).abs().max() < TOL_M, k
        for js in ("anny", "h36m17", "coco17", "smpl24"):
            ja = body.forward_joints(js, pose, shape, glob, trans)
            assert (ja - fast.forward_joints(js, pose, shape, glob, trans)).abs().max() < TOL_M
            assert (body.regress(js, a.vertices, a.bone_heads) - fast.regress(js, a.vertices, a.bone_heads)).abs().max() < 1e-9
        # per-frame shapes that differ fall back to BodyModel itself
        shapes = torch.rand(len(pose), 6, dtype=torch.float64)
        np.testing.assert_array_equal(fast(pose, shapes, glob, trans).vertices, body(pose, shapes, glob, trans).vertices)
    # inputs needing gradients fall back too (the fast path is numpy)
    p = pose.clone().requires_grad_(True)
    fast(p, shape, glob, trans).vertices.sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()


def test_skinned_normals_follow_the_posed_mesh(models):
    """Skinned rest normals (for shading) against the posed mesh's own area-weighted normals."""
    from simpose.geometry import vertex_normals

    body, _ = models
    pose, shape, glob, trans = _inputs(3, T=4)
    sk = Skinner(body)
    rest = sk.rest(shape.numpy()[0], normals=True)
    verts, _, normals = sk.pose(rest, pose.numpy() * 0.6, glob.numpy(), trans.numpy(), normals=True)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=-1)[:, np.linalg.norm(rest.normals, axis=-1) > 0], 1, atol=1e-5)
    cos = [(vertex_normals(v, body.faces.numpy()) * n).sum(-1) for v, n in zip(verts, normals)]
    angle = np.degrees(np.arccos(np.clip(np.concatenate(cos), -1, 1)))
    assert np.median(angle) < 1.0 and np.percentile(angle, 90) < 10.0, (np.median(angle), np.percentile(angle, 90))
