"""The flow input's domain gap, measured: DIS flow crops on the renders vs on the real video (issue 22).

    python benchmarks/motion_flow_stats.py --crops /work/runs/motion/cache [--clips 428] \\
        [--out docs/results/motion_ablation]

The flow crops as the motion network sees them (crop pixels of the pair's first frame; the
network divides by 4): on the synthetic side the motion crop cache's ``flow_dis`` (and the
renderer's exact ``flow_gt`` of the same crops), on the real side the 4 pose2sim views through
:func:`simpose.track.motion_video.motion_track` (the function the ablation's real column uses:
BlazePose from the cue cache, every 2nd frame = 30 fps, the cache's crop settings, DIS).

The person's region on both sides is :func:`simpose.cues.crops.person_mask` of the flow's first
frame (capsules along the detector's skeleton: the crop cache stores no rendered mask and the real
video has none, so one definition for both). Pairs: both frames detected, no box jump.

Per side: the person's share of the crop; RMS flow magnitude on / off the person; the share of
the flow energy (sum of squared magnitudes) off the person; the RMS of the per-pair median flow on
the person (its translation in the crop) and off it (camera or background motion); the RMS of the
flow on the person minus that median (the limbs' motion relative to the body); magnitude
percentiles. Synthetic DIS also against the exact flow: RMS end-point error on / off the person;
and both for near people only (crop box side >= ``--large`` image px, of 448 px renders).
Writes ``OUT/flow_stats.md`` and ``OUT/flow_stats.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir


def pair_stats(flow: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pair sums of one side's flow crops.

    Args:
        flow: (N, S, S, 2) crop pixels. mask: (N, S, S) bool, the person in the pair's first frame.
    Returns:
        per pair (N,): ``on_n``, ``off_n`` pixel counts, ``on_e``, ``off_e`` sums of squared
        magnitudes, ``on_med``, ``off_med`` (N, 2) median flow on / off the person (off: pixels
        with any flow, i.e. inside the DIS region), ``art_e`` sum of squared magnitudes of the
        flow on the person minus ``on_med``; and the magnitudes on / off (flattened, for percentiles).
    """
    mag2 = (flow**2).sum(-1)
    out = {"on_n": mask.sum((1, 2)), "off_n": (~mask).sum((1, 2)), "on_e": (mag2 * mask).sum((1, 2)), "off_e": (mag2 * ~mask).sum((1, 2))}
    on_med, off_med, art = np.zeros((len(flow), 2)), np.zeros((len(flow), 2)), np.zeros(len(flow))
    for i, (f, m) in enumerate(zip(flow, mask)):
        on_med[i] = np.median(f[m], 0) if m.any() else 0.0
        off = f[~m & (np.abs(f).sum(-1) > 0)]
        off_med[i] = np.median(off, 0) if len(off) else 0.0
        art[i] = ((f[m] - on_med[i]) ** 2).sum()
    out.update(on_med=on_med, off_med=off_med, art_e=art, mag_on=np.sqrt(mag2[mask]), mag_off=np.sqrt(mag2[~mask]))
    return out


def summarise(parts: list[dict]) -> dict:
    """Pooled numbers of one side from :func:`pair_stats` of its clips."""
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    on_n, off_n = cat["on_n"].sum(), cat["off_n"].sum()
    q = lambda x: [float(v) for v in np.percentile(x, [50, 90, 99])]  # noqa: E731
    return {
        "pairs": int(len(cat["on_n"])),
        "median_box_side_px": float(np.median(cat["side"])),
        "person_share": float(on_n / (on_n + off_n)),
        "rms_on_px": float(np.sqrt(cat["on_e"].sum() / on_n)),
        "rms_off_px": float(np.sqrt(cat["off_e"].sum() / off_n)),
        "off_energy_share": float(cat["off_e"].sum() / (cat["on_e"].sum() + cat["off_e"].sum())),
        "rms_person_median_px": float(np.sqrt((cat["on_med"] ** 2).sum(-1).mean())),
        "rms_background_median_px": float(np.sqrt((cat["off_med"] ** 2).sum(-1).mean())),
        "rms_on_minus_median_px": float(np.sqrt(cat["art_e"].sum() / on_n)),
        "on_p50_p90_p99_px": q(cat["mag_on"]),
        "off_p50_p90_p99_px": q(cat["mag_off"]),
    }


def synthetic_side(crops: Path, clips: int | None, large: float) -> dict:
    """DIS and exact flow of the crop cache's clips, and DIS's error against the exact flow; also
    for the pairs whose crop box side is at least ``large`` image pixels (near people)."""
    from simpose.cues.crops import box_cuts, keypoints_in_crop, person_mask
    from simpose.synth.detcache import det_path, read_detector_clip
    from simpose.synth.motion_crops import MANIFEST, read_motion_crops

    manifest = json.loads((crops / MANIFEST).read_text())
    size = manifest["crop"]["size"]
    dis, gt, err, dis_large, err_large = [], [], [], [], []
    for f in sorted(crops.glob("crops_*.npz"))[:clips]:
        c = read_motion_crops(f)
        det = read_detector_clip(det_path(manifest["detcache"], int(f.stem.split("_")[1])))
        conf = np.where(det.valid[:, None], det.confidence, 0.0)
        mask = person_mask(keypoints_in_crop(det.keypoints, c["boxes"]), conf, size)[:-1]
        ok = det.valid[:-1] & det.valid[1:] & ~box_cuts(c["boxes"])[1:]
        if not ok.any():
            continue
        dis.append({**pair_stats(c["flow_dis"][ok], mask[ok]), "side": c["boxes"][:-1, 2][ok]})
        gt.append({**pair_stats(c["flow_gt"][ok], mask[ok]), "side": c["boxes"][:-1, 2][ok]})
        err.append({**pair_stats(c["flow_dis"][ok] - c["flow_gt"][ok], mask[ok]), "side": c["boxes"][:-1, 2][ok]})
        near = ok & (c["boxes"][:-1, 2] >= large)
        if near.any():
            dis_large.append({**pair_stats(c["flow_dis"][near], mask[near]), "side": c["boxes"][:-1, 2][near]})
            err_large.append({**pair_stats(c["flow_dis"][near] - c["flow_gt"][near], mask[near]), "side": c["boxes"][:-1, 2][near]})
    return {"dis": summarise(dis), "gt": summarise(gt), "dis_error": summarise(err), "dis_large": summarise(dis_large), "dis_error_large": summarise(err_large), "large_px": large}


def real_side(data: Path, crop_config: dict) -> dict:
    """DIS flow crops of the real views, made as the ablation's real column makes them."""
    from simpose.cues.crops import CropConfig, box_cuts, person_mask
    from simpose.track.motion_video import motion_track
    from simpose.track.run import default_cache_dir

    parts, per_view = [], {}
    for video in sorted(data.glob("cam*.mp4")):
        track = motion_track(video, 30.0, CropConfig.from_dict(crop_config), str(default_cache_dir()))
        conf = track.inputs["keypoints"][:, :, 2].numpy()
        mask = person_mask(track.crops.keypoints, conf, track.crops.rgb.shape[1])[:-1]
        ok = track.valid[:-1] & track.valid[1:] & ~box_cuts(track.crops.boxes)[1:]
        p = {**pair_stats(track.crops.flow[ok], mask[ok]), "side": track.crops.boxes[:-1, 2][ok]}
        parts.append(p)
        per_view[video.stem] = summarise([p])
    return {"dis": summarise(parts), "per_view": per_view}


ROWS = [  # (label, key, format)
    ("pairs", "pairs", "{:d}"),
    ("median crop box side (image px)", "median_box_side_px", "{:.0f}"),
    ("person's share of the crop", "person_share", "{:.2f}"),
    ("RMS flow on the person (crop px)", "rms_on_px", "{:.3f}"),
    ("RMS flow off the person (crop px)", "rms_off_px", "{:.3f}"),
    ("off / on RMS", None, "{:.2f}"),
    ("share of the flow energy off the person", "off_energy_share", "{:.2f}"),
    ("RMS of the per-pair median flow on the person (crop px)", "rms_person_median_px", "{:.3f}"),
    ("RMS of the per-pair median flow off the person (crop px)", "rms_background_median_px", "{:.3f}"),
    ("RMS flow on the person minus its median (crop px)", "rms_on_minus_median_px", "{:.3f}"),
    ("magnitude on the person p50 / p90 / p99 (crop px)", "on_p50_p90_p99_px", None),
    ("magnitude off the person p50 / p90 / p99 (crop px)", "off_p50_p90_p99_px", None),
]


def markdown(results: dict) -> str:
    cols = [("synthetic DIS", results["synthetic"]["dis"]), ("synthetic exact flow", results["synthetic"]["gt"]),
            ("synthetic DIS - exact (error)", results["synthetic"]["dis_error"]),
            (f"synthetic DIS, box >= {results['synthetic']['large_px']:.0f} px", results["synthetic"]["dis_large"]),
            (f"its error, box >= {results['synthetic']['large_px']:.0f} px", results["synthetic"]["dis_error_large"]),
            ("real DIS (4 views)", results["real"]["dis"])]  # fmt: skip
    lines = ["| | " + " | ".join(c for c, _ in cols) + " |", "|---|" + "---:|" * len(cols)]
    for label, key, fmt in ROWS:
        cells = []
        for _, r in cols:
            if key is None:
                cells.append(fmt.format(r["rms_off_px"] / r["rms_on_px"]))
            elif fmt is None:
                cells.append(" / ".join(f"{v:.2f}" for v in r[key]))
            else:
                cells.append(fmt.format(r[key]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Real, per view (RMS on / off the person, off energy share): " + "; ".join(
        f"{v} {r['rms_on_px']:.3f} / {r['rms_off_px']:.3f}, {r['off_energy_share']:.2f}" for v, r in results["real"]["per_view"].items())]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    from simpose.synth.motion_crops import MANIFEST

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=None, help="first N clips of the cache (default: all)")
    parser.add_argument("--large", type=float, default=400.0, help="crop box side (image px) of the near-people columns")
    parser.add_argument("--data", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim")
    parser.add_argument("--out", type=Path, default=Path("docs/results/motion_ablation"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    crop_config = json.loads((args.crops / MANIFEST).read_text())["crop"]
    results = {"synthetic": synthetic_side(args.crops, args.clips, args.large), "real": real_side(args.data, crop_config), "crops": str(args.crops)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flow_stats.json").write_text(json.dumps(results, indent=2))
    (args.out / "flow_stats.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
