"""align_body: a body moved (pose and translation) onto 2D it was projected from."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from simpose.body.align import AlignConfig, align_body
from simpose.body.fit import BodyFit
from simpose.body.rig import JointRig


def test_a_perturbed_body_returns_onto_its_rays(body):
    shape = np.full(6, 0.5)
    rig = JointRig.build(body, shape, "h36m17")
    rng = np.random.default_rng(0)
    T = 12
    t = np.arange(T) / 50.0
    pose = np.zeros((T, 19, 3))
    pose[:, 9:13, 0] = 0.4 * np.sin(2 * np.pi * t)[:, None]  # the right arm swings
    glob = np.tile([0.0, 0.4, 0.0], (T, 1))
    trans = np.stack([0.1 * t, np.zeros(T), np.full(T, 3.5)], -1)
    with torch.no_grad():
        X = rig(*(torch.as_tensor(a) for a in (pose, glob, trans))).numpy()
    xy = X[..., :2] / X[..., 2:]  # normalised image coordinates
    start = BodyFit(pose + rng.normal(0, 0.05, pose.shape), glob + rng.normal(0, 0.05, glob.shape), trans + rng.normal(0, 0.03, trans.shape), shape, np.ones(T, bool))

    def reproj(fit):
        with torch.no_grad():
            Y = rig(*(torch.as_tensor(a) for a in (fit.pose_rotvecs, fit.global_rotvecs, fit.trans))).numpy()
        return np.linalg.norm(Y[..., :2] / Y[..., 2:] - xy, axis=-1).mean() * 1000.0  # pixels at f = 1000

    before = reproj(start)
    cfg = AlignConfig(accel_m=1.0, iterations=30)  # exact 2D: let it be followed
    after = reproj(align_body(rig, start, xy, None, 50.0, target3d=X, config=cfg))
    assert before > 5.0 and after < 0.05 * before, (before, after)
    # invalid frames stay NaN and untouched
    gap = dataclasses.replace(start, valid=np.r_[np.ones(6, bool), np.zeros(6, bool)])
    out = align_body(rig, gap, xy, None, 50.0, config=cfg)
    assert np.isfinite(out.pose_rotvecs[:6]).all() and np.isnan(out.pose_rotvecs[6:]).all() and np.isnan(out.trans[6:]).all()
