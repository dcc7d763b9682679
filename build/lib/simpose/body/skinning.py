"""Fast posing of one body over many frames: shape once, then float64 kinematics and float32 skinning.

:meth:`simpose.body.model.BodyModel.forward` recomputes the shape-dependent rest model for every
frame and skins in float64. A synthetic clip poses one body T times, so here:

* :meth:`Skinner.rest` computes the rest model (blendshapes, rest bone poses) once per body in
  float64 with anny, plus every pose-independent factor of the kinematic chain;
* :meth:`Skinner.pose` runs anny's ``local-ref`` forward kinematics (the formulas of
  ``anny.utils.kinematics.forward_kinematic``, re-written with batched numpy matrix products,
  float64) for the T frames, folds global orientation, translation and the anny -> simpose axes
  into the bone transforms, and skins every vertex of every frame with one sparse product in
  float32: ``verts[v, t] = sum_(b, j) W[v, b] x~[v, j] A[t, b, :, j]`` with ``x~`` the homogeneous
  rest vertex, so the (V, NB * 4) matrix ``W x~`` is built once per body.

Same conventions and results as ``BodyModel.forward`` (``tests/synth/test_skinning.py`` checks
vertices and bone heads against it); this module only adds a faster path. :class:`FastBodyModel`
is a drop-in :class:`BodyModel` for code that poses one shape at a time without gradients (the
synthetic data engine hands it to the motion library), falling back to ``BodyModel`` otherwise.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import scipy.sparse as sp
import torch

from simpose.body.model import POSE_BONES, SHAPE_NAMES, BodyModel, BodyModelError, BodyOutput

__all__ = ["RestBody", "Skinner", "FastBodyModel"]


@dataclasses.dataclass(frozen=True)
class RestBody:
    """The shape-dependent part of one body (anny frame unless said).

    Attributes:
        vertices: (V, 3) float64 rest vertices, metres.
        rest_R: (NB, 3, 3), rest_h: (NB, 3) rest bone orientations and heads.
        K_R: (NB, 3, 3), K_t: (NB, 3) each bone's chain factor ``W_c = W_p K_c`` at zero pose.
        pre: (NB, 3, 3) ``U_p^T`` and post: (NB, 3, 3) ``U_c`` (a pose bone's factor is
            ``pre @ D @ post``, D its delta rotation).
        skin: (V, NB * 4) float32 CSR matrix ``W[v, b] * x~[v, j]`` at column ``4 b + j``.
        normals: (V, 3) area-weighted unit vertex normals of the rest mesh (given ``faces``).
        skin_normals: (V, NB * 3) float32 CSR ``W[v, b] * n[v, j]`` at column ``3 b + j``.
    """

    vertices: np.ndarray
    rest_R: np.ndarray
    rest_h: np.ndarray
    K_R: np.ndarray
    K_t: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    skin: sp.csr_matrix
    normals: np.ndarray | None = None
    skin_normals: sp.csr_matrix | None = None


class Skinner:
    """Poses one body shape over a batch of frames (see the module docstring).

    Args:
        body: a float64 :class:`BodyModel` (its anny model, axes and pose bones are used).
    """

    def __init__(self, body: BodyModel) -> None:
        a = body.anny
        if body.dtype != torch.float64 or a.pose_parameterization != "local-ref":
            raise ValueError("Skinner needs a float64 BodyModel with anny's 'local-ref' pose parameterisation")
        self.body = body
        levels, (local, order, inverse, parent) = a.kinematic_chain_levels, a.kinematic_chain_indices
        self._levels = [(int(f), int(l)) for f, l in levels]
        self._local, self._order = local.numpy(), order.numpy()
        self._inverse, self._parent = inverse.numpy(), parent.numpy()
        self._U = a.reference_bone_orientations.double().numpy()  # (NB, 3, 3)
        self._C = np.asarray(body.C.numpy(), np.float64)
        self._pose_idx = body.pose_bone_indices.numpy()
        w = a.vertex_bone_weights.double().numpy()  # (V, K)
        idx = a.vertex_bone_indices.long().numpy()
        W = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(len(w)), w.shape[1]), idx.ravel())), shape=(len(w), len(self._U)))
        W.sum_duplicates()
        W.eliminate_zeros()
        self._W = W
        self._W_rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
        if a.bone_orientation != "cached" or a.rest_orientation_refiner is not None or a.root_identity_orientation:
            raise ValueError("Skinner reproduces anny's 'cached' rest bone orientations only")
        proj = a.phenotype_blendshape_projection
        self._projection = None if proj is None else proj.double().numpy()
        self._template = a.template_vertices.double().numpy()
        self._blend = a.blendshapes.double().numpy().reshape(len(a.blendshapes), -1)  # (C, V * 3)
        self._heads0 = a.template_bone_heads.double().numpy()
        self._heads_blend = a.bone_heads_blendshapes.double().numpy()
        self._orient0 = a.bone_template_orientation_matrices.double().numpy()
        self._orient_blend = a.bone_orientation_blendshapes.double().numpy()

    def rest(self, shape_params: np.ndarray | torch.Tensor, normals: bool = False) -> RestBody:
        """The rest model of one shape.

        Args:
            shape_params: (6,) or (1, 6) phenotype in [0, 1] (``SHAPE_NAMES``).
            normals: also prepare the skinning of vertex normals (``pose(..., normals=True)``).
        """
        s = torch.as_tensor(np.asarray(shape_params, np.float64)).reshape(1, -1)
        if s.shape[1] != len(SHAPE_NAMES) or not torch.isfinite(s).all():
            raise BodyModelError(f"shape_params must be {len(SHAPE_NAMES)} finite numbers, got {s.tolist()}")
        if ((s < -1e-6) | (s > 1 + 1e-6)).any():
            raise BodyModelError(f"shape_params must lie in [0, 1] ({', '.join(SHAPE_NAMES)}); got {s[0].tolist()}")
        a = self.body.anny
        if a.local_change_labels or a.facial_action_labels:
            raise ValueError("Skinner supports anny models without local changes or facial actions")
        from anny.models.phenotype import phenotype_blendshape_weights

        with torch.no_grad():  # as anny's _get_phenotype_blendshape_coefficients, product in numpy
            wi = phenotype_blendshape_weights(
                s, a.phenotype_labels, a.anchors, a.stacked_phenotype_blend_shapes_mask, extrapolate=a.extrapolate_phenotypes
            )[0].numpy()
        coeffs = wi @ self._projection if self._projection is not None else wi
        # anny's 'cached' rest model (_get_cached_rest_model) as numpy products: blendshapes are
        # linear in the coefficients; bone orientations are the special Procrustes (nearest
        # rotation, SVD) of a matrix linear in them
        verts = self._template + (coeffs @ self._blend).reshape(-1, 3)
        h = self._heads0 + np.einsum("c,cbi->bi", coeffs, self._heads_blend)
        Mo = self._orient0 + np.einsum("c,cbij->bij", coeffs, self._orient_blend)
        u, _, vt = np.linalg.svd(Mo)
        u[..., -1] *= np.sign(np.linalg.det(u @ vt))[..., None]
        R = u @ vt
        U, par = self._U, self._parent
        # forward_kinematic's 'local-ref' branch: A_p = U_p R_p^T (I for the root), reference head
        # offsets q_c - q_p = A_p (h_c - h_p), K_c = [U_p^T D_c U_c | U_p^T (q_c - q_p)] (zero d_c)
        A = U @ R.transpose(0, 2, 1)
        A[0] = np.eye(3)
        q_off = np.einsum("bij,bj->bi", A[par], h - h[par])
        pre = U[par].transpose(0, 2, 1)
        K_R, K_t = pre @ U, np.einsum("bij,bj->bi", pre, q_off)
        # the root: W_0 = [U_0^T D_0 U_0 | 0]
        K_R[0], K_t[0] = U[0].T @ U[0], 0.0
        pre = pre.copy()
        pre[0] = U[0].T
        xh = np.concatenate([verts, np.ones((len(verts), 1))], 1)
        W = self._W
        data = (W.data[:, None] * xh[self._W_rows]).ravel()
        cols = (W.indices[:, None] * 4 + np.arange(4)).ravel()
        skin = sp.csr_matrix((data.astype(np.float32), cols, W.indptr * 4), shape=(W.shape[0], W.shape[1] * 4))
        n = skin_n = None
        if normals:
            from simpose.render.raster import vertex_normals

            n = vertex_normals(verts, self.body.faces.numpy()).astype(np.float64)
            data_n = (W.data[:, None] * n[self._W_rows]).ravel()
            cols_n = (W.indices[:, None] * 3 + np.arange(3)).ravel()
            skin_n = sp.csr_matrix((data_n.astype(np.float32), cols_n, W.indptr * 3), shape=(W.shape[0], W.shape[1] * 3))
        return RestBody(verts, R, h, K_R, K_t, pre, U.copy(), skin, n, skin_n)

    def pose(
        self,
        rest: RestBody,
        pose_rotvecs: np.ndarray,
        global_rotvecs: np.ndarray,
        trans: np.ndarray,
        rows: np.ndarray | None = None,
        rotations: bool = False,
        normals: bool = False,
    ):
        """Pose a rest body for T frames.

        Args:
            rest: from :meth:`rest`. pose_rotvecs: (T, 19, 3) radians (``POSE_BONES``).
            global_rotvecs: (T, 3). trans: (T, 3) root position, metres (simpose world frame).
            rows: skin only these vertex indices (default all).
            rotations: also return the (T, NB, 3, 3) posed bone orientations, anny frame, and the
                (T, 3, 3) anny -> world rotations.
            normals: also return (T, V, 3) float32 unit vertex normals, world frame: the rest
                normals through the blended linear parts of the bone transforms (linear blend
                skinning of normals: the usual shading approximation, a few degrees from the
                posed mesh's own face-averaged normals; ``rest(..., normals=True)`` needed).
        Returns:
            vertices (T, V, 3) float32 (or (T, len(rows), 3)) and bone_heads (T, NB, 3) float64,
            world frame, metres (``BodyOutput.vertices`` / ``.bone_heads`` of the same inputs);
            with ``rotations``, then the bone orientations and the rotations.
        """
        pose = np.asarray(pose_rotvecs, np.float64)
        T = pose.shape[0]
        if pose.shape != (T, len(POSE_BONES), 3) or not np.isfinite(pose).all():
            raise BodyModelError(f"pose_rotvecs must be finite (T, {len(POSE_BONES)}, 3), got {pose.shape}")
        g = np.asarray(global_rotvecs, np.float64).reshape(T, 3)
        tr = np.asarray(trans, np.float64).reshape(T, 3)
        C = self._C
        D = C.T @ roma.rotvec_to_rotmat(torch.as_tensor(pose)).numpy() @ C  # (T, 19, 3, 3) anny frame
        NB = len(rest.rest_h)
        K_R = np.broadcast_to(rest.K_R, (T, NB, 3, 3)).copy()
        K_R[:, self._pose_idx] = rest.pre[self._pose_idx] @ D @ rest.post[self._pose_idx]
        K_t = rest.K_t
        # chain product level by level in depth order: W_c = W_p K_c
        o = self._order
        K_R, K_t = K_R[:, o], K_t[o]
        WR = [K_R[:, :1]]
        Wt = [np.broadcast_to(K_t[None, :1], (T, 1, 3))]
        for first, last in self._levels[1:]:
            p = self._local[first:last]
            Rp, tp = WR[-1][:, p], Wt[-1][:, p]
            WR.append(Rp @ K_R[:, first:last])
            Wt.append(np.einsum("tbij,bj->tbi", Rp, K_t[first:last]) + tp)
        inv = self._inverse
        WR, Wt = np.concatenate(WR, 1)[:, inv], np.concatenate(Wt, 1)[:, inv]  # posed bone poses
        # skinning transforms T_c = W_c P_c^-1 = [V R^T | w - V R^T h]
        TR = WR @ rest.rest_R.transpose(0, 2, 1)[None]
        Tt = Wt - np.einsum("tbij,bj->tbi", TR, rest.rest_h)
        root = Wt[:, 0]  # (T, 3)
        M = roma.rotvec_to_rotmat(torch.as_tensor(g)).numpy() @ C  # anny -> simpose, then global
        # world transform of bone b: x -> M (T_b x + t_b - root) + trans
        lin = M[:, None] @ TR
        off = np.einsum("tij,tbj->tbi", M, Tt - root[:, None]) + tr[:, None]
        A = np.concatenate([lin, off[..., None]], -1)  # (T, NB, 3, 4)
        # rows (b, j) -> columns (t, i)
        flat = np.ascontiguousarray(A.transpose(1, 3, 0, 2).reshape(NB * 4, T * 3), dtype=np.float32)
        skin = rest.skin if rows is None else rest.skin[rows]
        verts = (skin @ flat).reshape(-1, T, 3).transpose(1, 0, 2)
        heads = np.einsum("tij,tbj->tbi", M, Wt - root[:, None]) + tr[:, None]
        verts = np.ascontiguousarray(verts)
        if normals:
            if rest.skin_normals is None:
                raise ValueError("pose(..., normals=True) needs rest(..., normals=True)")
            flat_n = np.ascontiguousarray(lin.transpose(1, 3, 0, 2).reshape(NB * 3, T * 3), dtype=np.float32)
            sn = rest.skin_normals if rows is None else rest.skin_normals[rows]
            n = (sn @ flat_n).reshape(-1, T, 3).transpose(1, 0, 2)
            length = np.linalg.norm(n, axis=-1, keepdims=True)
            n = np.ascontiguousarray(np.divide(n, length, out=np.zeros_like(n), where=length > 0))
            return (verts, heads, n) if not rotations else (verts, heads, WR, M, n)
        if rotations:
            return verts, heads, WR, M
        return verts, heads


class FastBodyModel(BodyModel):
    """A :class:`BodyModel` whose ``forward`` and ``forward_joints`` use :class:`Skinner`.

    Used when every batch element shares one shape and no input needs a gradient; otherwise (and
    for anything else) it is ``BodyModel`` itself. Vertices are float32-skinned (within a few
    micrometres of ``BodyModel``), returned in float64 like ``BodyModel``'s.
    """

    def __init__(self) -> None:
        super().__init__(torch.float64)
        self.skinner = Skinner(self)
        self._rest_cache: dict[bytes, RestBody] = {}

    def _fast(self, *xs) -> bool:
        return not (torch.is_grad_enabled() and any(isinstance(x, torch.Tensor) and x.requires_grad for x in xs))

    def _rest(self, shape: torch.Tensor) -> RestBody:
        key = shape.numpy().tobytes()
        if key not in self._rest_cache:
            if len(self._rest_cache) >= 16:
                self._rest_cache.pop(next(iter(self._rest_cache)))
            self._rest_cache[key] = self.skinner.rest(shape.numpy())
        return self._rest_cache[key]

    def _inputs(self, pose_rotvecs, shape_params, global_rotvecs, trans):
        B = max((x.shape[0] for x in (pose_rotvecs, shape_params, global_rotvecs, trans) if x is not None), default=1)
        pose_rotvecs = self._check("pose_rotvecs", pose_rotvecs, (B, len(POSE_BONES), 3), 0.0)
        shape_params = self._check("shape_params", shape_params, (None, len(SHAPE_NAMES)), 0.5)
        global_rotvecs = self._check("global_rotvecs", global_rotvecs, (B, 3), 0.0)
        trans = self._check("trans", trans, (B, 3), 0.0)
        return pose_rotvecs, shape_params, global_rotvecs, trans

    def forward(self, pose_rotvecs=None, shape_params=None, global_rotvecs=None, trans=None) -> BodyOutput:
        """As :meth:`BodyModel.forward`."""
        args = (pose_rotvecs, shape_params, global_rotvecs, trans)
        if not self._fast(*args):
            return super().forward(*args)
        pose, shape, glob, tr = self._inputs(*args)
        if shape.shape[0] != 1 and not bool((shape == shape[:1]).all()):
            return super().forward(pose, shape, glob, tr)
        rest = self._rest(shape[:1])
        v, heads, WR, M = self.skinner.pose(rest, pose.numpy(), glob.numpy(), tr.numpy(), rotations=True)
        vertices = torch.as_tensor(v, dtype=torch.float64)
        bone_heads = torch.as_tensor(heads)
        ref = self._reference_rotmats().numpy()
        rel = WR @ ref.transpose(0, 2, 1)
        C = self.C.numpy()
        bone_rotmats = torch.as_tensor(M[:, None] @ rel @ C.T)
        joints = self.regress("anny", vertices, bone_heads)
        return BodyOutput(vertices=vertices, joints=joints, bone_heads=bone_heads, bone_rotmats=bone_rotmats)

    def regress(self, joint_set: str, vertices: torch.Tensor, bone_heads: torch.Tensor) -> torch.Tensor:
        """As :meth:`BodyModel.regress`, reading only the vertices the regressor weighs."""
        W = self._regressor_np(joint_set)
        if vertices.requires_grad or bone_heads.requires_grad or vertices.dtype != torch.float64:
            return super().regress(joint_set, vertices, bone_heads)
        support, Wv, Wh = W
        v = vertices.numpy()[:, support]
        return torch.as_tensor(Wv @ v + Wh @ bone_heads.numpy())

    def _regressor_np(self, joint_set: str):
        """(support vertex indices, (J, S) weights, (J, NB) weights) of a joint set, float64."""
        cache = self.__dict__.setdefault("_np_regressors", {})
        if joint_set not in cache:
            if joint_set not in self._regressors:
                self._regressors[joint_set] = self._build_regressor(self, joint_set)
            W = self._regressors[joint_set].to(torch.float64).numpy()
            V = self.num_vertices
            support = np.nonzero(np.abs(W[:, :V]).sum(0) > 0)[0]
            cache[joint_set] = (support, W[:, support], W[:, V:])
        return cache[joint_set]

    def forward_joints(self, joint_set, pose_rotvecs, shape_params=None, global_rotvecs=None, trans=None):
        """As :meth:`BodyModel.forward_joints`."""
        args = (pose_rotvecs, shape_params, global_rotvecs, trans)
        if not self._fast(*args):
            return super().forward_joints(joint_set, *args)
        pose, shape, glob, tr = self._inputs(*args)
        if shape.shape[0] != 1 and not bool((shape == shape[:1]).all()):
            return super().forward_joints(joint_set, pose, shape, glob, tr)
        support, Wv, Wh = self._regressor_np(joint_set)
        v, heads = self.skinner.pose(self._rest(shape[:1]), pose.numpy(), glob.numpy(), tr.numpy(), rows=support)
        j = Wv @ v.astype(np.float64) + Wh @ heads
        return torch.as_tensor(j)
