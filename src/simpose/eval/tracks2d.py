"""2D multi-person tracking (CLEAR-MOT) against PoseTrack18 ground truth (``simpose eval tracks --gt X.json``).

Where only 2D ground truth exists, a run's tracks are scored as PoseTrack's official evaluation
(``poseval``, ``evaluateTracking``) does, which runs ``py-motmetrics`` once **per joint type**:

* Ground truth: one PoseTrack18 annotation JSON (one video) read by
  :func:`simpose.data.posetrack.load_posetrack`: coco17 people with a ``track_id`` in the labelled
  frames; a joint counts where it is labelled. Head size = 0.6 x the head box's diagonal
  (poseval's ``getHeadSize``).
* Predictions: a run's ``poses.npz`` (``simpose run --people all``): the detector's own
  ``keypoints`` (BlazePose-33) where kept, else ``joints2d`` (h36m17), mapped to coco17 by joint
  name (:func:`simpose.body.joints.conversion_matrix`); track ids from ``track_ids``. A predicted joint counts
  where the person is valid, the joint finite, its confidence >= ``min_confidence`` and it is not
  inside one of the frame's ignore regions (unannotated crowds, as poseval drops them).
* Scored joints: the coco17 joints both sides can have: the prediction's set maps to them and the
  ground truth labels them somewhere in the file (PoseTrack labels no eyes or ears: its slots 1-2
  are head bottom / head top, which no simpose joint set has).
* Per joint type and annotated frame: the distance of a (person, track) pair is
  ``|x_pred - x_gt| / head_size``; pairs farther than 0.5 (PCKh@0.5) can never match. Matching is
  py-motmetrics' ``MOTAccumulator.update``: first the pairs matched in the previous annotated frame
  are kept while still within the threshold, then Hungarian (minimum summed distance) on the rest;
  a person matched to another track than at its last match is an ID switch. Unmatched ground
  truth joints are misses (FN), unmatched predicted joints false positives (FP).
* Per joint: MOTA = 1 - (FN + FP + IDSW) / n_gt, MOTP = 1 - mean normalised distance of the
  matches, precision = matches / (matches + FP), recall = matches / n_gt. ``total`` is poseval's
  "Total": the mean of the per-joint MOTA / MOTP / precision / recall over joints with ground
  truth, ID switches summed; ``total`` also has the summed counts and ``mota_pooled`` (one MOTA over
  all joints' counts). Values are fractions (poseval prints percent).

Differences from poseval, on purpose: every annotated frame is scored (poseval drops each
sequence's last frame), and a frame without ground-truth people scores its predictions as false
positives (poseval books one miss and one false positive per joint there).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from simpose.body.joints import conversion_matrix, get_joint_set
from simpose.eval.tracks import TracksError, hungarian, load_run, write_results

__all__ = ["Tracks2D", "posetrack_gt", "predictions_2d", "clear_mot", "format_markdown", "evaluate_posetrack_files"]

JOINT_SET = "coco17"
PCKH_THRESHOLD = 0.5  # poseval's distThresh, in head sizes
HEAD_SIZE_BIAS = 0.6  # poseval's getHeadSize: 0.6 x the head box diagonal


@dataclasses.dataclass(frozen=True, eq=False)
class Tracks2D:
    """People of one video in F annotated frames: N tracks (columns), J = 17 coco17 joints.

    Attributes:
        xy: (F, N, J, 2) float64 pixels (NaN where absent).
        ok: (F, N, J) bool joint present.
        ids: (N,) int64 track id of each column.
        frame_index: (F,) int64 video frame of each row.
        head_size: (F, N) float64 pixels (ground truth only; NaN where absent), else None.
        ignore_regions: per frame, a list of (K, 2) polygons in pixels (ground truth only).
        given: (J,) bool the joints the source joint set has at all (predictions), or None (all).
    """

    xy: np.ndarray
    ok: np.ndarray
    ids: np.ndarray
    frame_index: np.ndarray
    head_size: np.ndarray | None = None
    ignore_regions: tuple = ()
    given: np.ndarray | None = None


def posetrack_gt(path: str | Path) -> tuple[Tracks2D, str]:
    """One PoseTrack18 annotation JSON (one video) as ground truth; returns it and the video name."""
    from simpose.data.posetrack import load_posetrack
    from simpose.data.records import DatasetError

    try:
        samples = [s for s in load_posetrack(path) if s.frame_index is not None]
    except DatasetError as exc:
        raise TracksError(str(exc)) from exc
    videos = sorted({s.sequence for s in samples})
    if len(videos) != 1:
        raise TracksError(f"{path}: expected the annotated frames of one video, found {len(videos)} ({', '.join(videos[:5])})")
    ids = sorted({p.track_id for s in samples for p in s.people if p.track_id is not None})
    col = {t: i for i, t in enumerate(ids)}
    F, N, J = len(samples), len(ids), len(get_joint_set(JOINT_SET))
    xy, ok, head = np.full((F, N, J, 2), np.nan), np.zeros((F, N, J), bool), np.full((F, N), np.nan)
    for f, s in enumerate(samples):
        for p in s.people:
            if p.joint_set_2d != JOINT_SET or p.joints2d is None:
                raise TracksError(f"{path}: frame {s.frame_index}: expected {JOINT_SET} 2D joints, got {p.joint_set_2d}")
            labelled = np.asarray(p.joints2d_valid, bool)
            if not labelled.any():
                continue  # box-only annotation: nothing to score
            if p.track_id is None:
                raise TracksError(f"{path}: frame {s.frame_index}: a person without track_id")
            box = p.meta.get("bbox_head")
            if box is None:
                raise TracksError(f"{path}: frame {s.frame_index}, track {p.track_id}: no bbox_head (the PCKh scale)")
            c = col[p.track_id]
            xy[f, c], ok[f, c], head[f, c] = p.joints2d, labelled, HEAD_SIZE_BIAS * np.hypot(box[2], box[3])
    frames = np.array([s.frame_index for s in samples], np.int64)
    regions = tuple(list(s.meta.get("ignore_regions", [])) for s in samples)
    return Tracks2D(xy, ok, np.asarray(ids, np.int64), frames, head, regions), videos[0]


def predictions_2d(seq, min_confidence: float = 0.0) -> tuple[Tracks2D, str]:
    """A run's 2D tracks in coco17 (a :class:`~simpose.track.sequence.PoseSequence`).

    Uses the detector's own ``keypoints`` where kept (BlazePose-33), else ``joints2d``; coco17
    joints the set cannot give are absent. Returns the tracks and the source set's name.
    """
    if seq.keypoints is not None and seq.keypoint_set is not None:
        src, xy, conf = seq.keypoint_set, seq.keypoints, seq.keypoint_confidence
    else:
        src, xy, conf = seq.joint_set, seq.joints2d, seq.confidence
    # the name map by hand, not convert(): a NaN source joint (not detected) must blank only the
    # coco17 joints made from it, while the matrix product would spread NaN to every joint
    W, given = conversion_matrix(src, JOINT_SET, strict=False)
    xy = np.asarray(xy, np.float64)
    conf = np.ones(xy.shape[:3]) if conf is None else np.asarray(conf, np.float64)
    found = np.isfinite(xy).all(-1) & np.isfinite(conf)  # (T, P, K)
    lacking = np.einsum("dk,tpk->tpd", (W > 0).astype(float), (~found).astype(float)) > 0
    xy = np.einsum("dk,tpkc->tpdc", W, np.where(found[..., None], xy, 0.0))
    conf = np.einsum("dk,tpk->tpd", W, np.where(found, conf, 0.0))
    ok = np.asarray(seq.valid, bool)[..., None] & given & ~lacking & (conf >= min_confidence)
    P = xy.shape[1]
    ids = np.arange(P, dtype=np.int64) if seq.track_ids is None else np.asarray(seq.track_ids, np.int64)
    return Tracks2D(np.where(ok[..., None], xy, np.nan), ok, ids, np.asarray(seq.frame_index, np.int64), given=given), src


def _drop_ignored(pred: Tracks2D, regions: tuple) -> np.ndarray:
    """(F, P, J) ``pred.ok`` without the joints inside the frame's ignore regions."""
    from matplotlib.path import Path as Polygon

    ok = pred.ok.copy()
    for f, polys in enumerate(regions):
        for poly in polys:
            if len(poly) >= 3 and ok[f].any():
                inside = Polygon(poly).contains_points(np.nan_to_num(pred.xy[f].reshape(-1, 2), nan=-1e9))
                ok[f] &= ~inside.reshape(ok[f].shape)
    return ok


def _accumulate(d: np.ndarray, gt_ok: np.ndarray, pred_ok: np.ndarray, threshold: float) -> dict:
    """CLEAR-MOT counts of one joint type, py-motmetrics' matching (see the module docstring).

    Args:
        d: (F, G, P) normalised distances; gt_ok: (F, G), pred_ok: (F, P) bool presence.
    Returns:
        n_gt, matches, fn, fp, id_switches (ints) and sum_d (float).
    """
    counts = dict.fromkeys(("n_gt", "matches", "fn", "fp", "id_switches"), 0)
    sum_d = 0.0
    last: dict[int, int] = {}  # person column -> track column of its latest match
    previous: dict[int, int] = {}  # the matches of the previous annotated frame
    for f in range(d.shape[0]):
        gs, ps = np.flatnonzero(gt_ok[f]), np.flatnonzero(pred_ok[f])
        cost = d[f][np.ix_(gs, ps)]
        cost = np.where(cost <= threshold, cost, np.inf)  # NaN (no scale) and too far: never a match
        matched: dict[int, int] = {}
        # 1. keep last frame's pairs that are still hits (no switch can happen there)
        for i, g in enumerate(gs):
            j = np.flatnonzero(ps == previous.get(g, -1))
            if j.size and np.isfinite(cost[i, j[0]]):
                matched[int(g)] = int(ps[j[0]])
        # 2. Hungarian on the people and tracks left
        rows = [i for i, g in enumerate(gs) if int(g) not in matched]
        cols = [j for j, p in enumerate(ps) if int(p) not in matched.values()]
        for r, c in hungarian(cost[np.ix_(rows, cols)]) if rows and cols else []:
            g, p = int(gs[rows[r]]), int(ps[cols[c]])
            counts["id_switches"] += int(g in last and last[g] != p)
            matched[g] = p
        counts["n_gt"] += gs.size
        counts["matches"] += len(matched)
        counts["fn"] += gs.size - len(matched)
        counts["fp"] += ps.size - len(matched)
        sum_d += float(sum(d[f, g, p] for g, p in matched.items()))
        last.update(matched)
        previous = matched
    return {**counts, "sum_d": sum_d}


def _rates(c: dict) -> dict:
    """MOTA, MOTP, precision, recall of summed counts (NaN where undefined)."""
    nan = float("nan")
    return {
        "mota": 1.0 - (c["fn"] + c["fp"] + c["id_switches"]) / c["n_gt"] if c["n_gt"] else nan,
        "motp": 1.0 - c["sum_d"] / c["matches"] if c["matches"] else nan,
        "precision": c["matches"] / (c["matches"] + c["fp"]) if c["matches"] + c["fp"] else nan,
        "recall": c["matches"] / c["n_gt"] if c["n_gt"] else nan,
    }


def clear_mot(gt: Tracks2D, pred: Tracks2D, threshold: float = PCKH_THRESHOLD) -> dict:
    """Per-joint CLEAR-MOT of predicted tracks against ground-truth people (module docstring).

    Args:
        gt: ground truth with ``head_size``; F annotated frames.
        pred: predictions, the same F rows (the same ``frame_index``), coco17.
        threshold: PCKh threshold in head sizes.
    Returns:
        JSON-able dict: ``joints`` scored, ``per_joint`` {name: counts + rates}, ``total``.
    """
    if gt.head_size is None:
        raise TracksError("ground truth needs head sizes (the PCKh scale)")
    if not np.array_equal(gt.frame_index, pred.frame_index):
        raise TracksError(f"prediction rows (frames {pred.frame_index.tolist()[:8]}...) are not the annotated frames")
    pred_ok = _drop_ignored(pred, gt.ignore_regions) if gt.ignore_regions else pred.ok
    names = get_joint_set(JOINT_SET).names
    # (F, G, P, J) distances in head sizes
    d = np.linalg.norm(gt.xy[:, :, None] - pred.xy[:, None], axis=-1) / gt.head_size[:, :, None, None]
    per_joint = {}
    for j, name in enumerate(names):
        if not gt.ok[..., j].any() or (pred.given is not None and not pred.given[j]):
            continue  # not labelled anywhere, or a joint the predicted set does not have
        c = _accumulate(d[..., j], gt.ok[..., j], pred_ok[..., j], threshold)
        per_joint[name] = {**c, **_rates(c)}
    if not per_joint:
        raise TracksError("no joint is both labelled in the ground truth and given by the predictions")
    sums = {k: sum(v[k] for v in per_joint.values()) for k in ("n_gt", "matches", "fn", "fp", "id_switches", "sum_d")}

    def mean(key: str) -> float:  # over the joints where the rate is defined (poseval skips NaN joints)
        vals = [v[key] for v in per_joint.values() if np.isfinite(v[key])]
        return float(np.mean(vals)) if vals else float("nan")

    total = {"mota": mean("mota"), "motp": mean("motp"), "precision": mean("precision"), "recall": mean("recall"),
             **sums, "mota_pooled": _rates(sums)["mota"]}  # fmt: skip
    return {"n_frames": int(gt.frame_index.size), "n_gt_tracks": int(gt.ids.size), "n_pred_tracks": int(pred.ids.size),
            "threshold_pckh": threshold, "joints": list(per_joint), "per_joint": per_joint, "total": total}  # fmt: skip


def format_markdown(result: dict, title: str = "2D tracks vs PoseTrack ground truth") -> str:
    """results.md: one row per scored joint, then the total (poseval's layout, fractions as %)."""
    pct = lambda v: "—" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"  # noqa: E731
    lines = [
        f"# {title}", "",
        f"{result['n_frames']} annotated frames, {result['n_gt_tracks']} ground-truth tracks, {result['n_pred_tracks']} predicted tracks; "
        f"CLEAR-MOT per joint (PoseTrack / poseval), a hit within {result['threshold_pckh']} head sizes; "
        f"predicted joints from {result.get('pred_joint_set', '?')}.", "",
        "| joint | MOTA (%) | MOTP (%) | precision (%) | recall (%) | ID switches | FN | FP | GT joints |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    rows = list(result["per_joint"].items()) + [("**total**", result["total"])]
    for name, v in rows:
        lines.append(f"| {name} | {pct(v['mota'])} | {pct(v['motp'])} | {pct(v['precision'])} | {pct(v['recall'])} | "
                     f"{v['id_switches']} | {v['fn']} | {v['fp']} | {v['n_gt']} |")  # fmt: skip
    lines += ["", f"Total: mean over joints (poseval's Total); MOTA of the summed counts: {pct(result['total']['mota_pooled'])}%.", ""]
    return "\n".join(lines)


def evaluate_posetrack_files(pred_path: str | Path, gt_path: str | Path, out: str | Path, min_confidence: float = 0.0) -> tuple[dict, list[Path]]:
    """``simpose eval tracks --gt X.json``: score a run's 2D tracks, write ``out/results.json`` and ``.md``.

    The run's row t is video frame ``frame_index[t]``; it must cover every annotated frame (a run
    over the video's image folder, whose frame t is the file ``t`` of PoseTrack's numbering).
    """
    pred_path, gt_path, out = Path(pred_path), Path(gt_path), Path(out)
    gt, video = posetrack_gt(gt_path)
    seq = load_run(pred_path)
    pred, src = predictions_2d(seq, min_confidence)
    row = {int(f): t for t, f in enumerate(pred.frame_index)}
    missing = [int(f) for f in gt.frame_index if int(f) not in row]
    if missing:
        span = f"{pred.frame_index.min()}..{pred.frame_index.max()}" if pred.frame_index.size else "none"
        raise TracksError(f"{pred_path}: the run's frames ({span}, {pred.frame_index.size} frames) do not cover the annotated "
                          f"frames {missing[:10]}{' ...' if len(missing) > 10 else ''} of {gt_path.name}")  # fmt: skip
    rows = np.array([row[int(f)] for f in gt.frame_index], np.int64)
    pred = dataclasses.replace(pred, xy=pred.xy[rows], ok=pred.ok[rows], frame_index=pred.frame_index[rows])
    result = clear_mot(gt, pred)
    result = {"pred": str(pred_path), "gt": str(gt_path), "video": video, "pred_joint_set": src, "min_confidence": min_confidence, **result}
    return result, write_results(result, format_markdown(result, f"{pred_path.name} vs {gt_path.name} (2D tracking)"), out)
