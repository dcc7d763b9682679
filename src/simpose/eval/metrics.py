"""Pose and mesh metrics: MPJPE and its aligned variants, 3D/2D PCK, AUC, PVE, MPJAE, accel.

Conventions, shared by every function here:

* Inputs are numpy arrays or torch tensors (detached and copied to float64 numpy; nothing is
  differentiable here). 3D positions are in **metres**, 2D positions in **pixels**, rotations
  are 3x3 matrices. Leading batch dimensions ``...`` are arbitrary (B, or B, T, ...) and must
  be equal between prediction and ground truth.
* Every function returns **per-pose** float64 values of shape ``(...)`` (the batch shape; 0-d
  for a single pose), or per-joint values ``(..., J)`` with
  ``per_joint=True``. Distances come back in **millimetres**, angles in **degrees**, PCK and
  AUC in **percent** (0..100). Callers average, preferably with :func:`summarize`.
* Which joints to evaluate and which one is the root are the caller's choice (look indices up
  in :mod:`simpose.body.joints`); ``root=None`` means "no root centring".

Dimension letters: J joints, V vertices, T frames, K joints with an orientation.

NaN policy (a NaN in a prediction is a failure, never silently dropped):

* Ground truth must be finite: a NaN or inf in ``gt`` raises ``ValueError`` naming the argument
  (for :func:`pck2d`, only visible joints are checked; invisible ones may hold anything).
* A non-finite prediction value (NaN or +-inf) is a failed prediction. Distance and angle
  metrics return NaN for every value that depends on it: with ``per_joint=True`` the failed
  joint of :func:`mpjpe` and :func:`mpjae`, otherwise the whole pose (the mean over joints,
  and every joint of an aligned metric, whose alignment uses all joints). :func:`accel_error`
  returns NaN for the (up to three) frames whose second difference uses the failed frame.
* PCK and AUC count a failed joint as a miss (never NaN). For :func:`pck3d`/:func:`auc3d` with
  ``root`` given, a failed root makes every joint of the pose a miss.
* :func:`summarize` reduces per-pose values to ``mean`` over the valid ones plus ``n`` and
  ``n_nan``, logs a warning when ``n_nan > 0``, and raises with ``on_nan="raise"``.
* Shapes that do not match raise ``ValueError`` with both shapes.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Literal, NamedTuple, Union

import numpy as np

from simpose.geometry import similarity_fit

if TYPE_CHECKING:
    import torch

__all__ = [
    "SimilarityTransform",
    "procrustes_transform",
    "procrustes_align",
    "mpjpe",
    "n_mpjpe",
    "pa_mpjpe",
    "pck3d",
    "auc3d",
    "pve",
    "global_rotmats",
    "mpjae",
    "pa_mpjae",
    "accel_error",
    "pck2d",
    "oks",
    "COCO_OKS_SIGMAS",
    "summarize",
]

logger = logging.getLogger(__name__)

ArrayLike = Union[np.ndarray, "torch.Tensor"]  # or anything np.asarray accepts
M_TO_MM = 1000.0
# MPI-INF-3DHP thresholds, metres: 0, 5, ..., 150 mm.
AUC3D_THRESHOLDS = np.linspace(0.0, 0.15, 31)
AUC3D_THRESHOLDS.setflags(write=False)
# COCO's per-keypoint OKS constants in coco17 order (pycocotools cocoeval.py, kpt_oks_sigmas).
COCO_OKS_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0
COCO_OKS_SIGMAS.setflags(write=False)


class SimilarityTransform(NamedTuple):
    """``x -> scale * rotmat @ x + trans``, per pose.

    Attributes:
        rotmat: (..., 3, 3) proper rotation (det = +1).
        scale: (...) uniform scale, dimensionless.
        trans: (..., 3) translation, metres.
    """

    rotmat: np.ndarray
    scale: np.ndarray
    trans: np.ndarray


# --------------------------------------------------------------------------- input checks


def _as_f64(x: ArrayLike) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_gt(gt: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(gt)):
        n_bad = np.count_nonzero(~np.isfinite(gt))
        raise ValueError(f"{name} holds {n_bad} non-finite values; ground truth must be finite")


def _pair(
    pred: ArrayLike, gt: ArrayLike, tail: tuple[int, ...], names: tuple[str, str] = ("pred", "gt")
) -> tuple[np.ndarray, np.ndarray]:
    """float64 copies of pred and gt; pred non-finite -> NaN; gt checked finite.

    ``tail`` is the required trailing shape; -1 means "any size >= 1".
    """
    p, g = _as_f64(pred), _as_f64(gt)
    if p.shape != g.shape:
        raise ValueError(f"{names[0]} has shape {p.shape} but {names[1]} has shape {g.shape}")
    ok = p.ndim >= len(tail) and all(
        (t == -1 and s >= 1) or s == t for s, t in zip(p.shape[p.ndim - len(tail) :], tail)
    )
    if not ok:
        want = ", ".join("N" if t == -1 else str(t) for t in tail)
        raise ValueError(f"{names[0]} and {names[1]} must have shape (..., {want}), got {p.shape}")
    _check_gt(g, names[1])
    p[~np.isfinite(p)] = np.nan
    return p, g


def _center(x: np.ndarray, root: int | None) -> np.ndarray:
    if root is None:
        return x
    n = x.shape[-2]
    if not -n <= root < n:
        raise ValueError(f"root={root} is out of range for {n} joints")
    return x - x[..., root : root + 1, :]


def _pose_nan(x: np.ndarray) -> np.ndarray:
    """(..., N, D) -> (...) True where any value of the pose is NaN."""
    return np.isnan(x).any(axis=(-1, -2))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0, 0 where den == 0 (any value is optimal), NaN where den is NaN."""
    safe = np.where(den > 0, den, 1.0)
    return np.where(den > 0, num / safe, np.where(np.isnan(den), np.nan, 0.0))


def _errors_mm(pred: np.ndarray, gt: np.ndarray, per_joint: bool) -> np.ndarray:
    err = np.linalg.norm(pred - gt, axis=-1) * M_TO_MM
    return err if per_joint else err.mean(axis=-1)


# --------------------------------------------------------------------------- alignment


def procrustes_transform(pred: ArrayLike, gt: ArrayLike) -> SimilarityTransform:
    """Least-squares similarity transform taking ``pred`` onto ``gt``, per pose.

    Minimises ``sum_j |s R p_j + t - g_j|^2`` over rotations R (det +1), scales s and
    translations t: the closed form of Umeyama (1991, "Least-squares estimation of
    transformation parameters between two point patterns", TPAMI 13(4)), i.e. Kabsch's SVD
    solution with the reflection fix ``diag(1, 1, sign det(U V^T))``, plus the optimal scale.
    A mirrored prediction is therefore *not* aligned by a reflection. A prediction collapsed to
    one point gets ``s = 0`` (every scale is then optimal) and aligns to the gt centroid.

    Args:
        pred: (..., N, 3) points, metres (N joints or vertices).
        gt: (..., N, 3) points, metres, same frame as the result.

    Returns:
        The transform; all of its fields are NaN for poses whose prediction is not finite.
    """
    p, g = _pair(pred, gt, (-1, 3))
    bad = _pose_nan(p)
    p = np.where(bad[..., None, None], 0.0, p)
    rotmat, scale, trans = similarity_fit(p, g)
    nan = np.where(bad, np.nan, 0.0)
    return SimilarityTransform(rotmat + nan[..., None, None], scale + nan, trans + nan[..., None])


def procrustes_align(pred: ArrayLike, gt: ArrayLike) -> np.ndarray:
    """``pred`` moved by :func:`procrustes_transform` onto ``gt``.

    Args:
        pred: (..., N, 3) points, metres.
        gt: (..., N, 3) points, metres.

    Returns:
        (..., N, 3) aligned prediction in the frame of ``gt``, metres; NaN for failed poses.
    """
    rotmat, scale, trans = procrustes_transform(pred, gt)
    p = _as_f64(pred)
    return scale[..., None, None] * p @ np.swapaxes(rotmat, -1, -2) + trans[..., None, :]


# --------------------------------------------------------------------------- 3D positions


def mpjpe(pred: ArrayLike, gt: ArrayLike, root: int | None = None, per_joint: bool = False) -> np.ndarray:
    """Mean per-joint position error: mean over joints of ``|pred_j - gt_j|``.

    Human3.6M Protocol #1 (Ionescu et al. 2014, TPAMI) with ``root`` set to the pelvis: joint
    ``root`` of each pose is subtracted from pred and gt separately, which removes any global
    translation.

    Args:
        pred: (..., J, 3) predicted joints, metres.
        gt: (..., J, 3) true joints, metres, same frame.
        root: index of the root joint, or None to compare positions as given.
        per_joint: return (..., J) errors instead of their mean.

    Returns:
        (...) or (..., J) millimetres.
    """
    p, g = _pair(pred, gt, (-1, 3))
    return _errors_mm(_center(p, root), _center(g, root), per_joint)


def n_mpjpe(pred: ArrayLike, gt: ArrayLike, root: int | None = None, per_joint: bool = False) -> np.ndarray:
    """Scale-normalised MPJPE (N-MPJPE; Rhodin, Salzmann & Fua 2018, ECCV).

    After root centring (none with ``root=None``: positions are scaled about the origin, as
    in VideoPose3D's ``n_mpjpe`` on root-relative inputs), pred is scaled by the
    least-squares optimum ``s = <pred, gt> / <pred, pred>`` (sums over joints and axes; s = 0 if
    pred is all zero). s minimises the *squared* error, so N-MPJPE can exceed MPJPE on a pose
    (the RMS error cannot grow).

    Args:
        pred: (..., J, 3) predicted joints, metres.
        gt: (..., J, 3) true joints, metres.
        root: index of the root joint, or None.
        per_joint: return (..., J) errors instead of their mean.

    Returns:
        (...) or (..., J) millimetres.
    """
    p, g = _pair(pred, gt, (-1, 3))
    p, g = _center(p, root), _center(g, root)
    pp = np.sum(p * p, axis=(-1, -2))
    s = _ratio(np.sum(p * g, axis=(-1, -2)), pp)
    return _errors_mm(s[..., None, None] * p, g, per_joint)


def pa_mpjpe(pred: ArrayLike, gt: ArrayLike, per_joint: bool = False) -> np.ndarray:
    """Procrustes-aligned MPJPE: MPJPE after :func:`procrustes_align` (rotation, translation,
    uniform scale; no reflection), per pose.

    Human3.6M Protocol #2 (e.g. Martinez et al. 2017; "reconstruction error" in Kanazawa et
    al. 2018); also 3DPW's MPJPE_PA. Root centring is unnecessary: the translation is solved.

    Args:
        pred: (..., J, 3) predicted joints, metres.
        gt: (..., J, 3) true joints, metres.
        per_joint: return (..., J) errors instead of their mean.

    Returns:
        (...) or (..., J) millimetres.
    """
    return _errors_mm(procrustes_align(pred, gt), _as_f64(gt), per_joint)


def pck3d(
    pred: ArrayLike, gt: ArrayLike, threshold: float = 0.15, root: int | None = None, per_joint: bool = False
) -> np.ndarray:
    """3D percentage of correct keypoints: joints with ``|pred_j - gt_j| < threshold``.

    MPI-INF-3DHP 3DPCK (Mehta et al. 2017, 3DV): 150 mm, root-relative (pelvis), strict ``<``
    as in the dataset's ``mpii_compute_3d_pck.m``. Failed (NaN) joints are misses.

    Args:
        pred: (..., J, 3) predicted joints, metres.
        gt: (..., J, 3) true joints, metres.
        threshold: metres.
        root: index of the root joint, or None.
        per_joint: return (..., J) hits as 0 or 100 instead of the per-pose percentage.

    Returns:
        (...) or (..., J) percent.
    """
    p, g = _pair(pred, gt, (-1, 3))
    dist = np.linalg.norm(_center(p, root) - _center(g, root), axis=-1)
    hit = np.where(np.isnan(dist), False, dist < threshold) * 100.0
    return hit if per_joint else hit.mean(axis=-1)


def auc3d(
    pred: ArrayLike, gt: ArrayLike, thresholds: ArrayLike = AUC3D_THRESHOLDS, root: int | None = None
) -> np.ndarray:
    """Area under the 3DPCK curve: mean of :func:`pck3d` over ``thresholds``.

    MPI-INF-3DHP AUC (Mehta et al. 2017): the plain mean over the 31 thresholds 0, 5, ..., 150
    mm (not a trapezoid integral). Failed joints are misses at every threshold.

    Args:
        pred: (..., J, 3) predicted joints, metres.
        gt: (..., J, 3) true joints, metres.
        thresholds: (K,) metres.
        root: index of the root joint, or None.

    Returns:
        (...) percent.
    """
    p, g = _pair(pred, gt, (-1, 3))
    dist = np.linalg.norm(_center(p, root) - _center(g, root), axis=-1)
    dist = np.where(np.isnan(dist), np.inf, dist)
    th = _as_f64(thresholds).reshape(-1)
    return (dist[..., None] < th).mean(axis=(-1, -2)) * 100.0


def pve(
    pred_vertices: ArrayLike,
    gt_vertices: ArrayLike,
    align: Literal["root", "procrustes"] | None = None,
    pred_root: ArrayLike | None = None,
    gt_root: ArrayLike | None = None,
    per_vertex: bool = False,
) -> np.ndarray:
    """Per-vertex error: mean over vertices of ``|pred_v - gt_v|`` (also "MPVPE", "V2V").

    As in the 3DPW evaluation (von Marcard et al. 2018) and SPIN (Kolotouros et al. 2019),
    meshes must share a topology. ``align``: None compares vertices as given; ``"root"``
    subtracts ``pred_root`` from pred and ``gt_root`` from gt (e.g. each mesh's regressed
    pelvis, as SPIN/VIBE do); ``"procrustes"`` applies :func:`procrustes_align` on all vertices.

    Args:
        pred_vertices: (..., V, 3) metres.
        gt_vertices: (..., V, 3) metres.
        align: None, "root" or "procrustes".
        pred_root: (..., 3) metres; required with ``align="root"``.
        gt_root: (..., 3) metres; required with ``align="root"``.
        per_vertex: return (..., V) errors instead of their mean.

    Returns:
        (...) or (..., V) millimetres.
    """
    p, g = _pair(pred_vertices, gt_vertices, (-1, 3), ("pred_vertices", "gt_vertices"))
    if align == "procrustes":
        p = procrustes_align(p, g)
    elif align == "root":
        if pred_root is None or gt_root is None:
            raise ValueError('align="root" needs pred_root and gt_root')
        pr, gr = _pair(pred_root, gt_root, (3,), ("pred_root", "gt_root"))
        if pr.shape[:-1] != p.shape[:-2]:
            raise ValueError(f"roots have shape {pr.shape} but vertices have shape {p.shape}")
        p, g = p - pr[..., None, :], g - gr[..., None, :]
    elif align is not None:
        raise ValueError(f"align must be None, 'root' or 'procrustes', got {align!r}")
    return _errors_mm(p, g, per_vertex)


# --------------------------------------------------------------------------- rotations


def global_rotmats(pose_rotvecs: ArrayLike, global_rotvecs: ArrayLike, parents: tuple[int, ...] | list[int]) -> np.ndarray:
    """Global joint orientations from local rotations along a kinematic tree (what :func:`mpjae` compares).

    ``G_root = R(global_rotvecs)`` and ``G_k = G_parent(k) @ R(pose_rotvecs_k)``, parent -1 being
    the root: the body model's rule (``simpose.body.model``; ``parents`` =
    :data:`~simpose.body.model.POSE_BONE_PARENTS` for its 19 pose bones). The result is in the
    frame ``global_rotvecs`` is given in (camera frame for the 3DPW protocol). NaN inputs give NaN
    rotations (of that joint and everything below it).

    Args:
        pose_rotvecs: (..., K, 3) radians, each joint's rotation relative to its parent.
        global_rotvecs: (..., 3) radians, the root's orientation.
        parents: (K,) index of each joint's parent among the K, -1 for the root; parents first.

    Returns:
        (..., 1 + K, 3, 3): the root's orientation, then the K joints'.
    """
    import roma
    import torch

    local, root = _as_f64(pose_rotvecs), _as_f64(global_rotvecs)
    if local.ndim < 2 or local.shape[-2:] != (len(parents), 3) or root.shape != local.shape[:-2] + (3,):
        raise ValueError(f"pose_rotvecs {local.shape} must be (..., {len(parents)}, 3) and global_rotvecs {root.shape} (..., 3)")
    if any(p >= k for k, p in enumerate(parents)):
        raise ValueError(f"parents must list each parent before its children, got {tuple(parents)}")
    R = roma.rotvec_to_rotmat(torch.as_tensor(local)).numpy()
    G = [roma.rotvec_to_rotmat(torch.as_tensor(root)).numpy()]  # G[k + 1] is joint k's
    for k, p in enumerate(parents):
        G.append(G[p + 1] @ R[..., k, :, :])
    return np.stack(G, axis=-3)


def _angle_deg(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Geodesic angle between rotations, degrees; atan2 form, accurate near 0 and 180."""
    m = r1 @ np.swapaxes(r2, -1, -2)
    cos = (np.trace(m, axis1=-2, axis2=-1) - 1.0) / 2.0
    skew = np.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1)
    return np.degrees(np.arctan2(np.linalg.norm(skew, axis=-1) / 2.0, cos))


def mpjae(pred_rotmats: ArrayLike, gt_rotmats: ArrayLike, per_joint: bool = False) -> np.ndarray:
    """Mean per-joint angle error (3DPW challenge MPJAE; von Marcard et al. 2018).

    The angle of ``R_pred R_gt^T`` (geodesic distance on SO(3)), mean over joints. The
    rotations are each joint's **global orientation**: the rotation from the joint's local
    frame to the world/camera frame, i.e. the product of local rotations along the kinematic
    chain from the root, root orientation included (SMPL-style ``local_to_global``). pred and gt
    must be expressed in the same frame (3DPW: the camera frame). Inputs are assumed to be
    proper rotations; this is not checked.

    Args:
        pred_rotmats: (..., K, 3, 3) predicted global joint orientations.
        gt_rotmats: (..., K, 3, 3) true global joint orientations.
        per_joint: return (..., K) angles instead of their mean.

    Returns:
        (...) or (..., K) degrees in [0, 180].
    """
    p, g = _pair(pred_rotmats, gt_rotmats, (-1, 3, 3), ("pred_rotmats", "gt_rotmats"))
    bad = np.isnan(p).any(axis=(-1, -2))
    ang = np.where(bad, np.nan, _angle_deg(np.nan_to_num(p), g))
    return ang if per_joint else ang.mean(axis=-1)


def pa_mpjae(
    pred_rotmats: ArrayLike,
    gt_rotmats: ArrayLike,
    pred_joints: ArrayLike,
    gt_joints: ArrayLike,
    per_joint: bool = False,
) -> np.ndarray:
    """Procrustes-aligned MPJAE (3DPW challenge MPJAE_PA).

    The rotation ``R`` of :func:`procrustes_transform` (pred_joints onto gt_joints) is applied
    to the predicted global orientations, ``R @ R_pred_k``, before :func:`mpjae`. A global
    rotation of the whole prediction (positions and orientations) thus leaves it unchanged.
    Orientations are global joint orientations as in :func:`mpjae`, in the frame of the joints.

    Args:
        pred_rotmats: (..., K, 3, 3) predicted global joint orientations.
        gt_rotmats: (..., K, 3, 3) true global joint orientations.
        pred_joints: (..., J, 3) predicted joints, metres (J may differ from K).
        gt_joints: (..., J, 3) true joints, metres.
        per_joint: return (..., K) angles instead of their mean.

    Returns:
        (...) or (..., K) degrees; NaN where the joints or the orientations failed.
    """
    rotmat = procrustes_transform(pred_joints, gt_joints).rotmat
    p = _as_f64(pred_rotmats)
    if p.shape[:-3] != rotmat.shape[:-2]:
        raise ValueError(f"pred_rotmats has shape {p.shape}; pred_joints has batch shape {rotmat.shape[:-2]}")
    return mpjae(rotmat[..., None, :, :] @ p, gt_rotmats, per_joint)


# --------------------------------------------------------------------------- sequences


def accel_error(pred: ArrayLike, gt: ArrayLike, root: int | None = None) -> np.ndarray:
    """Acceleration error (Kanazawa et al. 2019, "Learning 3D Human Dynamics from Video").

    Accelerations are second finite differences ``a_t = x_{t-1} - 2 x_t + x_{t+1}`` in
    mm/frame^2 (so the value depends on the frame rate: evaluate at the dataset's native
    rate); the error of frame t is the mean over joints of ``|a_pred - a_gt|``. HMMR/VIBE
    evaluate pelvis-centred joints (``root`` = pelvis).

    Args:
        pred: (..., T, J, 3) predicted joints, metres, T >= 3.
        gt: (..., T, J, 3) true joints, metres.
        root: index of the root joint, or None.

    Returns:
        (..., T - 2) mm/frame^2, one value per interior frame; average over frames.
    """
    p, g = _pair(pred, gt, (-1, -1, 3))
    if p.shape[-3] < 3:
        raise ValueError(f"accel_error needs at least 3 frames, got shape {p.shape}")
    p, g = _center(p, root), _center(g, root)

    def acc(x: np.ndarray) -> np.ndarray:
        return x[..., :-2, :, :] - 2.0 * x[..., 1:-1, :, :] + x[..., 2:, :, :]

    return _errors_mm(acc(p), acc(g), per_joint=False)


# --------------------------------------------------------------------------- 2D


def pck2d(
    pred2d: ArrayLike,
    gt2d: ArrayLike,
    visible: ArrayLike | None = None,
    threshold: float = 0.5,
    ref: Literal["bbox", "head", "torso"] = "bbox",
    ref_size: ArrayLike | None = None,
    per_joint: bool = False,
) -> np.ndarray:
    """2D PCK: visible joints with ``|pred_j - gt_j| <= threshold * ref_size``, per pose.

    ``ref_size`` per pose, pixels: given explicitly, or for ``ref="bbox"`` computed as the
    longer side of the box around the visible gt joints (PCK of Yang & Ramanan 2013, TPAMI,
    usually with threshold 0.1 or 0.2; a single visible joint gives size 0). ``"head"``: PCKh
    (Andriluka et al. 2014, MPII), the head segment length with threshold 0.5; MPII takes it
    as 0.6 x the diagonal of the annotated head box. ``"torso"``: torso size (e.g. shoulder to
    opposite hip, PCK@0.2 on LSP). For head and torso the caller must pass ``ref_size``. Hits
    use ``<=`` as in MPII's evaluation. Failed (non-finite) predictions are misses.

    Args:
        pred2d: (..., J, 2) predicted keypoints, pixels.
        gt2d: (..., J, 2) true keypoints, pixels (invisible ones are ignored, may be NaN).
        visible: (..., J) bool, or None for all visible.
        threshold: fraction of ``ref_size``.
        ref: which reference length ``ref_size`` is ("bbox", "head" or "torso").
        ref_size: (...) pixels, > 0, or None (only for ``ref="bbox"``).
        per_joint: return (..., J): 100 hit, 0 miss, NaN invisible; ``np.nanmean`` of it over
            a dataset is the joint-weighted PCK (total hits / total visible joints).

    Returns:
        (...) percent of visible joints that are hits, or (..., J) as above. A pose with no
        visible joint gives NaN meaning "nothing to evaluate", not a failure: aggregate a
        dataset with ``np.nanmean(pck2d(..., per_joint=True))`` rather than :func:`summarize`.
    """
    p, g = _as_f64(pred2d), _as_f64(gt2d)
    if p.shape != g.shape:
        raise ValueError(f"pred2d has shape {p.shape} but gt2d has shape {g.shape}")
    if p.ndim < 2 or p.shape[-1] != 2:
        raise ValueError(f"pred2d and gt2d must have shape (..., J, 2), got {p.shape}")
    vis = np.ones(p.shape[:-1], bool) if visible is None else np.asarray(_as_f64(visible) != 0)
    if vis.shape != p.shape[:-1]:
        raise ValueError(f"visible has shape {vis.shape} but keypoints have shape {p.shape}")
    _check_gt(g[vis], "gt2d (visible joints)")
    if ref not in ("bbox", "head", "torso"):
        raise ValueError(f"ref must be 'bbox', 'head' or 'torso', got {ref!r}")
    if ref_size is None:
        if ref != "bbox":
            raise ValueError(f"ref={ref!r} needs ref_size (the {ref} length of each pose, pixels)")
        gv = np.where(vis[..., None], g, np.nan)
        with warnings.catch_warnings():  # "All-NaN slice" for poses with no visible joint
            warnings.simplefilter("ignore", RuntimeWarning)
            size = np.nanmax(np.nanmax(gv, axis=-2) - np.nanmin(gv, axis=-2), axis=-1)
    else:
        size = _as_f64(ref_size)
        try:
            size = np.broadcast_to(size, p.shape[:-2])
        except ValueError:
            raise ValueError(f"ref_size has shape {size.shape} but the batch shape is {p.shape[:-2]}") from None
        if not np.all(size > 0):
            raise ValueError("ref_size must be finite and > 0")
    dist = np.linalg.norm(p - np.where(vis[..., None], g, 0.0), axis=-1)
    with np.errstate(invalid="ignore"):
        hit = (dist <= threshold * size[..., None]) & vis  # NaN distance -> miss
    if per_joint:
        return np.where(vis, hit * 100.0, np.nan)
    n_vis = vis.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_vis > 0, 100.0 * hit.sum(axis=-1) / n_vis, np.nan)


def oks(pred2d: ArrayLike, gt2d: ArrayLike, visible: ArrayLike, area: ArrayLike, sigmas: ArrayLike = COCO_OKS_SIGMAS) -> np.ndarray:
    """COCO's object keypoint similarity between predicted and true keypoints.

    ``OKS = mean over labelled joints of exp(-d^2 / (2 area (2 sigma)^2))`` (pycocotools'
    ``computeOks`` with labelled ground truth). Failed (non-finite) predictions score 0.

    Args:
        pred2d: (..., J, 2) pixels. gt2d: (..., J, 2) pixels (unlabelled joints ignored).
        visible: (..., J) bool, the labelled joints (COCO v > 0).
        area: (...) the person's area in pixels^2 (COCO's segment area; or the box's).
        sigmas: (J,) per-joint constants (default: coco17's).
    Returns:
        (...) in [0, 1]; NaN for a pose with no labelled joint.
    """
    p, g = _as_f64(pred2d), _as_f64(gt2d)
    if p.shape != g.shape or p.shape[-1] != 2:
        raise ValueError(f"pred2d {p.shape} and gt2d {g.shape} must both be (..., J, 2)")
    vis = np.asarray(_as_f64(visible) != 0)
    sig = np.asarray(sigmas, np.float64)
    if vis.shape != p.shape[:-1] or sig.shape != p.shape[-2:-1]:
        raise ValueError(f"visible {vis.shape} must be {p.shape[:-1]} and sigmas {sig.shape} ({p.shape[-2]},)")
    a = np.broadcast_to(_as_f64(area), p.shape[:-2])
    if not np.all(a > 0):
        raise ValueError("area must be > 0")
    d2 = ((p - np.where(vis[..., None], g, 0.0)) ** 2).sum(-1)
    e = np.exp(-np.nan_to_num(d2, nan=np.inf) / (2 * a[..., None] * (2 * sig) ** 2))
    n = vis.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (e * vis).sum(-1) / n, np.nan)


# --------------------------------------------------------------------------- aggregation


def summarize(values: ArrayLike, on_nan: Literal["report", "raise"] = "report") -> dict[str, float | int]:
    """Aggregate per-pose (or per-joint) metric values without hiding failures.

    Args:
        values: any shape; NaN marks a failed prediction.
        on_nan: "report" (log a warning and count them) or "raise" (``ValueError``).

    Returns:
        ``{"mean": mean of the non-NaN values (NaN if none), "n": number of values,
        "n_nan": number of NaN values}``.
    """
    if on_nan not in ("report", "raise"):
        raise ValueError(f"on_nan must be 'report' or 'raise', got {on_nan!r}")
    v = _as_f64(values).reshape(-1)
    nan = np.isnan(v)
    n_nan = int(nan.sum())
    if n_nan:
        msg = f"{n_nan} of {v.size} metric values are NaN (failed predictions)"
        if on_nan == "raise":
            raise ValueError(msg)
        logger.warning("%s; the mean is over the other %d", msg, v.size - n_nan)
    mean = float(v[~nan].mean()) if n_nan < v.size else float("nan")
    return {"mean": mean, "n": int(v.size), "n_nan": n_nan}
