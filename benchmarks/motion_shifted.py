"""The motion ablation's synthetic column on domain-shifted clips: photographic backgrounds the training never saw (issue 22).

    # 1. person-free background crops of the real images in ../shared/real (COCO, PoseTrack, Human3.6M)
    python benchmarks/motion_shifted.py backgrounds --out /work/runs/h22b/backgrounds
    # 2. a small detector cache rendered on them (another seed than the training cache's 3) and its motion crops;
    #    the same without --backgrounds (detcache_proc, crops_proc): the same scenes on procedural backgrounds
    simpose synth --detect --out /work/runs/h22b/detcache --clips 20 --frames 48 --size 448 --people 3 \\
      --truncated 0.15 --occluders 0.4 --max-occluders 2 --motion-blur 0.5 --noise 4 --jpeg 40 --seed 11 \\
      --backgrounds /work/runs/h22b/backgrounds
    simpose synth --motion-crops /work/runs/h22b/detcache --out /work/runs/h22b/crops --crop 64
    # 3. every clip of each set through each weights file, next to the training cache's held-out numbers
    python benchmarks/motion_shifted.py score --crops photo=/work/runs/h22b/crops procedural=/work/runs/h22b/crops_proc \\
      --weights keypoints=/work/runs/motion/ablation_all/keypoints/motion.pt ... \\
      --in-dist /work/runs/motion/all_out/results.json ...   # benchmarks/motion_ablation.py's results of those weights

The scene draws the background second to last (only the light after it; people, motion, camera,
truncation, occluders and degradations come first or from streams of their own), so the same
seed with and without ``--backgrounds`` gives the same clips on another background (and light):
a paired control for the small set's own difficulty. With two or more sets, each is also scored
on the common frames (the detector found the same rendered person in every set): MediaPipe loses
people more often on photographs, and frames it loses are not scored.

The motion crop cache the rows trained on (/work/runs/motion/cache, its detector cache built with
``backgrounds: null``) has only procedural backgrounds (smooth noise, gradients, stripes:
:func:`simpose.render.appearance.procedural_background`), so any photograph is an unseen
background. The clothing textures are the renderer's own (procedural colours and patterns) in
both sets: only the background shifts here.

Background crops: squares of 4 sizes (at least 96 px) on a grid of each image, kept when they miss every annotated
person box (grown by 15 % and 8 px) and PoseTrack's ignore regions (crowds), greedily, at most
``--per-image`` per image, overlapping less than a third. The contact sheet
``OUT_sheet.png`` (next to OUT) is there to check by eye that no person is left.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir


def person_free_squares(size: tuple[int, int], boxes: np.ndarray, ignore: np.ndarray | None, per_image: int) -> list[tuple[int, int, int]]:
    """Squares (x0, y0, side) of an image that miss every person box and ignore pixel.

    Args:
        size: (width, height) of the image.
        boxes: (N, 4) person boxes x, y, w, h in pixels.
        ignore: (H, W) bool, True where a region must not be used (crowds), or None.
        per_image: at most this many squares, largest first, overlapping less than 1/3 of each.
    """
    w, h = size
    grown = [(x - 0.15 * bw - 8, y - 0.15 * bh - 8, x + 1.15 * bw + 8, y + 1.15 * bh + 8) for x, y, bw, bh in boxes]
    kept: list[tuple[int, int, int]] = []
    for frac in (0.7, 0.5, 0.35, 0.25):
        s = int(frac * min(w, h))
        if s < 96:  # upscaled more than 4.7x to the 448 px render: too blurry to count as a photo
            continue
        for y0 in range(0, h - s + 1, max(s // 4, 1)):
            for x0 in range(0, w - s + 1, max(s // 4, 1)):
                if any(x0 < bx1 and x0 + s > bx0 and y0 < by1 and y0 + s > by0 for bx0, by0, bx1, by1 in grown):
                    continue
                if ignore is not None and ignore[y0 : y0 + s, x0 : x0 + s].any():
                    continue
                overlap = [max(0, min(x0 + s, kx + ks) - max(x0, kx)) * max(0, min(y0 + s, ky + ks) - max(y0, ky)) for kx, ky, ks in kept]
                if all(o < s * s / 3 for o in overlap):
                    kept.append((x0, y0, s))
                if len(kept) >= per_image:
                    return kept
    return kept


def make_backgrounds(real: Path, out: Path, per_image: int) -> list[Path]:
    """Write person-free square crops of ``real``'s annotated images to ``out``; a contact sheet ``out_sheet.png`` next to it."""
    import cv2

    images: list[tuple[Path, np.ndarray, np.ndarray | None]] = []  # (image, person boxes xywh, ignore mask)
    coco = json.loads((real / "coco" / "test_coco.json").read_text())
    for im in coco["images"]:
        boxes = np.array([a["bbox"] for a in coco["annotations"] if a["image_id"] == im["id"]]).reshape(-1, 4)
        images.append((real / "coco" / im["file_name"], boxes, None))
    pt = json.loads((real / "posetrack18" / "annotations" / "test_posetrack18_val.json").read_text())
    for im in pt["images"]:
        boxes = np.array([a["bbox"] for a in pt["annotations"] if a["image_id"] == im["id"] and a.get("bbox")]).reshape(-1, 4)
        mask = cv2.imread(str(real / "posetrack18" / im["mask_file"]), cv2.IMREAD_GRAYSCALE)
        ignore = cv2.dilate((mask > 128).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0  # white: the ignore regions
        images.append((real / "posetrack18" / im["file_name"], boxes, ignore))
    h36m = np.load(real / "h36m" / "test_h36m_body3d.npz")
    for name, c, s in zip(h36m["imgname"], h36m["center"], h36m["scale"]):
        side = float(s) * 200  # the person box's side
        images.append((real / "h36m" / str(name), np.array([[c[0] - side / 2, c[1] - side / 2, side, side]]), None))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, boxes, ignore in images:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        for k, (x0, y0, s) in enumerate(person_free_squares((img.shape[1], img.shape[0]), boxes, ignore, per_image)):
            dst = out / f"{path.parent.name}_{path.stem}_{k}.jpg"
            cv2.imwrite(str(dst), img[y0 : y0 + s, x0 : x0 + s], [cv2.IMWRITE_JPEG_QUALITY, 95])
            written.append(dst)
    thumbs = [cv2.resize(cv2.imread(str(p)), (160, 160), interpolation=cv2.INTER_AREA) for p in written]
    thumbs += [np.zeros_like(thumbs[0])] * (-len(thumbs) % 8)
    rows = [np.concatenate(thumbs[i : i + 8], 1) for i in range(0, len(thumbs), 8)]
    cv2.imwrite(str(out.parent / f"{out.name}_sheet.png"), np.concatenate(rows, 0))  # outside: the folder is read as backgrounds
    return written


def common_frames(sets: dict[str, Path], indices: list[int]) -> dict[int, np.ndarray]:
    """Per clip index, (T,) bool: the frames where the detector found the same rendered person in every
    crop cache of ``sets`` (paired sets: the same scenes on other backgrounds)."""
    from simpose.synth.detcache import det_path, read_detector_clip
    from simpose.synth.motion_crops import MANIFEST

    detcaches = [json.loads((c / MANIFEST).read_text())["detcache"] for c in sets.values()]
    keep = {}
    for i in indices:
        people = np.stack([read_detector_clip(det_path(d, i)).person for d in detcaches])  # (sets, T)
        keep[i] = (people >= 0).all(0) & (people == people[0]).all(0)
    return keep


def score(crops: Path, weights: dict[str, Path], indices: list[int], keep: dict[int, np.ndarray] | None = None) -> dict:
    """Clips ``indices`` of the crop cache ``crops`` (frames ``keep``) through each weights file:
    motion_ablation.held_out_synthetic's numbers per name."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from motion_ablation import held_out_synthetic

    from simpose.models.motion import MotionModel

    return {name: held_out_synthetic(MotionModel.from_weights(w), crops, indices, keep) for name, w in weights.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    bg = sub.add_parser("backgrounds")
    bg.add_argument("--out", type=Path, required=True)
    bg.add_argument("--real", type=Path, default=(shared_dir() or Path("../shared")) / "real")
    bg.add_argument("--per-image", type=int, default=4)
    sc = sub.add_parser("score")
    sc.add_argument("--crops", nargs="+", required=True, help="NAME=DIR of motion crop caches, one column each")
    sc.add_argument("--weights", nargs="+", required=True, help="NAME=PATH of motion.pt files, one row each")
    sc.add_argument("--in-dist", nargs="*", default=[], help="results.json files of benchmarks/motion_ablation.py holding the rows' in-distribution held-out numbers")
    sc.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.step == "backgrounds":
        written = make_backgrounds(args.real, args.out, args.per_image)
        print(f"{len(written)} background crops in {args.out} (check {args.out.parent / (args.out.name + '_sheet.png')} by eye)")
        return
    weights = {k: Path(v) for k, v in (w.split("=", 1) for w in args.weights)}
    sets = {k: Path(v) for k, v in (c.split("=", 1) for c in args.crops)}
    indices = sorted(set.intersection(*({int(f.stem.split("_")[1]) for f in c.glob("crops_*.npz")} for c in sets.values())))
    scores = {set_name: score(crops, weights, indices) for set_name, crops in sets.items()}  # each set's own found frames
    if len(sets) > 1:  # and the frames found in every set: the detector misses more on some backgrounds
        keep = common_frames(sets, indices)
        scores.update({f"{set_name}, common frames": score(crops, weights, indices, keep) for set_name, crops in sets.items()})
    in_dist = {}  # weights path -> the ablation's held-out synthetic numbers of that row
    for f in args.in_dist:
        for row in json.loads(Path(f).read_text())["rows"].values():
            in_dist[str(Path(row["weights"]).resolve())] = row["synthetic"]
    head = "| weights | training cache's held-out clips MPJPE / PA-MPJPE (frames) |" + "".join(f" {n} MPJPE / PA-MPJPE (frames) |" for n in scores)
    lines = [head, "|---|---:|" + "---:|" * len(scores)]
    for name, w in weights.items():
        ref = in_dist.get(str(w.resolve()))
        cells = [f"{r['mpjpe_mm']:.1f} / {r['pa_mpjpe_mm']:.1f} ({r['frames']})" if r else "-" for r in [ref] + [scores[n][name] for n in scores]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.out:
        result = {"crops": {n: str(c) for n, c in sets.items()}, "weights": {n: str(w) for n, w in weights.items()}, "scores": scores,
                  "in_distribution": {n: in_dist.get(str(w.resolve())) for n, w in weights.items()}}  # fmt: skip
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
