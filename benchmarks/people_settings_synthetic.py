"""The multi-person 2D stage's settings, compared on rendered people (where every person is known).

    OMP_NUM_THREADS=1 python benchmarks/people_settings_synthetic.py --out /tmp/people_settings [--clips 6 --seed 11]
    OMP_NUM_THREADS=1 python benchmarks/people_settings_synthetic.py --out /tmp/people_crowded --people 4 --spacing 0.3

``simpose.cues.people``'s thresholds (skeleton NMS, detector score, the track gate, how often
the detector sweeps) are chosen here, on ``simpose synth --people 3`` clips (640x640, 30 frames,
the engine's default scenes: truncation by the border, occluders; ``--spacing`` sets how close
people start, so a crowded set makes people overlap, which is what skeleton NMS is for), written as mp4 and run
through :func:`simpose.cues.people.detect_people` as ``simpose run --people all`` does. Real
frames (COCO, PoseTrack, the demo videos: ``benchmarks/multiperson_2d.py``) only evaluate.

Per frame, detections are matched to the rendered people (Hungarian on COCO's OKS over the
coco17 joints, area from the person's visible-joint box, a match needs OKS >= 0.5). A rendered
person counts where at least 6 of its coco17 joints are visible (not outside the frame, not
self-, person- or occluder-occluded). recall = matched / counted people; precision = matched /
detections; duplicates = unmatched detections with OKS >= 0.5 to a matched person (one person
found twice: what skeleton NMS must remove); ID switches = changes of the track matched to a
person between consecutive matched frames.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from simpose.body.joints import convert
from simpose.cues.blazepose import BlazePose
from simpose.cues.people import PeopleConfig, detect_people
from simpose.cues.video import open_video
from simpose.data.synthetic import read_clip
from simpose.eval.metrics import oks
from simpose.synth.writer import synthesize
from simpose.viz.video import write_video

SIZE, FRAMES, FPS = 640, 30, 30.0
MIN_VISIBLE = 6
VARIANTS = {
    "defaults": {},
    "nms_similarity 0.3": {"nms_similarity": 0.3},
    "nms_similarity 0.7": {"nms_similarity": 0.7},
    "detection_threshold 0.3": {"detection_threshold": 0.3},
    "mask_overlap 0.6": {"mask_overlap": 0.6},
    "mask_overlap 0.95": {"mask_overlap": 0.95},
    "match_similarity 0.1": {"match_similarity": 0.1},
    "match_similarity 0.4": {"match_similarity": 0.4},
    "detect_every 10": {"detect_every": 10},
}


def score_clip(det, gt2d: np.ndarray, visible: np.ndarray) -> dict[str, int]:
    """Counts of one clip. gt2d: (T, G, 17, 2) coco17 pixels; visible: (T, G, 17) bool."""
    pred = convert(det.keypoints.keypoints.astype(np.float64), "blazepose33", "coco17")  # (T, P, 17, 2)
    counts = {"people": 0, "matched": 0, "detections": 0, "duplicates": 0, "id_switches": 0}
    last = {}
    for t in range(len(gt2d)):
        counted = np.flatnonzero(visible[t].sum(-1) >= MIN_VISIBLE)
        found = np.flatnonzero(det.keypoints.valid[t])
        counts["people"] += len(counted)
        counts["detections"] += len(found)
        if not len(counted) or not len(found):
            continue
        g = gt2d[t, counted]
        v = visible[t, counted]
        lo = np.where(v[..., None], g, np.inf).min(1)
        hi = np.where(v[..., None], g, -np.inf).max(1)
        area = np.maximum(np.prod(hi - lo, -1), 1.0)
        shape = (len(counted), len(found))
        pg, gg = np.broadcast_arrays(pred[t, found][None], g[:, None])
        sim = oks(pg, gg, np.broadcast_to(v[:, None], shape + (17,)), np.broadcast_to(area[:, None], shape))  # (G', P')
        rows, cols = linear_sum_assignment(-sim)
        hit = sim[rows, cols] >= 0.5
        counts["matched"] += int(hit.sum())
        matched_dets = set(cols[hit].tolist())
        counts["duplicates"] += int(sum((sim[:, c] >= 0.5).any() for c in range(len(found)) if c not in matched_dets))
        for r, c in zip(rows[hit], cols[hit]):
            person, track = int(counted[r]), int(det.track_ids[found[c]])
            counts["id_switches"] += int(person in last and last[person] != track)
            last[person] = track
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--people", type=int, default=3, help="At most this many people per clip.")
    parser.add_argument("--spacing", type=float, default=1.0, help="SceneConfig.spacing_m: least distance between people's start positions (m).")
    args = parser.parse_args()
    paths = synthesize(args.out / "clips", args.clips, FRAMES, SIZE, seed=args.seed, people=args.people, options={"spacing_m": args.spacing})
    clips = []
    for path in paths:
        clip = read_clip(path)
        video = args.out / f"{path.stem}.mp4"
        if not video.is_file():
            write_video(video, clip["rgb"], FPS)
        clips.append((open_video(video), clip["joints2d"]["coco17"], clip["visible"]["coco17"]))
    models: dict[float, BlazePose] = {}  # the detector's score threshold is the model's
    print(f"{len(paths)} clips, {sum(len(c[1]) for c in clips)} frames, "
          f"{sum(int((c[2].sum(-1) >= MIN_VISIBLE).sum()) for c in clips)} person-frames with >= {MIN_VISIBLE} visible joints\n")  # fmt: skip
    print("| settings | recall % | precision % | duplicates | ID switches |")
    print("|---|---:|---:|---:|---:|")
    for name, change in VARIANTS.items():
        config = dataclasses.replace(PeopleConfig(), **change)
        model = models.setdefault(config.detection_threshold, BlazePose(config.num_threads, config.detection_threshold))
        total = dict.fromkeys(("people", "matched", "detections", "duplicates", "id_switches"), 0)
        for source, gt2d, visible in clips:
            for k, v in score_clip(detect_people(source, config, model=model), gt2d, visible).items():
                total[k] += v
        print(f"| {name} | {100 * total['matched'] / max(total['people'], 1):.1f} | "
              f"{100 * total['matched'] / max(total['detections'], 1):.1f} | {total['duplicates']} | {total['id_switches']} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
