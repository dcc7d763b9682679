"""The joints of one body (shape fixed) as a cheap differentiable function of its pose.

Why: fitting a track's pose to 2D needs the joints of a set many times per frame; anny's
forward (the rest shape, then kinematics over all its ~160 bones) costs ~0.3 ms per frame and
call on 2 cores, which over tens of optimiser steps is more than the 3D stages may cost.

With the shape fixed, only the 19 ``POSE_BONES`` (and the root) move anything: every other
bone keeps its reference rotation relative to its nearest posable ancestor ``a``, so its
skinning transform IS ``a``'s: ``v -> G_a (v - r_a) + x_a`` (``G_a`` the bone's world rotation
relative to the reference pose, ``r_a`` its reference head, ``x_a`` its posed head; the same
relation :mod:`simpose.body.fit` inverts). A joint of any set is an affine blend of skinned
vertices and bone heads (:mod:`simpose.body.regressors`), hence

    joint_j = sum_a ( G_a c_aj + w_aj x_a ),   sum_a w_aj = 1

with constants ``c`` (3-vectors) and ``w`` read once from the body at its reference pose. The pose
then costs 19 batched 3x3 products along the tree and one small einsum, ~20x cheaper than
:meth:`BodyModel.forward_joints`. Joints on bone heads come out exactly; joints on skinned
vertices agree to within a millimetre (tests/body/test_rig.py): a few of anny's helper bones
near the clavicles, hips and spine do not follow their posable ancestor exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from simpose.body.model import POSE_BONES, SHAPE_NAMES, BodyModel

__all__ = ["JointRig", "right_jacobian"]


def _skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrices ``[v]x``."""
    z = torch.zeros_like(v[..., 0])
    return torch.stack([
        torch.stack([z, -v[..., 2], v[..., 1]], -1),
        torch.stack([v[..., 2], z, -v[..., 0]], -1),
        torch.stack([-v[..., 1], v[..., 0], z], -1),
    ], -2)  # fmt: skip


def _cross(a: torch.Tensor, b: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """Cross products ``a_p x b`` of the columns ``a_p`` of ``a`` (..., 3, P) with ``b`` (..., 3, 1),
    broadcast; the result's components are stacked at ``dim`` (-2: (..., 3, P))."""
    a0, a1, a2 = a.unbind(-2)
    b0, b1, b2 = b.unbind(-2)
    return torch.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def right_jacobian(rotvecs: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) right Jacobian of SO(3): ``R(v + dv) = R(v) exp([J_r(v) dv]x)`` to first order."""
    a = torch.linalg.norm(rotvecs, dim=-1)[..., None, None]
    K = _skew(rotvecs)
    small = a < 1e-6
    a_safe = torch.where(small, torch.ones_like(a), a)
    c1 = torch.where(small, 0.5 - a**2 / 24, (1 - torch.cos(a_safe)) / a_safe**2)
    c2 = torch.where(small, 1.0 / 6 - a**2 / 120, (a_safe - torch.sin(a_safe)) / a_safe**3)
    return torch.eye(3, dtype=rotvecs.dtype) - c1 * K + c2 * (K @ K)


def _rig_bone_of(body: BodyModel) -> torch.Tensor:
    """(NB,) the rig bone of every anny bone: itself if posable (1 + its ``POSE_BONES`` index),
    else its nearest posable ancestor's, or the root (0)."""
    pose_idx = body.pose_bone_indices.tolist()
    rig_of = []
    for b in range(len(body.bone_labels)):
        p = b
        while p > 0 and p not in pose_idx:
            p = body.bone_parents[p]
        rig_of.append(pose_idx.index(p) + 1 if p > 0 else 0)
    return torch.as_tensor(rig_of)


@dataclasses.dataclass(frozen=True, eq=False)
class JointRig:
    """Joints of ``joint_set`` for one body shape as a function of pose (module docstring).

    Attributes:
        joint_set: the set.
        shape_params: (6,) the shape the rig was built for.
        parents: (20,) index of each rig bone's parent among the rig bones (-1: root); rig
            bone 0 is the root, 1..19 are ``POSE_BONES``.
        heads: (20, 3) reference-pose heads, body frame (root at the origin), metres.
        offsets: (20, J, 3) ``c_aj``; weights: (20, J) ``w_aj``.
    """

    joint_set: str
    shape_params: np.ndarray
    parents: tuple[int, ...]
    heads: torch.Tensor
    offsets: torch.Tensor
    weights: torch.Tensor

    @staticmethod
    def build(body: BodyModel, shape_params: np.ndarray, joint_set: str) -> JointRig:
        """Read the rig's constants off the rest body of ``shape_params`` (6,)."""
        sp = torch.as_tensor(np.asarray(shape_params, np.float64), dtype=body.dtype).reshape(1, len(SHAPE_NAMES))
        a = body.anny
        if joint_set not in body._regressors:  # noqa: SLF001 - the model's own cache of regressors
            body.forward_joints(joint_set, torch.zeros(1, len(POSE_BONES), 3, dtype=body.dtype))
        W = body._regressors[joint_set].to(body.dtype)  # noqa: SLF001
        V = body.num_vertices
        with torch.no_grad():
            # the reference pose (every rotation zero), not anny's rest pose: rotations are relative to it
            ref = body(shape_params=sp)
            heads = ref.bone_heads[0]  # (NB, 3) simpose frame, root at the origin
            support = torch.nonzero(W[:, :V].abs().sum(0) > 0).flatten()
            verts = ref.vertices[0, support]  # (S, 3)
        rig_of = _rig_bone_of(body)
        rig_heads = torch.cat([torch.zeros(1, 3, dtype=body.dtype), heads[body.pose_bone_indices]])  # (20, 3)
        J = W.shape[0]
        offsets = torch.zeros(1 + len(POSE_BONES), J, 3, dtype=body.dtype)
        weights = torch.zeros(1 + len(POSE_BONES), J, dtype=body.dtype)
        # bone heads: weight on the head's own rig bone
        Wb = W[:, V:]  # (J, NB)
        for b in torch.nonzero(Wb.abs().sum(0) > 0).flatten().tolist():
            r = int(rig_of[b])
            weights[r] += Wb[:, b]
            offsets[r] += Wb[:, b, None] * (heads[b] - rig_heads[r])
        # skinned vertices: each skinning weight on its bone's rig bone
        Ws = W[:, support]  # (J, S)
        skin_w = a.vertex_bone_weights[support].to(body.dtype)  # (S, K)
        skin_b = rig_of[a.vertex_bone_indices[support].long()]  # (S, K)
        for k in range(skin_w.shape[1]):
            coef = Ws * skin_w[None, :, k]  # (J, S)
            for r in torch.unique(skin_b[:, k]).tolist():
                m = (skin_b[:, k] == r).to(body.dtype)  # (S,)
                weights[r] += coef @ m
                offsets[r] += torch.einsum("js,s,sc->jc", coef, m, verts - rig_heads[r])
        parents = tuple(p + 1 for p in body.pose_bone_parents)
        return JointRig(joint_set, np.asarray(shape_params, np.float64).reshape(-1), (-1, *parents), rig_heads, offsets, weights)

    @staticmethod
    def for_vertices(body: BodyModel, shape_params: np.ndarray, vertex_ids: np.ndarray | torch.Tensor) -> JointRig:
        """A rig whose "joints" are mesh vertices: the posed vertices ``vertex_ids`` (N,) of one shape.

        Each vertex is its own skinning blend, ``v = sum_k w_k (G_a(k) (v_ref - r_a(k)) + x_a(k))``
        over the rig bones ``a(k)`` its anny bones follow: the same form as a joint, with
        ``c_av = w_av (v_ref - r_a)``. Skins N vertices for a few per cent of the full forward's cost
        (the adaptation losses read a few hundred of the ~14k). ``joint_set`` is ``"vertices"``.
        """
        sp = torch.as_tensor(np.asarray(shape_params, np.float64), dtype=body.dtype).reshape(1, len(SHAPE_NAMES))
        ids = torch.as_tensor(np.asarray(vertex_ids), dtype=torch.long).reshape(-1)
        a = body.anny
        with torch.no_grad():
            ref = body(shape_params=sp)
            heads = ref.bone_heads[0]
            verts = ref.vertices[0, ids]  # (N, 3)
        rig_heads = torch.cat([torch.zeros(1, 3, dtype=body.dtype), heads[body.pose_bone_indices]])  # (20, 3)
        skin_w = a.vertex_bone_weights[ids].to(body.dtype)  # (N, K)
        skin_b = _rig_bone_of(body)[a.vertex_bone_indices[ids].long()]  # (N, K)
        N = len(ids)
        weights = torch.zeros(1 + len(POSE_BONES), N, dtype=body.dtype)
        weights.index_put_((skin_b, torch.arange(N)[:, None].expand_as(skin_b)), skin_w, accumulate=True)
        offsets = weights[..., None] * (verts[None] - rig_heads[:, None])  # (20, N, 3)
        parents = tuple(p + 1 for p in body.pose_bone_parents)
        return JointRig("vertices", np.asarray(shape_params, np.float64).reshape(-1), (-1, *parents), rig_heads, offsets, weights)

    @staticmethod
    def stacked(rigs: list[JointRig]) -> JointRig:
        """One rig giving the points of several rigs of the same body and shape, concatenated in order
        (one kinematics pass for all of them)."""
        first = rigs[0]
        if any(r.parents != first.parents or not torch.equal(r.heads, first.heads) for r in rigs[1:]):
            raise ValueError("stacked rigs must come from the same body and shape")
        return dataclasses.replace(
            first, joint_set="+".join(r.joint_set for r in rigs),
            offsets=torch.cat([r.offsets for r in rigs], 1), weights=torch.cat([r.weights for r in rigs], 1),
        )  # fmt: skip

    def _kinematics(self, pose_rotvecs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 19, 3) -> world rotations G (B, 20, 3, 3), heads x (B, 20, 3) (body frame), local R (B, 19, 3, 3)."""
        B = pose_rotvecs.shape[0]
        dtype = self.heads.dtype
        R = roma.rotvec_to_rotmat(pose_rotvecs.to(dtype))
        G = [torch.eye(3, dtype=dtype).expand(B, 3, 3)]
        X = [torch.zeros(B, 3, dtype=dtype)]
        for i, p in enumerate(self.parents[1:], start=1):  # parents come before children
            X.append(X[p] + G[p] @ (self.heads[i] - self.heads[p]))
            G.append(G[p] @ R[:, i - 1])
        return torch.stack(G, 1), torch.stack(X, 1), R

    @torch.no_grad()
    def jacobian(self, pose_rotvecs: torch.Tensor, global_rotvecs: torch.Tensor, trans: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posed joints and their derivatives in closed form (for Gauss-Newton steps).

        A change ``d`` of bone k's rotation vector turns everything below it by
        ``phi = G_k J_r(theta_k) d`` (world frame) about its head, so body-frame joint j moves by
        ``phi x m_kj`` with ``m_kj = sum_{a below k, k included} (G_a c_aj + w_aj (x_a - x_k))``.

        Args:
            pose_rotvecs: (B, 19, 3); global_rotvecs: (B, 3); trans: (B, 3).
        Returns:
            joints (B, J, 3) and d joints / d params (B, J, 3, 63), params ordered
            ``[pose_rotvecs (57), global_rotvecs (3), trans (3)]``.
        """
        dtype = self.heads.dtype
        pose_rotvecs, global_rotvecs, trans = (x.to(dtype) for x in (pose_rotvecs, global_rotvecs, trans))
        B = pose_rotvecs.shape[0]
        G, X, _ = self._kinematics(pose_rotvecs)
        per_bone = torch.einsum("bzij,zkj->bzki", G, self.offsets) + self.weights[None, :, :, None] * X[:, :, None]  # (B, 20, J, 3)
        S = list(per_bone.unbind(1))
        Wsum = list(self.weights.unbind(0))
        for i in range(len(self.parents) - 1, 0, -1):  # subtree sums, children before parents
            p = self.parents[i]
            S[p] = S[p] + S[i]
            Wsum[p] = Wsum[p] + Wsum[i]
        y = S[0]  # (B, J, 3) body-frame joints
        Rg = roma.rotvec_to_rotmat(global_rotvecs)
        joints = y @ Rg.transpose(-1, -2) + trans[:, None]
        m = torch.stack([S[k] - Wsum[k][None, :, None] * X[:, k, None] for k in range(1, len(S))], 1)  # (B, 19, J, 3)
        A = G[:, 1:] @ right_jacobian(pose_rotvecs)  # (B, 19, 3, 3): d phi / d theta
        # body frame: phi x m = -[m]x A d, column by column (a x m for each column a of A),
        # written out by component and broadcast, already in the (B, J, 3, 19, 3 params) layout
        # of the Jacobian (torch.linalg.cross needs both operands expanded, and a permuted copy)
        J = y.shape[1]
        d_pose = _cross(A[:, None], m.transpose(1, 2)[..., None], dim=2)  # (B, J, 3, 19, 3 params)
        d_glob = _cross(right_jacobian(global_rotvecs)[:, None], y[..., None])  # (B, J, 3, 3 params)
        body = torch.cat([d_pose.reshape(B, J, 3, -1), d_glob], -1)  # (B, J, 3, 60)
        jac = torch.cat([Rg[:, None] @ body, torch.eye(3, dtype=dtype).expand(B, J, 3, 3)], -1)
        return joints, jac

    def __call__(self, pose_rotvecs: torch.Tensor, global_rotvecs: torch.Tensor | None = None, trans: torch.Tensor | None = None) -> torch.Tensor:
        """Posed joints.

        Args:
            pose_rotvecs: (B, 19, 3) radians (``POSE_BONES``, relative to their parents).
            global_rotvecs: (B, 3) body orientation (None: facing the camera).
            trans: (B, 3) root position, metres (None: origin).
        Returns:
            (B, J, 3) metres, the frame of :meth:`BodyModel.forward_joints`; differentiable.
        """
        dtype = self.heads.dtype
        G, X, _ = self._kinematics(pose_rotvecs)  # (B, 20, 3, 3), (B, 20, 3)
        joints = torch.einsum("bzij,zkj->bki", G, self.offsets) + torch.einsum("zk,bzi->bki", self.weights, X)
        if global_rotvecs is not None:
            joints = joints @ roma.rotvec_to_rotmat(global_rotvecs.to(dtype)).transpose(-1, -2)
        if trans is not None:
            joints = joints + trans.to(dtype)[:, None]
        return joints
