"""Speed of ``simpose run``: its stages on a 640x480 video, or whole processes against MediaPipe alone.

    python benchmarks/run_speed.py [--frames 120] [--video PATH]
    python benchmarks/run_speed.py --whole [--video PATH] [--repeats 2] [--baseline OTHER_CHECKOUT]

``--whole`` (issue 17, item 6): the wall time of whole processes, each started afresh, on a
205-frame 1280x720 30 fps video (or ``--video``): the issue measured a real street video of
that size, which ../shared does not hold (its street_demo.mp4 has 5 frames of 960x540), so the
stand-in is the real single-person demo letterboxed to 1280x720 and ping-pong looped. A plain
MediaPipe loop (PyAV decode + ``mp.solutions.pose`` in tracking mode, the run's model
complexity, no segmentation: what the run's 2D stage computes), ``simpose run --no-cache`` and
``simpose run --no-cache --no-views``, interleaved, ``--repeats`` times. It prints each run's
time over the MediaPipe loop's of the same repeat (the machine may be shared: ratios within a
repeat are what to compare) and the load average. ``--baseline DIR`` times another checkout's
``simpose run`` (``DIR/src`` first on the path) in the same repeats, for a before/after. Targets: <= 1.5 with the views, <= 1.2
without.

The video: the real single-person demo (../shared/real/videos), letterboxed to 640x480 and
played forward and backward until it has ``--frames`` frames (unless ``--video`` is given).
One run of ``simpose.track.run.run_video`` without the cue cache; the stage times are the run's
own (``RunResult.timings``). Optical flow is not used by the run (the lifter sees keypoints
only); it is timed here on its own (DIS "medium" on the person region, as
``simpose.cues.extract_cues`` computes it) for reference. The issue's target: the 3D stages
(lifter + absolute position + body fit) add < 25% to the 2D keypoint stage; the opt-in
self-training (``--self-train``) is timed apart. Model loading
(``setup``) happens once per process and is listed apart.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir
from simpose.track.run import RunConfig, run_video


def make_video(path: Path, n_frames: int, size: tuple[int, int] = (640, 480), fps: float | None = None) -> Path:
    """The demo letterboxed to ``size`` (width, height), ping-pong looped to ``n_frames`` frames
    at ``fps`` (None: the demo's own)."""
    from PIL import Image

    from simpose.cues.video import open_video
    from simpose.viz.video import write_video

    src = open_video((shared_dir() or Path("../shared")) / "real" / "videos" / "single_person_demo.mp4")
    frames = []
    for _, f in src.frames():
        h, w = f.shape[:2]
        s = size[1] / h
        small = np.asarray(Image.fromarray(f).resize((int(round(w * s)), size[1]), Image.BILINEAR))
        canvas = np.zeros((size[1], size[0], 3), np.uint8)
        x0 = (size[0] - small.shape[1]) // 2
        canvas[:, x0 : x0 + small.shape[1]] = small
        frames.append(canvas)
    loop = frames + frames[-2:0:-1]
    return write_video(path, [loop[i % len(loop)] for i in range(n_frames)], fps=fps or src.fps)


MEDIAPIPE_LOOP = """
import sys, time, warnings
import av, mediapipe as mp
from simpose.cues.keypoints import KeypointConfig
c = KeypointConfig()
n = 0
with av.open(sys.argv[1]) as container, mp.solutions.pose.Pose(
    static_image_mode=False, model_complexity=c.model_complexity, smooth_landmarks=c.smooth_landmarks,
    enable_segmentation=False, min_detection_confidence=c.min_detection_confidence,
    min_tracking_confidence=c.min_tracking_confidence,
) as pose:
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    for frame in container.decode(video=0):
        pose.process(frame.to_ndarray(format="rgb24"))
        n += 1
print(n)
"""


def whole_process(argv: list[str], src: Path | None = None) -> float:
    """Wall seconds of one fresh Python process (its imports, model loading and all); ``src``:
    another tree's ``src`` folder to import simpose from (``--baseline``)."""
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    if src is not None:
        env["PYTHONPATH"] = str(src)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])}... failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def whole(video: Path, repeats: int, baseline: Path | None = None) -> None:
    """The whole-process table of ``--whole`` (with ``baseline``: that tree's runs too, in the same repeats)."""
    rows = []
    trees = [("this tree", None)] + ([(f"baseline {baseline}", baseline / "src")] if baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            load = os.getloadavg()[0]
            mp_s = whole_process(["-c", MEDIAPIPE_LOOP, str(video)])
            run = ["-m", "simpose.cli", "run", str(video), "--out", f"{tmp}/run", "--no-cache", "--fov", "60"]
            for name, src in trees:
                views_s = whole_process(run, src)
                bare_s = whole_process([*run, "--no-views"], src)
                rows.append((r, name, load, mp_s, views_s, bare_s))
    print(f"whole processes on {video.name} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}, {os.cpu_count()} CPUs)")
    print("| repeat | simpose | load avg (1 min) at start | MediaPipe loop (s) | simpose run (s) | ratio | run --no-views (s) | ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r, name, load, mp_s, views_s, bare_s in rows:
        print(f"| {r} | {name} | {load:.2f} | {mp_s:.1f} | {views_s:.1f} | **{views_s / mp_s:.2f}x** | {bare_s:.1f} | **{bare_s / mp_s:.2f}x** |")
    print("targets: <= 1.5x with the views, <= 1.2x without")


def time_flow(video: Path, arrays: dict) -> float:
    """Seconds for DIS flow on the person region over the whole video."""
    from simpose.cues.flow import compute_flow, pair_boxes, person_boxes
    from simpose.cues.video import open_video

    src = open_video(video)
    kp = arrays["joints2d"]
    boxes = np.concatenate([np.nanmin(kp, 2), np.nanmax(kp, 2)], -1)  # (T, P, 4)
    boxes = pair_boxes(person_boxes(src.size, boxes))
    frames = [f for _, f in src.frames()]
    t0 = time.perf_counter()
    compute_flow(frames, boxes)
    return time.perf_counter() - t0


def time_3d_warm(result, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds of the 3D stages, re-run on the run's own 2D (models loaded, caches warm).

    The in-run numbers are single cold runs on a machine that other jobs share; these show
    what the stages cost once warm. The stages are the run's own
    (``simpose.Estimator.estimate_keypoints``, the timings it reports).
    """
    import dataclasses

    from simpose.track.estimator import Estimator

    a = result.arrays
    args = (a["joints2d"][:, 0].astype(float), a["confidence"][:, 0].astype(float), "h36m17", a["K"], result.fps)
    est = Estimator.from_pretrained()
    best = {"lifter": np.inf, "position": np.inf, "refine": np.inf, "body_fit": np.inf}
    for _ in range(repeats):
        timings = est.estimate_keypoints(*args).timings
        best = {k: min(v, timings[k]) for k, v in best.items()}
    est.config = dataclasses.replace(est.config, self_train=True)
    best["self_train (opt-in)"] = est.estimate_keypoints(*args).timings["self_train"]  # once: it is the slow one
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--whole", action="store_true", help="whole processes against a plain MediaPipe loop (1280x720 video)")
    parser.add_argument("--repeats", type=int, default=2, help="with --whole: interleaved repeats")
    parser.add_argument("--baseline", type=Path, default=None, help="with --whole: another checkout (its src/) timed in the same repeats")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.whole:
        with tempfile.TemporaryDirectory() as tmp:
            video = args.video or make_video(Path(tmp) / "bench_1280x720.mp4", 205, (1280, 720), fps=30.0)
            return whole(video, args.repeats, args.baseline)
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or make_video(Path(tmp) / "bench_640x480.mp4", args.frames)
        result = run_video(video, Path(tmp) / "run", RunConfig(fov=60.0, cache_dir=""))
        flow_s = time_flow(video, result.arrays)
    warm = time_3d_warm(result)
    T = result.n_frames
    t = dict(result.timings)
    t["flow (not used by run)"] = flow_s
    rows = [
        ("decode + 2D keypoints (MediaPipe)", t["keypoints"]),
        ("optical flow, DIS (not used by run)", flow_s),
        ("keypoint map + lifter", t["lifter"]),
        ("absolute position", t["position"]),
        ("test-time refinement (constant bones, 2D rays)", t["refine"]),
        ("body fit (shape, closed-form pose, alignment to the 2D)", t["body_fit"]),
        ("write poses.npz/json + motion.bvh", t["write_poses"]),
        ("views: overlay.mp4, skeleton3d.mp4, summary.png", t.get("views", 0.0)),
        ("setup: load lifter + body model, first calls (once per process)", t["setup"]),
    ]
    print(f"simpose run, {T} frames of 640x480 ({result.n_valid} with a person), load average {os.getloadavg()[0]:.2f}")
    print("| stage | total (s) | ms / frame | frames / s |")
    print("|---|---:|---:|---:|")
    for name, sec in rows:
        print(f"| {name} | {sec:.2f} | {1000 * sec / T:.1f} | {T / sec if sec > 0 else float('inf'):.0f} |")
    three_d = t["lifter"] + t["position"] + t["refine"] + t["body_fit"]  # the keypoint map is in "lifter"
    total = sum(v for k, v in t.items() if not k.startswith("flow"))
    print(f"| **3D stages (lifter + position + refinement + body fit)** | **{three_d:.2f}** | **{1000 * three_d / T:.1f}** | "
          f"**{T / three_d:.0f}** |")  # fmt: skip
    print(f"| whole run (without flow) | {total:.2f} | {1000 * total / T:.1f} | {T / total:.1f} |")
    self_train = warm.pop("self_train (opt-in)")
    warm_3d = sum(warm.values())
    print(f"3D stages / 2D keypoint stage = {100 * three_d / t['keypoints']:.1f}% in the run (target < 25%)")
    print(f"3D stages re-run warm, best of 3: lifter {1000 * warm['lifter'] / T:.2f}, position "
          f"{1000 * warm['position'] / T:.3f}, refinement {1000 * warm['refine'] / T:.2f}, body fit {1000 * warm['body_fit'] / T:.2f} ms/frame; "
          f"total {1000 * warm_3d / T:.2f} ms/frame = {100 * warm_3d / t['keypoints']:.1f}% of the 2D stage")
    print(f"opt-in --self-train (simpose.adapt.selftrain, default rounds/steps) adds {1000 * self_train / T:.1f} ms/frame "
          f"= {100 * self_train / t['keypoints']:.1f}% of the 2D stage")


if __name__ == "__main__":
    main()
