"""Annotated synthetic frames per second at 256x256 with every annotation on.

    python benchmarks/synth_speed.py [--size 256] [--frames 16] [--clips 8] [--people 1] [--workers 1 2]

Every frame carries RGB, instance mask, parts, depth, flow, 2D/3D joints of all 7 joint sets with
visibility and occlusion reasons, written to a clip file (default scene options: 10 % truncated
people, occluders in 30 % of clips). Two measurements:

* steady state: W processes (``--workers``) each build a :class:`ClipSynthesizer`, render their
  clips once to warm up (shader compilation, regressors, retargeting of the BVH files those
  clips use), wait for each other, then time ``--clips`` clips each through the writer's own
  loop (sample scene + render, each file compressed and written on a background thread while
  the next clip renders). frames/s = all frames / the slowest process's time. This is what a long
  ``simpose synth`` run approaches once every BVH file has been retargeted once per worker.
  The one-process run also prints where its time goes.
  The process CPU time (all threads, llvmpipe's too) per frame is printed as well, with the rate
  it allows on two idle cores: the machine is shared, and wall-clock rates drop with its load.
* end to end: ``synthesize(..., workers=W)`` on a fresh folder, timed from the call to the
  last file: process start-up, model loading and first-use retargeting included.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time


def _steady(args: tuple) -> dict:
    """One process: warm up on its clips, wait at the barrier, time them again."""
    rank, clips, cfg, barrier, workers_total = args
    from simpose.data.synthetic import write_clip
    from simpose.synth.scene import SceneConfig
    from simpose.synth.writer import ClipSynthesizer
    import simpose.synth.clip as clip_mod
    import simpose.synth.scene as scene_mod

    import simpose.synth.writer as writer_mod

    if workers_total > 1:
        os.environ.setdefault("LP_NUM_THREADS", "1")  # as simpose.synth.writer's pool workers
    writer_mod.single_threaded_math()  # as the writer's workers
    synth = ClipSynthesizer(SceneConfig(**cfg))
    indices = [rank * 100_000 + i for i in range(clips)]
    for i in indices:
        synth.make(0, i)
    # stage timers (wrapping the module functions the synthesizer calls)
    spent = {"scene (motion library, posing, looks)": 0.0, "render + annotations": 0.0, "write (compress, atomic)": 0.0}
    sample, render = scene_mod.sample_scene, synth.renderer.render

    def timed(fn, key):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t0
        return wrapper

    scene_mod.sample_scene = timed(sample, "scene (motion library, posing, looks)")
    synth.renderer.render = timed(render, "render + annotations")
    barrier.wait()

    writer_mod._WORKER["synth"] = synth
    original_write = write_clip

    def timed_write(*a, **k):  # on the writer thread: overlaps with the next clip's rendering
        t1 = time.perf_counter()
        original_write(*a, **k)
        spent["write (compress, atomic; background thread)"] += time.perf_counter() - t1

    spent["write (compress, atomic; background thread)"] = spent.pop("write (compress, atomic)")
    import simpose.data.synthetic as synthetic_mod

    synthetic_mod.write_clip = timed_write
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), time.process_time()
        writer_mod._work([(0, i, d) for i in indices])  # the writer's own pipelined loop
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    del clip_mod
    return {"time": dt, "cpu": cpu, "frames": clips * cfg["frames"], "spent": spent}


def steady_state(workers: int, clips: int, cfg: dict) -> tuple[float, dict]:
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(workers)
        with ctx.Pool(workers) as pool:
            res = pool.map(_steady, [(r, clips, cfg, barrier, workers) for r in range(workers)])
    frames = sum(r["frames"] for r in res)
    res[0]["cpu_per_frame"] = sum(r["cpu"] for r in res) / frames
    return frames / max(r["time"] for r in res), res[0]


def end_to_end(workers: int, clips: int, cfg: dict) -> float:
    from simpose.synth.writer import synthesize

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        synthesize(d, clips, cfg["frames"], cfg["size"], seed=1, people=cfg["people"], workers=workers, progress=False)
        dt = time.perf_counter() - t0
    return clips * cfg["frames"] / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--clips", type=int, default=8, help="clips per process in the steady-state run")
    ap.add_argument("--e2e-clips", type=int, default=16, help="clips of the end-to-end run (0 = skip it)")
    ap.add_argument("--people", type=int, default=1)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    cfg = {"size": args.size, "frames": args.frames, "people": args.people}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    rows = []
    for w in args.workers:
        fps, first = steady_state(w, args.clips, cfg)
        if w == 1:
            total = first["time"]
            print(f"where one process's time goes ({first['frames']} frames, {total:.2f} s):")
            for k, v in first["spent"].items():
                print(f"  {k:<40} {v / first['frames'] * 1e3:6.2f} ms/frame  {100 * v / total:5.1f} %")
        e2e = end_to_end(w, args.e2e_clips, cfg) if args.e2e_clips else float("nan")
        rows.append((w, fps, e2e, first["cpu_per_frame"]))
    print(f"\nannotated frames/s at {args.size}x{args.size}, {args.frames} frames/clip, up to {args.people} people, all annotations")
    print(f"{'workers':>8} {'steady state':>14} {'end to end':>12} {'CPU ms/frame':>14} {'2 cores / CPU':>14}")
    for w, fps, e2e, cpu in rows:
        print(f"{w:>8} {fps:>14.1f} {e2e:>12.1f} {cpu * 1e3:>14.2f} {2 / cpu:>14.1f}")
    print(f"(end to end: {args.e2e_clips} clips, start-up and first-use retargeting included; CPU ms/frame: "
          "process CPU time of the steady-state run, all threads incl. llvmpipe's; '2 cores / CPU' is the rate "
          "that CPU cost allows on 2 otherwise idle cores)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
