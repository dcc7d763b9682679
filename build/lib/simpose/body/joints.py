"""Joint sets: names, parents, left/right pairs and drawing edges, defined once.

Every array of joints in simpose says which set it is in (``JOINT_SETS[name]``). A joint index
never appears as a literal outside this module: look it up with ``JointSet.index(name)``.

Joint names are canonical across sets: the same name means the same anatomical point
(``left_knee`` in ``coco17`` and in ``h36m17``), so :func:`convert` maps arrays between sets by
name, plus a short table of derived joints (e.g. a pelvis from the two hips) where a set lacks
one. Names that differ (``head_top`` vs ``head``) really are different points.

Where each joint sits on the body model is in :mod:`simpose.body.regressors`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["JointSet", "JOINT_SETS", "get_joint_set", "convert", "conversion_matrix"]


@dataclasses.dataclass(frozen=True)
class JointSet:
    """A named joint set.

    Attributes:
        name: e.g. ``"h36m17"``.
        names: joint names, in the set's own order.
        parents: parent index of each joint (-1 for the root); the kinematic tree used for
            bone lengths and BVH export.
        edges: pairs of indices to draw (the tree's bones unless the set has its own convention).
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    edges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if len(self.names) != len(self.parents):
            raise ValueError(f"{self.name}: {len(self.names)} names but {len(self.parents)} parents")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"{self.name}: duplicate joint names")
        if not self.edges:
            object.__setattr__(self, "edges", tuple((p, j) for j, p in enumerate(self.parents) if p >= 0))

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """The children of each joint in the kinematic tree (``parents`` inverted)."""
        return tuple(tuple(c for c, p in enumerate(self.parents) if p == j) for j in range(len(self.names)))

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"joint {name!r} is not in joint set {self.name!r} ({', '.join(self.names)})") from None

    def indices(self, names: list[str] | tuple[str, ...]) -> list[int]:
        return [self.index(n) for n in names]

    @property
    def flip_permutation(self) -> np.ndarray:
        """(J,) index array that swaps left and right joints (for mirroring)."""
        perm = np.arange(len(self.names))
        for j, n in enumerate(self.names):
            other = _mirror_name(n)
            if other != n and other in self.names:
                perm[j] = self.names.index(other)
        return perm

    @property
    def left_right_pairs(self) -> tuple[tuple[int, int], ...]:
        perm = self.flip_permutation
        is_left = lambda n: n.startswith("left_") or n.endswith((".L", "_left"))  # noqa: E731
        return tuple((j, int(perm[j])) for j, n in enumerate(self.names) if is_left(n) and perm[j] != j)

    @property
    def root(self) -> int:
        return self.parents.index(-1)


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    if name.endswith("_left"):
        return name[:-5] + "_right"
    if name.endswith("_right"):
        return name[:-6] + "_left"
    if name.endswith(".L"):
        return name[:-2] + ".R"
    if name.endswith(".R"):
        return name[:-2] + ".L"
    return name


def _make(name: str, joints: list[tuple[str, str | None]], edges: list[tuple[str, str]] | None = None) -> JointSet:
    names = tuple(n for n, _ in joints)
    parents = tuple(-1 if p is None else names.index(p) for _, p in joints)
    edge_idx = tuple((names.index(a), names.index(b)) for a, b in edges) if edges else ()
    return JointSet(name=name, names=names, parents=parents, edges=edge_idx)


# Human3.6M 17 joints, in the standard order of the lifting literature
# (shared/benchmarks/h36m/README.md). 'neck_nose' is H36M's "Neck/Nose" point and 'head' its
# "Head" point (near the top of the head).
H36M17 = _make(
    "h36m17",
    [
        ("pelvis", None),
        ("right_hip", "pelvis"),
        ("right_knee", "right_hip"),
        ("right_ankle", "right_knee"),
        ("left_hip", "pelvis"),
        ("left_knee", "left_hip"),
        ("left_ankle", "left_knee"),
        ("spine", "pelvis"),
        ("thorax", "spine"),
        ("neck_nose", "thorax"),
        ("head", "neck_nose"),
        ("left_shoulder", "thorax"),
        ("left_elbow", "left_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_shoulder", "thorax"),
        ("right_elbow", "right_shoulder"),
        ("right_wrist", "right_elbow"),
    ],
)

_COCO_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
# COCO has no tree; the parents below make one (for bone lengths), the edges are COCO's skeleton.
COCO17 = _make(
    "coco17",
    [
        ("nose", None),
        ("left_eye", "nose"),
        ("right_eye", "nose"),
        ("left_ear", "left_eye"),
        ("right_ear", "right_eye"),
        ("left_shoulder", "nose"),
        ("right_shoulder", "nose"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_hip", "left_shoulder"),
        ("right_hip", "right_shoulder"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
    ],
    edges=[
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
        ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_eye", "right_eye"),
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
        ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ],  # fmt: skip
)
assert list(COCO17.names) == _COCO_NAMES

SMPL24 = _make(
    "smpl24",
    [
        ("pelvis", None),
        ("left_hip", "pelvis"),
        ("right_hip", "pelvis"),
        ("spine1", "pelvis"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("spine2", "spine1"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
        ("spine3", "spine2"),
        ("left_foot", "left_ankle"),
        ("right_foot", "right_ankle"),
        ("neck_base", "spine3"),
        ("left_collar", "spine3"),
        ("right_collar", "spine3"),
        ("upper_neck", "neck_base"),
        ("left_shoulder", "left_collar"),
        ("right_shoulder", "right_collar"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_hand", "left_wrist"),
        ("right_hand", "right_wrist"),
    ],
)

# MPII order: 0 r ankle ... 15 l wrist.
MPII16 = _make(
    "mpii16",
    [
        ("right_ankle", "right_knee"),
        ("right_knee", "right_hip"),
        ("right_hip", "pelvis"),
        ("left_hip", "pelvis"),
        ("left_knee", "left_hip"),
        ("left_ankle", "left_knee"),
        ("pelvis", None),
        ("thorax", "pelvis"),
        ("upper_neck", "thorax"),
        ("head_top", "upper_neck"),
        ("right_wrist", "right_elbow"),
        ("right_elbow", "right_shoulder"),
        ("right_shoulder", "thorax"),
        ("left_shoulder", "thorax"),
        ("left_elbow", "left_shoulder"),
        ("left_wrist", "left_elbow"),
    ],
)

BLAZEPOSE33 = _make(
    "blazepose33",
    [
        ("nose", None),
        ("left_eye_inner", "nose"),
        ("left_eye", "left_eye_inner"),
        ("left_eye_outer", "left_eye"),
        ("right_eye_inner", "nose"),
        ("right_eye", "right_eye_inner"),
        ("right_eye_outer", "right_eye"),
        ("left_ear", "left_eye_outer"),
        ("right_ear", "right_eye_outer"),
        ("mouth_left", "nose"),
        ("mouth_right", "nose"),
        ("left_shoulder", "nose"),
        ("right_shoulder", "nose"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_pinky", "left_wrist"),
        ("right_pinky", "right_wrist"),
        ("left_index", "left_wrist"),
        ("right_index", "right_wrist"),
        ("left_thumb", "left_wrist"),
        ("right_thumb", "right_wrist"),
        ("left_hip", "left_shoulder"),
        ("right_hip", "right_shoulder"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
        ("left_heel", "left_ankle"),
        ("right_heel", "right_ankle"),
        ("left_foot_index", "left_ankle"),
        ("right_foot_index", "right_ankle"),
    ],
)

# MPI-INF-3DHP test-set order (the 17 joints of annot_data.mat / univ_annot3).
MPI_INF_3DHP17 = _make(
    "mpi_inf_3dhp17",
    [
        ("head_top", "head_3dhp"),
        ("neck_base", "spine"),
        ("right_shoulder", "neck_base"),
        ("right_elbow", "right_shoulder"),
        ("right_wrist", "right_elbow"),
        ("left_shoulder", "neck_base"),
        ("left_elbow", "left_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_hip", "pelvis"),
        ("right_knee", "right_hip"),
        ("right_ankle", "right_knee"),
        ("left_hip", "pelvis"),
        ("left_knee", "left_hip"),
        ("left_ankle", "left_knee"),
        ("pelvis", None),
        ("spine", "pelvis"),
        ("head_3dhp", "neck_base"),
    ],
)

# The native set of the body model: the heads of the posable bones of simpose.body.model
# (POSE_BONES), named after anny's bones, plus the top of the head.
ANNY_NATIVE = _make(
    "anny",
    [
        ("root", None),
        ("spine05", "root"),
        ("spine03", "spine05"),
        ("spine01", "spine03"),
        ("neck01", "spine01"),
        ("head", "neck01"),
        ("head_top", "head"),
        ("clavicle.L", "spine01"),
        ("upperarm01.L", "clavicle.L"),
        ("lowerarm01.L", "upperarm01.L"),
        ("wrist.L", "lowerarm01.L"),
        ("hand_tip.L", "wrist.L"),
        ("clavicle.R", "spine01"),
        ("upperarm01.R", "clavicle.R"),
        ("lowerarm01.R", "upperarm01.R"),
        ("wrist.R", "lowerarm01.R"),
        ("hand_tip.R", "wrist.R"),
        ("upperleg01.L", "root"),
        ("lowerleg01.L", "upperleg01.L"),
        ("foot.L", "lowerleg01.L"),
        ("toe.L", "foot.L"),
        ("upperleg01.R", "root"),
        ("lowerleg01.R", "upperleg01.R"),
        ("foot.R", "lowerleg01.R"),
        ("toe.R", "foot.R"),
    ],
)

JOINT_SETS: dict[str, JointSet] = {
    s.name: s for s in (H36M17, COCO17, SMPL24, MPII16, BLAZEPOSE33, MPI_INF_3DHP17, ANNY_NATIVE)
}

# Joints that a set may lack but that can be derived from others as an affine combination
# (weights sum to one, so the rule commutes with any rigid or similarity transform). The first
# rule whose inputs are all present wins. These follow the datasets' own definitions: H36M's
# pelvis is the middle of its hips, its spine the middle of pelvis and thorax, MPII's thorax the
# base of the neck, between the shoulders.
_DERIVED: dict[str, list[dict[str, float]]] = {
    "pelvis": [{"left_hip": 0.5, "right_hip": 0.5}, {"root": 1.0}],
    "thorax": [{"neck_base": 1.0}, {"left_shoulder": 0.5, "right_shoulder": 0.5}],
    "neck_base": [{"thorax": 1.0}, {"left_shoulder": 0.5, "right_shoulder": 0.5}],
    "spine": [{"pelvis": 0.5, "thorax": 0.5}, {"pelvis": 0.5, "neck_base": 0.5},
              {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25, "right_shoulder": 0.25}],
    "neck_nose": [{"nose": 1.0}, {"upper_neck": 1.0}],
    "upper_neck": [{"neck_nose": 1.0}],
    "head": [{"head_top": 1.0}, {"left_ear": 0.5, "right_ear": 0.5}],
    "head_top": [{"head": 1.0}],
    "nose": [{"neck_nose": 1.0}],
    "head_3dhp": [{"upper_neck": 0.5, "head_top": 0.5}, {"neck_nose": 0.5, "head": 0.5},
                  {"left_ear": 0.5, "right_ear": 0.5}],
}  # fmt: skip


def get_joint_set(name: str) -> JointSet:
    """The joint set called ``name``; a clear error listing the known sets otherwise."""
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise KeyError(f"unknown joint set {name!r}; known: {', '.join(JOINT_SETS)}") from None


def conversion_matrix(src: str | JointSet, dst: str | JointSet, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Linear map from joints of ``src`` to joints of ``dst``.

    Args:
        src, dst: joint sets or their names.
        strict: raise if some ``dst`` joint cannot be obtained; otherwise mark it invalid.
    Returns:
        W: (J_dst, J_src) float64, rows sum to one for valid joints (zero rows otherwise).
        valid: (J_dst,) bool.
    """
    src = get_joint_set(src) if isinstance(src, str) else src
    dst = get_joint_set(dst) if isinstance(dst, str) else dst
    W = np.zeros((len(dst), len(src)))
    valid = np.zeros(len(dst), dtype=bool)
    for j, name in enumerate(dst.names):
        rules = [{name: 1.0}] + _DERIVED.get(name, [])
        for rule in rules:
            if all(n in src.names for n in rule):
                for n, w in rule.items():
                    W[j, src.index(n)] += w
                valid[j] = True
                break
    if strict and not valid.all():
        missing = [n for n, v in zip(dst.names, valid) if not v]
        raise ValueError(f"cannot convert joint set {src.name!r} to {dst.name!r}: no source for {missing}")
    return W, valid


def convert(joints, src: str | JointSet, dst: str | JointSet, strict: bool = True):
    """Convert joint arrays between sets where joints correspond.

    Args:
        joints: (..., J_src, D) numpy array or torch tensor, any units/frame (the map is affine).
        src, dst: joint sets or names.
        strict: if False, joints of ``dst`` with no source are NaN instead of an error.
    Returns:
        (..., J_dst, D), same type as ``joints``.
    """
    src_set = get_joint_set(src) if isinstance(src, str) else src
    if joints.shape[-2] != len(src_set):
        raise ValueError(f"joints have {joints.shape[-2]} joints but set {src_set.name!r} has {len(src_set)}")
    W, valid = conversion_matrix(src_set, dst, strict=strict)
    if isinstance(joints, np.ndarray):
        out = np.einsum("ds,...sc->...dc", W, joints)
        out[..., ~valid, :] = np.nan
        return out
    import torch

    Wt = torch.as_tensor(W, dtype=joints.dtype, device=joints.device)
    out = torch.einsum("ds,...sc->...dc", Wt, joints)
    if not valid.all():
        out[..., torch.as_tensor(~valid), :] = float("nan")
    return out
