"""Fit the body model's pose and shape to 3D joints in the native ``anny`` set, so a mesh comes out.

Why closed form: the native joints are the heads of the posable bones (plus three tips), and
the bones between two posable bones keep their reference rotation, so the joints follow a rigid
tree exactly: ``x_c = x_b + G_b (r_c - r_b)`` for a joint ``c`` whose nearest posable ancestor is
``b``, with ``G_b`` bone b's world rotation relative to the reference pose and ``r`` the
reference-pose joints of the body's shape. Given target joints, each ``G_b`` is therefore the
rotation that best takes ``b``'s reference child offsets to the target ones:

- bones with several children (the root: both hips and the lower spine; the chest: neck and
  both clavicles) are fully determined, by a Kabsch (Procrustes) fit of the directions (anny's
  first spine bone starts at the root, so the root reads the next spine joint);
- bones with one child (limbs, neck, head, feet) are determined up to a twist about the bone,
  which joints cannot show: the fit takes the smallest rotation relative to the parent bone
  (no twist), which is also what keeps the mesh from spinning between frames.

That is one batched SVD per branching bone and a few cross products per frame: far cheaper
than iterating the skinning (measured in ``benchmarks/run_speed.py``), and frame-by-frame
exact where the target obeys the rigid tree. The pose is then ``R_b = G_parent^T G_b`` in
:mod:`simpose.body.model`'s parameterisation. Bone lengths come from the shape: one shape per
track is fitted to the median bone lengths over the track (:func:`fit_shape`, a few
Levenberg-Marquardt steps through the joints-only forward), so the fitted joints lie along the
target's bone directions at the body's own bone lengths.

The fit is written on tensors (:func:`fit_pose_rotmats`; :func:`fit_pose` is its float64 wrapper
on arrays), so it is differentiable in the target joints: the "weights" adaptation
(:mod:`simpose.adapt.network`) back-propagates losses on the posed body through it into the
lifter that predicted the joints.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from simpose.body.joints import get_joint_set
from simpose.body.model import POSE_BONES, SHAPE_NAMES, BodyModel
from simpose.geometry import kabsch

__all__ = ["BodyFit", "fit_body", "fit_pose", "fit_pose_rotmats", "fit_shape", "reference_joints", "bone_lengths", "min_rotation", "min_rotations"]

NATIVE = "anny"


@dataclasses.dataclass(frozen=True, eq=False)
class BodyFit:
    """Body model parameters for T frames of one person (simpose/camera frame).

    Attributes:
        pose_rotvecs: (T, 19, 3) radians, ``POSE_BONES`` relative to their parents.
        global_rotvecs: (T, 3) radians, body orientation.
        trans: (T, 3) metres, root (pelvis) position.
        shape_params: (6,) phenotype in [0, 1] (``SHAPE_NAMES``), one per track.
        valid: (T,) bool; the parameters of invalid frames are NaN.
    """

    pose_rotvecs: np.ndarray
    global_rotvecs: np.ndarray
    trans: np.ndarray
    shape_params: np.ndarray
    valid: np.ndarray


def bone_lengths(joints: np.ndarray, joint_set: str = NATIVE) -> np.ndarray:
    """(..., J, 3) -> (..., J - 1) lengths of the set's tree bones, in the order of ``edges`` of the tree."""
    js = get_joint_set(joint_set)
    child = [j for j, p in enumerate(js.parents) if p >= 0]
    parent = [js.parents[j] for j in child]
    return np.linalg.norm(joints[..., child, :] - joints[..., parent, :], axis=-1)


def reference_joints(body: BodyModel, shape_params: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
    """(J, 3) native joints at the reference pose, root at the origin, simpose frame, metres."""
    sp = None if shape_params is None else torch.as_tensor(shape_params, dtype=body.dtype).reshape(1, 6)
    with torch.no_grad():
        pose = torch.zeros(1, len(POSE_BONES), 3, dtype=body.dtype)
        return body.forward_joints(NATIVE, pose, sp)[0].numpy()


def fit_shape(
    body: BodyModel,
    joints: np.ndarray,
    valid: np.ndarray | None = None,
    iterations: int = 5,
    damping: float = 1e-2,
    joint_set: str = NATIVE,
) -> np.ndarray:
    """One shape whose bone lengths match the median bone lengths of a track.

    Levenberg-Marquardt on the six phenotype parameters (adaptive damping, steps of at most
    0.25, a weak prior towards the average body), with a forward-difference Jacobian: each
    iteration is ONE batched joints-only forward of 7 bodies (the current shape and six nudged
    ones), far cheaper than back-propagating through anny's rest-shape blend.

    Args:
        body: the body model.
        joints: (T, J, 3) joints of ``joint_set``, metres (any frame; only lengths are used).
        valid: (T,) bool frames to use; default all finite frames.
        iterations: LM iterations (forward passes).
        damping: initial LM damping, relative to the mean diagonal of the normal matrix.
        joint_set: the joints' set (its tree gives the bones; the body's joints of that set are
            compared).
    Returns:
        (6,) float64 ``shape_params`` in [0, 1]; the average body (0.5) if no frame is valid.
    """
    joints = np.asarray(joints, np.float64)
    ok = np.isfinite(joints).all((-1, -2))
    ok = ok if valid is None else ok & np.asarray(valid, bool)
    n = len(SHAPE_NAMES)
    s = np.full(n, 0.5)
    if not ok.any():
        return s
    target = np.median(bone_lengths(joints[ok], joint_set), axis=0)
    # residuals in units of 10 cm (absolute, not relative): the long bones, whose errors move the
    # mesh's hands and feet the most, count most
    scale = np.full_like(target, 0.1)
    h = 0.02
    prior = 1e-2  # weak pull to the average body: phenotypes that barely change lengths stay put
    pose = torch.zeros(n + 1, len(POSE_BONES), 3, dtype=body.dtype)
    best = None  # (cost, s, r, Jac)
    lam = damping
    for _ in range(iterations):
        # nudge away from the nearer bound so every probe stays in [0, 1]
        step = np.where(s > 0.5, -h, h)
        probes = np.vstack([s, s + np.diag(step)])
        with torch.no_grad():
            ref = body.forward_joints(joint_set, pose, torch.as_tensor(probes, dtype=body.dtype)).numpy()
        L = bone_lengths(ref, joint_set) / scale  # (7, E)
        r = L[0] - target / scale
        cost = float(r @ r + prior * np.sum((s - 0.5) ** 2))
        if best is None or cost < best[0]:
            best = (cost, s, r, (L[1:] - L[0]).T / step)  # Jacobian (E, 6)
            lam *= 0.3
        else:  # the last step made it worse: back to the best point, smaller steps
            lam *= 10.0
        _, s_best, r_best, Jac = best
        A = Jac.T @ Jac + prior * np.eye(n)
        A += lam * np.trace(A) / n * np.eye(n)
        delta = np.linalg.solve(A, -(Jac.T @ r_best) - prior * (s_best - 0.5))
        s = np.clip(s_best + np.clip(delta, -0.25, 0.25), 0.0, 1.0)  # trust region: the blend is non-linear
    s = best[1]
    return s


def min_rotations(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) smallest rotations taking directions a (N, 3) onto b (N, 3) (any lengths),
    differentiable; the identity where one is zero or they are exactly parallel or opposite
    (the axis is undefined there).

    ``R = I + [v]x + [v]x^2 / (1 + c)`` with ``v = a x b``, ``c = a . b`` (unit a, b): Rodrigues'
    formula without the angle, so no trigonometry and a smooth gradient at small angles; near
    ``c = -1`` the denominator is taken as ``|v|^2 / (1 - c)`` (equal, and exact there).
    """
    a = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    v = torch.linalg.cross(a, b, dim=-1)
    c = (a * b).sum(-1)
    s2 = (v * v).sum(-1)
    ok = s2 > 1e-18  # |v| > 1e-9, as the rotation-vector form's threshold
    den = torch.where(c >= 0, 1.0 + c, s2 / (1.0 - c).clamp_min(1e-12))
    den = torch.where(ok, den, torch.ones_like(den))  # a safe value in the branch not taken (no NaN gradient)
    zero = torch.zeros_like(c)
    vx = torch.stack([zero, -v[..., 2], v[..., 1], v[..., 2], zero, -v[..., 0], -v[..., 1], v[..., 0], zero], -1).reshape(*v.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=a.dtype).expand_as(vx)
    R = eye + vx + (vx @ vx) / den[..., None, None]
    return torch.where(ok[..., None, None], R, eye)


def min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`min_rotations` on arrays: (N, 3, 3) float64 from directions a, b (N, 3)."""
    return min_rotations(torch.as_tensor(np.asarray(a, np.float64)), torch.as_tensor(np.asarray(b, np.float64))).numpy()


def _pose_fit_plan(ref: np.ndarray) -> list[tuple[int, list[int], np.ndarray]]:
    """Per bone-heading joint j (tree order): the joints whose directions from j fix its rotation
    (``c``) and their weights. A child at the same place as j (anny's spine05 head is the root's)
    shows no direction: j's rotation is then read from that child's children, at weight 1e-3 (they
    settle only what the direct children leave open, the pelvis tilt about the hip line, so the
    direct children stay exact). One entry: a one-child bone (minimal rotation)."""
    js = get_joint_set(NATIVE)
    kids = js.children
    plan = []
    for j in range(len(js)):
        c = list(kids[j])
        if not c:
            continue
        while any(np.linalg.norm(ref[k] - ref[j]) < 1e-6 for k in c):
            c = [g for k in c for g in (kids[k] if np.linalg.norm(ref[k] - ref[j]) < 1e-6 else [k])]
        plan.append((j, c, np.array([1.0 if k in kids[j] else 1e-3 for k in c])))
    return plan


def fit_pose_rotmats(body: BodyModel, joints: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The closed-form pose fit (module docstring) on tensors, differentiable in ``joints``.

    Args:
        body: the body model (its bone tree).
        joints: (T, J, 3) native (``anny``) joints, metres, camera frame; every frame finite and
            not degenerate (a branching bone's children not all on one line).
        ref: (J, 3) the shape's reference-pose joints (:func:`reference_joints`), root at the origin.
    Returns:
        global rotations (T, 3, 3) (the body orientation) and the ``POSE_BONES`` rotations
        relative to their parents (T, 19, 3, 3), in ``joints``' dtype.
    """
    js = get_joint_set(NATIVE)
    T = joints.shape[0]
    ref = ref.to(joints.dtype)
    eye = torch.eye(3, dtype=joints.dtype).expand(T, 3, 3)
    G: dict[int, torch.Tensor] = {}  # world rotation of the bone headed at joint j, (T, 3, 3)
    for j, c, w in _pose_fit_plan(ref.detach().numpy()):
        a = ref[c] - ref[j]  # (K, 3)
        b = joints[:, c] - joints[:, j : j + 1]  # (T, K, 3)
        if len(c) >= 2:  # unit directions: bone lengths differ between body and target
            a_n = a / a.norm(dim=-1, keepdim=True)
            b_n = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-9)
            G[j] = kabsch(a_n, b_n, torch.as_tensor(w, dtype=joints.dtype))
        else:
            Gp = G[js.parents[j]] if js.parents[j] >= 0 else eye
            local_target = torch.einsum("tji,tj->ti", Gp, b[:, 0])  # G_parent^T b
            G[j] = Gp @ min_rotations(a[0].expand(T, 3), local_target)
    G_root = G[js.root]
    G_b = torch.stack([G[js.index(name)] for name in POSE_BONES], 1)  # (T, 19, 3, 3)
    G_par = torch.stack([G_b[:, p] if p >= 0 else G_root for p in body.pose_bone_parents], 1)
    return G_root, G_par.transpose(-1, -2) @ G_b


def fit_pose(
    body: BodyModel, joints: np.ndarray, shape_params: np.ndarray, valid: np.ndarray | None = None
) -> BodyFit:
    """Pose the body (of a given shape) so that its native joints follow target joints
    (:func:`fit_pose_rotmats` on arrays, float64).

    Args:
        body: the body model.
        joints: (T, J, 3) native (``anny``) joints, metres, camera frame (NaN: missing frame).
        shape_params: (6,) the track's shape (e.g. from :func:`fit_shape`).
        valid: (T,) bool; default all frames whose joints are finite.
    Returns:
        :class:`BodyFit`; ``trans`` is the target root, so the fitted root coincides with it.
    """
    js = get_joint_set(NATIVE)
    X = np.asarray(joints, np.float64)
    ok = np.isfinite(X).all((-1, -2))
    ok = ok if valid is None else ok & np.asarray(valid, bool)
    ref = reference_joints(body, shape_params).astype(np.float64)
    Xo = np.where(ok[:, None, None], X, ref[None])  # missing frames: the reference pose (no NaN, no degenerate SVD)
    with torch.no_grad():
        G_root, local = fit_pose_rotmats(body, torch.as_tensor(Xo), torch.as_tensor(ref))
        pose, glob = roma.rotmat_to_rotvec(local).numpy(), roma.rotmat_to_rotvec(G_root).numpy()
    trans = X[:, js.root].copy()
    pose[~ok], glob[~ok], trans[~ok] = np.nan, np.nan, np.nan
    return BodyFit(pose, glob, trans, np.asarray(shape_params, np.float64).reshape(6), ok)


def fit_body(body: BodyModel, joints: np.ndarray, valid: np.ndarray | None = None) -> BodyFit:
    """:func:`fit_shape` over the track, then :func:`fit_pose` per frame. Args as those."""
    shape = fit_shape(body, joints, valid)
    return fit_pose(body, joints, shape, valid)


def body_joints(body: BodyModel, fit: BodyFit, joint_set: str = NATIVE, batch: int = 256) -> np.ndarray:
    """(T, J, 3) joints of a fitted body (NaN on invalid frames), metres, camera frame."""
    T = len(fit.valid)
    J = len(get_joint_set(joint_set))
    out = np.full((T, J, 3), np.nan)
    idx = np.flatnonzero(fit.valid)
    sp = torch.as_tensor(fit.shape_params, dtype=body.dtype)[None]
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            i = idx[s : s + batch]
            out[i] = body.forward_joints(
                joint_set, torch.as_tensor(fit.pose_rotvecs[i]), sp,
                torch.as_tensor(fit.global_rotvecs[i]), torch.as_tensor(fit.trans[i]),
            ).numpy()  # fmt: skip
    return out


def body_vertices(body: BodyModel, fit: BodyFit, frames: np.ndarray) -> np.ndarray:
    """(len(frames), V, 3) mesh vertices of the given (valid) frames, metres, camera frame."""
    frames = np.asarray(frames, int)
    sp = torch.as_tensor(fit.shape_params, dtype=body.dtype)[None]
    with torch.no_grad():
        out = body(
            torch.as_tensor(fit.pose_rotvecs[frames]), sp,
            torch.as_tensor(fit.global_rotvecs[frames]), torch.as_tensor(fit.trans[frames]),
        )  # fmt: skip
    return out.vertices.numpy()
