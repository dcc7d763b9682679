"""Speed of ``simpose run``: its stages on a 640x480 video, or whole processes against MediaPipe alone.

    python benchmarks/run_speed.py [--frames 120] [--video PATH]
    python benchmarks/run_speed.py --whole [--video PATH] [--repeats 2] [--baseline OTHER_CHECKOUT]
    python benchmarks/run_speed.py --people [--max-people 8] [--repeats 2]
    python benchmarks/run_speed.py --view-parts [--frames 100]
    python benchmarks/run_speed.py --decode-ahead [--repeats 3]
    python benchmarks/run_speed.py --cpu-account [--repeats 2] [--baseline OTHER_CHECKOUT]
    python benchmarks/run_speed.py --import-overlap [--repeats 3]

``--whole`` (issue 17, item 6): the wall time of whole processes, each started afresh, on a
205-frame 1280x720 30 fps video (or ``--video``): the issue measured a real street video of
that size, which ../shared does not hold (its street_demo.mp4 has 5 frames of 960x540), so the
stand-in is the real single-person demo letterboxed to 1280x720 and ping-pong looped. A plain
MediaPipe loop (PyAV decode + ``mp.solutions.pose`` in tracking mode, the run's model
complexity, no segmentation: what the run's 2D stage computes), ``simpose run --no-cache`` and
``simpose run --no-cache --no-views``, interleaved, ``--repeats`` times. It prints each run's
time (wall and CPU: user + system of all its threads) over the MediaPipe loop's of the same repeat (the machine may be shared: ratios within a
repeat are what to compare) and the load average. ``--baseline DIR`` times another checkout's
``simpose run`` (``DIR/src`` first on the path) in the same repeats, for a before/after. Targets: <= 1.5 with the views, <= 1.2
without.

``--people`` (issue 20, item 6): on the real demo videos of ../shared/real/videos, the
frames/s of the single-person 2D stage (``detect_keypoints``, video mode, with decoding), of the
multi-person 2D stage (``detect_people``, ``max_people`` people at most) and of the whole
``--people all`` run (``run_video`` with an :class:`~simpose.Estimator` loaded once, the
model loading not counted; without and with the views), and the people tracked. The 2D
stages are timed ``--repeats`` times, interleaved, fastest kept. Target: the multi-person 2D
stage's time per person tracked (per person-frame) at most 1.5x the single-person stage's per frame.

``--view-parts``: what each part of the views costs per frame of the 1280x720 video (wall and
CPU ms, in one process): the second decode, the mesh forward, the overlay drawing at mesh
raster sizes 640 / 480 / 320 (and its PSNR against 640's), x264 at the presets
superfast / ultrafast (file size, PSNR against the raw frames), the 3D view's drawing and encoding.

``--cpu-account`` (issue 17, item 6): where the CPU time of a run goes, and the best wall time
2 cores allow. One fresh process runs the work of ``simpose run --no-cache --fov 60`` on the
1280x720 video stage after stage (imports, set-up, the 2D stage, each 3D stage, writing, each
part of the views, then the views as the run writes them, threads overlapped), nothing
overlapped, so each stage's CPU time (user + system of every thread) is its own; beside it the
plain MediaPipe loop of ``--whole``, interleaved, ``--repeats`` times (fewest CPU seconds kept;
``--baseline DIR``: that checkout's account too). From the account, two floors on 2 idle cores
as ratios to the loop's wall: every stage perfectly overlapped (total CPU / 2), and the run's
dependency chain (set-up beside the 2D stage, then the 3D stages, which need the whole track,
on one core, then writing and the views on 2 cores).

``--import-overlap``: fresh processes that import mediapipe and make its Pose graph (what the
2D stage needs before its first frame), alone or with torch and roma imported in a thread beside
(as a run did when its set-up thread started first), interleaved: the seconds until the 2D stage
can start.

``--decode-ahead``: the 2D stages (MediaPipe's single-person Pose; the multi-person stage)
with the video decoded in the loop, as before, and in a thread of its own
(:func:`simpose.cues.video.prefetch`, as the run's 2D stages now read it), interleaved, on
the 1280x720 video: wall and CPU seconds.

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


def whole_process(argv: list[str], src: Path | None = None, stdout: list | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, all its threads) of one fresh Python process (its
    imports, model loading and all); ``src``: another tree's ``src`` folder to import simpose
    from (``--baseline``); ``stdout``: a list the process's output is appended to."""
    import resource
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cpu = lambda: sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), k) for k in ("ru_utime", "ru_stime"))  # noqa: E731
    t0, c0 = time.perf_counter(), cpu()
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True)
    seconds, cpu_s = time.perf_counter() - t0, cpu() - c0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])}... failed ({done.returncode}): {done.stderr[-2000:]}")
    if stdout is not None:
        stdout.append(done.stdout)
    return seconds, cpu_s


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
    print("| repeat | simpose | load avg (1 min) at start | MediaPipe loop (s wall / CPU) | simpose run (s wall / CPU) | ratio wall / CPU "
          "| run --no-views (s wall / CPU) | ratio wall / CPU |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r, name, load, (mp_s, mp_c), (views_s, views_c), (bare_s, bare_c) in rows:
        print(f"| {r} | {name} | {load:.2f} | {mp_s:.1f} / {mp_c:.1f} | {views_s:.1f} / {views_c:.1f} | **{views_s / mp_s:.2f}x** / {views_c / mp_c:.2f}x "
              f"| {bare_s:.1f} / {bare_c:.1f} | **{bare_s / mp_s:.2f}x** / {bare_c / mp_c:.2f}x |")  # fmt: skip
    print("targets (wall): <= 1.5x with the views, <= 1.2x without; CPU time: what the process costs the machine, threads added up")


def account_child(video: Path, out: Path) -> None:
    """``--account-child`` (run by :func:`cpu_account` in a fresh process): the work of one
    ``simpose run`` of ``video``, stage after stage, nothing overlapped, so each stage's CPU time
    (user + system of every thread, native ones included) is its own. Prints one JSON line:
    ``[[stage, wall s, CPU s], ...]``."""
    import json
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    rows: list = [("interpreter start, numpy", float("nan"), cpu())]
    mark = [time.perf_counter(), cpu()]

    def lap(name: str) -> None:
        t, c = time.perf_counter(), cpu()
        rows.append((name, t - mark[0], c - mark[1]))
        mark[:] = [t, c]

    import simpose.cli  # noqa: F401  (what `simpose run` imports before any work)
    from simpose.track.run import RunConfig

    lap("imports: simpose.cli, simpose.track.run")
    import av  # noqa: F401
    import mediapipe  # noqa: F401

    lap("imports: av, mediapipe (the MediaPipe loop pays them too)")
    import torch  # noqa: F401

    lap("set-up: import torch")
    import roma  # noqa: F401  (imports torch._dynamo; so does torch.optim's first step, in the refinement)

    lap("set-up: import roma (torch._dynamo)")
    from simpose.track.estimator import Estimator

    est = Estimator.from_pretrained(cache_dir="")
    lap("set-up: body model, lifters, warm-up")

    # estimate_video with its stages wrapped (they run one after another in this thread; the
    # 2D stage's decoding thread ends within it)
    import simpose.adapt.refine
    import simpose.body.align
    import simpose.body.fit
    import simpose.cues.detect
    import simpose.track.estimator
    from simpose.body.rig import JointRig

    spent: dict[str, list[float]] = {}

    def wrapped(fn, key):
        def call(*args, **kwargs):
            t, c = time.perf_counter(), cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                acc = spent.setdefault(key, [0.0, 0.0])
                acc[0] += time.perf_counter() - t
                acc[1] += cpu() - c

        return call

    patches = [
        (simpose.cues.detect, "detect", "2D stage: decode + MediaPipe (decoding in its thread)"),
        (simpose.track.estimator, "lift", "3D: lifter"),
        (simpose.adapt.refine, "refine_sequence", "3D: refinement"),
        (simpose.body.fit, "fit_shape", "3D body fit: fit_shape"),
        (simpose.body.fit, "fit_pose", "3D body fit: fit_pose"),
        (simpose.body.align, "align_body", "3D body fit: align_body"),
    ]
    originals = [(m, n, getattr(m, n)) for m, n, _ in patches]
    for m, n, key in patches:
        setattr(m, n, wrapped(getattr(m, n), key))
    build = JointRig.build
    JointRig.build = staticmethod(wrapped(build, "3D body fit: JointRig.build"))
    from simpose.cues.video import open_video

    try:  # as run_video: the views draw on the frames the 2D stage decoded, where this tree keeps them
        from simpose.cues.video import KeptFrames

        source = KeptFrames(open_video(video))
    except ImportError:
        source = open_video(video)
    try:
        seq = est.estimate_video(source if hasattr(source, "kept") else video, fov=60.0)
    finally:
        for m, n, fn in originals:
            setattr(m, n, fn)
        JointRig.build = staticmethod(build)
    t, c = time.perf_counter() - mark[0], cpu() - mark[1]
    for _, _, key in patches[:1] + patches[1:3] + patches[3:5] + [(None, None, "3D body fit: JointRig.build")] + patches[5:]:
        rows.append((key, *spent.get(key, [0.0, 0.0])))
    rows.append(("3D: the rest (position, rig forwards, bookkeeping)", t - sum(v[0] for v in spent.values()), c - sum(v[1] for v in spent.values())))
    mark[:] = [time.perf_counter(), cpu()]

    from simpose.export.bvh import write_body_bvh

    fit = seq.body_fit(0)
    seq.save(out, json=True)
    write_body_bvh(out / "motion.bvh", est.body, fit, seq.fps)
    lap("write poses.npz, poses.json, motion.bvh")

    # the views' parts one after another, as the run draws them (track.views)
    from simpose.body.fit import body_vertices
    from simpose.track.views import MESH_BATCH, overlay_mesh, write_views
    from simpose.viz.overlay import OverlayRenderer
    from simpose.viz.skeleton3d import render_skeleton3d
    from simpose.viz.summary import write_summary
    from simpose.viz.video import write_video

    a, config = seq.to_arrays(), RunConfig(fov=60.0, cache_dir="")
    frames = [f for _, f in source.frames()]
    lap("views: second decode of the video (none where the 2D stage's frames are kept)")
    rows_valid = np.flatnonzero(fit.valid)
    keep, faces = overlay_mesh(est.body, fit)
    verts = {}
    for i in range(0, len(rows_valid), MESH_BATCH):
        verts.update(zip(rows_valid[i : i + MESH_BATCH].tolist(), body_vertices(est.body, fit, rows_valid[i : i + MESH_BATCH])[:, keep]))
    lap("views: mesh forward (anny)")
    renderer = OverlayRenderer(tuple(source.size), a["K"], faces, max_side=config.max_side)
    drawn = [renderer.render(f, verts.get(i), a["joints2d"][i, 0], a["confidence"][i, 0], str(a["joint_set"])) for i, f in enumerate(frames)]
    renderer.close()
    lap("views: overlay drawing (mesh raster, skeleton)")
    write_video(out / "overlay_parts.mp4", drawn, seq.fps)
    lap("views: overlay encoding (x264)")
    sk = list(render_skeleton3d(a["joints3d"][:, 0], a["valid"][:, 0], str(a["joint_set"]), seq.fps))
    lap("views: 3D view drawing")
    write_video(out / "skeleton_parts.mp4", sk, seq.fps)
    lap("views: 3D view encoding (x264)")
    thumbs = [(i, drawn[i]) for i in rows_valid[np.linspace(0, len(rows_valid) - 1, 4).round().astype(int)]]
    write_summary(out / "summary_parts.png", a["joints3d"][:, 0], a["confidence"][:, 0], a["valid"][:, 0], str(a["joint_set"]), seq.fps, thumbs, "")
    lap("views: summary.png")
    del frames, drawn, sk
    write_views(out, source, seq.frame_index, a, est.body, [fit], config)
    lap("views as the run writes them (threads overlapped; not added to the totals)")
    print(json.dumps(rows))


def cpu_account(video: Path, repeats: int, baseline: Path | None = None) -> None:
    """The tables of ``--cpu-account`` (module docstring); ``baseline``: another checkout's
    account too, in the same repeats."""
    import json

    T = int(open_frames(video))
    trees = [("this tree", None)] + ([(f"baseline {baseline}", baseline / "src")] if baseline else [])
    stages: dict[str, dict[str, list[float]]] = {name: {} for name, _ in trees}  # tree -> stage -> CPU s per repeat
    loops = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):  # interleaved: the loop and the accounts see the same load
            loops.append(whole_process(["-c", MEDIAPIPE_LOOP, str(video)]))
            for name, src in trees:
                out: list[str] = []
                whole_process([__file__, "--account-child", "--video", str(video), "--out", tmp], src, stdout=out)
                for stage, _, cpu_s in json.loads(out[0].strip().splitlines()[-1]):
                    stages[name].setdefault(stage, []).append(cpu_s)
    mp_wall, mp_cpu = min(loops, key=lambda x: x[1])
    # the fewest CPU seconds of each stage (CPU time grows a little on a busy machine too)
    cpu = {name: {stage: min(v) for stage, v in rows.items()} for name, rows in stages.items()}
    print(f"CPU account of `simpose run` on {video.name} ({T} frames): each stage's CPU seconds (user + system, every thread), "
          f"fewest of {repeats} repeats; load average {os.getloadavg()[0]:.2f}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    names = [name for name, _ in trees]
    print("| stage (one after another in one fresh process) | " + " | ".join(f"{n}: CPU s | ms / frame" for n in names) + " |")
    print("|---|" + "---:|---:|" * len(names))
    print(f"| plain MediaPipe loop, whole process (for reference; wall {mp_wall:.1f} s) | "
          + " | ".join(f"{mp_cpu:.2f} | {1000 * mp_cpu / T:.1f}" for _ in names) + " |")  # fmt: skip
    totals = {}
    for name in names:
        c = cpu[name]
        views = sum(v for n, v in c.items() if n.startswith("views:"))
        totals[name] = {
            "before_3d": sum(v for n, v in c.items() if not n.startswith(("3D", "write", "views"))),
            "3d": sum(v for n, v in c.items() if n.startswith("3D")),
            "write": sum(v for n, v in c.items() if n.startswith("write")),
            "views_parts": views,
            "views": next((v for n, v in c.items() if n.startswith("views as the run")), views),
        }
    for stage in cpu[names[0]]:
        print(f"| {stage} | " + " | ".join(f"{cpu[n].get(stage, float('nan')):.2f} | {1000 * cpu[n].get(stage, float('nan')) / T:.1f}" for n in names) + " |")
    for label, key in (("before the 3D stages (imports, set-up, 2D stage)", "before_3d"), ("3D stages", "3d"), ("views, part by part", "views_parts")):
        print(f"| **{label}** | " + " | ".join(f"**{totals[n][key]:.2f}** | {1000 * totals[n][key] / T:.1f}" for n in names) + " |")
    for label, with_views in (("run --no-views", False), ("run with views (as the run writes them)", True)):
        tot = {n: totals[n]["before_3d"] + totals[n]["3d"] + totals[n]["write"] + (totals[n]["views"] if with_views else 0.0) for n in names}
        print(f"| **{label}** | " + " | ".join(f"**{tot[n]:.2f}** | {1000 * tot[n] / T:.1f}" for n in names) + " |")
    # Floors on 2 idle cores, as ratios to the loop's wall W. The loop keeps about one core busy
    # (its threads take turns per frame: pose.process waits for the graph), so W is taken as
    # its CPU time; the last column takes the wall measured here (longer on a busy machine).
    print()
    print("| best reachable on 2 cores, ratio to the MediaPipe loop's wall W | "
          + " | ".join(f"{n}: W = loop CPU ({mp_cpu:.1f} s) | {n}: W = loop wall here ({mp_wall:.1f} s)" for n in names) + " |")  # fmt: skip
    print("|---|" + "---:|---:|" * len(names))
    for label, with_views in (("--no-views", False), ("with views", True)):
        cells = {"perfect": [], "chain": []}
        for n in names:
            t = totals[n]
            after = t["write"] + (t["views"] if with_views else 0.0)  # on 2 cores
            total = t["before_3d"] + t["3d"] + after
            for W in (mp_cpu, mp_wall):
                cells["perfect"].append(f"{max(W, total / 2) / W:.2f}x")
                cells["chain"].append(f"{(max(W, t['before_3d'] / 2) + t['3d'] + after / 2) / W:.2f}x")
        print(f"| {label}: every stage perfectly overlapped (total CPU / 2 cores, at least W) | " + " | ".join(cells["perfect"]) + " |")
        print(f"| {label}: set-up beside the 2D stage, then the 3D stages on one core, then the rest on 2 cores | " + " | ".join(cells["chain"]) + " |")
    print("targets: 1.2x (--no-views), 1.5x (with views)")


def open_frames(video: Path) -> int:
    """Frames of a video."""
    from simpose.cues.video import open_video

    return open_video(video).n_frames


IMPORT_OVERLAP = """
import sys, threading, time
t0 = time.perf_counter()
if sys.argv[1] == "beside":  # the set-up's imports in a thread, as a run started them before the 2D stage's
    threading.Thread(target=lambda: (__import__("torch"), __import__("roma")), daemon=True).start()
from simpose.cues.keypoints import KeypointConfig, import_mediapipe
c = KeypointConfig()
pose = import_mediapipe().solutions.pose.Pose(static_image_mode=False, model_complexity=c.model_complexity, enable_segmentation=False)
print(time.perf_counter() - t0)
"""


def import_overlap(repeats: int) -> None:
    """The table of ``--import-overlap`` (module docstring)."""
    import subprocess
    import sys

    rows = []
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    for r in range(repeats):
        load = os.getloadavg()[0]
        for how in ("alone", "beside"):
            done = subprocess.run([sys.executable, "-c", IMPORT_OVERLAP, how], env=env, capture_output=True, text=True, check=True)
            rows.append((r, load, how, float(done.stdout.strip().splitlines()[-1])))
    print("seconds from process start until MediaPipe's Pose graph is ready (the 2D stage can start)")
    print("| repeat | load avg | torch + roma imported in a thread beside | seconds |")
    print("|---:|---:|---|---:|")
    for r, load, how, sec in rows:
        print(f"| {r} | {load:.2f} | {'yes' if how == 'beside' else 'no'} | {sec:.2f} |")


def people_table(max_people: int, repeats: int) -> None:
    """The table of ``--people`` (module docstring)."""
    from simpose.cues.keypoints import KeypointConfig, detect_keypoints
    from simpose.cues.people import PeopleConfig, detect_people
    from simpose.cues.blazepose import BlazePose
    from simpose.cues.video import open_video, prefetch
    from simpose.track.estimator import Estimator
    from simpose.track.run import RunConfig, run_video

    videos = (shared_dir() or Path("../shared")) / "real" / "videos"
    config = PeopleConfig(max_people=max_people)
    model = BlazePose(config.num_threads, config.detection_threshold)
    est = Estimator.from_pretrained(people="all", max_people=max_people, cache_dir="")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("single_person_demo.mp4", "multi_person_demo.mp4", "street_demo.mp4"):
            source = open_video(videos / name)
            single = multi = (np.inf, np.inf)  # (wall, CPU) seconds
            for _ in range(repeats):  # interleaved: the machine is shared; the fastest of each
                t0, c0 = time.perf_counter(), time.process_time()
                detect_keypoints((f for _, f in prefetch(source.frames())), KeypointConfig(segmentation=False))  # as the run reads them
                single = min(single, (time.perf_counter() - t0, time.process_time() - c0))
                t0, c0 = time.perf_counter(), time.process_time()
                people = detect_people(source, config, model=model)
                multi = min(multi, (time.perf_counter() - t0, time.process_time() - c0))
            T = people.keypoints.num_frames
            person_frames = int(people.keypoints.valid.sum())
            runs = {}
            for views in (False, True):
                r = run_video(videos / name, Path(tmp) / f"{name}_{views}", RunConfig(fov=60.0, cache_dir="", views=views, people="all",
                                                                                     max_people=max_people), estimator=est)  # fmt: skip
                runs[views] = sum(v for k, v in r.timings.items() if k != "setup")
            rows.append((name, f"{source.size[0]}x{source.size[1]}", T, people.keypoints.num_people, person_frames / T, single, multi,
                         person_frames, runs[False], runs[True], r.n_people))  # fmt: skip
    print(f"--people all --max-people {max_people}: fastest of {repeats} interleaved repeats (2D stages); load average {os.getloadavg()[0]:.2f}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}")  # fmt: skip
    print("| video | size | frames | tracks | people per frame | single-person 2D (frames/s) | multi-person 2D (frames/s) "
          "| multi 2D per person-frame / single per frame, wall (target <= 1.5) | the same in CPU time "
          "| run, no views (frames/s) | run with views (frames/s) | people in the run |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, T, tracks, per_frame, single, multi, pf, bare, views, n_people in rows:
        print(f"| {name} | {size} | {T} | {tracks} | {per_frame:.1f} | {T / single[0]:.1f} | {T / multi[0]:.1f} | "
              f"**{(multi[0] / pf) / (single[0] / T):.2f}** | {(multi[1] / pf) / (single[1] / T):.2f} | {T / bare:.1f} | {T / views:.1f} | {n_people} |")  # fmt: skip


def decode_ahead(video: Path, repeats: int) -> None:
    """The table of ``--decode-ahead`` (module docstring)."""
    from simpose.cues.blazepose import BlazePose
    from simpose.cues.keypoints import KeypointConfig, detect_keypoints
    from simpose.cues.people import PeopleTracker
    from simpose.cues.video import open_video, prefetch

    source = open_video(video)
    model = BlazePose()
    stages = {
        "single-person (mp.solutions.pose)": lambda frames: detect_keypoints(frames, KeypointConfig(segmentation=False)),
        "multi-person (cues.people)": lambda frames: [tracker.step(f) for tracker in [PeopleTracker(model=model)] for f in frames],
    }
    rows = []
    for r in range(repeats):
        load = os.getloadavg()[0]
        for name, stage in stages.items():
            for how, frames in (("in the loop", lambda: (f for _, f in source.frames())), ("in a thread", lambda: (f for _, f in prefetch(source.frames())))):
                t0, c0 = time.perf_counter(), time.process_time()
                stage(frames())
                rows.append((r, load, name, how, time.perf_counter() - t0, time.process_time() - c0))
    print(f"2D stages on {video.name} ({source.n_frames} frames of {source.size[0]}x{source.size[1]}), decoding in the loop or in a thread")
    print("| repeat | load avg | stage | decoding | wall (s) | CPU (s) |")
    print("|---:|---:|---|---|---:|---:|")
    for r, load, name, how, wall, cpu in rows:
        print(f"| {r} | {load:.2f} | {name} | {how} | {wall:.1f} | {cpu:.1f} |")


def encode(frames, options: dict, path: Path) -> None:
    """A plain PyAV H.264 loop in the caller's thread (``VideoWriter``'s stream, with other
    ``options``); ``frames``: an iterable of (H, W, 3) uint8, even sizes."""
    from fractions import Fraction

    import av

    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=Fraction(30))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt, stream.options = "yuv420p", options
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def view_parts(video: Path, tmp: Path, n_frames: int) -> None:
    """The table of ``--view-parts`` (module docstring): one main-person run, then each part
    of its views timed on its first ``n_frames`` frames."""
    import av

    from simpose.body.fit import body_vertices
    from simpose.cues.video import open_video
    from simpose.track.views import overlay_mesh
    from simpose.viz.overlay import OverlayRenderer
    from simpose.viz.skeleton3d import render_skeleton3d
    from simpose.track.estimator import Estimator
    from simpose.track.sequence import PoseSequence
    from simpose.track.run import RunConfig, run_video
    from simpose.viz.video import X264_OPTIONS, write_video

    est = Estimator.from_pretrained(cache_dir="")
    result = run_video(video, tmp / "run", RunConfig(fov=60.0, cache_dir="", views=False), estimator=est)
    body, fit, a = est.body, PoseSequence.load(tmp / "run").body_fit(0), result.arrays
    source = open_video(video)
    rows = []

    def timed(name: str, fn, n: int):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        rows.append((name, 1000 * (time.perf_counter() - t0) / n, 1000 * (time.process_time() - c0) / n))
        return out

    frames = timed("decode (the views' second pass over the video)", lambda: [f for _, f in source.frames(start=0, end=n_frames)], n_frames)
    N = len(frames)
    keep, faces = overlay_mesh(body, fit)
    valid = np.flatnonzero(fit.valid[:N])
    verts = timed("mesh forward (anny, 32 frames a batch)", lambda: np.concatenate([body_vertices(body, fit, valid[i : i + 32])[:, keep]
                                                                                  for i in range(0, len(valid), 32)]), N)  # fmt: skip
    verts = dict(zip(valid.tolist(), verts))
    drawn = {}
    for side in (640, 480, 320):
        renderer = OverlayRenderer(tuple(source.size), a["K"], faces, mesh_side=side)
        draw = lambda: [renderer.render(frames[i], verts.get(i), a["joints2d"][i, 0], a["confidence"][i, 0], str(a["joint_set"])) for i in range(N)]  # noqa: E731
        draw()  # warm: the rasterizer's context and buffers
        drawn[side] = timed(f"overlay drawing, mesh rasterized at {side} px", draw, N)
        renderer.close()

    def psnr(x: list, y: list) -> float:
        mse = np.mean([np.mean((p.astype(np.float64) - q.astype(np.float64)) ** 2) for p, q in zip(x, y)])
        return float(10 * np.log10(255**2 / mse))

    # the encoder's own thread (VideoWriter) against encoding in the drawing loop: whether
    # overlapping the two helps depends on a free core
    renderer = OverlayRenderer(tuple(source.size), a["K"], faces)
    draw_each = lambda: (renderer.render(frames[i], verts.get(i), a["joints2d"][i, 0], a["confidence"][i, 0], str(a["joint_set"])) for i in range(N))  # noqa: E731
    timed("overlay drawing + encoding, the encoder in the drawing loop", lambda: encode(draw_each(), X264_OPTIONS, tmp / "inline.mp4"), N)
    timed("overlay drawing + encoding, the encoder in its thread (VideoWriter, as the run)", lambda: write_video(tmp / "thread.mp4", draw_each(), 30.0), N)
    renderer.close()
    notes = {f"overlay drawing, mesh rasterized at {s} px": f"PSNR vs 640 px: {psnr(drawn[s], drawn[640]):.1f} dB" for s in (480, 320)}
    raw = drawn[640]
    for preset in ("superfast", "ultrafast"):
        path = tmp / f"{preset}.mp4"
        timed(f"x264 {preset}, crf 20, 1280x720 overlay", lambda: encode(raw, dict(X264_OPTIONS, preset=preset), path), N)
        with av.open(str(path)) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        notes[f"x264 {preset}, crf 20, 1280x720 overlay"] = f"{path.stat().st_size / N / 1000:.1f} kB/frame, PSNR vs raw {psnr(decoded, raw):.1f} dB"
    sk = timed("3D view drawing (640 px)", lambda: list(render_skeleton3d(a["joints3d"][:N, 0], a["valid"][:N, 0], str(a["joint_set"]), result.fps)), N)
    timed("3D view encoding (the writer's preset)", lambda: write_video(tmp / "sk.mp4", sk, 30.0), N)
    print(f"views, per frame of {video.name} ({N} frames of {source.size[0]}x{source.size[1]}); load average {os.getloadavg()[0]:.2f}")
    print("| part | wall ms / frame | CPU ms / frame | quality |")
    print("|---|---:|---:|---|")
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {notes.get(name, '')} |")


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
    parser.add_argument("--baseline", type=Path, default=None, help="with --whole / --cpu-account: another checkout (its src/) in the same repeats")
    parser.add_argument("--people", action="store_true", help="multi-person 2D stage and --people all runs on the demo videos")
    parser.add_argument("--max-people", type=int, default=8, help="with --people: people tracked at most")
    parser.add_argument("--view-parts", action="store_true", help="per-frame cost of each part of the views (1280x720)")
    parser.add_argument("--decode-ahead", action="store_true", help="2D stages with the video decoded in the loop or in a thread")
    parser.add_argument("--cpu-account", action="store_true", help="CPU seconds of every stage of a run, and the best ratio reachable on 2 cores")
    parser.add_argument("--import-overlap", action="store_true", help="MediaPipe's import alone or beside torch's, in fresh processes")
    parser.add_argument("--account-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.account_child:  # before any other import: the child counts them
        return account_child(args.video, args.out)
    logging.basicConfig(level=logging.ERROR)
    from simpose.track.run import RunConfig, run_video

    if args.people:
        return people_table(args.max_people, args.repeats)
    if args.decode_ahead:
        with tempfile.TemporaryDirectory() as tmp:
            video = args.video or make_video(Path(tmp) / "bench_1280x720.mp4", 205, (1280, 720), fps=30.0)
            return decode_ahead(video, args.repeats)
    if args.import_overlap:
        return import_overlap(args.repeats)
    if args.cpu_account:
        with tempfile.TemporaryDirectory() as tmp:
            video = args.video or make_video(Path(tmp) / "bench_1280x720.mp4", 205, (1280, 720), fps=30.0)
            return cpu_account(video, args.repeats, args.baseline)
    if args.view_parts:
        with tempfile.TemporaryDirectory() as tmp:
            video = args.video or make_video(Path(tmp) / "bench_1280x720.mp4", 205, (1280, 720), fps=30.0)
            return view_parts(video, Path(tmp), args.frames)
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
