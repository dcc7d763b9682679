"""The body model: a thin, batched layer over ``anny`` in simpose's frame.

Frame: anny's own frame is z up, x to the body's left, the body facing -y. simpose's body and
world frame follow the OpenCV camera convention (ARCHITECTURE.md): y down, and a body with zero
global orientation faces -z, i.e. towards a camera at the origin looking along +z, with its left
on the image's right (+x). The conversion happens here and nowhere else.

Pose parameterisation (for learning and retargeting): one rotation vector per bone of
``POSE_BONES`` (19 bones that matter; fingers, toes, face and the twist bones stay at anny's
reference), each the bone's rotation about its head **expressed in world-aligned (simpose) axes
at the reference pose**, relative to its parent (anny's ``local-ref`` parameterisation, rotated
into simpose axes). Global orientation and translation act on the whole body about the root
(the pelvis, anny's ``root`` bone head).

Shape: anny's six phenotype parameters in [0, 1]: gender, age, muscle, weight, height,
proportions (age 0 is a baby, 0.5 a young adult, 1 an elder; see :func:`sample_shape`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
import roma
import torch

from simpose.body.joints import get_joint_set
from simpose.body.regressors import build_regressor

logger = logging.getLogger(__name__)

__all__ = [
    "BodyModel",
    "BodyOutput",
    "POSE_BONES",
    "POSE_BONE_PARENTS",
    "SHAPE_NAMES",
    "ANNY_TO_SIMPOSE",
    "JOINT_LIMITS_DEG",
    "POSE_LIMITS_RAD",
    "sample_shape",
    "clamp_to_limits",
    "BodyModelError",
]

SHAPE_NAMES: tuple[str, ...] = ("gender", "age", "muscle", "weight", "height", "proportions")

# The bones a simpose pose moves. The other anny bones keep their reference rotation relative
# to their parent (twist bones follow their limb, toes their foot, fingers their hand).
POSE_BONES: tuple[str, ...] = (
    "spine05", "spine03", "spine01", "neck01", "head",
    "clavicle.L", "upperarm01.L", "lowerarm01.L", "wrist.L",
    "clavicle.R", "upperarm01.R", "lowerarm01.R", "wrist.R",
    "upperleg01.L", "lowerleg01.L", "foot.L",
    "upperleg01.R", "lowerleg01.R", "foot.R",
)  # fmt: skip


def _pose_bone_parents() -> tuple[int, ...]:
    """Read off the native joint set's tree (its joints are the heads of ``POSE_BONES``)."""
    js = get_joint_set("anny")
    parent_names = [js.names[js.parents[js.index(b)]] for b in POSE_BONES]
    return tuple(POSE_BONES.index(n) if n in POSE_BONES else -1 for n in parent_names)


# For each pose bone, the index in POSE_BONES of its nearest posable ancestor (-1: the root), without
# loading anny (metrics need it); BodyModel.pose_bone_parents reads the same off anny's rig.
POSE_BONE_PARENTS: tuple[int, ...] = _pose_bone_parents()

# x_simpose = ANNY_TO_SIMPOSE @ x_anny: anny (x left, y back, z up) -> simpose (x left-of-body
# = image right for a body facing the camera, y down, z away from the camera).
ANNY_TO_SIMPOSE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

# Joint-angle limits per pose bone: bounds in degrees on each rotation-vector component (x: the
# body's left-right axis, y: vertical, y down, z: front-back), in simpose axes at anny's A-shaped
# reference pose, for the LEFT side; the right side mirrors them (y and z negated). Rotation
# vectors are close to Euler angles for the moderate angles of each single axis, so per-component
# bounds keep random poses human. They come from range-of-motion tables (AAOS), shifted for the
# A-pose (arms 42 deg out, elbows 42 deg flexed). Directions, checked on the body (see
# simpose.motion.procedural): +x flexes spine, neck and knee; -x flexes hip and shoulder; -z
# raises a left arm or thigh sideways; the elbow's hinge is tilted in the A-pose, so its flexion
# needs -x and +y together.
JOINT_LIMITS_DEG: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "spine05": ((-20, 30), (-15, 15), (-15, 15)),
    "spine03": ((-20, 30), (-15, 15), (-15, 15)),
    "spine01": ((-15, 20), (-15, 15), (-10, 10)),
    "neck01": ((-30, 40), (-40, 40), (-25, 25)),
    "head": ((-25, 25), (-30, 30), (-15, 15)),
    "clavicle.L": ((-10, 10), (-15, 15), (-25, 10)),
    "upperarm01.L": ((-170, 60), (-60, 80), (-135, 50)),
    "lowerarm01.L": ((-80, 35), (-40, 75), (-60, 60)),
    "wrist.L": ((-60, 60), (-25, 25), (-30, 30)),
    "upperleg01.L": ((-125, 30), (-90, 40), (-45, 25)),
    "lowerleg01.L": ((0, 145), (-20, 20), (-5, 5)),
    "foot.L": ((-30, 45), (-15, 15), (-20, 20)),
}


class BodyModelError(ValueError):
    """Invalid input to the body model (NaN, out of range, wrong shape)."""


def _mirror_limits(limits):
    (x0, x1), (y0, y1), (z0, z1) = limits
    return ((x0, x1), (-y1, -y0), (-z1, -z0))


def _all_limits() -> np.ndarray:
    """(len(POSE_BONES), 3, 2) lower/upper bounds in radians."""
    out = []
    for bone in POSE_BONES:
        if bone.endswith(".R"):
            lim = _mirror_limits(JOINT_LIMITS_DEG[bone[:-2] + ".L"])
        else:
            lim = JOINT_LIMITS_DEG[bone]
        out.append(lim)
    return np.radians(np.array(out, dtype=np.float64))


POSE_LIMITS_RAD: np.ndarray = _all_limits()


@dataclasses.dataclass(frozen=True)
class BodyOutput:
    """Output of :meth:`BodyModel.forward`, simpose frame, metres.

    Attributes:
        vertices: (B, V, 3).
        joints: (B, J, 3) the native joint set (``simpose.body.joints.JOINT_SETS['anny']``).
        bone_heads: (B, NB, 3) every anny bone's head, posed.
        bone_rotmats: (B, NB, 3, 3) every anny bone's world rotation relative to the reference
            pose (simpose axes): the rotation that maps the bone from reference to posed.
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    bone_heads: torch.Tensor
    bone_rotmats: torch.Tensor


def _import_anny_quietly() -> None:
    """Import anny with NVIDIA Warp's start-up banner (printed from C and Python) sent to the log."""
    import os
    import sys
    import tempfile

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            import anny.skinning.warp_skinning  # noqa: F401 - initialises Warp
            import warp

            warp.config.log_level = warp.LOG_WARNING  # nor its "Module ... load on device" line per first kernel use
        except ImportError:
            pass
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        tmp.seek(0)
        logger.debug("anny/warp start-up: %s", tmp.read().strip())


@functools.lru_cache(maxsize=4)
def _load_anny(dtype: torch.dtype):
    _import_anny_quietly()
    import anny

    model = anny.Anny()  # default rig and topology, local-ref pose parameterisation
    return model.to(dtype)


class BodyModel(torch.nn.Module):
    """Batched anny forward from (pose, shape, global orientation, translation) to a mesh.

    Args:
        dtype: computation dtype. anny's CPU path is fastest in float64 (measured: float32 is ~9x
            slower in anny 0.6.2), which is the default.
    """

    def __init__(self, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.anny = _load_anny(dtype)
        self.dtype = dtype
        self.bone_labels: tuple[str, ...] = tuple(self.anny.bone_labels)
        self.bone_parents: tuple[int, ...] = tuple(int(p) for p in self.anny.bone_parents)
        self.pose_bone_indices = torch.tensor([self.bone_labels.index(b) for b in POSE_BONES])
        C = torch.as_tensor(ANNY_TO_SIMPOSE, dtype=dtype)
        self.register_buffer("C", C, persistent=False)
        self.register_buffer("faces", self.anny.get_triangular_faces().long(), persistent=False)
        self._regressors: dict[str, torch.Tensor] = {}
        self._build_regressor = build_regressor

    # ------------------------------------------------------------------ sizes
    @property
    def num_vertices(self) -> int:
        return int(self.anny.template_vertices.shape[0])

    @property
    def num_pose_bones(self) -> int:
        return len(POSE_BONES)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        pose_rotvecs: torch.Tensor | None = None,
        shape_params: torch.Tensor | None = None,
        global_rotvecs: torch.Tensor | None = None,
        trans: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose and shape the body.

        Args:
            pose_rotvecs: (B, 19, 3) rotation vectors of ``POSE_BONES`` (radians); None = reference pose.
            shape_params: (B, 6) or (1, 6) phenotype in [0, 1] (``SHAPE_NAMES``); None = average.
            global_rotvecs: (B, 3) body orientation about the root; None = facing the camera.
            trans: (B, 3) root (pelvis) position in metres; None = origin.
        Returns:
            BodyOutput in the simpose frame, metres.
        """
        B = max(
            (x.shape[0] for x in (pose_rotvecs, shape_params, global_rotvecs, trans) if x is not None), default=1
        )
        pose_rotvecs = self._check("pose_rotvecs", pose_rotvecs, (B, len(POSE_BONES), 3), 0.0)
        shape_params = self._check("shape_params", shape_params, (None, len(SHAPE_NAMES)), 0.5)
        global_rotvecs = self._check("global_rotvecs", global_rotvecs, (B, 3), 0.0)
        trans = self._check("trans", trans, (B, 3), 0.0)
        if ((shape_params < -1e-6) | (shape_params > 1 + 1e-6)).any():
            bad = shape_params[((shape_params < 0) | (shape_params > 1)).any(-1)][0].tolist()
            raise BodyModelError(f"shape_params must lie in [0, 1] ({', '.join(SHAPE_NAMES)}); got {bad}")

        deltas = self.pose_to_deltas(pose_rotvecs)
        out = self.anny(pose_parameters=deltas, phenotype_kwargs=shape_params)
        bone_poses = out["bone_poses"]  # (B, NB, 4, 4) anny frame
        root = bone_poses[:, :1, :3, 3]
        verts_a = out["vertices"] - root
        heads_a = bone_poses[:, :, :3, 3] - root
        G = roma.rotvec_to_rotmat(global_rotvecs)  # (B, 3, 3)
        M = G @ self.C  # anny -> simpose, then global rotation
        vertices = verts_a @ M.transpose(-1, -2) + trans[:, None]
        bone_heads = heads_a @ M.transpose(-1, -2) + trans[:, None]
        ref = self._reference_rotmats()  # (NB, 3, 3) anny frame
        rel = bone_poses[:, :, :3, :3] @ ref.transpose(-1, -2)
        bone_rotmats = M[:, None] @ rel @ self.C.T
        joints = self.regress("anny", vertices, bone_heads)
        return BodyOutput(vertices=vertices, joints=joints, bone_heads=bone_heads, bone_rotmats=bone_rotmats)

    def _check(self, name: str, x: torch.Tensor | None, shape: tuple, default: float) -> torch.Tensor:
        if x is None:
            size = tuple(1 if s is None else s for s in shape)
            return torch.full(size, default, dtype=self.dtype, device=self.C.device)
        x = torch.as_tensor(x)
        if x.dim() != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
            want = "x".join("B" if s is None else str(s) for s in shape)
            raise BodyModelError(f"{name} must have shape ({want}), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise BodyModelError(f"{name} contains NaN or inf")
        return x.to(dtype=self.dtype, device=self.C.device)

    def pose_to_deltas(self, pose_rotvecs: torch.Tensor) -> torch.Tensor:
        """(B, 19, 3) simpose rotation vectors -> (B, NB, 4, 4) anny ``local-ref`` deltas."""
        B = pose_rotvecs.shape[0]
        R = roma.rotvec_to_rotmat(pose_rotvecs.to(self.dtype))
        R_anny = self.C.T @ R @ self.C
        deltas = torch.eye(4, dtype=self.dtype, device=R.device).repeat(B, len(self.bone_labels), 1, 1)
        deltas[:, self.pose_bone_indices, :3, :3] = R_anny
        return deltas

    @functools.cached_property
    def pose_bone_parents(self) -> tuple[int, ...]:
        """For each pose bone, the index in ``POSE_BONES`` of its nearest posable ancestor (-1: the root).

        A pose rotation is relative to that ancestor: ``G_b = G_parent @ R_b`` for world rotations
        ``G`` (the global orientation for -1), since the bones in between keep their reference.
        """
        idx = self.pose_bone_indices.tolist()
        out = []
        for b in idx:
            p = self.bone_parents[b]
            while p > 0 and p not in idx:
                p = self.bone_parents[p]
            out.append(idx.index(p) if p > 0 else -1)
        return tuple(out)

    def _reference_rotmats(self) -> torch.Tensor:
        """(NB, 3, 3) anny-frame bone orientations at the reference pose (the same for every shape)."""
        return self.anny.reference_bone_orientations

    # ------------------------------------------------------------------ joints
    def regress(self, joint_set: str, vertices: torch.Tensor, bone_heads: torch.Tensor) -> torch.Tensor:
        """Joints of a set from a posed body.

        Args:
            joint_set: a name of ``simpose.body.joints.JOINT_SETS``.
            vertices: (B, V, 3); bone_heads: (B, NB, 3), as in :class:`BodyOutput`.
        Returns:
            (B, J, 3) in the same frame and units.
        """
        if joint_set not in self._regressors:
            self._regressors[joint_set] = self._build_regressor(self, joint_set).to(vertices.dtype)
        W = self._regressors[joint_set].to(device=vertices.device, dtype=vertices.dtype)
        points = torch.cat([vertices, bone_heads], dim=1)
        return torch.einsum("jn,bnc->bjc", W, points)

    def forward_joints(
        self,
        joint_set: str,
        pose_rotvecs: torch.Tensor,
        shape_params: torch.Tensor | None = None,
        global_rotvecs: torch.Tensor | None = None,
        trans: torch.Tensor | None = None,
        max_vertices: int | None = None,
    ) -> torch.Tensor:
        """Joints of a set without skinning the whole mesh (fast; for training data).

        Skins only the vertices the set's regressor reads (a few dozen of the ~14k), so it gives
        exactly ``self.joints(self.forward(...), joint_set)`` at a fraction of the cost.

        Args: as :meth:`forward`; ``pose_rotvecs`` (B, 19, 3) is required.
            max_vertices: keep only each joint's this many heaviest vertex weights, scaled to
                the row's sum (an approximation, for sets whose regressors spread over thousands
                of vertices: BlazePose's 33 read 7k; 64 of them place a landmark 0.3 mm from the
                exact one on average, 3.5 mm at most, 12x faster); None: exact.
        Returns:
            (B, J, 3) simpose frame, metres.
        """
        B = pose_rotvecs.shape[0]
        pose_rotvecs = self._check("pose_rotvecs", pose_rotvecs, (B, len(POSE_BONES), 3), 0.0)
        shape_params = self._check("shape_params", shape_params, (None, len(SHAPE_NAMES)), 0.5)
        global_rotvecs = self._check("global_rotvecs", global_rotvecs, (B, 3), 0.0)
        trans = self._check("trans", trans, (B, 3), 0.0)
        if joint_set not in self._regressors:
            self._regressors[joint_set] = self._build_regressor(self, joint_set)
        W = self._regressors[joint_set].to(self.dtype)
        V = self.num_vertices
        if max_vertices is not None:
            W = _sparsified(W, V, max_vertices)
        support = torch.nonzero(W[:, :V].abs().sum(0) > 0).flatten()
        a = self.anny
        zeros = lambda n: torch.zeros(shape_params.shape[0], n, dtype=self.dtype)  # noqa: E731
        coeffs = a._get_phenotype_blendshape_coefficients(
            shape_params, zeros(len(a.local_change_labels)), zeros(len(a.facial_action_labels))
        )
        rest = a.get_rest_model(coeffs)
        transforms, bone_poses = a.get_bone_transforms(self.pose_to_deltas(pose_rotvecs), rest["rest_bone_poses"])
        rest_v = rest["rest_vertices"][:, support]  # (b, S, 3)
        weights = a.vertex_bone_weights[support].to(self.dtype)  # (S, K)
        idx = a.vertex_bone_indices[support].long()  # (S, K)
        T = transforms[:, idx, :3, :]  # (B, S, K, 3, 4)
        blend = (weights[None, :, :, None, None] * T).sum(2)  # (B, S, 3, 4)
        verts = (blend[..., :3] @ rest_v.expand(B, -1, -1)[..., None]).squeeze(-1) + blend[..., 3]
        root = bone_poses[:, :1, :3, 3]
        M = roma.rotvec_to_rotmat(global_rotvecs) @ self.C
        verts_s = (verts - root) @ M.transpose(-1, -2) + trans[:, None]
        heads_s = (bone_poses[:, :, :3, 3] - root) @ M.transpose(-1, -2) + trans[:, None]
        return torch.einsum("js,bsc->bjc", W[:, support], verts_s) + torch.einsum("jn,bnc->bjc", W[:, V:], heads_s)

    def joints(self, output: BodyOutput, joint_set: str) -> torch.Tensor:
        """(B, J, 3) joints of ``joint_set`` for a :class:`BodyOutput`."""
        return self.regress(joint_set, output.vertices, output.bone_heads)

    def rest_vertices(self, shape_params: torch.Tensor | None = None) -> torch.Tensor:
        """(B, V, 3) reference-pose vertices in the simpose frame, root at the origin."""
        return self.forward(shape_params=shape_params).vertices


def _sparsified(W: torch.Tensor, V: int, k: int) -> torch.Tensor:
    """(J, V + NB) regressor -> each row's vertex part cut to its ``k`` largest |weights|, scaled
    so that the row's vertex weights keep their sum (a point stays an affine combination)."""
    Wv = W[:, :V]
    top = Wv.abs().topk(min(k, V), dim=1).indices
    kept = torch.zeros_like(Wv).scatter(1, top, Wv.gather(1, top))
    total, part = Wv.sum(1, keepdim=True), kept.sum(1, keepdim=True)
    scale = torch.where(part.abs() > 1e-12, total / torch.where(part.abs() > 1e-12, part, torch.ones_like(part)), torch.ones_like(part))
    return torch.cat([kept * scale, W[:, V:]], dim=1)


def clamp_to_limits(pose_rotvecs: torch.Tensor) -> torch.Tensor:
    """Clamp (..., 19, 3) rotation vectors component-wise to the joint limits."""
    lim = torch.as_tensor(POSE_LIMITS_RAD, dtype=pose_rotvecs.dtype, device=pose_rotvecs.device)
    return torch.maximum(torch.minimum(pose_rotvecs, lim[..., 1]), lim[..., 0])


def sample_shape(n: int, rng: np.random.Generator, children: float = 0.15, elders: float = 0.15) -> np.ndarray:
    """Random phenotypes covering the population, children to elders.

    Age follows a mixture: ``children`` of the bodies are children (anny age 0.1-0.4), ``elders``
    are elders (0.75-1.0), the rest adults (0.4-0.75); gender is a coin flip blurred by
    N(0, 0.1) (anny's gender is continuous); weight, muscle and proportions are centred Betas
    (mostly ordinary bodies, some extremes); height is uniform.

    Args:
        n: number of bodies.
        rng: numpy Generator (the only source of randomness).
    Returns:
        (n, 6) float64 in [0, 1], columns ``SHAPE_NAMES``.
    """
    u = rng.random(n)
    age = np.where(
        u < children,
        rng.uniform(0.1, 0.4, n),
        np.where(u < children + elders, rng.uniform(0.75, 1.0, n), rng.uniform(0.4, 0.75, n)),
    )
    gender = np.clip(rng.integers(0, 2, n) + rng.normal(0, 0.1, n) * np.where(rng.random(n) < 0.5, 1, -1), 0, 1)
    muscle = rng.beta(2.0, 2.0, n)
    weight = rng.beta(2.0, 2.0, n)
    height = rng.uniform(0.0, 1.0, n)
    proportions = rng.beta(3.0, 3.0, n)
    return np.stack([gender, age, muscle, weight, height, proportions], axis=1)
