"""The "weights" variant: the cue losses back-propagated into a copy of the lifter through the
closed-form body fit (simpose.adapt.network) on a rendered clip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from simpose.adapt.network import adapt_network
from simpose.adapt.optimise import OptimiseConfig

T = 6  # frames of conftest's rendered track


@pytest.fixture(scope="module")
def lifter():
    from simpose.models.lifter import WEIGHTS_PATH, Lifter

    if not WEIGHTS_PATH.exists():
        pytest.skip("no shipped lifter weights")
    return Lifter.from_pretrained()


def _start(body, lifter, track):
    """The lifter's own body: its native joints fitted in closed form, near the true translation."""
    from simpose.body.fit import fit_pose, fit_shape

    x = track.joints2d["h36m17"]
    anny = lifter.predict(x, "h36m17", None, track.K, "anny").astype(np.float64)
    fit = fit_pose(body, anny, fit_shape(body, track.joints3d["h36m17"], joint_set="h36m17"))
    return dataclasses.replace(fit, trans=track.fit.trans + np.array([0.04, -0.03, 0.08])), (x, np.ones(x.shape[:2]), "h36m17")


def _run(body, lifter, track, config):
    start, lifter_2d = _start(body, lifter, track)
    res, adapted = adapt_network(body, lifter, lifter_2d, 50.0, start, track.K, track.image_size, track.joints2d["coco17"],
                                 track.visible["coco17"].astype(float), "coco17", list(track.masks), list(track.flows), config)  # fmt: skip
    return start, res, adapted


def test_without_steps_the_body_is_the_lifters_closed_form_fit(body, lifter, track):
    start, res, adapted = _run(body, lifter, track, OptimiseConfig(iterations=0))
    assert res.adapted
    np.testing.assert_allclose(res.fit.pose_rotvecs, start.pose_rotvecs, atol=1e-5)
    np.testing.assert_allclose(res.fit.global_rotvecs, start.global_rotvecs, atol=1e-5)
    np.testing.assert_array_equal(res.fit.trans, start.trans)


def test_fine_tuning_lowers_the_loss_and_moves_only_the_copy(body, lifter, track):
    before = [p.clone() for p in lifter.net.parameters()]
    start, res, adapted = _run(body, lifter, track, OptimiseConfig(iterations=15, warmup=3))
    assert res.history.shape == (15, 6) and np.isfinite(res.history).all()
    assert res.history[-1, 0] < 0.9 * res.history[0, 0]
    assert all(torch.equal(p, q) for p, q in zip(before, lifter.net.parameters()))
    assert any(not torch.equal(p, q) for p, q in zip(before, adapted.net.parameters()))
    assert np.isfinite(res.fit.pose_rotvecs).all() and np.array_equal(res.fit.shape_params, start.shape_params)


def test_a_track_too_short_is_kept(body, lifter, track):
    start, lifter_2d = _start(body, lifter, track)
    one = np.zeros(T, bool)
    one[0] = True
    short = dataclasses.replace(start, valid=one)
    res, same = adapt_network(body, lifter, lifter_2d, 50.0, short, track.K, track.image_size, None, None, "coco17")
    assert not res.adapted and res.fit is short and same is lifter
