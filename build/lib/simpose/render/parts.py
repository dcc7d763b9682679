"""Per-vertex body-part labels from the body model's skinning weights.

Each vertex takes the part of its dominant anny bone (largest skinning weight); the bone -> part
table is :data:`BONE_PART_PREFIXES`, the only place that knows it. Part ids are 1..16
(:data:`PART_NAMES` order, id = index + 1); 0 is left for the background, as in
:class:`simpose.render.raster.RasterOutput`. ``L``/``R`` are anny's ``.L``/``.R`` bones, the
body's own left and right.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PART_NAMES", "PART_IDS", "BONE_PART_PREFIXES", "bone_part", "vertex_part_labels", "part_colors", "body_part_labels"]

PART_NAMES: tuple[str, ...] = (
    "head", "neck", "torso_upper", "torso_lower",
    "upperarm_L", "upperarm_R", "forearm_L", "forearm_R", "hand_L", "hand_R",
    "thigh_L", "thigh_R", "shin_L", "shin_R", "foot_L", "foot_R",
)  # fmt: skip
PART_IDS: dict[str, int] = {name: i + 1 for i, name in enumerate(PART_NAMES)}

# anny bone-name prefix -> part (sided parts get the bone's .L/.R suffix); first match wins
BONE_PART_PREFIXES: tuple[tuple[str, str], ...] = (
    ("head", "head"), ("eye", "head"),
    ("neck", "neck"),
    ("spine01", "torso_upper"), ("spine02", "torso_upper"), ("spine03", "torso_upper"), ("clavicle", "torso_upper"),
    ("spine04", "torso_lower"), ("spine05", "torso_lower"), ("root", "torso_lower"), ("pelvis", "torso_lower"),
    ("shoulder", "upperarm"), ("upperarm", "upperarm"), ("lowerarm", "forearm"),
    ("wrist", "hand"), ("finger", "hand"), ("metacarpal", "hand"),
    ("upperleg", "thigh"), ("lowerleg", "shin"), ("foot", "foot"), ("toe", "foot"),
)  # fmt: skip
_SIDED = {"upperarm", "forearm", "hand", "thigh", "shin", "foot"}


def bone_part(bone: str) -> int:
    """Part id (1..16) of an anny bone name such as ``"lowerarm02.L"``.

    Raises:
        KeyError: a bone no prefix of :data:`BONE_PART_PREFIXES` matches.
    """
    for prefix, part in BONE_PART_PREFIXES:
        if bone.startswith(prefix):
            if part in _SIDED:
                side = bone[-1] if bone[-2:] in (".L", ".R") else None
                if side is None:
                    raise KeyError(f"bone {bone!r} maps to sided part {part!r} but has no .L/.R suffix")
                part = f"{part}_{side}"
            return PART_IDS[part]
    raise KeyError(f"no body part for anny bone {bone!r}; extend BONE_PART_PREFIXES")


def vertex_part_labels(bone_labels, vertex_bone_weights, vertex_bone_indices) -> np.ndarray:
    """Part id of every vertex from its dominant skinning bone.

    Args:
        bone_labels: (NB,) anny bone names (``BodyModel.bone_labels``).
        vertex_bone_weights: (V, K) skinning weights (``body.anny.vertex_bone_weights``).
        vertex_bone_indices: (V, K) bone indices (``body.anny.vertex_bone_indices``).
    Returns:
        (V,) uint8 part ids in 1..16.
    """
    w = np.asarray(vertex_bone_weights, dtype=np.float64)
    idx = np.asarray(vertex_bone_indices).astype(np.int64)
    dominant = idx[np.arange(len(idx)), np.argmax(w, axis=1)]
    table = np.array([bone_part(b) for b in bone_labels], dtype=np.uint8)
    return table[dominant]


def body_part_labels(body) -> np.ndarray:
    """(V,) uint8 part ids of a :class:`simpose.body.model.BodyModel`'s vertices."""
    a = body.anny
    return vertex_part_labels(body.bone_labels, a.vertex_bone_weights.cpu().numpy(), a.vertex_bone_indices.cpu().numpy())


def part_colors() -> np.ndarray:
    """(17, 3) uint8 a distinct colour per part id (row 0 black for the background)."""
    rng = np.random.default_rng(12345)
    c = rng.integers(40, 256, size=(len(PART_NAMES) + 1, 3)).astype(np.uint8)
    c[0] = 0
    return c
