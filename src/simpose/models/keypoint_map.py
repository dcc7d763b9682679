"""From BlazePose-33 keypoints to the ``h36m17`` points the lifter was trained on, learned on synthetic bodies.

Why: MediaPipe's landmarks are not Human3.6M's joints. Its hips and shoulders are surface points
(anny models them as such: ``simpose.body.regressors``), its head is the face; renaming them
(``simpose.body.joints.convert``: pelvis = mid-hips, head = mid-ears, neck/nose = nose) leaves
systematic offsets of several pixels that the lifter reads as pose. Measured on synthetic
bodies (the card in ``blazepose_to_h36m17.json``), they double the lifter's error.

What: each ``h36m17`` point is an affine combination (weights sum to 1, so the map commutes
with image translation and scale) of a few nearby BlazePose landmarks (``SOURCES``), fitted by
ridge-regularised least squares towards the renaming rule, on projections of synthetic bodies
(procedural motion, random shapes and cameras): :func:`fit_map`. Points that both sets define
the same way (elbows, wrists, knees, ankles: bone heads) stay identities. Synthetic data only;
``python -m simpose.models.keypoint_map --out FILE`` rebuilds the shipped file.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from simpose.body.joints import conversion_matrix, get_joint_set

__all__ = ["SOURCES", "MAP_PATH", "fit_map", "load_map", "apply_map", "build_map"]

log = logging.getLogger(__name__)

MAP_PATH = Path(__file__).parent / "data" / "blazepose_to_h36m17.json"
_HIPS = ("left_hip", "right_hip", "left_shoulder", "right_shoulder", "left_knee", "right_knee")
_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "nose", "left_ear", "right_ear")
_HEAD = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder")
# BlazePose landmarks each h36m17 point may draw on; None: the renaming rule as it is
SOURCES: dict[str, tuple[str, ...] | None] = {
    "pelvis": _HIPS, "right_hip": _HIPS, "left_hip": _HIPS, "spine": _TORSO, "thorax": _TORSO,
    "left_shoulder": _TORSO, "right_shoulder": _TORSO, "neck_nose": _HEAD, "head": _HEAD,
    **{n: None for n in ("right_knee", "right_ankle", "left_knee", "left_ankle", "left_elbow", "left_wrist",
                         "right_elbow", "right_wrist")},
}  # fmt: skip


def _normalise(points: np.ndarray) -> np.ndarray:
    """(N, 33, 2) -> centred on the mid-hips and scaled to unit RMS size (the map is affine: fit it there)."""
    bp = get_joint_set("blazepose33")
    c = points[:, bp.indices(["left_hip", "right_hip"])].mean(1, keepdims=True)
    s = np.sqrt(((points - c) ** 2).sum(-1).mean(-1))[:, None, None]
    return (points - c) / s, c, s


def fit_map(blazepose2d: np.ndarray, h36m2d: np.ndarray, ridge: float = 0.05) -> np.ndarray:
    """Fit the (17, 33) map from corresponding 2D points.

    Per target joint: ``argmin_w |A w - y|^2 + ridge N |w - w0|^2`` subject to ``sum(w) = 1``,
    over the joint's ``SOURCES``, with ``w0`` the renaming rule and both coordinates sharing the
    weights (solved through the KKT system).

    Args:
        blazepose2d: (N, 33, 2) pixels of BlazePose landmarks.
        h36m2d: (N, 17, 2) pixels of the same frames' h36m17 joints.
        ridge: pull towards the renaming rule (keeps weights small and the map robust to noise).
    Returns:
        (17, 33) float64, rows summing to 1.
    """
    bp, h36 = get_joint_set("blazepose33"), get_joint_set("h36m17")
    W0, _ = conversion_matrix(bp, h36)
    B, c, s = _normalise(np.asarray(blazepose2d, np.float64))
    Y = (np.asarray(h36m2d, np.float64) - c) / s
    N = len(B)
    W = W0.copy()
    for j, name in enumerate(h36.names):
        src = SOURCES[name]
        if src is None:
            continue
        idx = bp.indices(list(src))
        A = np.concatenate([B[:, idx, 0], B[:, idx, 1]])  # (2N, k)
        y = np.concatenate([Y[:, j, 0], Y[:, j, 1]])
        w0 = W0[j, idx]
        y = y - np.concatenate([B[..., 0], B[..., 1]]) @ np.where(np.isin(np.arange(33), idx), 0.0, W0[j])
        k = len(idx)
        lam = ridge * 2 * N
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = A.T @ A + lam * np.eye(k)
        kkt[:k, k] = kkt[k, :k] = 1.0
        rhs = np.concatenate([A.T @ y + lam * w0, [1.0 - W0[j, ~np.isin(np.arange(33), idx)].sum()]])
        sol = np.linalg.solve(kkt, rhs)
        W[j] = np.where(np.isin(np.arange(33), idx), 0.0, W0[j])
        W[j, idx] = sol[:k]
    return W


def load_map(path: str | Path | None = None) -> np.ndarray:
    """The shipped (17, 33) map (or one written by :func:`build_map`)."""
    blob = json.loads(Path(path or MAP_PATH).read_text())
    W = np.asarray(blob["weights"], np.float64)
    if W.shape != (17, 33):
        raise ValueError(f"{path or MAP_PATH}: weights must be 17 x 33, got {W.shape}")
    return W


def apply_map(keypoints: np.ndarray, confidence: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose-33 keypoints -> h36m17 points.

    Args:
        keypoints: (..., 33, 2) pixels (NaN: missing).
        confidence: (..., 33).
        W: (17, 33) map.
    Returns:
        (..., 17, 2) pixels and (..., 17) confidence: the mean of its sources' confidences
        weighted by ``|w|`` (a hip leans on the knees a little: an occluded knee lowers the hip's
        confidence a little, not to its own). A point whose sources are missing falls back to the renaming rule (and is NaN
        with confidence 0 where that also lacks its sources).
    """
    bp, h36 = get_joint_set("blazepose33"), get_joint_set("h36m17")
    W0, _ = conversion_matrix(bp, h36)
    kp = np.asarray(keypoints, np.float64)
    conf = np.asarray(confidence, np.float64)
    finite = np.isfinite(kp).all(-1)
    out = np.full(kp.shape[:-2] + (17, 2), np.nan)
    out_conf = np.zeros(kp.shape[:-2] + (17,))
    for rule in (W0, W):  # the map wins where all of its sources are there
        for j in range(17):
            used = np.abs(rule[j]) > 1e-9
            ok = finite[..., used].all(-1)
            val = np.einsum("s,...sc->...c", rule[j, used], np.where(finite[..., used, None], kp[..., used, :], 0.0))
            out[..., j, :] = np.where(ok[..., None], val, out[..., j, :])
            a = np.abs(rule[j, used])
            out_conf[..., j] = np.where(ok, conf[..., used] @ (a / a.sum()), out_conf[..., j])
    return out, out_conf


# ------------------------------------------------------------------------------ building it


def synthetic_pairs(n_clips: int, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Projections of synthetic bodies: (N, 33, 2) BlazePose and (N, 17, 2) h36m17 pixels.

    Procedural motion of every family, random shapes, cameras 2.5-8 m away at 0.3-2.2 m height,
    any azimuth, focal 600-1600 px on 1000 x 1000 images.
    """
    import torch

    from simpose.body.model import BodyModel, sample_shape
    from simpose.motion import procedural
    from simpose.geometry import look_at

    rng = np.random.default_rng(seed)
    body = BodyModel()
    families = [f for f in procedural.FAMILIES if f != "random"] + ["random"] * 3
    bps, hs = [], []
    for i in range(n_clips):
        shape = sample_shape(1, rng)[0]
        clip = procedural.generate(families[i % len(families)], frames, 25.0, rng, body, shape)
        args = (torch.as_tensor(clip.pose_rotvecs), torch.as_tensor(shape)[None],
                torch.as_tensor(clip.global_rotvecs), torch.as_tensor(clip.trans))  # fmt: skip
        with torch.no_grad():
            jh = body.forward_joints("h36m17", *args).numpy()
            jb = body.forward_joints("blazepose33", *args).numpy()
        centre = jh[:, 0].mean(0)
        az, dist = rng.uniform(0, 2 * np.pi), rng.uniform(2.5, 8.0)
        eye = centre + np.array([np.sin(az) * dist, 0.0, np.cos(az) * dist])
        eye[1] = rng.uniform(-2.2, -0.3)  # y down: above the floor
        cam = look_at(eye, centre, rng.uniform(600, 1600), (1000, 1000))
        R, t, K = (x.numpy() for x in (cam.R, cam.t, cam.K))
        for joints, out in ((jb, bps), (jh, hs)):
            c = joints @ R.T + t
            out.append((c @ K.T)[..., :2] / c[..., 2:])
    return np.concatenate(bps), np.concatenate(hs)


def build_map(out: str | Path, n_clips: int = 120, frames: int = 40, seed: int = 0, ridge: float = 0.05) -> Path:
    """Fit the map on synthetic pairs and write it with its card (recipe and held-out 2D error)."""
    t0 = time.perf_counter()
    B, H = synthetic_pairs(n_clips, frames, seed)
    Bt, Ht = synthetic_pairs(max(10, n_clips // 6), frames, seed + 1)  # held out
    W = fit_map(B, H, ridge)
    W0, _ = conversion_matrix("blazepose33", "h36m17")
    err = lambda M: float(np.linalg.norm(np.einsum("hb,nbc->nhc", M, Bt) - Ht, axis=-1).mean())  # noqa: E731
    card = {
        "weights": np.round(W, 6).tolist(),
        "joint_sets": ["blazepose33", "h36m17"],
        "recipe": f"python -m simpose.models.keypoint_map --out FILE --clips {n_clips} --frames {frames} --seed {seed} --ridge {ridge}",
        "data": "synthetic only: procedural motion, random anny bodies and cameras (simpose.models.keypoint_map.synthetic_pairs)",
        "held_out_2d_error_px": {"renaming_rule": round(err(W0), 2), "this_map": round(err(W), 2), "image": "1000x1000"},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out = Path(out)
    out.write_text(json.dumps(card, indent=1))
    log.info("wrote %s: held-out 2D error %s", out, card["held_out_2d_error_px"])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit the BlazePose-33 -> h36m17 keypoint map on synthetic bodies.")
    parser.add_argument("--out", type=Path, default=MAP_PATH)
    parser.add_argument("--clips", type=int, default=120)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ridge", type=float, default=0.05)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    path = build_map(args.out, args.clips, args.frames, args.seed, args.ridge)
    print(json.dumps(json.loads(path.read_text())["held_out_2d_error_px"]))


if __name__ == "__main__":
    main()
