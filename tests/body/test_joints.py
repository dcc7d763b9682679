"""Joint sets as data, and conversion between them."""

import numpy as np
import pytest
import torch

from simpose.body.joints import JOINT_SETS, conversion_matrix, convert, get_joint_set


def test_h36m17_order_matches_benchmark_readme():
    assert get_joint_set("h36m17").names == (
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine",
        "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
        "right_elbow", "right_wrist",
    )  # fmt: skip


@pytest.mark.parametrize("name", list(JOINT_SETS))
def test_sets_are_trees_with_consistent_mirroring(name):
    s = JOINT_SETS[name]
    assert s.parents.count(-1) == 1
    for j in range(len(s)):  # every joint reaches the root
        seen = 0
        while s.parents[j] >= 0:
            j = s.parents[j]
            seen += 1
            assert seen <= len(s)
    perm = s.flip_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(len(s)))
    for a, b in s.left_right_pairs:
        assert s.names[a].replace("left", "right").replace(".L", ".R") == s.names[b]


def test_convert_by_name_and_derived_joints():
    coco = get_joint_set("coco17")
    x = np.random.default_rng(0).normal(size=(4, 17, 3))
    h = convert(x, "coco17", "h36m17")
    h36 = get_joint_set("h36m17")
    np.testing.assert_allclose(h[:, h36.index("left_knee")], x[:, coco.index("left_knee")])
    np.testing.assert_allclose(h[:, h36.index("pelvis")], (x[:, coco.index("left_hip")] + x[:, coco.index("right_hip")]) / 2)
    # affine: commutes with a similarity transform
    R = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    np.testing.assert_allclose(convert(2 * x @ R.T + 1, "coco17", "h36m17"), 2 * h @ R.T + 1, atol=1e-12)
    # torch path agrees
    np.testing.assert_allclose(convert(torch.as_tensor(x), "coco17", "h36m17").numpy(), h)
    W, valid = conversion_matrix("mpii16", "h36m17")
    assert valid.all() and np.allclose(W.sum(1), 1)


def test_unknown_and_impossible_conversions():
    with pytest.raises(KeyError, match="known"):
        get_joint_set("nope")
    with pytest.raises(ValueError, match="no source"):
        convert(np.zeros((17, 3)), "coco17", "smpl24")
    out = convert(np.zeros((17, 3)), "coco17", "smpl24", strict=False)
    assert np.isnan(out).any() and not np.isnan(out[get_joint_set("smpl24").index("left_knee")]).any()
    with pytest.raises(ValueError, match="joints"):
        convert(np.zeros((16, 3)), "coco17", "h36m17")
