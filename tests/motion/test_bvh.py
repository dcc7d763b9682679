"""Tests for simpose.motion.bvh and simpose.motion.resample.

References used: hand-computed FK of a tiny skeleton, elementary rotation matrices
written out here, scipy's Rotation/Slerp as a second implementation, the numbers in
/work/shared/mocap/cmu/README.md, and read -> write -> read round trips.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from simpose.motion.bvh import (
    BvhClip,
    BvhError,
    BvhSkeleton,
    euler_to_rotmat,
    forward_kinematics,
    resample_clip,
    rotmat_to_euler,
)
from simpose.motion.bvh_read import parse_bvh, read_bvh
from simpose.motion.bvh_write import write_bvh, write_clip
from simpose.geometry import frame_positions as resample_frame_positions
from simpose.motion.resample import (
    resample_linear,
    resample_motion,
    resample_rotmats,
)

ATOL = 1e-10  # float64 geometry computed in closed form
ROUND_TRIP_ATOL = 1e-6  # after writing text with finite decimals, file units
TAIT_BRYAN = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def _shared_dir() -> Path:
    env = os.environ.get("SIMPOSE_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared"


CMU = _shared_dir() / "mocap" / "cmu"
needs_cmu = pytest.mark.skipif(
    not (CMU / "mb" / "09" / "09_07.bvh").is_file(),
    reason=f"CMU BVH subset not found under {CMU} (set SIMPOSE_SHARED to the shared folder)",
)

# Root with 6 channels, Chest (ZYX), Arm (ZYX) with an End Site, Chest has an End Site too.
TINY = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 0.0 0.0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
\tJOINT Chest
\t{
\t\tOFFSET 0 2 0
\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\tJOINT Arm
\t\t{
\t\t\tOFFSET 0 0 1
\t\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 1 0 0
\t\t\t}
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.1
10 0 0 90 0 0 0 0 0 0 0 0
0 0 0 0 0 0 90 0 90 0 0 0
1 2 3 0 0 0 0 0 0 0 90 0
"""

# Hand-computed world positions (Hips, Chest, Arm) and Arm End Site for each frame.
# Frame 0: root at (10,0,0) turned +90 deg about Z (x -> y, y -> -x).
#   Chest = (10,0,0) + Rz90 (0,2,0) = (8,0,0); Arm = (8,0,0) + Rz90 (0,0,1) = (8,0,1);
#   End = (8,0,1) + Rz90 (1,0,0) = (8,1,1).
# Frame 1: Chest R = Rz90 @ Rx90 (listed order Z, Y, X). Chest at (0,2,0);
#   Arm = (0,2,0) + Rz90 Rx90 (0,0,1) = (0,2,0) + Rz90 (0,-1,0) = (1,2,0);
#   End = (1,2,0) + Rz90 Rx90 (1,0,0) = (1,2,0) + (0,1,0) = (1,3,0).
#   (The other composition order, Rx90 Rz90, would put the Arm at (0,1,0).)
# Frame 2: root at (1,2,3); Arm turned +90 about Y (z -> x, x -> -z).
#   Chest (1,4,3); Arm (1,4,4); End = (1,4,4) + Ry90 (1,0,0) = (1,4,3).
TINY_JOINTS = np.array(
    [
        [[10, 0, 0], [8, 0, 0], [8, 0, 1]],
        [[0, 0, 0], [0, 2, 0], [1, 2, 0]],
        [[1, 2, 3], [1, 4, 3], [1, 4, 4]],
    ],
    dtype=np.float64,
)
TINY_END = np.array([[[8, 1, 1]], [[1, 3, 0]], [[1, 4, 3]]], dtype=np.float64)


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


ELEMENTARY = {"X": _rx, "Y": _ry, "Z": _rz}


# ----------------------------------------------------------------------------- (a) tiny file


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_tiny_file_fk_matches_hand_computed(newline: str) -> None:
    clip = parse_bvh(TINY.replace("\n", newline), source="tiny.bvh")
    skel = clip.skeleton
    assert skel.names == ("Hips", "Chest", "Arm")
    assert skel.parents == (-1, 0, 1)
    assert skel.rotation_orders == ("ZYX", "ZYX", "ZYX")
    assert skel.end_sites[0] is None and skel.end_sites[1] is None
    np.testing.assert_array_equal(skel.end_sites[2], [1, 0, 0])
    assert clip.n_frames == 3 and clip.motion.shape == (3, 12)
    assert clip.fps == pytest.approx(10.0)
    fk = clip.forward_kinematics()
    np.testing.assert_allclose(fk.positions, TINY_JOINTS, atol=ATOL)
    np.testing.assert_allclose(fk.end_site_positions, TINY_END, atol=ATOL)
    assert fk.end_site_joints == (2,)
    np.testing.assert_allclose(fk.global_rotmats[1, 1], _rz(90) @ _rx(90), atol=ATOL)
    # The function form with explicit arrays gives the same answer.
    fk2 = forward_kinematics(skel, clip.local_rotmats(), clip.root_positions())
    np.testing.assert_allclose(fk2.positions, TINY_JOINTS, atol=ATOL)


def test_other_orders_and_position_channels_on_a_child() -> None:
    # Child has ZXY rotation and a Yposition channel, which replaces OFFSET.y (Blender).
    text = """HIERARCHY
ROOT root
{
  OFFSET 0 0 0
  CHANNELS 3 Xrotation Yrotation Zrotation
  JOINT child
  {
    OFFSET 1 5 0
    CHANNELS 4 Yposition Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 0 2
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.5
30 40 50 3 10 20 30
"""
    clip = parse_bvh(text, "orders.bvh")
    assert clip.skeleton.rotation_orders == ("XYZ", "ZXY")
    np.testing.assert_allclose(clip.root_positions(), [[0, 0, 0]])
    np.testing.assert_allclose(clip.local_translations()[0, 1], [1, 3, 0])
    r_root = _rx(30) @ _ry(40) @ _rz(50)
    r_child = _rz(10) @ _rx(20) @ _ry(30)
    fk = clip.forward_kinematics()
    child = r_root @ np.array([1.0, 3.0, 0.0])
    np.testing.assert_allclose(fk.positions[0, 1], child, atol=ATOL)
    np.testing.assert_allclose(fk.end_site_positions[0, 0], child + r_root @ r_child @ [0, 0, 2], atol=ATOL)


# ----------------------------------------------------------------------------- (b) Euler angles


@pytest.mark.parametrize("order", TAIT_BRYAN + ["ZXZ", "XYX", "Z", "YX"])
def test_euler_to_rotmat_matches_elementary_and_scipy(order: str) -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-180, 180, size=(20, len(order)))
    got = euler_to_rotmat(angles, order)
    expected = np.stack([
        np.linalg.multi_dot([np.eye(3)] + [ELEMENTARY[ax](a) for ax, a in zip(order, row)]) for row in angles
    ])
    np.testing.assert_allclose(got, expected, atol=ATOL)
    # scipy: upper-case sequence = intrinsic rotations.
    np.testing.assert_allclose(got, Rotation.from_euler(order, angles, degrees=True).as_matrix(), atol=ATOL)


@pytest.mark.parametrize("order", TAIT_BRYAN)
def test_rotmat_to_euler_round_trip(order: str) -> None:
    rng = np.random.default_rng(1)
    angles = np.stack(
        [rng.uniform(-179, 179, 200), rng.uniform(-85, 85, 200), rng.uniform(-179, 179, 200)], axis=-1
    )
    rot = euler_to_rotmat(angles, order)
    back = rotmat_to_euler(rot, order)
    np.testing.assert_allclose(back, angles, atol=1e-9)
    np.testing.assert_allclose(back, Rotation.from_matrix(rot).as_euler(order, degrees=True), atol=1e-9)
    # Gimbal lock: the angles are not unique but the rotation must be reproduced.
    locked = angles.copy()
    locked[:, 1] = rng.choice([-90.0, 90.0], size=200)
    rot = euler_to_rotmat(locked, order)
    np.testing.assert_allclose(euler_to_rotmat(rotmat_to_euler(rot, order), order), rot, atol=1e-9)


def test_euler_rejects_bad_orders() -> None:
    with pytest.raises(ValueError):
        euler_to_rotmat(np.zeros(3), "zyx")  # lower case would mean extrinsic in scipy
    with pytest.raises(ValueError):
        rotmat_to_euler(np.eye(3), "ZXZ")


# ----------------------------------------------------------------------------- (c) real files


@needs_cmu
def test_cmu_mb_09_07() -> None:
    clip = read_bvh(CMU / "mb" / "09" / "09_07.bvh")
    skel = clip.skeleton
    assert (clip.n_frames, skel.n_joints, skel.n_channels) == (139, 31, 96)
    assert clip.fps == pytest.approx(120.0, rel=1e-4)
    assert clip.nominal_fps == 120.0  # header says .0083333
    assert skel.names[:3] == ("Hips", "LHipJoint", "LeftUpLeg")
    assert skel.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")
    assert set(skel.rotation_orders) == {"ZYX"}
    fk = clip.forward_kinematics()
    hip, knee, ankle = (skel.index(n) for n in ("LeftUpLeg", "LeftLeg", "LeftFoot"))
    leg = np.linalg.norm(fk.positions[:, hip] - fk.positions[:, ankle], axis=-1)
    rest = np.linalg.norm(skel.offsets[knee]) + np.linalg.norm(skel.offsets[ankle])
    assert leg[0] == pytest.approx(rest, abs=1e-9)  # straight leg in the T-pose
    assert rest == pytest.approx(15.2615, abs=1e-4)
    assert leg[1] == pytest.approx(12.91, abs=0.01)  # bent knee
    np.testing.assert_allclose(fk.positions[0, 0], [1.9282, 18.4484, -23.8615])
    head_top = fk.end_site_positions[0, fk.end_site_joints.index(skel.index("Head")), 1]
    assert head_top - fk.positions[0, :, 1].min() == pytest.approx(26.65, abs=0.01)
    # Bones are rigid: every frame keeps the OFFSET lengths.
    for j, p in enumerate(skel.parents[1:], 1):
        bone = np.linalg.norm(fk.positions[:, j] - fk.positions[:, p], axis=-1)
        np.testing.assert_allclose(bone, np.linalg.norm(skel.offsets[j]), atol=1e-9)


@needs_cmu
def test_cmu_daz_13_11() -> None:
    clip = read_bvh(CMU / "daz" / "13" / "13_11.bvh")
    skel = clip.skeleton
    assert (clip.n_frames, skel.n_joints, skel.n_channels) == (416, 43, 132)
    assert skel.rotation_orders[0] == "ZYX" and set(skel.rotation_orders[1:]) == {"ZXY"}
    fk = clip.forward_kinematics()
    assert fk.positions[0, 0, 1] == pytest.approx(85.2, abs=0.05)
    assert fk.positions[0, :, 1].max() == pytest.approx(155.0, abs=0.1)


@needs_cmu
def test_largest_clip_reads_fast() -> None:
    start = time.perf_counter()
    clip = read_bvh(CMU / "mb" / "01" / "01_06.bvh")
    elapsed = time.perf_counter() - start
    assert clip.n_frames == 5134
    assert elapsed < 1.0, f"reading 01_06.bvh took {elapsed:.2f} s"


# ----------------------------------------------------------------------------- (d) round trip


def _assert_same_pose(a: BvhClip, b: BvhClip, atol: float) -> None:
    fa, fb = a.forward_kinematics(), b.forward_kinematics()
    np.testing.assert_allclose(fb.positions, fa.positions, atol=atol)
    np.testing.assert_allclose(fb.end_site_positions, fa.end_site_positions, atol=atol)


@pytest.mark.parametrize("order", TAIT_BRYAN)
def test_write_read_round_trip_tiny(tmp_path: Path, order: str) -> None:
    clip = parse_bvh(TINY, "tiny.bvh")
    out = write_bvh(tmp_path / "tiny_out.bvh", clip.skeleton, clip.local_rotmats(), clip.root_positions(),
                    clip.frame_time, rotation_order=order)
    back = read_bvh(out)
    assert back.skeleton.names == clip.skeleton.names
    assert back.skeleton.parents == clip.skeleton.parents
    assert back.skeleton.rotation_orders == (order,) * 3
    np.testing.assert_allclose(back.skeleton.offsets, clip.skeleton.offsets)
    assert back.frame_time == pytest.approx(clip.frame_time)
    _assert_same_pose(clip, back, ROUND_TRIP_ATOL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny_out.bvh"]  # no temp file left


@needs_cmu
@pytest.mark.parametrize("rel", ["mb/09/09_07.bvh", "daz/13/13_11.bvh"])
def test_write_read_round_trip_real(tmp_path: Path, rel: str) -> None:
    clip = read_bvh(CMU / rel)
    path = tmp_path / "rt.bvh"
    write_bvh(path, clip.skeleton, clip.local_rotmats(), clip.root_positions(), clip.frame_time)
    back = read_bvh(path)
    assert back.skeleton.names == clip.skeleton.names and back.n_frames == clip.n_frames
    _assert_same_pose(clip, back, ROUND_TRIP_ATOL)
    # Writing the raw channels keeps the values (to the written decimals).
    write_clip(path, clip)  # replaces the file atomically
    again = read_bvh(path)
    np.testing.assert_allclose(again.motion, clip.motion, atol=1e-8)
    assert again.skeleton.channels == clip.skeleton.channels


def test_write_reorders_non_depth_first_skeleton(tmp_path: Path) -> None:
    # SMPL-like order: both hips before either knee (topological, not depth-first).
    skel = BvhSkeleton(
        names=("pelvis", "l_hip", "r_hip", "l_knee", "r_knee"),
        parents=(-1, 0, 0, 1, 2),
        offsets=np.array([[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, -4, 0], [0, -4, 0]], dtype=float),
        channels=((),) * 5,
        end_sites=(None, None, None, np.array([0, -4.0, 0]), np.array([0, -4.0, 0])),
    )
    rng = np.random.default_rng(2)
    rot = Rotation.random(4 * 5, random_state=3).as_matrix().reshape(4, 5, 3, 3)
    root = rng.normal(size=(4, 3))
    back = read_bvh(write_bvh(tmp_path / "smpl.bvh", skel, rot, root, 1 / 30))
    assert back.skeleton.names == ("pelvis", "l_hip", "l_knee", "r_hip", "r_knee")
    perm = [0, 1, 3, 2, 4]
    ref = forward_kinematics(skel, rot, root)
    np.testing.assert_allclose(back.forward_kinematics().positions, ref.positions[:, perm], atol=ROUND_TRIP_ATOL)


# ----------------------------------------------------------------------------- (e) malformed files


def _corrupt_tiny(case: str) -> str:
    lines = TINY.splitlines()
    if case == "no_hierarchy":
        return "\n".join(lines[1:])
    if case == "no_motion":
        return "\n".join(lines[: lines.index("MOTION")])
    if case == "extra_close_brace":
        return TINY.replace("\t\t}\n\t}\n}", "\t\t}\n\t}\n}\n}")
    if case == "missing_close_brace":
        return TINY.replace("\t\t}\n\t}\n}", "\t\t}\n\t}")
    if case == "unknown_channel":
        return TINY.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation Wrotation Xrotation", 1)
    if case == "bad_offset":
        return TINY.replace("OFFSET 0 2 0", "OFFSET 0 two 0")
    if case == "non_numeric_value":
        return TINY.replace("0 0 0 0 0 0 90 0 90 0 0 0", "0 0 0 0 0 0 9O 0 90 0 0 0")
    if case == "short_row":
        return TINY.replace("1 2 3 0 0 0 0 0 0 0 90 0", "1 2 3 0 0 0 0 0 0 0 90")
    if case == "long_row":
        return TINY.replace("1 2 3 0 0 0 0 0 0 0 90 0", "1 2 3 0 0 0 0 0 0 0 90 0 7")
    if case == "truncated_rows":
        return "\n".join(lines[:-1]) + "\n"
    if case == "too_many_rows":
        return TINY + lines[-1] + "\n"
    if case == "frame_time_zero":
        return TINY.replace("Frame Time: 0.1", "Frame Time: 0")
    if case == "frame_time_negative":
        return TINY.replace("Frame Time: 0.1", "Frame Time: -0.1")
    if case == "missing_frames_line":
        return TINY.replace("Frames: 3\n", "")
    if case == "nan_value":
        return TINY.replace("10 0 0 90", "10 nan 0 90")
    if case == "inf_value":
        return TINY.replace("10 0 0 90", "10 inf 0 90")
    if case == "zero_joints":
        return "HIERARCHY\nMOTION\nFrames: 0\nFrame Time: 0.1\n"
    if case == "empty":
        return ""
    raise AssertionError(case)


# case -> line the error must point at (None: no line check)
MALFORMED = {
    "no_hierarchy": 1,
    "no_motion": None,
    "extra_close_brace": 21,
    "missing_close_brace": None,
    "unknown_channel": 9,
    "bad_offset": 8,
    "non_numeric_value": 25,
    "short_row": 26,
    "long_row": 26,
    "truncated_rows": None,
    "too_many_rows": 27,
    "frame_time_zero": 23,
    "frame_time_negative": 23,
    "missing_frames_line": 22,  # "Frame Time" now sits where "Frames" was
    "nan_value": 24,
    "inf_value": 24,
    "zero_joints": None,
    "empty": None,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_tiny_raises_bvh_error(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"bad_{case}.bvh"
    path.write_text(_corrupt_tiny(case))
    with pytest.raises(BvhError) as info:
        read_bvh(path)
    msg = str(info.value)
    assert path.name in msg
    if MALFORMED[case] is not None:
        assert info.value.line == MALFORMED[case], msg
        assert f":{MALFORMED[case]}:" in msg


@needs_cmu
@pytest.mark.parametrize("case", ["truncated_mid_row", "truncated_rows", "corrupt_number", "crlf_truncated"])
def test_malformed_real_file_raises_bvh_error(tmp_path: Path, case: str) -> None:
    text = (CMU / "mb" / "09" / "09_07.bvh").read_text()
    if case == "truncated_mid_row":
        text = text[: len(text) - 300]
    elif case == "truncated_rows":
        text = "\n".join(text.splitlines()[:-10])
    elif case == "corrupt_number":
        lines = text.splitlines()
        lines[199] = lines[199].replace(" ", " x", 1)
        text = "\n".join(lines)
    elif case == "crlf_truncated":
        text = "\r\n".join(text.splitlines()[:150])
    path = tmp_path / f"09_07_{case}.bvh"
    path.write_bytes(text.encode())
    with pytest.raises(BvhError, match="09_07_" + case):
        read_bvh(path)


def test_missing_or_empty_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.bvh"):
        read_bvh(tmp_path / "nope.bvh")
    with pytest.raises(ValueError, match="empty path"):
        read_bvh("")


# ----------------------------------------------------------------------------- (f) resampling


def _spin(n_frames: int, fps: float, deg_per_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Two joints: Z spin at a constant rate, and a spin about a tilted axis; linear root."""
    t = np.arange(n_frames) / fps
    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    rot = np.stack([
        euler_to_rotmat(np.stack([deg_per_s * t, 0 * t, 0 * t], -1), "ZYX"),
        Rotation.from_rotvec(np.radians(0.5 * deg_per_s * t)[:, None] * axis).as_matrix(),
    ], axis=1)
    root = np.stack([2.0 * t, 1.0 + 0 * t, -3.0 * t], -1)
    return rot, root


@pytest.mark.parametrize("target_fps", [30.0, 50.0, 24.0, 240.0])
def test_resample_constant_angular_velocity_is_analytic(target_fps: float) -> None:
    src_fps, rate = 120.0, 300.0  # 2.5 deg per input frame
    rot, root = _spin(121, src_fps, rate)
    new_rot, new_root, dt = resample_motion(rot, root, src_fps, target_fps)
    assert dt == pytest.approx(1 / target_fps)
    n_out = int(math.floor(120 * target_fps / src_fps + 1e-9)) + 1
    assert new_rot.shape == (n_out, 2, 3, 3) and new_root.shape == (n_out, 3)
    t = np.arange(n_out) / target_fps
    angles = rotmat_to_euler(new_rot[:, 0], "ZYX")
    diff = (angles[:, 0] - rate * t + 180.0) % 360.0 - 180.0  # equal modulo 360 deg
    np.testing.assert_allclose(diff, 0.0, atol=1e-9)
    np.testing.assert_allclose(angles[:, 1:], 0.0, atol=1e-9)
    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    expected = Rotation.from_rotvec(np.radians(0.5 * rate * t)[:, None] * axis).as_matrix()
    np.testing.assert_allclose(new_rot[:, 1], expected, atol=1e-9)
    np.testing.assert_allclose(new_root, np.stack([2 * t, 1 + 0 * t, -3 * t], -1), atol=1e-12)


def test_resample_same_fps_is_identity() -> None:
    rot = Rotation.random(50 * 3, random_state=4).as_matrix().reshape(50, 3, 3, 3)
    root = np.random.default_rng(5).normal(size=(50, 3))
    new_rot, new_root, dt = resample_motion(rot, root, 120.0, 120.0)
    np.testing.assert_array_equal(new_rot, rot)
    np.testing.assert_array_equal(new_root, root)
    np.testing.assert_array_equal(resample_frame_positions(50, 120, 120), np.arange(50))


def test_resample_rotmats_matches_scipy_slerp() -> None:
    # Random but smooth-ish rotations (steps well below 180 deg) against scipy's Slerp.
    rng = np.random.default_rng(6)
    steps = Rotation.from_rotvec(rng.normal(scale=0.3, size=(40, 3)))
    seq = [Rotation.identity()]
    for s in steps[:-1]:
        seq.append(s * seq[-1])
    key = Rotation.concatenate(seq)
    got = resample_rotmats(key.as_matrix()[:, None], 30.0, 47.0)[:, 0]
    times = resample_frame_positions(40, 30.0, 47.0) / 30.0
    ref = Slerp(np.arange(40) / 30.0, key)(times).as_matrix()
    np.testing.assert_allclose(got, ref, atol=1e-9)
    np.testing.assert_allclose(resample_linear(np.arange(40.0), 30.0, 47.0), times * 30.0, atol=1e-12)


@needs_cmu
def test_resample_clip_120_to_30_keeps_every_fourth_pose() -> None:
    clip = read_bvh(CMU / "mb" / "09" / "09_07.bvh")
    low = resample_clip(clip, 30.0)
    assert low.n_frames == 35 and low.fps == pytest.approx(30.0)
    assert low.skeleton is clip.skeleton
    np.testing.assert_allclose(low.forward_kinematics().positions,
                               clip.forward_kinematics().positions[::4], atol=1e-9)
