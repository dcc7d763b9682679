"""Direct body optimisation on a rendered clip: a perturbed body moves back toward the true one;
missing cues drop their terms; a too-short track is kept as it is; bad input says so."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simpose.adapt.optimise import OptimiseConfig, optimise_body

T = 6  # frames of conftest's rendered track


def _perturbed(fit):
    rng = np.random.default_rng(1)
    pose = fit.pose_rotvecs + rng.normal(0, 0.1, (1, *fit.pose_rotvecs.shape[1:]))  # a systematic pose error
    return dataclasses.replace(fit, pose_rotvecs=pose, trans=fit.trans + np.array([0.04, -0.03, 0.08]))


def _vertex_error_mm(body, fit, truth) -> float:
    """Mean per-vertex error with each mesh's centroid aligned (depth and size trade off in one view)."""
    from simpose.body.fit import body_vertices

    f = np.arange(len(fit.valid))
    a, b = body_vertices(body, fit, f), body_vertices(body, truth, f)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    return float(np.linalg.norm(a - b, axis=-1).mean() * 1000)


def test_optimisation_moves_toward_the_truth(body, track):
    start = _perturbed(track.fit)
    cfg = OptimiseConfig(iterations=40, warmup=10, w_motion=0.0)
    res = optimise_body(body, start, track.K, track.image_size, track.joints2d["coco17"],
                        track.visible["coco17"].astype(float), "coco17", list(track.masks), list(track.flows), cfg)  # fmt: skip
    assert res.adapted and res.history.shape == (40, 6)
    assert res.history[-1, 0] < 0.8 * res.history[0, 0]  # the silhouette term has a floor of ~0.4 (test_losses)
    before, after = _vertex_error_mm(body, start, track.fit), _vertex_error_mm(body, res.fit, track.fit)
    assert after < 0.7 * before, (before, after)
    assert np.all((res.fit.shape_params >= 0) & (res.fit.shape_params <= 1))


def test_missing_cues_and_short_tracks(body, track):
    start = _perturbed(track.fit)
    kp, conf = track.joints2d["coco17"], track.visible["coco17"].astype(float)
    cfg = OptimiseConfig(iterations=2, warmup=0)
    masks = [None] * T
    flows = [None] * (T - 1)
    res = optimise_body(body, start, track.K, track.image_size, kp, conf, "coco17", masks, flows, cfg)
    assert np.all(res.history[:, 2:4] == 0) and np.all(res.history[:, 1] > 0)  # silhouette, motion off
    # one frame with a mask, one pair with flow: the terms come back
    masks[2], flows[3] = track.masks[2], track.flows[3]
    res = optimise_body(body, start, track.K, track.image_size, kp, conf, "coco17", masks, flows, cfg)
    assert np.all(res.history[:, 2:4] > 0)
    # one valid frame: too short, kept as it is
    short = dataclasses.replace(start, valid=np.eye(T, dtype=bool)[0])
    res = optimise_body(body, short, track.K, track.image_size, kp, conf, "coco17", masks, flows, cfg)
    assert not res.adapted and res.fit is short
    with pytest.raises(ValueError, match="masks must have"):
        optimise_body(body, start, track.K, track.image_size, kp, conf, "coco17", masks[:-1], flows, cfg)
    with pytest.raises(ValueError, match="flows must be"):
        optimise_body(body, start, track.K, track.image_size, kp, conf, "coco17", masks, [None, np.zeros((4, 4, 2))] + flows[2:], cfg)
    with pytest.raises(ValueError, match="keypoints2d must be"):
        optimise_body(body, start, track.K, track.image_size, kp, conf, "smpl24", masks, flows, cfg)
    with pytest.raises(ValueError, match="w_motion"):
        OptimiseConfig(w_motion=-1)
