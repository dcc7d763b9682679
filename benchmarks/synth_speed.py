"""Annotated synthetic frames per second at 256x256 with every annotation on.

    python benchmarks/synth_speed.py [--size 256] [--frames 16] [--clips 3] [--people 1]

Prints frames/s of the whole clip pipeline (scene sampling with the batched body forward,
rendering, background re-projection and flow, joints of every set with visibility, compressed
write) and where the time goes (cProfile, top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from simpose.data.synthetic import write_clip
from simpose.synth.scene import SceneConfig
from simpose.synth.writer import ClipSynthesizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--people", type=int, default=1)
    ap.add_argument("--motions", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    synth = ClipSynthesizer(SceneConfig(size=args.size, frames=args.frames, people=args.people), motions=args.motions)
    print(f"setup (body model, library, EGL): {time.perf_counter() - t0:.1f} s")
    synth.make(0, 10_000)  # warm-up (regressors, shader compilation, mocap cache)
    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        prof.enable()
        for i in range(args.clips):
            write_clip(Path(d) / f"{i}.npz", synth.make(0, i))
        prof.disable()
        dt = time.perf_counter() - t0
    n = args.clips * args.frames
    print(f"{n} annotated frames at {args.size}x{args.size}, {args.people} max people: {n / dt:.1f} frames/s ({dt:.1f} s)")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
