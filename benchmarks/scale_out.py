"""Scaling out on one machine: synth frames/s with 1 and 2 workers under each engine (local
processes, a local Ray instance), lifter training steps/s with 1 and 2 processes (torchrun).

    python benchmarks/scale_out.py [--out DIR] [--clips 8] [--frames 8] [--size 128] [--steps 40]

* synth: ``synthesize(..., workers=W, engine=E)`` into a fresh folder, timed from the call to
  the last file (worker start-up and model loading included; with Ray the instance is started
  before the clock, its start-up time is a column of its own). The four folders must hold the
  same bytes: the table says whether they do. With Ray a second dataset (another seed) is then
  made by the same, warm, workers: the rate a long job approaches.
* training: ``python -m simpose.train.lifter --config`` (the shipped recipe's network and batch
  of 512 windows, a small joint cache of one CMU walk and procedural clips) as one process and
  under ``torchrun --standalone --nproc_per_node 2``; steps/s over the steps after the first log
  line (start-up excluded). The two runs' training losses are printed too (they differ by the
  dropout masks only: simpose.train.distributed).

The machine is shared: the table gives the 1-minute load average around each measurement.
Writes ``docs/results/scale_out/results.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load() -> float:
    return os.getloadavg()[0]


def bench_synth(out: Path, clips: int, frames: int, size: int, motions: Path | None) -> list[dict]:
    import ray

    from simpose.synth.writer import synthesize

    rows = []
    for engine in ("local", "ray"):
        for workers in (1, 2):
            folder = out / f"synth_{engine}_{workers}"
            for old in (folder, out / f"synth_{engine}_{workers}_warm"):
                if old.exists():
                    shutil.rmtree(old)
            start_s = None
            if engine == "ray":
                t0 = time.perf_counter()
                ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING")
                start_s = time.perf_counter() - t0
            load0 = _load()
            t0 = time.perf_counter()
            synthesize(folder, clips, frames, size, seed=0, workers=workers, motions=motions, progress=False, engine=engine)
            wall = time.perf_counter() - t0
            warm = None
            if engine == "ray":  # again, another seed: the workers keep their synthesizers (simpose.cluster.process_cached)
                t0 = time.perf_counter()
                synthesize(out / f"synth_ray_{workers}_warm", clips, frames, size, seed=1, workers=workers, motions=motions, progress=False, engine=engine)
                warm = clips * frames / (time.perf_counter() - t0)
                ray.shutdown()
            rows.append({"engine": engine, "workers": workers, "seconds": wall, "frames_per_s": clips * frames / wall, "warm_frames_per_s": warm,
                         "ray_start_s": start_s, "load": (load0, _load()), "folder": folder})  # fmt: skip
            print(rows[-1], flush=True)
    reference = sorted(rows[0]["folder"].glob("clip_*.npz"))
    for r in rows:
        files = sorted(r["folder"].glob("clip_*.npz"))
        r["identical"] = [f.name for f in files] == [f.name for f in reference] and all(
            a.read_bytes() == b.read_bytes() for a, b in zip(files, reference)
        )
    return rows


def bench_train(out: Path, steps: int, cache_dir: Path, cache_cfg) -> list[dict]:
    from simpose.train.lifter import TrainConfig

    cfg = TrainConfig(steps=steps, log_every=10, checkpoint_every=steps, cache=cache_cfg)
    config = out / "train_config.json"
    config.write_text(json.dumps(dataclasses.asdict(cfg)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    for procs in (1, 2):
        run = out / f"train_{procs}"
        if run.exists():
            shutil.rmtree(run)
        cmd = [sys.executable] if procs == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
        cmd += ["-m", "simpose.train.lifter", "--out", str(run), "--config", str(config), "--cache", str(cache_dir), "--no-progress"]
        load0 = _load()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        first, last = log[0], log[-1]
        rate = (last["step"] - first["step"]) / (last["elapsed_s"] - first["elapsed_s"])
        rows.append({"processes": procs, "steps_per_s": rate, "train_mpjpe_mm": last["train_mpjpe_mm"], "load": (load0, _load())})
        print(rows[-1], flush=True)
    return rows


def table(synth: list[dict], train: list[dict], args) -> str:
    lines = [
        "# Scaling out: synth and lifter training with 1 and 2 workers",
        "",
        f"Command: `python benchmarks/scale_out.py --clips {args.clips} --frames {args.frames} --size {args.size} --steps {args.steps}` "
        f"on this project's shared 2-core machine (other jobs running: see the load averages, 1-minute, before/after).",
        "",
        f"Synth: {args.clips} clips of {args.frames} frames at {args.size}x{args.size}, end to end (worker start-up and model loading included).",
        "",
        "| engine | workers | frames/s | seconds | Ray start-up (s) | frames/s, warm workers | files identical to local, 1 worker | load avg |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in synth:
        ray_s = f"{r['ray_start_s']:.1f}" if r["ray_start_s"] is not None else "-"
        warm = f"{r['warm_frames_per_s']:.1f}" if r["warm_frames_per_s"] is not None else "-"
        lines.append(f"| {r['engine']} | {r['workers']} | {r['frames_per_s']:.1f} | {r['seconds']:.1f} | {ray_s} | {warm} | "
                     f"{'yes' if r['identical'] else 'NO'} | {r['load'][0]:.1f} / {r['load'][1]:.1f} |")  # fmt: skip
    lines += [
        "",
        f"Lifter training: the shipped network (512 channels, 27-frame windows), 512 windows per step, {args.steps} steps; "
        "steps/s after the first log line.",
        "",
        "| processes | steps/s | training MPJPE at the last step (mm) | load avg |",
        "|---:|---:|---:|---|",
    ]
    for r in train:
        lines.append(f"| {r['processes']} | {r['steps_per_s']:.2f} | {r['train_mpjpe_mm']:.1f} | {r['load'][0]:.1f} / {r['load'][1]:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/simpose_scale_out"))
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--results", type=Path, default=ROOT / "docs/results/scale_out/results.md")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from simpose.data.paths import shared_dir
    from simpose.train.lifter_data import CacheConfig, build_joint_cache

    shared = shared_dir()
    if shared is None:
        sys.exit("needs ../shared (CMU mocap) for the motions and the joint cache")
    mocap = args.out / "mocap"
    mocap.mkdir(exist_ok=True)
    walk = mocap / "09_03.bvh"
    if not walk.exists():
        walk.symlink_to(shared / "mocap/cmu/mb/09/09_03.bvh")
    synth = bench_synth(args.out, args.clips, args.frames, args.size, mocap)
    cache_cfg = CacheConfig(mocap_dir=str(mocap), max_clip_frames=600, chunk_frames=150, n_procedural=8, procedural_frames=150, workers=1)
    cache_dir = args.out / "joint_cache"
    build_joint_cache(cache_dir, cache_cfg, progress=False)
    train = bench_train(args.out, args.steps, cache_dir, cache_cfg)
    text = table(synth, train, args)
    print(text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)


if __name__ == "__main__":
    main()
