"""Body-part labels and appearance randomization: the bone table covers the rig, parts are
spatially coherent, sampling is seeded, and bad background folders fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from simpose.render.appearance import BackgroundSource, procedural_background, sample_appearance, sample_lighting
from simpose.render.parts import PART_IDS, PART_NAMES, bone_part, body_part_labels, vertex_part_labels


@pytest.fixture(scope="module")
def body():
    from simpose.body.model import BodyModel

    return BodyModel()


def test_every_part_present_and_sided_correctly(body):
    labels = body_part_labels(body)
    assert len(PART_NAMES) == 16 and set(np.unique(labels)) == set(range(1, 17))
    rest = body.rest_vertices()[0].numpy()  # simpose frame, y down
    y = lambda name: rest[labels == PART_IDS[name], 1].mean()  # noqa: E731
    # head above neck above torso above thighs above shins above feet (y down)
    order = ["head", "neck", "torso_upper", "torso_lower", "thigh_L", "shin_L", "foot_L"]
    assert all(y(a) < y(b) for a, b in zip(order, order[1:]))
    # left and right parts are mirror images across the body's sagittal plane
    for name in ("hand", "foot", "upperarm"):
        xl = rest[labels == PART_IDS[f"{name}_L"], 0].mean()
        xr = rest[labels == PART_IDS[f"{name}_R"], 0].mean()
        assert np.sign(xl) == -np.sign(xr) and abs(abs(xl) - abs(xr)) < 0.02


def test_dominant_bone_rule():
    labels = vertex_part_labels(["head", "lowerarm01.L", "toe1-1.R"], [[0.2, 0.8], [0.6, 0.4]], [[0, 1], [2, 0]])
    assert labels.tolist() == [PART_IDS["forearm_L"], PART_IDS["foot_R"]]
    with pytest.raises(KeyError, match="no body part"):
        bone_part("tail01")


def test_appearance_seeded_and_skin_on_head(body):
    labels = body_part_labels(body)
    rest = body.rest_vertices()[0].numpy()
    a = sample_appearance(rest, labels, np.random.default_rng(0))
    b = sample_appearance(rest, labels, np.random.default_rng(0))
    np.testing.assert_array_equal(a.colors, b.colors)
    head = a.colors[labels == PART_IDS["head"]]
    np.testing.assert_allclose(head.mean(0) / 255, a.skin, atol=1 / 255)
    assert sample_lighting(np.random.default_rng(1)).ambient > 0


def test_backgrounds(tmp_path):
    img = procedural_background((40, 30), np.random.default_rng(0))
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8
    with pytest.raises(ValueError, match="does not exist"):
        BackgroundSource(tmp_path / "nope")
    with pytest.raises(ValueError, match="holds no images"):
        BackgroundSource(tmp_path)
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.full((50, 80, 3), 200, np.uint8))
    bg, name = BackgroundSource(tmp_path).sample((32, 24), np.random.default_rng(0))
    assert bg.shape == (24, 32, 3) and name == "a.png" and (bg == 200).all()
