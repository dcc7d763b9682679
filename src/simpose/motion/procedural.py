"""Procedural motion: what the CMU mocap lacks (sitting, kneeling, lying, everyday hand poses).

The families of motions live here; their machinery (limits, named angles, keyframe tracks,
grounding, contacts) in :mod:`simpose.motion.keyframes`.

Sign conventions of the pose rotation vectors, checked by running the body forward (simpose axes:
x = the body's left, y down, z backwards for a body facing -z; LEFT side given, the right side
mirrors it with the y and z components negated):

============== ======================================= =====================================
bone           +x                                      other axes
============== ======================================= =====================================
spine05/03/01  flexion (bends the trunk forward)       +z bends to the left, +y turns right
neck01, head   flexion (chin down)                     +z tilts to the left, +y turns right
clavicle.L     (axial, small)                          -z elevates (shrug), +y protracts
upperarm01.L   extension (arm backwards); -x flexion   -z abducts (raises the arm sideways);
                                                       +y swings it forwards
lowerarm01.L   (part of the hinge)                     flexion is about h = (-0.743, 0.667,
                                                       -0.047): +y and -x together
upperleg01.L   extension (thigh backwards); -x flexion -z abducts, -y rotates externally
lowerleg01.L   knee flexion (the shank swings back)    +-y, +-z: small tibial play
foot.L         plantarflexion (toes down)              +y turns the toes inwards, +z inverts
                                                       (the sole's outer edge down)
============== ======================================= =====================================

A global rotation about +x tilts the body forwards; -90 deg of it lays the body on its back.

anny's reference pose is an A-pose: the arms hang 42 deg out from the sides with the elbows
already flexed 42 deg, the knees 8.6 deg. The named angles below (``DOFS``) count from the
anatomical position instead: ``shoulder_abd = 0`` puts the arm along the body, ``elbow_flex = 0``
straightens it.

Joint limits: ``JOINT_LIMITS_DEG`` of :mod:`simpose.body.model`, whose z ranges of the left
clavicle, upper arm and thigh and whose elbow box were corrected from the directions above, and
widened where everyday poses need it (arm overhead, hip flexion 125 deg, a flexed thigh turned
out for cross-legged sitting).

Motion: every family is a list of keyframes (named angles in degrees with random jitter, a body
tilt, random timing) on a timeline; poses are interpolated with an ease-in/ease-out between keys
(zero velocity at each key, C1; a monotone cubic for random motion), with no angle faster than
60 deg/s on average, and clamped to the limits. Holds drift a little (the trunk, arms and head move
by a few degrees). Where a pose rests on two parts (a knee and the other foot, buttocks and feet)
one angle of the keyframe is solved so that both touch the floor. The root follows the pose
(:func:`ground_motion`): each frame the body is lowered until its lowest vertex touches the floor
(y = 0), and it moves horizontally so that the vertices touching the floor keep their place (the
feet stay planted while a person sits down, the buttocks while lying back). A chair or table is
implicit: a seated body rests on its feet with the thighs level, which puts the pelvis at about
knee height.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

import numpy as np

from simpose.body.model import POSE_BONES, BodyModel
from simpose.geometry import rodrigues, rotmat_to_rotvec
from simpose.motion.keyframes import (
    HOLD,
    LEG_NAMES,
    SIDED_DOFS,
    KeyTrack,
    both_sides,
    clamp_pose,
    render_track,
    touch_floor,
)
from simpose.motion.retarget import MotionClip

logger = logging.getLogger(__name__)

__all__ = ["FAMILIES", "generate", "random_motion", "GRAFT_BONES", "graft_upper_body", "swinging_limbs"]

# ------------------------------------------------------------------------------- families
# A family builds a KeyTrack from the rng; ``ctx`` (body, shape) lets it put two supports on the
# floor at once. All angles are degrees; ``u`` is rng.uniform.

_FEET = ("feet.L", "feet.R")


@dataclasses.dataclass(frozen=True)
class _Ctx:
    body: BodyModel
    shape_params: np.ndarray | None

    def touch(self, angles, tilt, move, parts, span=(-30.0, 30.0), flat=False):
        return touch_floor(self.body, self.shape_params, angles, np.asarray(tilt, dtype=np.float64), move, parts, span, flat)


def _side(rng) -> tuple[str, str]:
    return (".L", ".R") if rng.random() < 0.5 else (".R", ".L")


def _stand(rng) -> dict[str, float]:
    """Standing at ease (use with ``feet=0``)."""
    u = rng.uniform
    a = both_sides(shoulder_abd_=u(5, 14), elbow_flex_=u(5, 25), hip_abd_=u(0, 6), knee_flex_=u(0, 6))
    a.update(spine_flex=u(-3, 6), neck_flex=u(-5, 10))
    return a


def _seated_legs(rng, tilt: float) -> dict[str, float]:
    """Thighs 75-88 deg forwards of hanging down (whatever the pelvis tilt), shanks from 15 deg
    tucked under to 20 deg forwards: a seat at about knee height."""
    u = rng.uniform
    thigh = u(75, 88)
    return both_sides(hip_flex_=thigh + tilt, knee_flex_=thigh + u(-20, 15), hip_abd_=u(3, 15), hip_rot_=u(-8, 8))


def _seated_arms(rng) -> dict[str, float]:
    u = rng.uniform
    kind = rng.integers(3)
    if kind == 0:  # hands on the thighs
        return both_sides(shoulder_flex_=u(15, 35), shoulder_abd_=u(5, 15), elbow_flex_=u(50, 75))
    if kind == 1:  # hands in the lap
        return both_sides(shoulder_flex_=u(5, 20), shoulder_abd_=u(5, 12), elbow_flex_=u(80, 100), shoulder_rot_=u(20, 40))
    return both_sides(shoulder_flex_=u(0, 15), shoulder_abd_=u(15, 25), elbow_flex_=u(80, 95))  # armrests


def _chair_pose(rng) -> tuple[dict[str, float], float]:
    """Seated on an (implicit) chair, both feet down: legs symmetric, use with ``leg_jitter=0, feet=0``."""
    tilt = rng.uniform(-8, 3)
    a = {**_seated_legs(rng, tilt), **_seated_arms(rng), "spine_flex": rng.uniform(-5, 15), "neck_flex": rng.uniform(-5, 15)}
    return a, tilt


def _sit_chair(rng, ctx) -> KeyTrack:
    """Sitting on a chair, changing posture now and then."""
    tr = KeyTrack(rng)
    for _ in range(3):
        a, tilt = _chair_pose(rng)
        if rng.random() < 0.3:  # a gesture
            s, _ = _side(rng)
            a.update({"shoulder_flex" + s: rng.uniform(30, 60), "elbow_flex" + s: rng.uniform(60, 100)})
        tr.to(a, rng.uniform(0.8, 2.0), tilt=(tilt, 0, 0), support=HOLD, leg_jitter=0.0, feet=0.0)
        tr.hold(rng.uniform(1.0, 3.0))
    return tr


def _floor_pose(rng, ctx) -> tuple[dict[str, float], np.ndarray]:
    u = rng.uniform
    kind = rng.integers(3)
    lean = {"tilt": 1.0, "spine_flex": -1.0}  # tilt the pelvis, keep the trunk's direction
    if kind == 0:  # cross-legged, hands in the lap
        a = both_sides(hip_flex_=u(85, 95), hip_abd_=u(38, 48), hip_rot_=u(60, 72), knee_flex_=u(138, 145))
        a.update(both_sides(shoulder_flex_=u(15, 30), shoulder_abd_=u(5, 15), elbow_flex_=u(60, 90)), spine_flex=u(40, 50))
        return ctx.touch(a, (-30.0, 0, 0), lean, ("seat", "feet.L"), (-20.0, 20.0))
    if kind == 1:  # knees up, arms around them
        return _knees_up(rng, ctx, both_sides(shoulder_flex_=u(40, 60), shoulder_abd_=u(5, 15), elbow_flex_=u(40, 70)))
    # legs forward, hands on the floor beside the hips
    a = both_sides(hip_flex_=u(80, 95), knee_flex_=u(0, 25), hip_abd_=u(5, 15), ankle_flex_=u(10, 30))
    a.update(both_sides(shoulder_flex_=u(-10, 15), shoulder_abd_=u(10, 25), elbow_flex_=5.0), spine_flex=u(5, 20))
    a, tilt = ctx.touch(a, (-5.0, 0, 0), {"hip_flex.L": 1.0, "hip_flex.R": 1.0}, ("seat", "feet.L"), (-20.0, 20.0))
    return ctx.touch(a, tilt, {"elbow_flex.L": 1.0, "elbow_flex.R": 1.0}, ("hands", "seat"), (0.0, 70.0))


def _knees_up(rng, ctx, arms: dict[str, float]) -> tuple[dict[str, float], np.ndarray]:
    """Sitting on the floor, knees up, feet flat: the pelvis rolled back, the trunk up, the knees
    bent as far as lets the feet and the buttocks rest on the floor together."""
    u = rng.uniform
    tilt = u(-30, -20)
    a = both_sides(hip_flex_=u(115, 122), knee_flex_=110.0, hip_abd_=u(5, 15))
    a.update(arms, spine_flex=-tilt + u(0, 10))
    move = {"knee_flex.L": 1.0, "knee_flex.R": 1.0}
    return ctx.touch(a, (tilt, 0, 0), move, ("seat", "feet.L"), (-40.0, 30.0), flat=True)


def _sit_floor(rng, ctx) -> KeyTrack:
    """Sitting on the floor: cross-legged, knees up or legs forward."""
    tr = KeyTrack(rng)
    for i in range(2):
        a, tilt = _floor_pose(rng, ctx)
        if i:  # rearranging the legs, the feet sliding on the floor: rest on both half way
            prev, prev_tilt = tr.angles[-1], tr.tilts[-1]
            mid = {k: 0.5 * (a.get(k, 0.0) + prev.get(k, 0.0)) for k in {*a, *prev}}
            lean = {"tilt": 1.0, "spine_flex": -1.0}
            mid, mid_tilt = ctx.touch(mid, 0.5 * (tilt + prev_tilt), lean, ("seat", "feet.L"), (-15.0, 15.0))
            tr.to(mid, rng.uniform(0.8, 1.2), tilt=mid_tilt, jitter=0.0, support=("seat",))
        tr.to(a, rng.uniform(0.8, 1.2), tilt=tilt, jitter=0.0, support=("seat",)).hold(rng.uniform(1.5, 4.0))
    return tr


def _sit_down_stand_up(rng, ctx) -> KeyTrack:
    """Standing, sitting down on a chair, sitting, standing up."""
    u = rng.uniform
    stand = _stand(rng)
    sit, tilt = _chair_pose(rng)
    half = {k: v * u(0.5, 0.7) for k, v in sit.items() if k.startswith(LEG_NAMES)}
    lean = {**stand, **half, "spine_flex": u(15, 30), **both_sides(shoulder_flex_=u(10, 50))}
    rise = {**sit, "spine_flex": u(20, 35), **both_sides(shoulder_flex_=u(20, 60))}
    tr = KeyTrack(rng).to(stand, 0.0, feet=0.0).hold(u(0.5, 1.5))
    tr.to(lean, u(0.6, 1.0), tilt=(15, 0, 0), support=_FEET, leg_jitter=0.0, feet=0.0)
    tr.to(sit, u(0.6, 1.0), tilt=(tilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=0.0).hold(u(1.0, 3.0), support=HOLD)
    tr.to(rise, u(0.5, 0.9), tilt=(20, 0, 0), support=HOLD, leg_jitter=0.0, feet=0.0)
    tr.to(lean, u(0.5, 0.8), tilt=(15, 0, 0), support=_FEET, leg_jitter=0.0, feet=0.0)
    return tr.to(_stand(rng), u(0.5, 0.9), support=_FEET, leg_jitter=0.0, feet=0.0).hold(u(0.5, 2.0))


def _crouch_pose(rng) -> tuple[dict[str, float], float, float]:
    """A squat: (angles, body tilt, plantarflexion beyond level feet)."""
    u = rng.uniform
    if rng.random() < 0.5:  # heels down
        tilt, toes = u(8, 20), 0.0
        a = both_sides(hip_flex_=u(100, 110), knee_flex_=u(120, 135), hip_abd_=u(10, 25))
    else:  # on the toes
        tilt, toes = u(5, 15), u(20, 35)
        a = both_sides(hip_flex_=u(95, 105), knee_flex_=u(135, 145), hip_abd_=u(10, 25))
    f, e = [(u(30, 70), u(20, 60)), (u(45, 60), u(10, 30)), (u(60, 85), u(0, 10))][rng.integers(3)]
    a.update(both_sides(shoulder_flex_=f, elbow_flex_=e, shoulder_abd_=u(5, 20)), spine_flex=u(15, 35), neck_flex=u(-20, 5))
    return a, tilt, toes


def _crouch(rng, ctx) -> KeyTrack:
    """Crouching down (heels down or on the toes) and getting up."""
    u = rng.uniform
    a, tilt, toes = _crouch_pose(rng)
    tr = KeyTrack(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.3, 1.5))
    tr.to(a, u(0.8, 1.4), tilt=(tilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=toes).hold(u(1.0, 3.0))
    return tr.to(_stand(rng), u(0.8, 1.4), support=_FEET, feet=0.0).hold(u(0.5, 2.0))


def _kneel_legs(ctx, a: dict[str, float], tilt, side: str) -> tuple[dict[str, float], np.ndarray]:
    """Turn a kneeling leg about the hip until its knee and its toes both touch the floor."""
    return ctx.touch(a, tilt, {"hip_flex" + side: 1.0}, ("shin" + side, "feet" + side), (-30.0, 30.0))


def _one_knee(rng, ctx, front: str, back: str) -> tuple[dict[str, float], np.ndarray]:
    u = rng.uniform
    hip = u(85, 100)
    a = {"hip_flex" + front: hip, "knee_flex" + front: hip + u(-5, 10), "hip_abd" + front: u(0, 10)}
    a["ankle_flex" + front] = hip - a["knee_flex" + front]
    a.update({"hip_flex" + back: u(-10, 5), "knee_flex" + back: u(90, 110), "ankle_flex" + back: u(-15, 45)})
    a.update(both_sides(shoulder_abd_=u(5, 15), shoulder_flex_=u(0, 30), elbow_flex_=u(10, 60)), spine_flex=u(0, 15))
    a, tilt = _kneel_legs(ctx, a, (u(-5, 5), 0, 0), back)
    move = {"hip_flex" + front: 1.0, "knee_flex" + front: 1.0}
    return ctx.touch(a, tilt, move, ("feet" + front, "shin" + back), (-25.0, 25.0))


def _kneel(rng, ctx) -> KeyTrack:
    """Going down on one knee, sometimes both (upright or sitting on the heels), and back up."""
    u = rng.uniform
    front, back = _side(rng)
    one, tilt = _one_knee(rng, ctx, front, back)
    stand = _stand(rng)
    step = {**stand, "hip_flex" + front: u(45, 60), "knee_flex" + front: u(50, 70), "knee_flex" + back: u(10, 25)}
    step["spine_flex"] = u(5, 15)
    ball = (0.0, u(10, 25)) if back == ".R" else (u(10, 25), 0.0)  # the back foot on its ball
    lunge = {**one, "knee_flex" + back: u(30, 50), "hip_flex" + back: u(-25, -10), "ankle_flex" + back: u(10, 30)}
    tr = KeyTrack(rng).to(stand, 0.0, feet=0.0).hold(u(0.3, 1.5))
    tr.to(step, u(0.5, 0.8), support=("feet" + back,), feet=ball)
    tr.to(one, u(0.8, 1.2), tilt=tilt, jitter=0.0, support=("feet" + back, "shin" + back))
    if rng.random() < 0.5:  # both knees: upright or sitting on the heels
        t2 = u(-5, 5)
        if rng.random() < 0.5:
            two = both_sides(hip_flex_=u(-5, 10), knee_flex_=u(90, 110), ankle_flex_=u(-15, 45), spine_flex=u(0, 10))
        else:
            two = both_sides(hip_flex_=u(50, 60), knee_flex_=u(140, 145), ankle_flex_=u(-25, 45), spine_flex=u(5, 20) - t2)
        two.update(both_sides(shoulder_flex_=u(10, 35), shoulder_abd_=u(5, 15), elbow_flex_=u(20, 80)))
        two, t2 = _kneel_legs(ctx, two, (t2, 0, 0), ".L")
        two, t2 = _kneel_legs(ctx, two, t2, ".R")
        # the front foot comes off the floor (knee bent up) before the thigh goes down, and back
        hf, kf, af = ("hip_flex" + front, "knee_flex" + front, "ankle_flex" + front)
        lift_a = {**one, hf: one[hf] + u(10, 20), kf: one[kf] + u(20, 30), af: one[af] - u(0, 10)}
        lift_b = {**lift_a, hf: two[hf] + u(15, 25), kf: u(135, 145), af: u(25, 40)}
        on_knee = dict(jitter=0.0, support=("shin" + back,))
        tr.to(lift_a, u(0.4, 0.6), tilt=tilt, **on_knee).to(lift_b, u(0.4, 0.6), tilt=t2, **on_knee)
        tr.to(two, u(0.4, 0.6), tilt=t2, **on_knee).hold(u(1.0, 3.0))
        tr.to(lift_b, u(0.4, 0.6), tilt=t2, **on_knee).to(lift_a, u(0.4, 0.6), tilt=tilt, **on_knee)
        tr.to(one, u(0.4, 0.6), tilt=tilt, **on_knee)
    else:
        tr.hold(u(1.0, 3.0))
    tr.to(lunge, u(0.6, 1.0), tilt=tilt, support=("feet" + front,), leg_jitter=0.0)
    # up on the front foot, the back leg stepping through: foot up behind, then forwards
    tuck = {**_stand(rng), "hip_flex" + back: u(-5, 10), "knee_flex" + back: u(85, 100), "knee_flex" + front: u(15, 30)}
    swing = {**_stand(rng), "hip_flex" + back: u(35, 50), "knee_flex" + back: u(60, 80), "knee_flex" + front: u(5, 20)}
    tr.to(tuck, u(0.5, 0.8), support=("feet" + front,), feet=0.0).to(swing, u(0.4, 0.6), support=("feet" + front,), feet=0.0)
    return tr.to(_stand(rng), u(0.4, 0.7), support=("feet" + front,), feet=0.0).hold(u(0.5, 2.0))


def _pick_up(rng, ctx) -> KeyTrack:
    """Bending (stooping or squatting) to pick something up with one or both hands."""
    u = rng.uniform
    if rng.random() < 0.6:  # stoop
        tilt = u(10, 25)
        bend = both_sides(hip_flex_=u(70, 90), knee_flex_=u(10, 35), hip_abd_=u(3, 12))
        bend["spine_flex"] = u(35, 60)
    else:  # squat
        tilt = u(10, 20)
        bend = both_sides(hip_flex_=u(95, 110), knee_flex_=u(110, 130), hip_abd_=u(10, 25))
        bend["spine_flex"] = u(25, 40)
    s, o = _side(rng)
    both_hands = rng.random() < 0.4
    for side in (s, o) if both_hands else (s,):
        bend.update({"shoulder_flex" + side: u(60, 100), "elbow_flex" + side: u(0, 20), "shoulder_abd" + side: u(5, 15)})
    if not both_hands:
        bend.update({"shoulder_flex" + o: u(0, 40), "elbow_flex" + o: u(10, 60), "shoulder_abd" + o: u(5, 20)})
    bend["neck_flex"] = u(-15, 15)
    carry = _stand(rng)
    carry.update({"shoulder_flex" + s: u(10, 30), "elbow_flex" + s: u(60, 100)})
    tr = KeyTrack(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.3, 1.5))
    tr.to(bend, u(0.8, 1.4), tilt=(tilt, 0, 0), support=_FEET, feet=0.0).hold(u(0.2, 0.8))
    return tr.to(carry, u(0.8, 1.4), support=_FEET, feet=0.0).hold(u(0.5, 2.0))


def _arm(side: str, flex: float, abd: float, elbow: float) -> dict[str, float]:
    return {"shoulder_flex" + side: flex, "shoulder_abd" + side: abd, "elbow_flex" + side: elbow}


def _reach(rng, ctx) -> KeyTrack:
    """Reaching up (sometimes on tiptoe), forwards or sideways, with one or both arms."""
    u = rng.uniform
    tr = KeyTrack(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.3, 1.0))
    for _ in range(3):
        a = _stand(rng)
        s, _o = _side(rng)
        sides = (".L", ".R") if rng.random() < 0.35 else (s,)
        kind = rng.integers(3)
        tilt = 0.0
        for side in sides:
            if kind == 0:  # up
                a.update(_arm(side, u(150, 170), u(0, 20), u(0, 15)), spine_flex=u(-10, 0), neck_flex=u(-30, -10))
            elif kind == 1:  # forward
                a.update(_arm(side, u(75, 100), u(0, 15), u(0, 20)), spine_flex=u(10, 35), neck_flex=u(-10, 0))
                tilt = u(0, 15)
            else:  # sideways, the trunk leaning with the arm
                a.update(_arm(side, u(0, 20), u(80, 105), u(0, 15)))
                a["spine_bend"] = (1 if side == ".L" else -1) * u(5, 20) if len(sides) == 1 else 0.0
        toes = u(15, 25) if kind == 0 and rng.random() < 0.4 else 0.0  # on tiptoe
        tr.to(a, u(0.6, 1.2), tilt=(tilt, 0, 0), support=_FEET, feet=toes).hold(u(0.4, 1.5))
        tr.to(_stand(rng), u(0.6, 1.2), support=_FEET, feet=0.0).hold(u(0.3, 1.0))
    return tr


def _lying(rng, ctx) -> tuple[dict[str, float], np.ndarray]:
    """On the back: legs straight or a knee bent (foot flat), arms by the sides, on the belly or behind the head."""
    u = rng.uniform
    a = both_sides(hip_flex_=u(0, 5), knee_flex_=u(0, 10), ankle_flex_=u(20, 35), hip_abd_=u(0, 12))
    arms = rng.integers(3)
    if arms == 0:
        a.update(both_sides(shoulder_abd_=u(10, 30), elbow_flex_=u(0, 20)))
    elif arms == 1:
        a.update(both_sides(shoulder_flex_=u(20, 40), shoulder_abd_=u(5, 15), elbow_flex_=u(80, 110), shoulder_rot_=u(20, 40)))
    tilt = np.array([-90.0, 0, 0])
    if arms == 2:  # hands under the head
        a.update(both_sides(shoulder_flex_=u(140, 150), shoulder_abd_=u(20, 40), elbow_flex_=u(110, 140)))
        a, tilt = ctx.touch(a, tilt, {"shoulder_flex.L": 1.0, "shoulder_flex.R": 1.0}, ("hands", "back"), (-40.0, 15.0))
    if rng.random() < 0.4:
        s, _ = _side(rng)
        hip = u(35, 50)
        a.update({"hip_flex" + s: hip, "knee_flex" + s: 2 * hip + u(0, 10), "ankle_flex" + s: 0.0})
        return ctx.touch(a, tilt, {"hip_flex" + s: 1.0, "knee_flex" + s: 2.0}, ("feet" + s, "back"), (-15.0, 15.0))
    return a, tilt


def _side_lying(rng, down: str, up: str) -> tuple[dict[str, float], np.ndarray]:
    u = rng.uniform
    a = both_sides(hip_flex_=u(30, 60), knee_flex_=u(40, 80), ankle_flex_=u(10, 30))
    a.update({"shoulder_flex" + down: u(70, 100), "elbow_flex" + down: u(30, 90)})
    a.update({"shoulder_flex" + up: u(10, 40), "elbow_flex" + up: u(10, 40), "spine_flex": u(5, 15)})
    roll = rodrigues(np.radians([0.0, 0.0, 90.0 if down == ".L" else -90.0]))
    return a, np.degrees(rotmat_to_rotvec(roll @ rodrigues(np.radians([-90.0, 0, 0]))))


def _lie_down_get_up(rng, ctx) -> KeyTrack:
    """Standing, crouching, sitting on the floor, lying on the back (perhaps rolling onto a side), and back up."""
    u = rng.uniform
    crouch, ctilt, toes = _crouch_pose(rng)
    sit, stilt = _knees_up(rng, ctx, both_sides(shoulder_flex_=u(30, 50), shoulder_abd_=u(5, 15), elbow_flex_=u(20, 60)))
    lie, ltilt = _lying(rng, ctx)
    tr = KeyTrack(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.5, 1.5))
    tr.to(crouch, u(1.0, 1.5), tilt=(ctilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=toes)
    tr.to(sit, u(1.0, 1.5), tilt=stilt, jitter=0.0, support=_FEET)
    tr.to(lie, u(1.2, 2.0), tilt=ltilt, jitter=0.0, support=("seat",)).hold(u(1.0, 3.0))
    if rng.random() < 0.35:  # roll onto a side and back
        side, tilt = _side_lying(rng, *_side(rng))
        tr.to(side, u(1.0, 1.6), tilt=tilt).hold(u(1.0, 3.0)).to(lie, u(1.0, 1.6), tilt=ltilt, jitter=0.0).hold(u(0.5, 1.5))
    tr.to(sit, u(1.2, 2.0), tilt=stilt, jitter=0.0, support=("seat",))
    tr.to(crouch, u(1.0, 1.5), tilt=(ctilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=toes)
    return tr.to(_stand(rng), u(1.0, 1.5), support=_FEET, feet=0.0).hold(u(0.5, 1.5))


def _phone(rng, ctx) -> KeyTrack:
    """A phone call: a hand to the ear, standing or seated."""
    u = rng.uniform
    seated = rng.random() < 0.3
    base, tilt = _chair_pose(rng) if seated else (_stand(rng), 0.0)
    support = HOLD if seated else None
    s, _ = _side(rng)
    call = dict(base)
    call.update({"shoulder_flex" + s: u(72, 90), "shoulder_abd" + s: u(18, 32), "shoulder_rot" + s: u(10, 25)})
    call.update({"elbow_flex" + s: u(142, 145), "wrist_flex" + s: u(0, 20), "clav_elev" + s: u(5, 15)})
    call["neck_tilt"] = (1 if s == ".L" else -1) * u(5, 15)
    kw = dict(tilt=(tilt, 0, 0), support=support, leg_jitter=0.0, feet=0.0)
    tr = KeyTrack(rng).to(base, 0.0, **kw).hold(u(0.3, 1.5))
    tr.to(call, u(0.8, 1.4), **kw).hold(u(2.0, 6.0))
    return tr.to(base, u(0.8, 1.2), **kw).hold(u(0.5, 2.0))


def _eat(rng, ctx) -> KeyTrack:
    """Eating at a table: seated, the forearms on the table, a hand going to the mouth."""
    u = rng.uniform
    tilt = u(0, 5)
    table = {**_seated_legs(rng, tilt), "spine_flex": u(10, 25), "neck_flex": u(0, 15)}
    table.update(both_sides(shoulder_flex_=u(25, 45), shoulder_abd_=u(10, 20), elbow_flex_=u(70, 100)))
    s, _ = _side(rng)
    kw = dict(tilt=(tilt, 0, 0), support=HOLD, leg_jitter=0.0, feet=0.0)
    tr = KeyTrack(rng).to(table, 0.0, **kw).hold(u(0.5, 2.0))
    for _ in range(4):
        bite = dict(table)
        bite.update({"shoulder_flex" + s: u(68, 80), "shoulder_abd" + s: u(0, 12), "shoulder_rot" + s: u(35, 50)})
        bite.update({"elbow_flex" + s: u(115, 125), "wrist_flex" + s: u(-30, 0), "neck_flex": table["neck_flex"] + u(0, 10)})
        tr.to(bite, u(0.6, 1.0), **kw).hold(u(0.2, 0.6), jitter=1.0)
        tr.to(table, u(0.6, 1.0), **kw).hold(u(1.0, 3.0))
    return tr


# Ranges (degrees) of the random poses: a comfortable part of each joint's range.
_RANDOM_RANGES: dict[str, tuple[float, float]] = {
    "spine_flex": (-10, 35), "spine_bend": (-15, 15), "spine_twist": (-20, 20),
    "neck_flex": (-20, 30), "neck_turn": (-45, 45), "neck_tilt": (-15, 15),
    "clav_elev": (-5, 15), "clav_prot": (-10, 10),
    "shoulder_flex": (-30, 130), "shoulder_abd": (0, 100), "shoulder_rot": (-40, 40),
    "elbow_flex": (5, 130), "forearm_twist": (-40, 40), "wrist_flex": (-30, 30), "wrist_dev": (-15, 15),
    "hip_flex": (-10, 20), "hip_abd": (-3, 12), "hip_rot": (-15, 15), "knee_flex": (0, 25),
}  # fmt: skip


def _random_pose(rng) -> dict[str, float]:
    a = {}
    for name, (lo, hi) in _RANDOM_RANGES.items():
        for key in (name + ".L", name + ".R") if name in SIDED_DOFS else (name,):
            a[key] = lo + (hi - lo) * rng.beta(2.0, 2.0)
    if rng.random() < 0.3:  # one leg lifted
        s, _ = _side(rng)
        a.update({"hip_flex" + s: rng.uniform(20, 70), "knee_flex" + s: rng.uniform(20, 90)})
    return a


def random_motion(
    n_frames: int, fps: float, rng: np.random.Generator, body: BodyModel, shape_params: np.ndarray | None = None
) -> MotionClip:
    """Random poses within the limits, smoothly interpolated.

    Keyframes every 0.5-1.5 s (longer where the pose changes a lot, so no joint turns faster than
    ~45 deg/s on average) are drawn per joint angle from Beta(2, 2) over a comfortable part of its
    range (:data:`_RANDOM_RANGES`; legs near standing, sometimes one leg lifted), interpolated by
    a monotone cubic (PCHIP) in rotation-vector space and clamped to :data:`LIMITS_DEG`.

    Args:
        n_frames: T. fps: frames per second. rng: the only source of randomness.
        body: the body model (grounding). shape_params: (6,) or None for the average body.
    Returns:
        MotionClip (T frames, on the floor, random heading), ``source = "procedural:random"``.
    """
    tr = KeyTrack(rng, max_speed=45.0).to(_random_pose(rng), 0.0, jitter=0.0, feet=0.0)
    while tr.times[-1] < (n_frames - 1) / fps + 1.5:
        tr.to(_random_pose(rng), rng.uniform(0.5, 1.5), jitter=0.0, feet=0.0)
    return render_track(tr, n_frames, fps, rng, body, shape_params, "procedural:random", smooth="pchip")


def _family(build: Callable[[np.random.Generator, _Ctx], KeyTrack], name: str):
    def generate_family(
        n_frames: int, fps: float, rng: np.random.Generator, body: BodyModel, shape_params: np.ndarray | None = None
    ) -> MotionClip:
        track = build(rng, _Ctx(body, shape_params))
        return render_track(track, n_frames, fps, rng, body, shape_params, f"procedural:{name}")

    generate_family.__name__ = name
    generate_family.__doc__ = (build.__doc__ or name) + " (n_frames, fps, rng, body, shape_params) -> MotionClip."
    return generate_family


# --------------------------------------------------------------------------------- grafting

# The bones a graft takes from the donor: neck, head, shoulders and arms (spine05..01 optionally).
GRAFT_BONES: tuple[str, ...] = POSE_BONES[3:13]
_SPINE_BONES: tuple[str, ...] = POSE_BONES[0:3]


def graft_upper_body(base: MotionClip, donor: MotionClip, spine: bool = False) -> MotionClip:
    """The base's legs, root path and orientation with the donor's neck, head and arms.

    Why: the mocap has many arm and head motions but no sitting, crouching or kneeling, and the
    procedural families have those postures but only a few keyframed arm motions; grafted, a
    seated or kneeling body gestures, reaches and dances with its arms as real people do. The
    base's grounding stays valid because the floor contacts of these postures (feet, knees,
    buttocks) hang off the legs and root, which are the base's.

    Args:
        base: the motion whose legs, root and orientation are kept (T frames).
        donor: at least T frames (the first T are used), local rotations of the same bones.
        spine: also take the donor's spine bones (the trunk then bends as the donor's did,
            instead of the base's posture's lean).
    Returns:
        MotionClip of T frames, the base's everything but the grafted bones, clamped to the limits;
        ``source`` names both.
    """
    T = base.n_frames
    if donor.n_frames < T:
        raise ValueError(f"graft needs a donor of at least {T} frames, got {donor.n_frames}")
    bones = GRAFT_BONES + (_SPINE_BONES if spine else ())
    idx = [POSE_BONES.index(b) for b in bones]
    pose = base.pose_rotvecs.copy()
    pose[:, idx] = donor.pose_rotvecs[:T, idx]
    return dataclasses.replace(base, pose_rotvecs=clamp_pose(pose), source=f"{base.source}+{donor.source}")


# name -> (n_frames, fps, rng, body, shape_params=None) -> MotionClip
FAMILIES: dict[str, Callable[..., MotionClip]] = {
    "random": random_motion,
    **{
        name: _family(build, name)
        for name, build in (
            ("sit_chair", _sit_chair),
            ("sit_floor", _sit_floor),
            ("sit_down_stand_up", _sit_down_stand_up),
            ("crouch", _crouch),
            ("kneel", _kneel),
            ("pick_up", _pick_up),
            ("reach", _reach),
            ("lie_down_get_up", _lie_down_get_up),
            ("phone", _phone),
            ("eat", _eat),
        )
    },
}


def generate(
    family: str,
    n_frames: int,
    fps: float,
    rng: np.random.Generator,
    body: BodyModel,
    shape_params: np.ndarray | None = None,
) -> MotionClip:
    """A procedural motion of one family.

    The family's keyframes (named joint angles with random variation, random timing) are laid on
    a timeline, held where the clip is longer than the motion, and a random window of
    ``n_frames`` is taken (a short clip shows part of the motion); the body gets a random heading
    and a root path that follows the pose (:func:`ground_motion`).

    Args:
        family: a name of :data:`FAMILIES`.
        n_frames: T >= 1. fps: frames per second.
        rng: numpy Generator, the only source of randomness (the same seed gives the same clip).
        body: the body model. shape_params: (6,) phenotype in [0, 1]; None = the average body.
    Returns:
        MotionClip: pose_rotvecs (T, 19, 3) within :data:`LIMITS_DEG`, global_rotvecs (T, 3),
        trans (T, 3) metres, world frame, y down, floor at y = 0.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown motion family {family!r}; known: {', '.join(FAMILIES)}")
    if n_frames < 1 or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"need n_frames >= 1 and fps > 0, got {n_frames}, {fps}")
    return FAMILIES[family](n_frames, float(fps), rng, body, shape_params)


def swinging_limbs(n_frames: int, fps: float, phase: float = 0.0, swing: float = 0.5) -> np.ndarray:
    """(T, 19, 3) pose rotation vectors of a walk in place reduced to its pendulum: thighs and
    upper arms swinging about x at 1 Hz, opposite sides in antiphase (a known, smooth motion for
    tests and benchmarks whose answer must be computable).

    Args:
        n_frames: T. fps: frame rate. phase: radians at frame 0. swing: amplitude, radians.
    """
    t = np.arange(n_frames) / fps
    pose = np.zeros((n_frames, len(POSE_BONES), 3))
    s = swing * np.sin(2 * np.pi * t + phase)
    for name, sign in (("upperleg01.L", 1), ("upperleg01.R", -1), ("upperarm01.L", -1), ("upperarm01.R", 1)):
        pose[:, POSE_BONES.index(name), 0] = sign * s
    return pose
