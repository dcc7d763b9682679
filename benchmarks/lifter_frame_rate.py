"""The lifter at other frame rates than its training windows' (50 fps): Human3.6M S9+S11, GT 2D.

    python benchmarks/lifter_frame_rate.py [--weights PATH] [--rates 100 50 30 25 12.5] [--every K] [--refine]

Phones film at 30 fps (25 in some countries, 60 in slow motion), the demo clips in
shared/real/videos run at 12 fps; the network learned motion at 50 fps. Every Human3.6M sequence
is brought to each rate, then lifted two ways through ``simpose.Estimator.estimate_keypoints``
(the lifter alone) and scored on its own frames (protocols #1 / #2, averaged per action then
over the actions):

- ``as is``: the estimator is told the track is at the lifter's own rate, so the frames go to
  the network as they are: at 25 fps it sees the motion twice as fast as it happened;
- ``resampled``: it is told the true rate, and the lifter lifts a copy resampled to 50 fps and
  takes the 3D back at the sequence's frames (what ``simpose run`` does with the video's rate);
- with ``--refine``, the resampled lift after the test-time refinement at the sequence's own
  rate (the estimator with ``refine=True, body=False``).

Rates that divide 50 are every k-th frame of the recording; the others (100, 30) are the 2D and 3D
interpolated linearly between the recorded frames (20 ms apart, so the interpolated ground truth
is off by far less than the errors measured). Human3.6M is for evaluation only.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import types
from pathlib import Path

import numpy as np

from simpose.data.h36m import load_h36m
from simpose.data.paths import shared_dir
from simpose.eval.h36m import evaluate_sequences
from simpose.models.lifter_input import resample_frames
from simpose.track.estimator import Estimator


def at_rate(seq, rate: float):
    """The sequence's 2D and 3D at ``rate`` (every k-th frame when ``rate`` divides its fps)."""
    x, y = np.asarray(seq.joints2d, np.float64), np.asarray(seq.joints3d, np.float64)
    k = seq.fps / rate
    if abs(k - round(k)) < 1e-9:
        x, y = x[:: int(round(k))], y[:: int(round(k))]
    else:
        x, y = resample_frames(x, seq.fps, rate), resample_frames(y, seq.fps, rate)
    return types.SimpleNamespace(name=seq.name, action=seq.action, camera=seq.camera, joints2d=x, joints3d=y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="lifter .pt (default: the shipped weights)")
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 50.0, 30.0, 25.0, 12.5])
    parser.add_argument("--every", type=int, default=1, help="score every K-th sequence only (a quick look, not the protocol)")
    parser.add_argument("--refine", action="store_true", help="also score the resampled lift after the test-time refinement")
    args = parser.parse_args()
    # the lifter alone, and the refinement (without the body, as this table has always shown it)
    lifter_only = Estimator.from_pretrained(args.weights, refine=False, body=False, align_2d=False)
    refined = Estimator(lifter_only.lifter, lifter_only.body, dataclasses.replace(lifter_only.config, refine=True), lifter_only.weights)
    lifter = lifter_only.lifter
    sequences = load_h36m(shared_dir() / "benchmarks" / "h36m")[:: args.every]
    rows = []
    for rate in args.rates:
        seqs = [at_rate(s, rate) for s in sequences]
        cells = []
        ways = [("as is", None, False), ("resampled", rate, False)] + ([("resampled + refinement", rate, True)] if args.refine else [])
        for way, fps, refine in ways:
            if fps is not None and not refine and abs(rate / lifter.fps - 1) <= 1e-3:
                cells.append(cells[0])  # at the training rate both ways are the same lift
                continue
            t0 = time.perf_counter()

            def predict(seq, fps=fps, refine=refine):
                # "as is": the estimator told the track is at the lifter's own rate (no resampling)
                est = refined if refine else lifter_only
                joints = est.estimate_keypoints(seq.joints2d[:, 0], None, "h36m17", seq.camera, fps or lifter.fps).joints3d[:, 0]
                return joints - joints[:, :1]

            res = evaluate_sequences(seqs, predict, model_name=lifter.name, inputs=f"ground-truth 2D at {rate:g} fps")
            cells.append((res.protocol1_mpjpe_mm, res.protocol2_pa_mpjpe_mm))
            print(f"{rate:g} fps, {way}: P1 {cells[-1][0]:.1f}, P2 {cells[-1][1]:.1f} mm ({time.perf_counter() - t0:.0f} s)", flush=True)
        rows.append((rate, cells))
    print(f"\nHuman3.6M S9+S11, ground-truth 2D{'' if args.every == 1 else f', every {args.every}th sequence'}; P1 / P2 mm")
    print("| frame rate | as is | resampled to the training rate |" + (" resampled + refinement |" if args.refine else ""))
    print("| ---: | ---: | ---: |" + (" ---: |" if args.refine else ""))
    for rate, cells in rows:
        print(f"| {rate:g} fps | " + " | ".join(f"{p1:.1f} / {p2:.1f}" for p1, p2 in cells) + " |")


if __name__ == "__main__":
    main()
