"""Body model: frame conventions, batching, joint regressors, limits, bad input."""

import numpy as np
import pytest
import roma
import torch

from simpose.body.joints import JOINT_SETS, get_joint_set
from simpose.body.model import POSE_BONES, BodyModelError, clamp_to_limits, sample_shape



def test_h36m_bone_lengths_match_real_subjects(body, shared):
    """An average adult male (S9 and S11 are men) matches the real subjects' mean bones within 15%."""
    from simpose.data.h36m import H36M_MOCAP_INDEX

    data = np.load(shared / "benchmarks/h36m/data_3d_h36m_test.npz", allow_pickle=True)["positions_3d"].item()
    h36m = get_joint_set("h36m17")
    mocap = [H36M_MOCAP_INDEX[n] for n in h36m.names]
    bones = [(p, j) for j, p in enumerate(h36m.parents) if p >= 0]
    real = []
    for subject in data.values():
        X = np.concatenate([a[:, mocap] for a in subject.values()])
        real.append([np.linalg.norm(X[:, j] - X[:, p], axis=-1).mean() for p, j in bones])
    real = np.mean(real, axis=0)
    adult_male = torch.tensor([[0.0, 0.5, 0.5, 0.5, 0.5, 0.5]], dtype=torch.float64)
    joints = body.joints(body(shape_params=adult_male), "h36m17")[0].numpy()
    ours = np.array([np.linalg.norm(joints[j] - joints[p]) for p, j in bones])
    ratio = ours / real
    assert np.all(np.abs(ratio - 1) < 0.15), dict(zip([h36m.names[j] for _, j in bones], np.round(ratio, 3)))


def test_frame_convention_upright_facing_camera(body):
    out = body()
    coco = body.joints(out, "coco17")[0]
    c = get_joint_set("coco17")
    nose, lhip, rhip = coco[c.index("nose")], coco[c.index("left_hip")], coco[c.index("right_hip")]
    lank = coco[c.index("left_ankle")]
    assert nose[1] < lhip[1] < lank[1]  # y down: head above hips above ankles
    assert lhip[0] > rhip[0]  # the body's left is +x (image right when facing the camera)
    head = body.joints(out, "h36m17")[0]
    assert nose[2] < head[get_joint_set("h36m17").index("neck_nose"), 2]  # the nose points to -z
    height = out.vertices[0, :, 1].max() - out.vertices[0, :, 1].min()
    assert 1.5 < height < 1.8


def test_global_transform_is_rigid_and_batched(body):
    gen = torch.Generator().manual_seed(0)
    B = 3
    pose = (torch.rand(B, len(POSE_BONES), 3, generator=gen, dtype=torch.float64) - 0.5) * 0.6
    shape = torch.rand(B, 6, generator=gen, dtype=torch.float64)
    rot = torch.randn(B, 3, generator=gen, dtype=torch.float64)
    trans = torch.randn(B, 3, generator=gen, dtype=torch.float64)
    base = body(pose, shape)
    moved = body(pose, shape, rot, trans)
    R = roma.rotvec_to_rotmat(rot)
    torch.testing.assert_close(moved.vertices, base.vertices @ R.transpose(1, 2) + trans[:, None])
    for name in JOINT_SETS:  # affine regressors commute with rigid motion
        torch.testing.assert_close(body.joints(moved, name), body.joints(base, name) @ R.transpose(1, 2) + trans[:, None])
    # one at a time equals batched
    single = body(pose[1:2], shape[1:2], rot[1:2], trans[1:2])
    torch.testing.assert_close(single.vertices[0], moved.vertices[1])
    # the root sits at the translation
    torch.testing.assert_close(moved.joints[:, get_joint_set("anny").index("root")], trans)


def test_pose_rotation_acts_about_bone_head_in_world_axes(body):
    """A pose rotation of the left knee about world x moves the ankle on a circle about the knee."""
    anny = get_joint_set("anny")
    rest = body().joints[0]
    pose = torch.zeros(1, len(POSE_BONES), 3, dtype=torch.float64)
    pose[0, POSE_BONES.index("lowerleg01.L"), 0] = 0.7
    bent = body(pose).joints[0]
    knee, ankle = anny.index("lowerleg01.L"), anny.index("foot.L")
    torch.testing.assert_close(bent[knee], rest[knee])
    R = roma.rotvec_to_rotmat(torch.tensor([0.7, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(bent[ankle], rest[knee] + R @ (rest[ankle] - rest[knee]))
    # the rotation of the world-axis bone rotmat reported equals the applied one
    torch.testing.assert_close(body(pose).bone_rotmats[0, body.bone_labels.index("lowerleg01.L")], R)


def test_bad_input_is_refused(body):
    with pytest.raises(BodyModelError, match="NaN"):
        body(torch.full((1, len(POSE_BONES), 3), float("nan")))
    with pytest.raises(BodyModelError, match=r"\[0, 1\]"):
        body(shape_params=torch.tensor([[1.5, 0.5, 0.5, 0.5, 0.5, 0.5]]))
    with pytest.raises(BodyModelError, match="shape"):
        body(torch.zeros(2, 5, 3))


def test_limits_and_shape_sampling():
    x = torch.full((1, len(POSE_BONES), 3), 10.0)
    clamped = clamp_to_limits(x)
    assert (clamped < 10).all() and (clamped <= np.pi).all()
    shapes = sample_shape(2000, np.random.default_rng(0))
    assert shapes.shape == (2000, 6) and shapes.min() >= 0 and shapes.max() <= 1
    age = shapes[:, 1]
    assert (age < 0.4).mean() > 0.1 and (age > 0.75).mean() > 0.1  # children and elders
    np.testing.assert_array_equal(sample_shape(5, np.random.default_rng(1)), sample_shape(5, np.random.default_rng(1)))


def test_children_are_small_and_elders_adult_sized(body):
    shapes = torch.tensor([[0.5, 0.1, 0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [0.5, 1.0, 0.5, 0.5, 0.5, 0.5]], dtype=torch.float64)
    v = body(shape_params=shapes).vertices
    heights = (v[:, :, 1].max(1).values - v[:, :, 1].min(1).values).tolist()
    assert heights[0] < 0.75 * heights[1]
    assert 0.85 * heights[1] < heights[2] < 1.2 * heights[1]


def test_fast_joint_path_equals_full_forward(body):
    gen = torch.Generator().manual_seed(3)
    B = 4
    pose = (torch.rand(B, len(POSE_BONES), 3, generator=gen, dtype=torch.float64) - 0.5) * 0.8
    shape = torch.rand(B, 6, generator=gen, dtype=torch.float64)
    rot = torch.randn(B, 3, generator=gen, dtype=torch.float64)
    trans = torch.randn(B, 3, generator=gen, dtype=torch.float64)
    full = body(pose, shape, rot, trans)
    for name in ("h36m17", "anny", "mpii16"):
        torch.testing.assert_close(body.forward_joints(name, pose, shape, rot, trans), body.joints(full, name))
