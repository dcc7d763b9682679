"""Body model forward throughput on this machine: bodies per second by batch size.

    python benchmarks/body_speed.py [--batches 1 16 64] [--repeats 5]

Two cases: every body with its own shape (the general case), and one shape posed many times
(a clip of one person: anny computes the rest shape once).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from simpose.body.model import POSE_BONES, BodyModel, sample_shape


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    body = BodyModel()
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, dtype {body.dtype}")
    print(f"{'batch':>6} {'shapes':>10} {'ms/batch':>10} {'bodies/s':>10}")
    for B in args.batches:
        pose = torch.as_tensor(rng.uniform(-0.3, 0.3, (B, len(POSE_BONES), 3)))
        for label, shape in (("per-body", torch.as_tensor(sample_shape(B, rng))), ("shared", torch.as_tensor(sample_shape(1, rng)))):
            with torch.no_grad():
                dt = _time(lambda: body(pose, shape), args.repeats)
            print(f"{B:>6} {label:>10} {dt * 1e3:>10.1f} {B / dt:>10.0f}")


if __name__ == "__main__":
    main()
