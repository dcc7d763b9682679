"""Acclaim ASF/AMC: a hand-written skeleton with closed-form bone ends, bad input, and the real
HDM05 takes read, checked for units and frame rate, and retargeted onto the body like BVH clips."""

from __future__ import annotations

import numpy as np
import pytest

from simpose.motion.acclaim import AcclaimError, bone_ends, find_asf, parse_amc, parse_asf, read_amc, read_asf

ASF = """# a two-bone arm on a root; lengths in half-inches
:version 1.10
:name tiny
:units
  mass 1.0
  length 0.5
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 1 0 0
     length 2
     axis 0 0 90 XYZ
     dof rx
     limits (-180 180)
  end
  begin
     id 2
     name b
     direction 0 1 0
     length 1
     axis 0 0 0 XYZ
     dof rz
  end
:hierarchy
  begin
    root a
    a b
  end
"""

AMC = """:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
a 90
b 90
2
root 1 2 3 0 90 0
a 0
b 0
"""


def test_tiny_asf_amc_closed_form(tmp_path):
    """Frame 1: a's frame is turned 90 deg about z, so rx = 90 turns it about world y: a points
    along -z (2 units); b turns 90 deg about z then with a: +z (1 unit). Frame 2: the root turns
    90 deg about y: a along -z, b along +y. One unit is 2 inches = 0.0508 m."""
    (tmp_path / "tiny.asf").write_text(ASF)
    (tmp_path / "tiny_01.amc").write_text(AMC)
    sk = read_asf(tmp_path / "tiny.asf")
    assert sk.names == ("root", "a", "b") and sk.parents == (-1, 0, 1)
    assert sk.units_to_m == pytest.approx(0.0508)
    root = np.array([1.0, 2.0, 3.0])
    want = np.array([[root, root + [0, 0, -2], root + [0, 0, -1]], [root, root + [0, 0, -2], root + [0, 1, -2]]])
    ends = bone_ends(sk, parse_amc(AMC, sk))
    np.testing.assert_allclose(ends, want, atol=1e-12)
    # as a BVH clip (metres): joints at the bones' starts, the end site at b's end
    clip = read_amc(tmp_path / "tiny_01.amc")
    assert clip.fps == pytest.approx(120.0)  # no rate in the name: the CMU/HDM05 rate
    fk = clip.forward_kinematics()
    np.testing.assert_allclose(fk.positions[:, 1], want[:, 0] * 0.0508, atol=1e-12)  # a starts at the root
    np.testing.assert_allclose(fk.positions[:, 2], want[:, 1] * 0.0508, atol=1e-12)  # b starts at a's end
    np.testing.assert_allclose(fk.end_site_positions[:, 0], want[:, 2] * 0.0508, atol=1e-12)
    assert find_asf(tmp_path / "tiny_01.amc") == tmp_path / "tiny.asf"


def test_dof_order_and_radians():
    """dof ``rz rx`` applies z first: M = Rx Rz; with angle rad the numbers are radians."""
    asf = ASF.replace("angle deg", "angle rad").replace("dof rx\n     limits (-180 180)", "dof rz rx").replace(
        "axis 0 0 90 XYZ", "axis 0 0 0 XYZ"
    )
    sk = parse_asf(asf)
    amc = f"1\nroot 0 0 0 0 0 0\na {np.pi / 2} {np.pi / 2}\nb 0\n"
    ends = bone_ends(sk, parse_amc(amc, sk))
    # x -> Rz90 -> +y -> Rx90 -> +z: a ends at (0, 0, 2)
    np.testing.assert_allclose(ends[0, 1], [0, 0, 2], atol=1e-12)


def test_bad_files(tmp_path):
    with pytest.raises(AcclaimError, match="hierarchy"):
        parse_asf(ASF[: ASF.index(":hierarchy")], "x.asf")
    with pytest.raises(AcclaimError, match="'c'"):
        parse_asf(ASF.replace("a b\n", "a b c\n"), "x.asf")
    sk = parse_asf(ASF)
    with pytest.raises(AcclaimError, match="x.amc:3: bone 'a' needs 1 values, got 2"):
        parse_amc("1\nroot 1 2 3 0 0 0\na 1 2\nb 0\n", sk, "x.amc")
    with pytest.raises(AcclaimError, match="lacks bone 'b'"):
        parse_amc("1\nroot 1 2 3 0 0 0\na 1\n", sk, "x.amc")
    with pytest.raises(AcclaimError, match="no frames"):
        parse_amc(":DEGREES\n", sk, "x.amc")
    (tmp_path / "lonely_01.amc").write_text(AMC)
    with pytest.raises(AcclaimError, match="no .asf"):
        read_amc(tmp_path / "lonely_01.amc")


# ------------------------------------------------------------------------------- HDM05, real files
def _hdm05():
    from simpose.data.paths import shared_dir

    shared = shared_dir()
    d = shared / "mocap" / "hdm05" if shared else None
    if d is None or not d.is_dir():
        pytest.skip("shared/mocap/hdm05 not present")
    return d


def test_hdm05_units_and_rate():
    """Units: each actor's skeleton, standing in its rest pose, is 1.5-2.0 m from toe to head top
    (:units length 0.45 = inches / 0.45; read as metres or centimetres it would be 40x or 1/2.5
    that). Rate: 120 Hz from the names; at that rate a squat repetition lasts 1-5 s."""
    d = _hdm05()
    asfs = sorted(d.glob("*.asf"))
    assert len(asfs) == 5
    for f in asfs:
        sk = read_asf(f)
        assert sk.length_unit == 0.45
        rest = bone_ends(sk, {n: np.zeros((1, len(k))) for n, k in zip(sk.names, sk.dofs) if k}) * sk.units_to_m
        height = rest[0, :, 1].max() - rest[0, :, 1].min()
        assert 1.5 < height < 2.0, (f.name, height)
    takes = sorted(d.rglob("*.amc"))
    assert len(takes) == 148
    squat = read_amc(sorted((d / "squat1Reps").glob("*.amc"))[0])
    assert squat.fps == 120.0 and 1.0 < squat.duration_s < 5.0


@pytest.fixture(scope="module")
def body():
    from simpose.body.model import BodyModel

    return BodyModel()


@pytest.mark.parametrize("cls", ["lieDownFloor", "depositFloorR", "squat1Reps", "grabHighR", "sneak2StepsLStart"])
def test_hdm05_retargeted_like_bvh(body, cls):
    """One take per class through the motion library's own path (read, resample to 30 fps,
    retarget, floor): a body of plausible height whose feet touch the floor, and the motion the
    class names (lying: the head near the floor; reaching high: a wrist up to the head)."""
    from simpose.body.joints import get_joint_set
    from simpose.motion.library import LibraryConfig, MotionLibrary
    from simpose.motion.retarget import body_joints

    d = _hdm05()
    lib = MotionLibrary(body, LibraryConfig(motions_dir=d / cls))
    k = len(lib.files) // 2
    m = lib.mocap_clip(k)
    assert m.fps == 30.0 and m.source == lib.files[k].name
    assert m.n_frames == pytest.approx(read_amc(lib.files[k]).duration_s * 30, abs=2)
    bp = body_joints(m, body, "blazepose33")
    names = get_joint_set("blazepose33").names
    idx = lambda *n: [names.index(x) for x in n]  # noqa: E731
    y = -bp[..., 1]  # height above the floor (y is down)
    feet = y[:, idx("left_heel", "right_heel", "left_foot_index", "right_foot_index")].min(axis=1)
    # first frame: the actor stands (every take starts upright) with a plausible height
    stand = y[0, idx("nose")][0] - feet[0]
    assert 1.3 < stand < 1.9, stand
    assert np.mean(np.abs(feet) < 0.05) > 0.5  # a foot on the floor in most frames
    assert feet.min() > -0.05  # never far through it
    head = y[:, idx("nose")[0]]
    wrists = y[:, idx("left_wrist", "right_wrist")].max(axis=1)
    if cls == "lieDownFloor":
        assert head.min() < 0.4
        assert abs(feet[0]) < 0.05  # standing at the start on the floor the lying part set
    if cls == "grabHighR":  # to a shelf at head height (in the source too: wrist - head <= 5 cm)
        assert np.max(wrists - head) > -0.1 and wrists.max() - wrists[0] > 0.4
    if cls in ("squat1Reps", "depositFloorR"):
        assert head.min() < 0.8 * head[0]
    if cls == "sneak2StepsLStart":
        # two crouched steps: a walking pace at 120 Hz (at 30 Hz read as 120 it would be 4x)
        speed = np.linalg.norm(m.trans[-1, [0, 2]] - m.trans[0, [0, 2]]) / (m.n_frames / m.fps)
        assert 0.1 < speed < 2.0, speed


def test_default_library_holds_cmu_and_hdm05(body):
    from simpose.motion.library import MotionLibrary, default_motion_dirs

    d = _hdm05()
    dirs = default_motion_dirs()
    assert d.resolve() in [x.resolve() for x in dirs]
    lib = MotionLibrary(body)
    amc = [f for f in lib.files if f.suffix == ".amc"]
    assert len(amc) == 148
    if len(dirs) > 1:
        assert lib.source_name(amc[0]).startswith("hdm05/")


def test_motion_preview_reads_amc(body):
    """``simpose motion preview`` takes an AMC file as it takes a BVH (its frames subsampled to the preview rate)."""
    from simpose.viz.preview import load_motion

    f = sorted((_hdm05() / "squat1Reps").glob("*.amc"))[0]
    m = load_motion(f, body, fps=10.0, seconds=1.0, shape_params=np.full(6, 0.5), rng=np.random.default_rng(0))
    assert m.fps == pytest.approx(10.0) and m.n_frames == 10


def test_align_hips_grounds_lying_takes(body):
    """Without align_hips the Acclaim root (~10 cm above the hip joints) stands in for the body's
    root: lying down, that offset turns horizontal and the floor fitted to the lying part leaves
    the standing start floating; aligned, the start stands on the floor. BVH retargeting is
    unchanged by default (the flag is off)."""
    from simpose.body.joints import get_joint_set
    from simpose.motion.bvh import resample_clip
    from simpose.motion.retarget import body_joints, retarget

    names = get_joint_set("blazepose33").names
    feet = [names.index(x) for x in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")]
    clip = resample_clip(read_amc(sorted((_hdm05() / "lieDownFloor").glob("*.amc"))[0]), 30.0)
    start = {}
    for aligned in (False, True):
        m = retarget(clip, body, skip_first_frame=False, align_hips=aligned)
        start[aligned] = (-body_joints(m, body, "blazepose33")[0, feet, 1]).min()  # height, y down
    assert start[True] < 0.05 < start[False], start
