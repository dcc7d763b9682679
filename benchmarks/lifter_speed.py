"""Lifter inference throughput on this machine: batched (offline) and streaming (causal).

    python benchmarks/lifter_speed.py [--weights PATH] [--frames 20000] [--repeats 3]

Batched: one long 2D sequence through ``Lifter.predict`` (sliding windows cut into chunks that
run as one batch), offline and causal. Streaming: ``LifterStream.push``, one frame at a time
(the latency of a live feed); at 30 fps a push lifts the 50 fps frames resampled up to it
(5 for every 3 pushed), so it costs more per frame pushed. Prints frames per second.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.models.lifter import Lifter


def _rate(fn, n_frames: int, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_frames / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--stream-frames", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lifter = Lifter.from_pretrained(args.weights)
    J = len(get_joint_set(lifter.input_set))  # the set its weights take (h36m17, or a detector lifter's blazepose33)
    rng = np.random.default_rng(0)
    T = args.frames
    x = rng.uniform(300, 700, (J, 2)) + np.cumsum(rng.normal(0, 1, (T, J, 2)), axis=0) * 0.1
    conf = rng.uniform(0.5, 1.0, (T, J))
    n_params = sum(p.numel() for p in lifter.net.parameters())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, RF {lifter.receptive_field}, {n_params / 1e6:.2f} M parameters")
    print(f"{'mode':<32} {'frames':>8} {'frames/s':>10} {'ms/frame':>9}")
    rows = []
    for chunk in (1024, 4096):
        rows.append((f"batched offline (chunk {chunk})", T, _rate(lambda: lifter.predict(x, confidence=conf, chunk=chunk), T, args.repeats)))
    rows.append(("batched causal", T, _rate(lambda: lifter.predict(x, confidence=conf, causal=True), T, args.repeats)))
    Ts = args.stream_frames

    def stream(fps=None):
        s = lifter.stream(fps=fps)
        for t in range(Ts):
            s.push(x[t], conf[t])

    rows.append(("streaming (push per frame)", Ts, _rate(stream, Ts, args.repeats)))
    rows.append(("streaming a 30 fps feed", Ts, _rate(lambda: stream(30.0), Ts, args.repeats)))
    for name, n, fps in rows:
        print(f"{name:<32} {n:>8} {fps:>10.0f} {1000 / fps:>9.3f}")


if __name__ == "__main__":
    main()
