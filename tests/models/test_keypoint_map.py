"""The BlazePose -> h36m17 map: recovers a known affine map, falls back cleanly, beats renaming on synthetic bodies."""

from __future__ import annotations

import numpy as np

from simpose.body.joints import conversion_matrix, get_joint_set
from simpose.models.keypoint_map import SOURCES, apply_map, fit_map, load_map, synthetic_pairs

BP, H = get_joint_set("blazepose33"), get_joint_set("h36m17")


def _known_map(rng) -> np.ndarray:
    W0, _ = conversion_matrix(BP, H)
    W = W0.copy()
    for j, name in enumerate(H.names):
        if SOURCES[name] is None:
            continue
        idx = BP.indices(list(SOURCES[name]))
        w = W0[j, idx] + rng.normal(0, 0.2, len(idx))
        w += (1 - w.sum()) / len(idx)
        W[j] = 0
        W[j, idx] = w
    return W


def test_fit_recovers_a_known_affine_map():
    rng = np.random.default_rng(0)
    W = _known_map(rng)
    B = rng.normal(500, 120, (400, 33, 2))
    Hp = np.einsum("hb,nbc->nhc", W, B)
    Wf = fit_map(B, Hp, ridge=1e-9)
    np.testing.assert_allclose(Wf, W, atol=1e-5)
    np.testing.assert_allclose(Wf.sum(1), 1.0, atol=1e-9)  # affine: commutes with translation and scale
    shifted = fit_map(3.0 * B + 40.0, 3.0 * Hp + 40.0, ridge=1e-9)
    np.testing.assert_allclose(shifted, W, atol=1e-5)


def test_apply_falls_back_to_renaming_and_weighs_the_confidences():
    rng = np.random.default_rng(1)
    W = _known_map(rng)
    kp = rng.normal(300, 50, (2, 33, 2))
    conf = rng.uniform(0.5, 1.0, (2, 33))
    kp[1, BP.index("left_knee")] = np.nan  # the hips' sources lack a knee in frame 1
    out, c = apply_map(kp, conf, W)
    j = H.index("left_hip")
    np.testing.assert_allclose(out[0, j], W[j] @ kp[0])
    np.testing.assert_allclose(out[1, j], kp[1, BP.index("left_hip")])  # renaming rule: BlazePose's hip
    a = np.abs(W[j])
    np.testing.assert_allclose(c[0, j], conf[0] @ (a / a.sum()))
    assert np.isnan(out[1, H.index("left_knee")]).all() and c[1, H.index("left_knee")] == 0


def test_shipped_map_beats_renaming_on_held_out_synthetic_bodies():
    B, Hp = synthetic_pairs(n_clips=3, frames=12, seed=12345)  # not the seeds the shipped map was fitted on
    W0, _ = conversion_matrix(BP, H)
    err = lambda W: np.linalg.norm(np.einsum("hb,nbc->nhc", W, B) - Hp, axis=-1).mean()  # noqa: E731
    assert err(load_map()) < 0.5 * err(W0)
