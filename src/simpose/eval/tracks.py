"""Multi-person tracks against ground truth, 3DPW-challenge style (``simpose eval tracks``).

Predictions are a run's ``poses.npz`` (:class:`simpose.track.sequence.PoseSequence`): joints3d
(T, P, 17, 3) h36m17 camera metres, valid (T, P), optional track_ids (P,) and joints2d.
Ground truth (:class:`TracksGT`) comes from

* a ground-truth ``.npz`` (:func:`write_gt` / :func:`read_gt`): ``joints3d`` (T, G, J, 3)
  h36m17 camera metres (NaN where the person is absent), optional ``joints2d`` (T, G, J, 2)
  pixels, ``valid`` (T, G) bool (default: all joints finite), ``joint_set`` ``"h36m17"``;
* a ``simpose synth`` clip (its ``joints3d/h36m17`` and ``joints2d/h36m17``, every person in
  every frame), detected by its ``meta`` entry;
* an official 3DPW ``sequenceFiles/<split>/<seq>.pkl``: its smpl24 joints are mapped to h36m17
  by joint name (:func:`simpose.body.joints.convert`); smpl24 has no h36m ``head`` point, so that
  joint is not scored (``joints`` in the results lists the scored ones). SMPL's joints sit at
  other places than the H36M regressor's (hips, spine), so 3DPW numbers carry that definition gap.

Association (how a ground-truth person G is paired with a predicted track):

* ``known``: once per sequence. For each (G, track) pair, the mean joint distance in the first
  frame where both exist (2D pixels when both sides have 2D joints, else 3D camera metres);
  Hungarian assignment (``scipy.optimize.linear_sum_assignment``) on that matrix, kept for all
  frames. Pairs that never co-occur cannot be matched.
* ``unknown``: per frame, Hungarian on the same distance between the people present in that
  frame. Root-relative MPJPE is *not* used as the cost: two people doing the same thing (walking
  side by side) have nearly the same root-relative pose, while their positions tell them apart.
  No distance gate: every present ground-truth person is matched while tracks are left.

Metrics per ground-truth person and overall (frames pooled), on the scored joints, root = pelvis:
MPJPE (root-relative, H36M protocol 1), PA-MPJPE, camera-space MPJPE (no alignment: position
error), all over *matched* frames only; PCK3D@150 mm and AUC (0..150 mm) over *all* ground-truth
frames with missed frames counted as 0 (every joint a miss); ``matched_share`` = matched / GT
frames; ``id_switches`` (``unknown`` only; 0 by construction under ``known``): the number of times
the track matched to a person changes from one matched frame to the next (gaps skipped).
MPJAE and PA-MPJAE (3DPW challenge joint-angle errors, degrees; :func:`simpose.eval.metrics.mpjae`,
:func:`~simpose.eval.metrics.pa_mpjae`) over matched frames, when both sides carry the body model's
rotations (a run's ``body_pose_rotvecs`` / ``body_global_rotvecs``; a synth clip's ``body`` moved
into the camera frame): the angle between predicted and true *global* orientations
(:func:`~simpose.eval.metrics.global_rotmats`, camera frame) of the root and anny's 19 pose bones,
mean over those 20; PA-MPJAE first turns the predicted orientations by the rotation of the
Procrustes alignment of the scored joints. A ground-truth ``.npz`` or 3DPW file (SMPL, another
body) has no anny rotations: no angles then.
A track "exists" in a frame where ``valid`` is True and its scored joints are finite.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from simpose.body.joints import convert, get_joint_set
from simpose.body.model import POSE_BONE_PARENTS
from simpose.eval import metrics

__all__ = ["TracksError", "TracksGT", "write_gt", "read_gt", "gt_from_synth_clip", "associate_known", "associate_unknown",
           "evaluate_tracks", "load_run", "write_results", "evaluate_tracks_files", "format_markdown"]  # fmt: skip

JOINT_SET = "h36m17"
PCK_THRESHOLD_M = 0.15


class TracksError(ValueError):
    """Input the track evaluation cannot use (missing file, wrong shapes, another joint set)."""


@dataclasses.dataclass(frozen=True, eq=False)
class TracksGT:
    """Ground-truth people of one sequence, T frames, G people, J = 17 h36m17 joints.

    Attributes:
        joints3d: (T, G, J, 3) float64 metres, camera frame; finite on scored joints where valid.
        valid: (T, G) bool person g annotated in frame t.
        joints2d: (T, G, J, 2) float64 pixels, or None.
        scored: (J,) bool joints that are scored (False where the source has no such joint).
        source: where it came from (for the report).
        body_pose_rotvecs: (T, G, 19, 3) radians, anny's ``POSE_BONES`` local rotations, or None.
        body_global_rotvecs: (T, G, 3) radians, the body's orientation in the camera frame, or None
            (both or neither; finite where valid).
    """

    joints3d: np.ndarray
    valid: np.ndarray
    joints2d: np.ndarray | None = None
    scored: np.ndarray | None = None
    source: str = ""
    body_pose_rotvecs: np.ndarray | None = None
    body_global_rotvecs: np.ndarray | None = None


def _check_gt(gt: TracksGT) -> TracksGT:
    """Shapes, joint count, finiteness where valid; fills ``scored`` (all joints by default)."""
    j3, valid = np.asarray(gt.joints3d, np.float64), np.asarray(gt.valid)
    J = len(get_joint_set(JOINT_SET))
    if j3.ndim != 4 or j3.shape[2:] != (J, 3):
        raise TracksError(f"{gt.source}: ground-truth joints3d must be (T, G, {J}, 3) h36m17, got {j3.shape}")
    if valid.shape != j3.shape[:2]:
        raise TracksError(f"{gt.source}: valid has shape {valid.shape}, expected {j3.shape[:2]} (T, G)")
    j2 = None if gt.joints2d is None else np.asarray(gt.joints2d, np.float64)
    if j2 is not None and j2.shape != j3.shape[:3] + (2,):
        raise TracksError(f"{gt.source}: joints2d has shape {j2.shape}, expected {j3.shape[:3] + (2,)}")
    scored = np.ones(J, bool) if gt.scored is None else np.asarray(gt.scored, bool)
    bad = valid.astype(bool)[..., None] & ~np.isfinite(j3[:, :, scored]).all(-1)
    if bad.any():
        t, g, _ = np.argwhere(bad)[0]
        raise TracksError(f"{gt.source}: ground truth is non-finite where valid ({bad.sum()} joints; first frame {t}, person {g})")
    pose, glob = gt.body_pose_rotvecs, gt.body_global_rotvecs
    if (pose is None) != (glob is None):
        raise TracksError(f"{gt.source}: body_pose_rotvecs and body_global_rotvecs come together")
    if pose is not None:
        pose, glob = np.asarray(pose, np.float64), np.asarray(glob, np.float64)
        if pose.shape != j3.shape[:2] + (len(POSE_BONE_PARENTS), 3) or glob.shape != j3.shape[:2] + (3,):
            raise TracksError(f"{gt.source}: body rotations have shapes {pose.shape}, {glob.shape}; expected (T, G, 19, 3), (T, G, 3)")
    return TracksGT(j3, valid.astype(bool), j2, scored, gt.source, pose, glob)


# ------------------------------------------------------------------------------ files
def write_gt(path: str | Path, joints3d: np.ndarray, valid: np.ndarray | None = None, joints2d: np.ndarray | None = None) -> Path:
    """Write a ground-truth ``.npz``: joints3d (T, G, 17, 3) h36m17 camera metres (NaN where absent),
    valid (T, G) (default: all joints finite), joints2d (T, G, 17, 2) pixels or None."""
    joints3d = np.asarray(joints3d, np.float64)
    if valid is None:
        valid = np.isfinite(joints3d).all(axis=(-1, -2)) if joints3d.ndim == 4 else np.zeros(joints3d.shape[:2], bool)
    gt = _check_gt(TracksGT(joints3d, np.asarray(valid, bool), joints2d, None, str(path)))
    arrays = {"joints3d": gt.joints3d, "valid": gt.valid, "joint_set": np.array(JOINT_SET)}
    if gt.joints2d is not None:
        arrays["joints2d"] = gt.joints2d
    path = Path(path)
    np.savez_compressed(path, **arrays)
    return path


def gt_from_synth_clip(path: str | Path) -> TracksGT:
    """A ``simpose synth`` clip's h36m17 joints (T, P, 17, 3/2) as ground truth (every person valid
    in every frame where its joints are finite), with its bodies' rotations in the camera frame when
    the clip has them (``body/pose_rotvecs``, ``body/global_rotvecs`` and the cameras' extrinsics)."""
    from simpose.data.synthetic import SyntheticClipError, read_clip

    try:
        clip = read_clip(path)
    except SyntheticClipError as exc:
        raise TracksError(str(exc)) from exc
    if JOINT_SET not in clip["joints3d"]:
        raise TracksError(f"{path}: synthetic clip has no {JOINT_SET} joints (has {sorted(clip['joints3d'])})")
    j3 = np.asarray(clip["joints3d"][JOINT_SET], np.float64)
    j2 = clip["joints2d"].get(JOINT_SET)
    valid = np.isfinite(j3).all(axis=(-1, -2)) if j3.ndim == 4 else np.zeros(j3.shape[:2], bool)
    pose = glob = None
    body, meta = clip["body"], clip["meta"]
    if {"pose_rotvecs", "global_rotvecs", "trans", "shape_params"} <= set(body) and {"camera_R", "camera_t"} <= set(meta):
        from simpose.adapt.synthetic import camera_frame_fit

        fits = [camera_frame_fit(body, np.asarray(meta["camera_R"]), np.asarray(meta["camera_t"]), p) for p in range(j3.shape[1])]
        pose = np.stack([f.pose_rotvecs for f in fits], 1)  # local rotations do not depend on the frame
        glob = np.stack([f.global_rotvecs for f in fits], 1)
    return _check_gt(TracksGT(j3, valid, j2, None, str(path), pose, glob))


def _gt_from_3dpw(path: Path) -> TracksGT:
    from simpose.data.pw3d import load_3dpw_sequence
    from simpose.data.records import DatasetError

    try:
        seq = load_3dpw_sequence(path)
    except DatasetError as exc:
        raise TracksError(str(exc)) from exc
    j3 = convert(np.asarray(seq.joints3d, np.float64), seq.joint_set, JOINT_SET, strict=False)  # head -> NaN
    scored = np.isfinite(j3).reshape(-1, j3.shape[2], 3).any(axis=(0, 2))
    # 3DPW's 2D joints are OpenPose detections, not ground truth: not used for association.
    return _check_gt(TracksGT(j3, np.asarray(seq.valid, bool), None, scored, str(path)))


def read_gt(path: str | Path) -> TracksGT:
    """Ground truth from a ground-truth ``.npz``, a ``simpose synth`` clip, or a 3DPW ``.pkl``."""
    path = Path(path)
    if not path.is_file():
        raise TracksError(f"{path}: no such file")
    if path.suffix == ".pkl":
        return _gt_from_3dpw(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise TracksError(f"{path}: not a readable .npz ({exc})") from exc
    if "meta" in arrays and any(k.startswith("joints3d/") for k in arrays):
        return gt_from_synth_clip(path)
    if "joints3d" not in arrays:
        raise TracksError(f"{path}: no 'joints3d' array (has {sorted(arrays)})")
    joint_set = str(arrays.get("joint_set", JOINT_SET))
    if joint_set != JOINT_SET:
        raise TracksError(f"{path}: ground truth is in joint set {joint_set!r}; only {JOINT_SET!r} is scored")
    j3 = np.asarray(arrays["joints3d"], np.float64)
    if "valid" in arrays:
        valid = arrays["valid"]
    else:
        valid = np.isfinite(j3).all(axis=(-1, -2)) if j3.ndim == 4 else np.zeros(j3.shape[:2], bool)
    return _check_gt(TracksGT(j3, valid, arrays.get("joints2d"), None, str(path)))


# ------------------------------------------------------------------------------ association
def _pair_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (G, J, D), b (P, J, D) -> (G, P) mean distance over the joints finite on both sides; inf if none
    (2D detections may miss joints where the 3D is still placed)."""
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    ok = np.isfinite(d)
    n = ok.sum(-1)
    return np.where(n > 0, np.where(ok, d, 0.0).sum(-1) / np.maximum(n, 1), np.inf)


def hungarian(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost pairs of a (G, P) matrix; inf entries are never paired."""
    from scipy.optimize import linear_sum_assignment

    finite = np.isfinite(cost)
    if not finite.any():
        return []
    big = cost[finite].max() * 10 + 1.0  # impossible pairs: taken only where nothing else is left, then dropped
    rows, cols = linear_sum_assignment(np.where(finite, cost, big))
    return [(int(r), int(c)) for r, c in zip(rows, cols) if finite[r, c]]


def associate_known(gt_x: np.ndarray, gt_ok: np.ndarray, pred_x: np.ndarray, pred_ok: np.ndarray) -> np.ndarray:
    """One assignment for the whole sequence.

    Args:
        gt_x: (T, G, J, D), pred_x: (T, P, J, D) joints in the matching space.
        gt_ok: (T, G), pred_ok: (T, P) bool presence (joints finite there).
    Returns:
        (G,) int64 the predicted column matched to each person, -1 for none.
    """
    G, P = gt_ok.shape[1], pred_ok.shape[1]
    cost = np.full((G, P), np.inf)
    for g in range(G):
        for p in range(P):
            both = np.flatnonzero(gt_ok[:, g] & pred_ok[:, p])
            if both.size:
                t = both[0]
                cost[g, p] = _pair_distance(gt_x[t, g][None], pred_x[t, p][None])[0, 0]
    out = np.full(G, -1, np.int64)
    for g, p in hungarian(cost):
        out[g] = p
    return out


def associate_unknown(gt_x: np.ndarray, gt_ok: np.ndarray, pred_x: np.ndarray, pred_ok: np.ndarray) -> np.ndarray:
    """Per-frame assignment (arguments as :func:`associate_known`).

    Returns:
        (T, G) int64 the predicted column matched to person g in frame t, -1 for none.
    """
    T, G = gt_ok.shape
    out = np.full((T, G), -1, np.int64)
    for t in range(T):
        gs, ps = np.flatnonzero(gt_ok[t]), np.flatnonzero(pred_ok[t])
        if gs.size == 0 or ps.size == 0:
            continue
        for r, c in hungarian(_pair_distance(gt_x[t, gs], pred_x[t, ps])):
            out[t, gs[r]] = ps[c]
    return out


# ------------------------------------------------------------------------------ scoring
def _score(
    gt3d: np.ndarray, gt_ok: np.ndarray, pred3d: np.ndarray, match: np.ndarray, root: int,
    gt_rot: np.ndarray | None = None, pred_rot: np.ndarray | None = None,
) -> tuple[dict, dict]:
    """Per-frame values of one person: gt3d (T, J, 3), gt_ok (T,), pred3d (T, P, J, 3), match (T,)
    predicted column or -1; gt_rot (T, K, 3, 3), pred_rot (T, P, K, 3, 3) global orientations or None.

    Returns sums (to pool people) and the person's summary dict.
    """  # fmt: skip
    frames = np.flatnonzero(gt_ok)
    hit = frames[match[frames] >= 0]
    g, p = gt3d[hit], pred3d[hit, match[hit]]
    sums = {
        "n_gt": int(frames.size), "n_matched": int(hit.size),
        "mpjpe": float(metrics.mpjpe(p, g, root=root).sum()) if hit.size else 0.0,
        "pa_mpjpe": float(metrics.pa_mpjpe(p, g).sum()) if hit.size else 0.0,
        "mpjpe_cam": float(metrics.mpjpe(p, g).sum()) if hit.size else 0.0,
        # missed frames add 0 to the PCK / AUC sums but count in n_gt
        "pck3d": float(metrics.pck3d(p, g, PCK_THRESHOLD_M, root=root).sum()) if hit.size else 0.0,
        "auc3d": float(metrics.auc3d(p, g, root=root).sum()) if hit.size else 0.0,
    }  # fmt: skip
    if gt_rot is not None and pred_rot is not None:
        # frames whose predicted rotations are not finite (no body fitted) are left out of the angles
        gr, pr = gt_rot[hit], pred_rot[hit, match[hit]]
        ae, pa = metrics.mpjae(pr, gr), metrics.pa_mpjae(pr, gr, p, g)
        ok = np.isfinite(ae) & np.isfinite(pa)
        sums.update(n_angles=int(ok.sum()), mpjae=float(ae[ok].sum()), pa_mpjae_angle=float(pa[ok].sum()))
    return sums, _summary(sums)


def _summary(s: dict) -> dict:
    m, n = s["n_matched"], s["n_gt"]
    per_match = lambda k: s[k] / m if m else float("nan")  # noqa: E731
    per_gt = lambda k: s[k] / n if n else float("nan")  # noqa: E731
    out = {
        "mpjpe_mm": per_match("mpjpe"), "pa_mpjpe_mm": per_match("pa_mpjpe"), "mpjpe_camera_mm": per_match("mpjpe_cam"),
        "pck3d_150mm": per_gt("pck3d"), "auc3d": per_gt("auc3d"),
        "matched_share": m / n if n else float("nan"), "n_gt_frames": n, "n_matched_frames": m,
    }  # fmt: skip
    if "n_angles" in s:
        a = s["n_angles"]
        out.update(mpjae_deg=s["mpjae"] / a if a else float("nan"), pa_mpjae_deg=s["pa_mpjae_angle"] / a if a else float("nan"))
    return out


def _id_switches(match: np.ndarray) -> int:
    """(T,) matched column or -1 -> changes between consecutive matched frames."""
    seen = match[match >= 0]
    return int(np.count_nonzero(seen[1:] != seen[:-1]))


def evaluate_tracks(
    pred3d: np.ndarray, pred_valid: np.ndarray, gt: TracksGT, pred2d: np.ndarray | None = None, track_ids: np.ndarray | None = None,
    pred_pose_rotvecs: np.ndarray | None = None, pred_global_rotvecs: np.ndarray | None = None,
) -> dict:
    """Score predicted tracks against ground-truth people under both associations.

    Args:
        pred3d: (T, P, 17, 3) h36m17 camera metres; pred_valid: (T, P) bool.
        gt: ground truth with the same T.
        pred2d: (T, P, 17, 2) pixels or None (used for association when gt has 2D too).
        track_ids: (P,) the id reported for each column (default 0..P-1).
        pred_pose_rotvecs: (T, P, 19, 3), pred_global_rotvecs: (T, P, 3) camera frame, the fitted
            bodies' rotations, or None; with the ground truth's, MPJAE and PA-MPJAE are scored.
    Returns:
        JSON-able dict: ``joints`` scored, ``association_space``, ``angles`` (whether MPJAE is
        scored: ``mpjae_deg`` / ``pa_mpjae_deg`` in each summary), and per association
        (``known``, ``unknown``) ``matches`` (track id per person / per frame summary),
        ``per_person`` list and ``overall`` (see the module docstring for the metrics).
    """
    gt = _check_gt(gt)
    pred3d = np.asarray(pred3d, np.float64)
    T, G, J = gt.joints3d.shape[:3]
    if pred3d.ndim != 4 or pred3d.shape[2:] != (J, 3):
        raise TracksError(f"predicted joints3d must be (T, P, {J}, 3) h36m17, got {pred3d.shape}")
    if pred3d.shape[0] != T:
        raise TracksError(f"predictions have {pred3d.shape[0]} frames but the ground truth has {T}")
    P = pred3d.shape[1]
    pred_valid = np.asarray(pred_valid, bool)
    if pred_valid.shape != (T, P):
        raise TracksError(f"predicted valid has shape {pred_valid.shape}, expected {(T, P)}")
    if pred2d is not None and np.shape(pred2d) != (T, P, J, 2):
        raise TracksError(f"predicted joints2d has shape {np.shape(pred2d)}, expected {(T, P, J, 2)}")
    ids = np.arange(P) if track_ids is None else np.asarray(track_ids, np.int64)
    if ids.shape != (P,):
        raise TracksError(f"track_ids has shape {ids.shape}, expected ({P},)")

    scored = gt.scored
    names = [n for n, s in zip(get_joint_set(JOINT_SET).names, scored) if s]
    root = names.index("pelvis")
    gt3d, p3d = gt.joints3d[:, :, scored], pred3d[:, :, scored]
    gt_ok = gt.valid
    pred_ok = pred_valid & np.isfinite(p3d).all(axis=(-1, -2))
    # 2D when both sides have it (monocular depth errors do not blur who is who), else 3D camera space
    if gt.joints2d is not None and pred2d is not None:
        space, gt_x, pred_x = "2d", gt.joints2d[:, :, scored], np.asarray(pred2d, np.float64)[:, :, scored]
    else:
        space, gt_x, pred_x = "3d", gt3d, p3d

    gt_rot = pred_rot = None
    if gt.body_pose_rotvecs is not None and pred_pose_rotvecs is not None and pred_global_rotvecs is not None:
        K = len(POSE_BONE_PARENTS)
        if np.shape(pred_pose_rotvecs) != (T, P, K, 3) or np.shape(pred_global_rotvecs) != (T, P, 3):
            raise TracksError(f"predicted body rotations have shapes {np.shape(pred_pose_rotvecs)}, {np.shape(pred_global_rotvecs)}; expected {(T, P, K, 3)}, {(T, P, 3)}")
        gt_rot = metrics.global_rotmats(gt.body_pose_rotvecs, gt.body_global_rotvecs, POSE_BONE_PARENTS)  # (T, G, 20, 3, 3)
        pred_rot = metrics.global_rotmats(pred_pose_rotvecs, pred_global_rotvecs, POSE_BONE_PARENTS)  # (T, P, 20, 3, 3)

    known = associate_known(gt_x, gt_ok, pred_x, pred_ok)
    per_frame = associate_unknown(gt_x, gt_ok, pred_x, pred_ok)
    result = {"n_frames": T, "n_gt_people": G, "n_pred_tracks": P, "joints": names, "root": "pelvis", "association_space": space,
              "angles": gt_rot is not None}  # fmt: skip
    keys = ("n_gt", "n_matched", "mpjpe", "pa_mpjpe", "mpjpe_cam", "pck3d", "auc3d") + (("n_angles", "mpjae", "pa_mpjae_angle") if gt_rot is not None else ())
    for name, match in (("known", np.where(pred_ok[:, np.maximum(known, 0)] & (known >= 0), known, -1)), ("unknown", per_frame)):
        people, total = [], dict.fromkeys(keys, 0)
        for g in range(G):
            sums, summary = _score(gt3d[:, g], gt_ok[:, g], p3d, match[:, g], root, None if gt_rot is None else gt_rot[:, g], pred_rot)
            summary["id_switches"] = _id_switches(match[:, g])
            tracks = sorted({int(ids[p]) for p in match[gt_ok[:, g], g] if p >= 0})
            people.append({"gt_person": g, "tracks": tracks, **summary})
            total = {k: total[k] + sums[k] for k in total}
        overall = _summary(total)
        overall["id_switches"] = sum(p["id_switches"] for p in people)
        entry = {"per_person": people, "overall": overall}
        if name == "known":
            entry["assignment"] = [int(ids[p]) if p >= 0 else None for p in known]
        result[name] = entry
    return result


def format_markdown(result: dict, title: str = "Tracks vs ground truth") -> str:
    """results.md: one table row per association and person, then the overall row."""
    f = lambda v, d=1: "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{d}f}"  # noqa: E731
    lines = [
        f"# {title}", "",
        f"{result['n_frames']} frames, {result['n_gt_people']} ground-truth people, {result['n_pred_tracks']} predicted tracks; "
        f"{len(result['joints'])} h36m17 joints, root {result['root']}; association on {result['association_space'].upper()} joints.",
        "MPJPE, PA-MPJPE and camera MPJPE over matched frames; PCK3D@150 mm and AUC over all ground-truth frames (misses count 0).", "",
    ]  # fmt: skip
    angles = result.get("angles", False)
    head = "| association | person | tracks | MPJPE (mm) | PA-MPJPE (mm) | camera MPJPE (mm) | PCK3D@150 (%) | AUC (%) |"
    lines += [head + (" MPJAE (°) | PA-MPJAE (°) |" if angles else "") + " matched | ID switches |",
              "|---|---|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if angles else "") + "---:|---:|"]  # fmt: skip
    for name in ("known", "unknown"):
        rows = [(str(p["gt_person"]), ",".join(map(str, p["tracks"])) or "—", p) for p in result[name]["per_person"]]
        rows.append(("**all**", "", result[name]["overall"]))
        for person, tracks, v in rows:
            share = f(100 * v["matched_share"] if v["n_gt_frames"] else None, 0)
            ang = f"{f(v['mpjae_deg'])} | {f(v['pa_mpjae_deg'])} | " if angles else ""
            lines.append(
                f"| {name} | {person} | {tracks} | {f(v['mpjpe_mm'])} | {f(v['pa_mpjpe_mm'])} | {f(v['mpjpe_camera_mm'])} | "
                f"{f(v['pck3d_150mm'])} | {f(v['auc3d'])} | {ang}{v['n_matched_frames']}/{v['n_gt_frames']} ({share}%) | {v['id_switches']} |"
            )
    if angles:
        lines += ["", "MPJAE / PA-MPJAE: angle between global orientations (camera frame) of the root and the 19 pose bones, matched frames."]
    else:
        lines += ["", "MPJAE is not reported (the ground truth holds no body-model rotations, or the run none)."]
    lines.append("")
    return "\n".join(lines)


def _frames_of_run(gt: TracksGT, frame_index: np.ndarray, pred_path: Path) -> TracksGT:
    """The ground-truth rows of the run's frames (``simpose run --start/--end``, or a run stopped early):
    row t of the run is frame ``frame_index[t]`` of the video, row ``frame_index[t]`` of the ground truth."""
    T_gt = gt.joints3d.shape[0]
    frame_index = np.asarray(frame_index, np.int64)
    if np.array_equal(frame_index, np.arange(T_gt)):
        return gt
    if frame_index.size == 0 or frame_index.min() < 0 or frame_index.max() >= T_gt:
        span = f"{frame_index.min()}..{frame_index.max()}" if frame_index.size else "none"
        raise TracksError(f"{pred_path}: the run's frames ({span}, {frame_index.size} frames) are not all within the ground truth's {T_gt} frames")
    pick = lambda a: None if a is None else a[frame_index]  # noqa: E731
    return TracksGT(
        gt.joints3d[frame_index], gt.valid[frame_index], pick(gt.joints2d), gt.scored, gt.source, pick(gt.body_pose_rotvecs), pick(gt.body_global_rotvecs)
    )


def _json_safe(x):
    """NaN -> None (strict JSON), recursively."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return None if isinstance(x, float) and not np.isfinite(x) else x


def load_run(pred_path: Path):
    """A run's :class:`~simpose.track.sequence.PoseSequence` (a run folder or its poses.npz); TracksError if unreadable."""
    from simpose.track.sequence import EstimatorError, PoseSequence

    try:
        seq = PoseSequence.load(pred_path)
    except FileNotFoundError as exc:
        raise TracksError(str(exc)) from exc
    except (EstimatorError, OSError, KeyError, ValueError) as exc:
        raise TracksError(f"{pred_path}: not a readable poses.npz ({exc})") from exc
    return seq


def write_results(result: dict, markdown: str, out: Path) -> list[Path]:
    """``out/results.json`` (strict JSON, NaN -> null) and ``out/results.md``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md"]
    paths[0].write_text(json.dumps(_json_safe(result), indent=2, allow_nan=False) + "\n")
    paths[1].write_text(markdown)
    return paths


def evaluate_tracks_files(pred_path: str | Path, gt_path: str | Path, out: str | Path) -> tuple[dict, list[Path]]:
    """``simpose eval tracks``: read both, score, write ``out/results.json`` and ``out/results.md``.

    The run's rows are paired with the ground truth's by the run's ``frame_index`` (frame t of the
    video is row t of the ground truth), so a run over part of the video is scored on its frames.
    (A PoseTrack18 ``.json``, 2D only, is :func:`simpose.eval.tracks2d.evaluate_posetrack_files`'s.)
    """
    pred_path, gt_path, out = Path(pred_path), Path(gt_path), Path(out)
    seq = load_run(pred_path)
    if seq.joint_set != JOINT_SET:
        raise TracksError(f"{pred_path}: predictions are in joint set {seq.joint_set!r}; only {JOINT_SET!r} is scored")
    gt = _frames_of_run(read_gt(gt_path), seq.frame_index, pred_path)
    pred2d = seq.joints2d if seq.joints2d.shape == seq.joints3d.shape[:3] + (2,) else None
    result = evaluate_tracks(
        seq.joints3d, seq.valid, gt, pred2d=pred2d, track_ids=seq.track_ids,
        pred_pose_rotvecs=seq.body_pose_rotvecs, pred_global_rotvecs=seq.body_global_rotvecs,
    )  # fmt: skip
    result = {"pred": str(pred_path), "gt": str(gt_path), **result}
    return result, write_results(result, format_markdown(result, f"{pred_path.name} vs {gt_path.name}"), out)
