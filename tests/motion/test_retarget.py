"""Retargeting CMU BVH onto the body model: bone directions follow the source, feet stay planted."""

import json

import numpy as np
import pytest

from simpose.body.joints import get_joint_set
from simpose.motion.bvh_read import read_bvh
from simpose.motion.retarget import CMU_MB, RetargetError, body_joints, foot_sliding, load_joint_map, retarget

P = np.diag([1.0, -1.0, -1.0])  # CMU (y up, facing +z) -> simpose (y down, facing -z)


@pytest.fixture(scope="module")
def walk(shared):
    return read_bvh(shared / "mocap/cmu/mb/09/09_07.bvh")


def test_bone_directions_follow_the_source(walk, body):
    motion = retarget(walk, body)
    assert motion.n_frames == walk.n_frames - 1 and motion.fps == pytest.approx(120, rel=1e-3)
    J = body_joints(motion, body)
    fk = walk.forward_kinematics()
    native = get_joint_set("anny")
    sk = walk.skeleton
    pairs = [
        (("upperleg01.L", "lowerleg01.L"), ("LeftUpLeg", "LeftLeg")),
        (("lowerleg01.R", "foot.R"), ("RightLeg", "RightFoot")),
        (("upperarm01.L", "lowerarm01.L"), ("LeftArm", "LeftForeArm")),
        (("lowerarm01.R", "wrist.R"), ("RightForeArm", "RightHand")),
        (("spine03", "spine01"), ("Spine", "Spine1")),
    ]
    for (a, b), (c, d) in pairs:
        ours = J[:, native.index(b)] - J[:, native.index(a)]
        src = (fk.positions[1:, sk.index(d)] - fk.positions[1:, sk.index(c)]) @ P.T
        cos = np.sum(ours * src, -1) / np.linalg.norm(ours, axis=-1) / np.linalg.norm(src, axis=-1)
        assert cos.min() > 0.995, (a, b, cos.min())


def test_body_stands_on_the_floor_and_keeps_its_feet(walk, body):
    motion = retarget(walk, body, shape_params=np.array([0.5, 0.25, 0.5, 0.5, 0.3, 0.5]))  # a child
    native = get_joint_set("anny")
    J = body_joints(motion, body)
    feet = J[:, native.indices(("foot.L", "foot.R"))]
    heights = -J[..., 1]
    assert heights.min() > -0.05  # nothing far below the floor
    fk = walk.forward_kinematics()
    sk = walk.skeleton
    src = fk.positions[1:, [sk.index("LeftFoot"), sk.index("RightFoot")]] * CMU_MB.units_to_m @ P.T
    hip, knee, ankle = (fk.positions[0, sk.index(n)] for n in CMU_MB.legs)
    body_leg = np.linalg.norm(J[0, native.index("lowerleg01.L")] - J[0, native.index("upperleg01.L")]) + np.linalg.norm(
        J[0, native.index("foot.L")] - J[0, native.index("lowerleg01.L")]
    )
    scale = body_leg / ((np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)) * CMU_MB.units_to_m)

    def grounded(x):
        x = x.copy()
        x[..., 1] -= np.percentile(x[..., 1], 98, axis=0)
        return x

    ours, source = foot_sliding(grounded(feet), motion.fps), foot_sliding(grounded(src * scale), motion.fps)
    assert ours <= 1.25 * source + 0.02, (ours, source)


def test_unknown_skeleton_and_joint_map(tmp_path, walk, body):
    text = (tmp_path / "x.bvh")
    text.write_text(
        "HIERARCHY\nROOT Pelvis\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\n"
        " End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.033333\n0 0 0 0 0 0\n0 0 0 0 0 0\n"
    )
    with pytest.raises(RetargetError, match="x.bvh.*unknown skeleton"):
        retarget(read_bvh(text), body)
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"bones": {"tail.L": ["A", "B"]}}))
    with pytest.raises(RetargetError, match="unknown body bones"):
        load_joint_map(bad)
    renamed = tmp_path / "map2.json"
    renamed.write_text(json.dumps({"root": "Pelvis"}))
    with pytest.raises(RetargetError, match="not in the BVH skeleton"):
        retarget(walk, body, joint_map=load_joint_map(renamed))
