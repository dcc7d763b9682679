"""Recall and speed of the multi-person 2D stage (``simpose.cues.people``), printed as tables.

    OMP_NUM_THREADS=1 python benchmarks/multiperson_2d.py [--skip-speed] [--skip-recall] [--tiles 1.0,0.5,0.3]

Recall: every annotated person (with at least one labelled keypoint) of the COCO val2017 and
PoseTrack18 val frames in ../shared/real, against the people found in each image
(:func:`detect_people_image`: detector on the frame and tiles, landmarks, skeleton NMS).
Predictions (blazepose33) go to coco17 by :mod:`simpose.body.joints`; people are paired by
Hungarian matching on COCO's OKS (area: COCO's segment area, PoseTrack's box area) and a pair
with OKS >= 0.5 counts as found. PCKh@0.5 (PoseTrack: 0.6 x the head box diagonal, MPII's
convention) and PCK@0.2 of the box (COCO, which has no head boxes) count every labelled joint
of every annotated person (a missed person's joints are misses); "people output" counts every
skeleton returned (unannotated people, e.g. PoseTrack's spectators, included). The single-person path
(``mp.solutions.pose``, static mode) is the baseline.

Videos (no annotations): people found per frame and tracks, against the people visible by eye
(counted on frames written by ``--frames-dir``: a person counts if at least head and torso
show and they are >= 50 px tall), and the stage's time per frame and per person tracked
against the single-person stage (``detect_keypoints``, video mode) on the same video. The
issue's target: at most 1.5x the single-person stage's time per person tracked.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from simpose.body.joints import convert
from simpose.cues.blazepose import BlazePose
from simpose.cues.keypoints import KeypointConfig, detect_keypoints
from simpose.cues.people import PeopleConfig, detect_people, detect_people_image, match
from simpose.cues.video import open_video
from simpose.data.coco import load_coco_keypoints
from simpose.data.paths import shared_dir
from simpose.data.posetrack import load_posetrack
from simpose.eval.metrics import oks, pck2d

# people visible by eye (head and torso showing, >= 50 px tall) on frames 0 and the last
# (the footballers: 3, and the goalkeeper entering in the last frame),
# counted on the PNGs --frames-dir writes; see the module docstring
VISIBLE = {"single_person_demo.mp4": "1", "multi_person_demo.mp4": "2", "street_demo.mp4": "12", "000001_mpiinew_test.mp4": "3-4"}


def load_image(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def evaluate(samples, predict, areas, ref: str) -> dict:
    """Recall and PCK of ``predict(image) -> (P, 17, 2) coco17`` over samples."""
    n_gt = n_found = n_pred = 0
    oks_found, hits = [], []
    for s in samples:
        people = [p for p in s.people if p.joints2d_valid.any()]
        if not people:
            continue
        pred = predict(load_image(s.image_path))
        n_pred += len(pred)
        gt = np.stack([np.nan_to_num(p.joints2d) for p in people])
        vis = np.stack([p.joints2d_valid for p in people])
        area = np.array([areas(p) for p in people])
        n_gt += len(people)
        if ref == "head":
            size = np.array([0.6 * np.hypot(*p.meta["bbox_head"][2:]) for p in people])
        else:
            size = np.array([max(p.bbox_xywh[2:]) for p in people])
        thr = 0.5 if ref == "head" else 0.2
        matched = {}
        if len(pred):
            sim = np.stack([oks(pred, np.broadcast_to(g, pred.shape), np.broadcast_to(v, pred.shape[:2]), a) for g, v, a in zip(gt, vis, area)])
            for g, p in match(np.nan_to_num(sim), 0.5 - 1e-9):
                matched[g] = p
                oks_found.append(sim[g, p])
        n_found += len(matched)
        for g in range(len(people)):
            if g in matched:
                h = pck2d(pred[matched[g]], gt[g], vis[g], thr, ref=ref if ref == "head" else "bbox", ref_size=size[g], per_joint=True)
                hits.extend(h[vis[g]])
            else:
                hits.extend([0.0] * int(vis[g].sum()))
    return {"annotated": n_gt, "found": n_found, "predicted": n_pred, "recall": 100 * n_found / max(n_gt, 1),
            "oks": float(np.mean(oks_found)) if oks_found else float("nan"), "pck": float(np.mean(hits))}  # fmt: skip


def multi_predictor(model: BlazePose, config: PeopleConfig):
    def predict(image: np.ndarray) -> np.ndarray:
        people = detect_people_image(image, config, model)
        if not people:
            return np.zeros((0, 17, 2))
        return convert(np.stack([p.keypoints for p in people]).astype(np.float64), "blazepose33", "coco17")

    return predict


def single_predictor():
    def predict(image: np.ndarray) -> np.ndarray:
        kp, _ = detect_keypoints([image], KeypointConfig(static_image_mode=True, smooth_landmarks=False, segmentation=False))
        if not kp.valid[0, 0]:
            return np.zeros((0, 17, 2))
        return convert(kp.keypoints[0].astype(np.float64), "blazepose33", "coco17")

    return predict


def recall_table(shared: Path, model: BlazePose, config: PeopleConfig) -> None:
    coco_json = shared / "real" / "coco" / "test_coco.json"
    raw = json.loads(coco_json.read_text())
    area_by_id = {a["id"]: a["area"] for a in raw["annotations"]}
    coco = load_coco_keypoints(coco_json)
    posetrack = load_posetrack(shared / "real" / "posetrack18" / "annotations" / "val")
    sets = [
        ("coco val2017 (4 images)", coco, lambda p: area_by_id[p.meta["annotation_id"]], "bbox"),
        ("posetrack18 val (3 frames)", posetrack, lambda p: float(p.bbox_xywh[2] * p.bbox_xywh[3]), "head"),
    ]
    print("\n## Recall against annotated people (OKS-matched at 0.5)\n")
    print("| data | method | annotated | found | recall % | mean OKS of found | PCK % (all annotated joints) | people output |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, samples, areas, ref in sets:
        for method, predict in (("single-person mp.solutions.pose", single_predictor()), ("multi-person (cues.people)", multi_predictor(model, config))):
            r = evaluate(samples, predict, areas, ref)
            metric = "PCKh@0.5" if ref == "head" else "PCK@0.2 box"
            print(f"| {name} | {method} | {r['annotated']} | {r['found']} | {r['recall']:.0f} | {r['oks']:.2f} | {r['pck']:.1f} ({metric}) | {r['predicted']} |")


def agreement_table(shared: Path, model: BlazePose, config: PeopleConfig) -> None:
    """The one person of the single-person demo: direct decoding vs mp.solutions.pose."""
    from simpose.cues.blazepose import roi_from_points

    source = open_video(shared / "real" / "videos" / "single_person_demo.mp4")
    frames = [f for _, f in source.frames()]
    print("\n## Agreement with mp.solutions.pose on single_person_demo.mp4 (1080x1920, 40 frames; pixels)\n")
    print("| comparison | median | p90 | max | world landmarks, median mm |")
    print("| --- | ---: | ---: | ---: | ---: |")
    ref, _ = detect_keypoints(frames, KeypointConfig(static_image_mode=True, smooth_landmarks=False, segmentation=False))
    errs, werrs = [], []
    for t, frame in enumerate(frames):  # static mode: the same detection, the same ROI
        _, kps, _ = model.detect(frame)
        if len(kps) and ref.valid[t, 0]:
            c = model.landmarks(frame, roi_from_points(kps[0, 0], kps[0, 1]))
            errs.append(np.linalg.norm(c.keypoints - ref.keypoints[t, 0], axis=-1))
            werrs.append(np.linalg.norm(c.world - ref.world[t, 0], axis=-1))
    rows = [("static mode: BlazePose.detect + landmarks vs mp (static)", np.concatenate(errs), np.concatenate(werrs))]
    ref_video, _ = detect_keypoints(frames, KeypointConfig(segmentation=False))
    out = detect_people(source, config, model=model).keypoints
    p = 0 if out.num_people else None
    if p is not None:
        both = out.valid[:, p] & ref_video.valid[:, 0]
        d = np.linalg.norm(out.keypoints[both, p] - ref_video.keypoints[both, 0], axis=-1).ravel()
        w = np.linalg.norm(out.world[both, p] - ref_video.world[both, 0], axis=-1).ravel()
        rows.append((f"video mode: detect_people (smoothing {config.smooth_landmarks}) vs mp (video, smoothed)", d, w))
    for name, d, w in rows:
        print(f"| {name} | {np.median(d):.2f} | {np.percentile(d, 90):.2f} | {d.max():.1f} | {1000 * np.median(w):.1f} |")


def video_table(videos: list[Path], model: BlazePose, config: PeopleConfig, skip_speed: bool, frames_dir: Path | None, repeat: int) -> None:
    print("\n## Videos: people found vs visible, and speed (CPU, 1 thread per model)\n")
    print("| video | frames | visible (by eye) | found per frame (mean, min-max) | tracks | detector frames "
          "| multi s/frame | person-frames | multi s/person-frame | single-person s/frame | ratio |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for video in videos:
        source = open_video(video)
        t_multi = float("inf")
        for _ in range(repeat):  # the machine is shared: the fastest of the repeats
            t0 = time.perf_counter()
            out = detect_people(source, config, model=model)
            t_multi = min(t_multi, time.perf_counter() - t0)
        kp = out.keypoints
        per_frame = kp.valid.sum(1)
        person_frames = int(per_frame.sum())
        if frames_dir is not None:
            write_frames(source, out, frames_dir)
        single = ratio = float("nan")
        if not skip_speed:
            single = float("inf")
            for _ in range(repeat):  # both stages timed with decoding, as the run streams frames
                t0 = time.perf_counter()
                single_kp, _ = detect_keypoints((f for _, f in source.frames()), KeypointConfig(segmentation=False))
                single = min(single, (time.perf_counter() - t0) / single_kp.num_frames)
            ratio = t_multi / max(person_frames, 1) / single
        T = kp.num_frames
        print(f"| {video.name} | {T} | {VISIBLE.get(video.name, '?')} | {per_frame.mean():.1f} ({per_frame.min()}-{per_frame.max()}) "
              f"| {kp.num_people} | {int(out.detector_frames.sum())} | {t_multi / T:.3f} | {person_frames} "
              f"| {t_multi / max(person_frames, 1):.3f} | {single:.3f} | {ratio:.2f} |")  # fmt: skip


def write_frames(source, out, folder: Path) -> None:
    """First and last frame with each track's landmarks and id (for counting people by eye)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    kp = out.keypoints
    last = kp.num_frames - 1
    for t, image in source.frames():
        if t not in (0, last):
            continue
        img = image.copy()
        for p in range(kp.num_people):
            if not kp.valid[t, p]:
                continue
            colour = tuple(int(c) for c in np.random.default_rng(int(out.track_ids[p])).integers(60, 255, 3))
            for j in np.flatnonzero(kp.confidence[t, p] > 0.5):
                cv2.circle(img, tuple(int(v) for v in kp.keypoints[t, p, j]), max(2, img.shape[0] // 250), colour, -1)
            x, y = kp.keypoints[t, p, 0]
            cv2.putText(img, str(out.track_ids[p]), (int(x), int(y) - 10), cv2.FONT_HERSHEY_SIMPLEX, img.shape[0] / 800, colour, 2)
        cv2.imwrite(str(folder / f"{Path(source.path).stem}_{t}.png"), img[:, :, ::-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-speed", action="store_true", help="no single-person timing")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="time each stage this many times, keep the fastest")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--detect-every", type=int, default=PeopleConfig.detect_every)
    parser.add_argument("--detection-threshold", type=float, default=PeopleConfig.detection_threshold)
    parser.add_argument("--tiles", type=str, default=None, help="tile fractions, e.g. 1.0,0.5,0.3 (default: PeopleConfig's)")
    parser.add_argument("--frames-dir", type=Path, default=None, help="write first/last frames with tracks here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    shared = shared_dir()
    if shared is None:
        raise SystemExit("../shared is not beside this clone; set SIMPOSE_SHARED")
    config = PeopleConfig(num_threads=args.threads, detect_every=args.detect_every, detection_threshold=args.detection_threshold)
    if args.tiles:
        config = dataclasses.replace(config, tile_fractions=tuple(float(f) for f in args.tiles.split(",")))
    model = BlazePose(args.threads, config.detection_threshold)
    print(f"# multi-person 2D (simpose.cues.people), {config}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    if not args.skip_recall:
        agreement_table(shared, model, config)
        recall_table(shared, model, config)
    videos = [shared / "real" / "videos" / n for n in ("single_person_demo.mp4", "multi_person_demo.mp4", "street_demo.mp4")]
    videos.append(shared / "real" / "posetrack18" / "videos" / "000001_mpiinew_test" / "000001_mpiinew_test.mp4")
    video_table(videos, model, config, args.skip_speed, args.frames_dir, args.repeat)


if __name__ == "__main__":
    main()
