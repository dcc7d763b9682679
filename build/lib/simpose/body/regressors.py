"""Where each joint of each joint set sits on the body model.

A joint is an affine combination (weights summing to one) of anchors on the posed body:

- ``bone:NAME``: the head of anny bone NAME (a joint centre: hips, knees, shoulders...).
- ``kp:NAME``: one of anny's own surface keypoints (``anny/data/keypoints/coco.pth``: nose, eyes,
  ears, heels, toes...), a fixed vertex blend.
- ``vtx:head_top``: the crown, the mean of the highest head vertices of the average body.

The recipes follow how each dataset places its joints, from the datasets' documentation, never
fitted to their data (real data is for evaluation only):

- Human3.6M (Vicon skeleton): hips at the femoral heads, pelvis between them, thorax at the base
  of the neck, spine halfway between pelvis and thorax, "Neck/Nose" in front of the upper neck
  at nose height, "Head" near the top of the head.
- COCO: surface landmarks for the face (nose, eyes, ears) and joint centres elsewhere; anny's
  COCO keypoints are made for exactly this.
- MPII: head top and upper neck; thorax at the base of the neck.
- SMPL-24: joint centres of the SMPL kinematic tree.
- BlazePose-33: COCO-like face points plus hands (pinky, index and thumb knuckles) and feet
  (heel, foot index).
- MPI-INF-3DHP: as Human3.6M, with a head-centre joint between upper neck and head top.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch

from simpose.body.joints import get_joint_set

if TYPE_CHECKING:
    from simpose.body.model import BodyModel

__all__ = ["RECIPES", "build_regressor"]


def _sym(recipe: dict[str, float]) -> dict[str, float]:
    """Mirror a left-side recipe to the right side."""
    from simpose.body.joints import _mirror_name

    return {k.split(":")[0] + ":" + _mirror_name(k.split(":", 1)[1]): w for k, w in recipe.items()}


def _sided(left_name: str, recipe: dict[str, float]) -> dict[str, dict[str, float]]:
    right_name = left_name.replace("left_", "right_").replace(".L", ".R")
    return {left_name: recipe, right_name: _sym(recipe)}


_MID_HIPS = {"bone:upperleg01.L": 0.5, "bone:upperleg01.R": 0.5}
_THORAX = {"bone:neck01": 1.0}
_SPINE = {"bone:upperleg01.L": 0.25, "bone:upperleg01.R": 0.25, "bone:neck01": 0.5}
_UPPER_NECK = {"bone:head": 1.0}
_HEAD_TOP = {"vtx:head_top": 1.0}

# Joint centres shared by most sets.
_LIMBS: dict[str, dict[str, float]] = {
    **_sided("left_hip", {"bone:upperleg01.L": 1.0}),
    **_sided("left_knee", {"bone:lowerleg01.L": 1.0}),
    **_sided("left_ankle", {"bone:foot.L": 1.0}),
    **_sided("left_shoulder", {"bone:upperarm01.L": 1.0}),
    **_sided("left_elbow", {"bone:lowerarm01.L": 1.0}),
    **_sided("left_wrist", {"bone:wrist.L": 1.0}),
}

_COMMON: dict[str, dict[str, float]] = {
    **_LIMBS,
    "pelvis": _MID_HIPS,
    "spine": _SPINE,
    "thorax": _THORAX,
    "neck_base": _THORAX,
    "upper_neck": _UPPER_NECK,
    "head_top": _HEAD_TOP,
    "nose": {"kp:nose": 1.0},
    # Human3.6M's 17 joints come from its Vicon skeleton: "Neck/Nose" is the skeleton's upper
    # neck joint (the skull base, which projects near the mouth in a frontal view) and "Head"
    # the centre of the head segment, defined by a headband of markers at forehead height,
    # three quarters of the way from the skull base to the crown.
    "neck_nose": {"bone:head": 1.0},
    "head": {"bone:head": 0.25, "vtx:head_top": 0.75},
    "head_3dhp": {"bone:head": 0.5, "vtx:head_top": 0.5},
    **_sided("left_eye", {"kp:left_eye": 1.0}),
    **_sided("left_ear", {"kp:left_ear": 1.0}),
    # COCO's hips are surface-visible hip points, slightly outside the femoral heads: anny's
    # COCO keypoints model them.
}

# Human3.6M's hip joints sit wider than the anatomical hip centres (its hips are ~26 cm apart
# against ~20 cm for the femoral heads): the Vicon skeleton estimates them from pelvis and thigh
# markers, between the femoral head and the greater trochanter. We take that midpoint.
_H36M = {
    **_COMMON,
    **_sided("left_hip", {"bone:upperleg01.L": 0.5, "vtx:trochanter.L": 0.5}),
}
_H36M["pelvis"] = {"bone:upperleg01.L": 0.25, "vtx:trochanter.L": 0.25, "bone:upperleg01.R": 0.25, "vtx:trochanter.R": 0.25}
_H36M["spine"] = {**{k: w / 2 for k, w in _H36M["pelvis"].items()}, "bone:neck01": 0.5}

RECIPES: dict[str, dict[str, dict[str, float]]] = {
    "h36m17": _H36M,
    "mpii16": _COMMON,
    "mpi_inf_3dhp17": _COMMON,
    "coco17": {
        **{k: {f"kp:{k}": 1.0} for k in get_joint_set("coco17").names},
    },
    "smpl24": {
        **_LIMBS,
        "pelvis": _MID_HIPS,
        "spine1": {"bone:spine04": 1.0},
        "spine2": {"bone:spine02": 1.0},
        "spine3": {"bone:spine01": 1.0},
        "neck_base": _THORAX,
        "upper_neck": _UPPER_NECK,
        **_sided("left_collar", {"bone:clavicle.L": 1.0}),
        **_sided("left_foot", {"kp:left_big_toe": 0.5, "kp:left_small_toe": 0.5}),
        **_sided("left_hand", {"bone:finger3-1.L": 1.0}),
    },
    "blazepose33": {
        **_LIMBS,
        **{k: {f"kp:{k}": 1.0} for k in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")},
        **{k: {f"kp:{k}": 1.0} for k in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")},
        **_sided("left_eye_inner", {"kp:left_eye": 0.75, "kp:nose": 0.25}),
        **_sided("left_eye_outer", {"kp:left_eye": 1.25, "kp:nose": -0.25}),
        # Mouth corners: below the nose (continuing the eyes -> nose direction by half) and
        # a third of the eye distance to the side.
        **_sided("left_mouth_corner", {"kp:nose": 1.5, "kp:left_eye": 0.1, "kp:right_eye": -0.6}),
        **_sided("left_pinky", {"bone:finger5-1.L": 1.0}),
        **_sided("left_index", {"bone:finger2-1.L": 1.0}),
        **_sided("left_thumb", {"bone:finger1-2.L": 1.0}),
        **_sided("left_heel", {"kp:left_heel": 1.0}),
        **_sided("left_foot_index", {"kp:left_big_toe": 1.0}),
    },
    "anny": {
        **{b: {f"bone:{b}": 1.0} for b in get_joint_set("anny").names if "_" not in b},
        "head_top": _HEAD_TOP,
        **_sided("hand_tip.L", {"bone:finger3-1.L": 1.0}),
        **_sided("toe.L", {"kp:left_big_toe": 0.5, "kp:left_small_toe": 0.5}),
    },
}
# BlazePose calls the mouth corners mouth_left / mouth_right.
RECIPES["blazepose33"]["mouth_left"] = RECIPES["blazepose33"].pop("left_mouth_corner")
RECIPES["blazepose33"]["mouth_right"] = RECIPES["blazepose33"].pop("right_mouth_corner")


@functools.lru_cache(maxsize=1)
def _anny_keypoints() -> dict[str, torch.Tensor]:
    from anny.paths import get_anny_root_dir

    return torch.load(get_anny_root_dir() / "data" / "keypoints" / "coco.pth", weights_only=True)


def _anchor_weights(model: BodyModel, anchor: str) -> torch.Tensor:
    """(V + NB,) float64 weights of one anchor over [vertices; bone heads]."""
    V, NB = model.num_vertices, len(model.bone_labels)
    w = torch.zeros(V + NB, dtype=torch.float64)
    kind, name = anchor.split(":", 1)
    if kind == "bone":
        w[V + model.bone_labels.index(name)] = 1.0
    elif kind == "kp":
        weights = _anny_keypoints()[name][model.anny.base_mesh_vertex_indices].to(torch.float64)
        w[:V] = weights / weights.sum()
    elif kind == "vtx" and name == "head_top":
        with torch.no_grad():
            rest = model.anny()["vertices"][0].to(torch.float64)  # anny frame: z up
        height = rest[:, 2]
        top = torch.nonzero(height > height.max() - 0.005).flatten()
        w[top] = 1.0 / len(top)
    elif kind == "vtx" and name.startswith("trochanter."):
        # The most lateral skin points of the thigh at the height of the femoral head.
        with torch.no_grad():
            out = model.anny()
        rest = out["vertices"][0].to(torch.float64)
        head = out["bone_poses"][0, model.bone_labels.index("upperleg01" + name[-2:]), :3, 3].to(torch.float64)
        side = 1.0 if name.endswith(".L") else -1.0
        near = (rest - head).norm(dim=-1) < 0.15  # excludes the hands, which hang at hip height
        band = torch.nonzero(((rest[:, 2] - head[2]).abs() < 0.03) & (rest[:, 0] * side > 0) & near).flatten()
        lateral = band[torch.argsort(rest[band, 0] * side, descending=True)[:8]]
        w[lateral] = 1.0 / len(lateral)
    else:
        raise KeyError(f"unknown anchor {anchor!r}")
    return w


def build_regressor(model: BodyModel, joint_set: str) -> torch.Tensor:
    """(J, V + NB) regressor of ``joint_set`` over the concatenated [vertices; bone heads]."""
    names = get_joint_set(joint_set).names
    recipes = RECIPES[joint_set]
    rows = []
    for name in names:
        recipe = recipes[name]
        if abs(sum(recipe.values()) - 1.0) > 1e-9:
            raise AssertionError(f"{joint_set}.{name}: weights must sum to 1 (affine)")
        rows.append(sum(w * _anchor_weights(model, a) for a, w in recipe.items()))
    return torch.stack(rows)
