"""Procedural motion: joint-angle conventions, limits, contact with the floor, smoothness, seeds.

References: the body model's own joints and vertices (run forward here), closed-form geometry
(angles between body segments, heights above the floor) and retarget.foot_sliding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simpose.body.joints import get_joint_set
from simpose.body.model import POSE_BONES
from simpose.motion.keyframes import LIMITS_RAD, angles_to_rotvecs, clamp_pose, ground_motion
from simpose.motion.procedural import FAMILIES, generate, graft_upper_body
from simpose.motion.retarget import MotionClip, body_joints, foot_sliding

ANNY = get_joint_set("anny")
BP = get_joint_set("blazepose33")
FOOT_POINTS = ("left_heel", "left_foot_index", "right_heel", "right_foot_index")
FLOOR_TOL = 0.03  # a support "touches" the floor within 3 cm
N_FRAMES, FPS = 25, 2.5  # 10 s per family: most of each family's motion
SHAPES = {
    "average": None,
    "child": np.array([0.5, 0.2, 0.5, 0.5, 0.5, 0.5]),
    "elder": np.array([0.0, 0.95, 0.3, 0.6, 0.2, 0.5]),
}


def _posed(body, motion: MotionClip, blazepose: bool = False):
    """(T, V, 3) vertices and (T, J, 3) native joints, world frame (and BlazePose-33 joints)."""
    sp = None if motion.shape_params is None else torch.as_tensor(motion.shape_params)[None]
    with torch.no_grad():
        out = body(
            torch.as_tensor(motion.pose_rotvecs), sp, torch.as_tensor(motion.global_rotvecs), torch.as_tensor(motion.trans)
        )
        if blazepose:
            return out.vertices.numpy(), out.joints.numpy(), body.joints(out, "blazepose33").numpy()
    return out.vertices.numpy(), out.joints.numpy()


def _part_height(V: np.ndarray, J: np.ndarray, joints: tuple[str, ...], radius: float) -> np.ndarray:
    """(T,) height above the floor of the lowest vertex within ``radius`` of any of ``joints``."""
    out = np.full(len(V), np.inf)
    for name in joints:
        near = np.linalg.norm(V - J[:, ANNY.index(name)][:, None], axis=-1) < radius
        out = np.minimum(out, np.where(near, -V[..., 1], np.inf).min(axis=1))
    return out


@pytest.fixture(scope="module")
def clips(body):
    """One clip per family (seed 0) with its vertices, joints and BlazePose joints."""
    out = {}
    for name in FAMILIES:
        m = generate(name, N_FRAMES, FPS, np.random.default_rng(0), body)
        out[name] = (m, *_posed(body, m, blazepose=True))
    return out


def test_named_angles_move_the_body_as_anatomy_says(body):
    """Each named angle, alone at +60..90 deg, moves its segment the anatomical way (body faces -z, y down)."""
    poses = {
        "rest": {},
        "knee": {"knee_flex.L": 90},
        "hip": {"hip_flex.L": 90},
        "hip_abd": {"hip_abd.L": 40},
        "shoulder_flex": {"shoulder_flex.L": 90},
        "shoulder_abd": {"shoulder_abd.L": 90},
        "elbow": {"elbow_flex.L": 90},
        "spine": {"spine_flex": 60},
        "neck_turn": {"neck_turn": 60},
        "ankle": {"ankle_flex.L": 30},
        "mirror": {"knee_flex.R": 90, "shoulder_abd.R": 90},
    }
    R = torch.as_tensor(np.stack([angles_to_rotvecs(a) for a in poses.values()]))
    J = dict(zip(poses, body(R).joints.numpy()))
    C = dict(zip(poses, body.joints(body(R), "coco17").numpy()))
    j = lambda pose, name: J[pose][ANNY.index(name)]  # noqa: E731

    def angle(a, b):
        return np.degrees(np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)))

    # neutral: arms along the body, elbows straight
    assert angle(j("rest", "lowerarm01.L") - j("rest", "upperarm01.L"), [0, 1, 0]) < 15
    assert angle(j("rest", "wrist.L") - j("rest", "lowerarm01.L"), j("rest", "lowerarm01.L") - j("rest", "upperarm01.L")) < 8
    # knee flexion swings the ankle backwards (+z), 90 deg from the thigh
    shank = j("knee", "foot.L") - j("knee", "lowerleg01.L")
    assert shank[2] > 0.3 and abs(angle(shank, j("knee", "lowerleg01.L") - j("knee", "upperleg01.L")) - 90) < 12
    # hip flexion lifts the knee forwards (-z) to hip height
    thigh = j("hip", "lowerleg01.L") - j("hip", "upperleg01.L")
    assert thigh[2] < -0.3 and abs(thigh[1]) < 0.08
    # hip abduction moves the left knee outwards (+x)
    assert j("hip_abd", "lowerleg01.L")[0] - j("hip_abd", "upperleg01.L")[0] > 0.2
    # shoulder flexion: the arm points forwards; abduction: sideways (+x for the left), both horizontal
    arm = j("shoulder_flex", "wrist.L") - j("shoulder_flex", "upperarm01.L")
    assert arm[2] < -0.4 and abs(arm[1]) < 0.1
    arm = j("shoulder_abd", "wrist.L") - j("shoulder_abd", "upperarm01.L")
    assert arm[0] > 0.4 and abs(arm[1]) < 0.1
    # elbow flexion 90: the forearm perpendicular to the upper arm, pointing forwards
    fore = j("elbow", "wrist.L") - j("elbow", "lowerarm01.L")
    assert abs(angle(fore, j("elbow", "lowerarm01.L") - j("elbow", "upperarm01.L")) - 90) < 8 and fore[2] < -0.15
    # trunk flexion moves the neck forwards; a positive neck turn turns the nose to the body's left
    assert j("spine", "neck01")[2] < j("rest", "neck01")[2] - 0.2
    nose = get_joint_set("coco17").index("nose")
    assert C["neck_turn"][nose][0] > C["rest"][nose][0] + 0.05
    # plantarflexion points the toes down
    assert j("ankle", "toe.L")[1] > j("rest", "toe.L")[1] + 0.02
    # the right side mirrors the left
    M = np.diag([-1.0, 1.0, 1.0])
    for a, b in (("knee", "foot.L"), ("shoulder_abd", "wrist.L")):
        right = b.replace(".L", ".R")
        np.testing.assert_allclose(J["mirror"][ANNY.index(right)], M @ J[a][ANNY.index(b)], atol=2e-3)


def test_angles_mirror_exactly_and_reject_unknown_names():
    left = {"hip_flex.L": 70, "hip_abd.L": 30, "hip_rot.L": 40, "shoulder_abd.L": 100, "elbow_flex.L": 60, "clav_elev.L": 10}
    right = {k.replace(".L", ".R"): v for k, v in left.items()}
    a, b = angles_to_rotvecs(left), angles_to_rotvecs(right)
    perm = [POSE_BONES.index(n.replace(".L", "#").replace(".R", ".L").replace("#", ".R")) for n in POSE_BONES]
    np.testing.assert_allclose(b, a[perm] * np.array([1.0, -1.0, -1.0]), atol=1e-12)
    with pytest.raises(ValueError, match="knee_flex"):
        angles_to_rotvecs({"knee_bend.L": 10})


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_is_finite_within_limits_and_on_the_floor(family, clips):
    m, V, J, P = clips[family]
    assert m.n_frames == N_FRAMES and m.fps == FPS and m.source == f"procedural:{family}"
    assert m.pose_rotvecs.shape == (N_FRAMES, len(POSE_BONES), 3)
    for a in (m.pose_rotvecs, m.global_rotvecs, m.trans):
        assert np.isfinite(a).all()
    assert (m.pose_rotvecs >= LIMITS_RAD[..., 0] - 1e-9).all() and (m.pose_rotvecs <= LIMITS_RAD[..., 1] + 1e-9).all()
    np.testing.assert_array_equal(clamp_pose(m.pose_rotvecs), m.pose_rotvecs)
    heights = -V[..., 1]
    np.testing.assert_allclose(heights.min(axis=1), 0.0, atol=1e-6)  # resting on the floor, every frame
    assert (-J[..., 1]).min() > -0.02 and (-P[..., 1]).min() > -0.02  # no joint below it


STANDING = ("random", "sit_chair", "sit_down_stand_up", "crouch", "pick_up", "reach", "phone", "eat")


@pytest.mark.parametrize("family", STANDING)
def test_feet_carry_the_body(family, clips):
    m, V, J, P = clips[family]
    feet = -P[:, BP.indices(FOOT_POINTS), 1]
    assert feet.min(axis=1).max() < FLOOR_TOL
    if family in ("sit_chair", "eat"):  # seated, both feet down
        for side in (("left_heel", "left_foot_index"), ("right_heel", "right_foot_index")):
            assert (-P[:, BP.indices(side), 1]).min(axis=1).max() < FLOOR_TOL + 0.01


def test_sitting_on_a_chair_lowers_the_pelvis(body):
    for name, shape in SHAPES.items():
        sp = None if shape is None else torch.as_tensor(shape)[None]
        with torch.no_grad():
            V = body(shape_params=sp).vertices[0].numpy()
        standing = V[:, 1].max()  # root height of the body standing at the reference pose
        for seed in range(2):
            m = generate("sit_chair", 6, 1.0, np.random.default_rng(seed), body, shape)
            lowering = 1.0 - (-m.trans[:, 1]).mean() / standing
            assert 0.28 < lowering < 0.5, (name, seed, lowering)


def test_floor_sitting_kneeling_crouching_and_lying_rest_on_the_right_parts(clips, body):
    # floor sitting: the buttocks on the floor (while rearranging the legs, nearly), the pelvis low
    m, V, J, _ = clips["sit_floor"]
    buttocks = _part_height(V, J, ("root",), 0.2)
    assert (buttocks < FLOOR_TOL).mean() > 0.8 and buttocks.max() < 0.06 and (-m.trans[:, 1]).max() < 0.3
    # kneeling: at the lowest pelvis, a knee and the other foot (or both knees) on the floor
    standing = body().vertices[0, :, 1].max().item()
    for seed in range(1, 3):
        m = generate("kneel", 20, 2.0, np.random.default_rng(seed), body)
        V, J = _posed(body, m)
        f = int(np.argmax(m.trans[:, 1]))  # y down: the lowest root
        knees = [_part_height(V[f : f + 1], J[f : f + 1], (k,), 0.12)[0] for k in ("lowerleg01.L", "lowerleg01.R")]
        feet = [_part_height(V[f : f + 1], J[f : f + 1], (f"foot{s}", f"toe{s}"), 0.12)[0] for s in (".L", ".R")]
        assert min(knees) < FLOOR_TOL and min(max(knees), max(feet)) < FLOOR_TOL, (seed, knees, feet)
        assert -m.trans[f, 1] < 0.6 * standing
    # crouching lowers the pelvis to well under standing height, feet down
    m, V, J, P = clips["crouch"]
    assert (-m.trans[:, 1]).min() < 0.6 * standing
    # lying: the torso horizontal and near the floor
    m, V, J, _ = clips["lie_down_get_up"]
    torso = J[:, ANNY.index("neck01")] - J[:, ANNY.index("root")]
    tilt = np.degrees(np.arccos(-torso[:, 1] / np.linalg.norm(torso, axis=-1)))
    lying = tilt > 75
    assert lying.sum() >= 3 and tilt.max() > 85
    torso_height = (-J[lying][:, ANNY.indices(("root", "spine03", "neck01")), 1]).max(axis=1)
    assert torso_height.max() < 0.35 and torso_height.min() < 0.15  # on the back (or a side, ~hip width up)


def test_hands_go_where_the_family_says(clips):
    J, P = clips["phone"][2], clips["phone"][3]
    hand = lambda s: 0.5 * (J[:, ANNY.index("wrist" + s)] + J[:, ANNY.index("hand_tip" + s)])  # noqa: E731
    sides = ((".L", "left_ear"), (".R", "right_ear"))
    ear = min(np.linalg.norm(hand(s) - P[:, BP.index(e)], axis=-1).min() for s, e in sides)
    assert ear < 0.10
    J, P = clips["eat"][2], clips["eat"][3]
    mouth = 0.5 * (P[:, BP.index("mouth_left")] + P[:, BP.index("mouth_right")])
    assert min(np.linalg.norm(J[:, ANNY.index("hand_tip" + s)] - mouth, axis=-1).min() for s in (".L", ".R")) < 0.08
    J = clips["pick_up"][2]  # a hand goes below the knees
    wrists = J[:, ANNY.indices(("wrist.L", "wrist.R")), 1].max(axis=1)
    assert (wrists > J[:, ANNY.indices(("lowerleg01.L", "lowerleg01.R")), 1].min(axis=1)).any()


def test_random_motion_is_smooth(body):
    for seed, n in ((0, 60), (1, 40)):
        m = generate("random", n, 30.0, np.random.default_rng(seed), body)
        J = body_joints(m, body)
        assert np.linalg.norm(np.diff(J, axis=0), axis=-1).max() < 0.05  # < 1.5 m/s everywhere
        assert np.linalg.norm(np.diff(J, 2, axis=0), axis=-1).max() < 0.005  # < 4.5 m/s^2
        assert np.ptp(m.pose_rotvecs, axis=0).max() > np.radians(10)  # and it does move


def test_feet_stay_planted_while_sitting_down(body):
    m = generate("sit_down_stand_up", 40, 8.0, np.random.default_rng(3), body)
    feet = body_joints(m, body, "blazepose33")[:, BP.indices(FOOT_POINTS)]
    assert foot_sliding(feet, m.fps) < 0.15  # m/s, mean over contact frames
    assert (-m.trans[:, 1]).max() - (-m.trans[:, 1]).min() > 0.25  # it did sit down


def test_ground_motion_puts_the_body_on_the_floor_and_keeps_the_stance_foot(body):
    """Lifting the left thigh (shank kept vertical) from a floating start: the body comes down to
    the floor, the right foot stays where it stood."""
    T = 8
    pose = np.stack([angles_to_rotvecs({"hip_flex.L": k, "knee_flex.L": k}) for k in np.linspace(0, 60, T)])
    m = MotionClip(pose, np.zeros((T, 3)), np.tile([0.3, -2.0, 1.0], (T, 1)), 10.0)
    g = ground_motion(m, body)
    V, _ = _posed(body, g)
    np.testing.assert_allclose((-V[..., 1]).min(axis=1), 0.0, atol=1e-9)
    right_heel = body_joints(g, body, "blazepose33")[:, BP.index("right_heel")]
    np.testing.assert_allclose(right_heel[:, [0, 2]], np.broadcast_to(right_heel[0, [0, 2]], (T, 2)), atol=5e-3)
    assert np.linalg.norm(g.trans[-1, [0, 2]] - [0.3, 1.0]) < 5e-3


def test_same_seed_same_motion_and_unknown_family(body):
    a = generate("crouch", 8, 2.0, np.random.default_rng(7), body)
    b = generate("crouch", 8, 2.0, np.random.default_rng(7), body)
    c = generate("crouch", 8, 2.0, np.random.default_rng(8), body)
    for x in ("pose_rotvecs", "global_rotvecs", "trans"):
        np.testing.assert_array_equal(getattr(a, x), getattr(b, x))
    assert not np.allclose(a.pose_rotvecs, c.pose_rotvecs)
    with pytest.raises(ValueError, match="unknown motion family 'dance'.*sit_chair.*lie_down_get_up"):
        generate("dance", 10, 30.0, np.random.default_rng(0), body)


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(T,) angle at b between b->a and b->c, degrees."""
    u, v = a - b, c - b
    cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


@pytest.mark.parametrize("spine", [False, True])
def test_graft_keeps_the_legs_and_takes_the_arms(body, spine):
    base = generate("sit_chair", 20, 5.0, np.random.default_rng(0), body)
    donor = generate("random", 24, 5.0, np.random.default_rng(1), body)
    grafted = graft_upper_body(base, donor, spine=spine)
    assert grafted.n_frames == 20 and "sit_chair" in grafted.source and "random" in grafted.source
    _, Jb = _posed(body, base)
    _, Jd = _posed(body, donor)
    _, Jg = _posed(body, grafted)
    legs = [ANNY.index(n) for n in ANNY.names if n.startswith(("upperleg", "lowerleg", "foot", "toe"))]
    assert len(legs) >= 6
    np.testing.assert_allclose(Jg[:, legs], Jb[:, legs], atol=1e-6)  # the base's legs, where they were
    i = {n: ANNY.index(n) for n in ("upperarm01.L", "lowerarm01.L", "wrist.L", "upperarm01.R", "lowerarm01.R", "wrist.R")}
    for s in ("L", "R"):  # the donor's elbows (a local angle: independent of where the trunk is)
        elbow = lambda J: _angle(J[:, i[f"upperarm01.{s}"]], J[:, i[f"lowerarm01.{s}"]], J[:, i[f"wrist.{s}"]])  # noqa: E731
        np.testing.assert_allclose(elbow(Jg), elbow(Jd[:20]), atol=1e-3)
        assert np.abs(elbow(Jg) - elbow(Jb)).max() > 5.0
    neck = ANNY.index("neck01")  # hangs off the spine only: the base's unless the spine is grafted
    moved = np.abs((Jg[:, neck] - Jg[:, 0]) - (Jb[:, neck] - Jb[:, 0])).max()
    assert (moved > 0.01) if spine else (moved < 1e-6)
    with pytest.raises(ValueError, match="at least 20 frames"):
        graft_upper_body(base, donor.slice(0, 10))
