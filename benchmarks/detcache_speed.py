"""Detector-cache frames per second, bytes per frame, and the detector's error on the renders.

    python benchmarks/detcache_speed.py [--clips 4] [--frames 48] [--size 448] [--people 3]
    python benchmarks/detcache_speed.py --cache /work/detcache     # report on a built cache only

Build mode: one :class:`~simpose.synth.detcache.DetectorCacheBuilder` with the scene options of
the shipped cache's build (README), one warm-up clip (shader compilation, regressors, the
detector graph, retargeting of its BVH file), then ``--clips`` clips timed stage by stage:
render (scene + rasterizer + degradations), detect (``simpose run``'s MediaPipe 2D stage, in
tracking mode over the clip) and encode (the record's npz bytes). Wall-clock rates on a shared
machine drop with its load; the process CPU time per frame is printed too.

Both modes print the definition gap (:func:`~simpose.synth.detcache.definition_gap`): per
BlazePose joint, the detector's mean error in % of the torso diagonal and PCK@0.2 torso, on the
joints visible in the render, against the body model's own BlazePose-33 joints.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

OPTIONS = {"truncated_share": 0.15, "occluder_prob": 0.4, "max_occluders": 2, "motion_blur": 0.5, "noise_std": 4.0, "jpeg_quality": 40}


def _gap_table(gap: dict, per_joint: bool = True) -> None:
    print(f"frames {gap['frames']}, detector found a person in {100 * gap['found']:.1f} %")
    print(f"all joints: mean error {gap['error_pct_mean']:.1f} % of the torso diagonal (median {gap['error_pct_median_all']:.1f} %), "
          f"PCK@0.2 torso {gap['pck_mean']:.1f} %")  # fmt: skip
    if not per_joint:
        return
    print("| joint | mean error (% torso) | median (% torso) | PCK@0.2 (%) | visible joints |\n|---|---:|---:|---:|---:|")
    for name, e, m, p, n in zip(gap["joint_names"], gap["error_pct"], gap["error_pct_median"], gap["pck"], gap["count"]):
        print(f"| {name} | {e:.1f} | {m:.1f} | {p:.1f} | {n} |")


def _report_cache(folder: str) -> None:
    from pathlib import Path

    from simpose.synth.detcache import DetectorCache, definition_gap

    cache = DetectorCache(folder)
    files = cache.files
    clips = list(cache)
    frames = sum(c.num_frames for c in clips)
    size = sum(Path(f).stat().st_size for f in files)
    print(f"{folder}: {len(files)} clips, {frames} frames, {size / 1e6:.1f} MB, {size / max(frames, 1):.0f} bytes/frame")
    print(f"detector: {cache.manifest['detector_version']}; joint sets {cache.manifest['joint_sets']}")
    _gap_table(definition_gap(clips))
    simple = [c for c in clips if c.meta["people"] == 1 and c.meta["occluders"] == 0 and not any(c.meta["truncated"])]
    print(f"\nsubset: one person, no occluders, not truncated ({len(simple)} clips)")
    _gap_table(definition_gap(simple), per_joint=False)
    crowd = [c for c in clips if c.meta["people"] > 1 or c.meta["occluders"] > 0 or any(c.meta["truncated"])]
    print(f"subset: 2-3 people, occluders or truncation ({len(crowd)} clips)")
    _gap_table(definition_gap(crowd), per_joint=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--people", type=int, default=3)
    ap.add_argument("--cache", help="report on this built cache instead of building")
    args = ap.parse_args()
    if args.cache:
        _report_cache(args.cache)
        return

    from simpose.synth.detcache import DETECT_SCENE_DEFAULTS, DetectorCacheBuilder, encode_record, definition_gap, read_detector_clip
    from simpose.synth.scene import SceneConfig
    from simpose.synth.writer import _single_threaded_math

    _single_threaded_math()
    config = SceneConfig(size=args.size, frames=args.frames, people=args.people, **{**DETECT_SCENE_DEFAULTS, **OPTIONS})
    with tempfile.TemporaryDirectory() as tmp:
        builder = DetectorCacheBuilder(config, motion_cache=os.path.join(tmp, "motion_cache"))
        try:
            builder.make(0, 10_000)  # warm-up
            times = {"render": 0.0, "detect": 0.0, "encode": 0.0}
            nbytes, records = 0, []
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for k in range(args.clips):
                t0 = time.perf_counter()
                clip = builder.render(0, k)
                t1 = time.perf_counter()
                arrays, meta = builder.detect(clip)
                t2 = time.perf_counter()
                data = encode_record(arrays, meta)
                t3 = time.perf_counter()
                times["render"] += t1 - t0
                times["detect"] += t2 - t1
                times["encode"] += t3 - t2
                nbytes += len(data)
                path = os.path.join(tmp, f"det_{k:07d}.npz")
                with open(path, "wb") as f:
                    f.write(data)
                records.append(read_detector_clip(path))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        finally:
            builder.close()
    n = args.clips * args.frames
    print(f"{args.clips} clips x {args.frames} frames at {args.size}x{args.size}, up to {args.people} people; detector {builder.version}")
    print(f"{n / wall:.1f} frames/s wall ({1000 * wall / n:.1f} ms/frame; process CPU {1000 * cpu / n:.1f} ms/frame), {nbytes / n:.0f} bytes/frame")
    print("| stage | ms/frame |\n|---|---:|")
    for k, v in times.items():
        print(f"| {k} | {1000 * v / n:.1f} |")
    _gap_table(definition_gap(records))


if __name__ == "__main__":
    np.set_printoptions(precision=2, suppress=True)
    main()
