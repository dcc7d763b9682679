"""Human3.6M S9+S11 accuracy through simpose.Estimator: protocols #1 and #2, per action, GT 2D and noisy 2D.

    python benchmarks/lifter_h36m.py [--weights PATH] [--out DIR] [--noise-seed 0] [--refine] [--self-train]
        [--only CONDITION ...] [--every K] [--card JSON]

Human3.6M is used for evaluation only. Two input conditions: the ground-truth 2D (the 17
joints projected with each camera, distortion included, confidence None) and the same 2D
degraded by the synthetic detector-noise model (``simpose.models.noise``, default parameters,
strength 1, truncation at the image border; its confidences are passed on). Every prediction is
``simpose.Estimator.estimate_keypoints`` with the sequence's 2D, calibration and frame rate,
made pelvis-relative: ``gt2d`` / ``noisy2d`` with the lifter alone (``refine=False,
body=False``); with ``--refine`` also ``*_refined`` (the test-time refinement of
:mod:`simpose.adapt.refine`, the body fitted but not scored: ``body=False``) and ``*_product``
(the product's settings: the fitted body's joints, as ``simpose eval h36m`` scores them); with
``--self-train`` also ``*_selftrained`` (:mod:`simpose.adapt.selftrain`, no body; ~15 s per
sequence on 2 cores). Writes ``results.json``/``results.md`` per condition under ``--out`` and
prints a table; with ``--card`` also records the numbers in that weights card
(``metrics.h36m_s9_s11``). ``--only`` runs the named conditions alone; ``--every K`` scores
every K-th sequence (a quick look, not the protocol).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import zlib
from pathlib import Path

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.data.h36m import load_h36m
from simpose.data.paths import shared_dir
from simpose.eval.h36m import evaluate_sequences, write_report
from simpose.models.noise import NoiseConfig, apply_detector_noise
from simpose.track.estimator import Estimator

# estimator settings of each kind of condition (the product's are the defaults)
KINDS = {
    "": {"refine": False, "body": False, "align_2d": False},
    "_refined": {"body": False},
    "_product": {},
    "_selftrained": {"body": False, "self_train": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="lifter .pt (default: the shipped weights)")
    parser.add_argument("--data", type=Path, default=None, help="the layout of shared/benchmarks/h36m")
    parser.add_argument("--out", type=Path, default=Path("/tmp/lifter_h36m"))
    parser.add_argument("--noise-seed", type=int, default=0)
    parser.add_argument("--skip-noisy", action="store_true")
    parser.add_argument("--refine", action="store_true", help="also score the refinement and the product (the fitted body)")
    parser.add_argument("--self-train", action="store_true", help="also score the pseudo-label adaptation (simpose.adapt.selftrain)")
    parser.add_argument("--only", nargs="+", default=None, metavar="CONDITION", help="run only these conditions")
    parser.add_argument("--every", type=int, default=1, help="score every K-th sequence only (not the protocol: a quick look)")
    parser.add_argument("--card", type=Path, default=None, help="weights card (.json) to record the numbers in")
    args = parser.parse_args()
    root = args.data or shared_dir() / "benchmarks" / "h36m"
    sequences = load_h36m(root)[:: args.every]
    base = Estimator.from_pretrained(args.weights)
    noise = NoiseConfig()
    pelvis = get_joint_set("h36m17").index("pelvis")

    def clean_2d(seq):
        return np.asarray(seq.joints2d, dtype=np.float64)[:, 0], None

    def noisy_2d(seq):
        rng = np.random.default_rng([args.noise_seed, zlib.crc32(seq.name.encode())])
        return apply_detector_noise(np.asarray(seq.joints2d, dtype=np.float64)[:, 0], "h36m17", rng, noise, image_size=seq.camera.image_size)

    def estimated(source, settings):
        est = Estimator(base.lifter, base.body, dataclasses.replace(base.config, **settings), base.weights)

        def predict(seq):
            x, conf = source(seq)
            joints = est.estimate_keypoints(x, conf, "h36m17", seq.camera, seq.fps).joints3d[:, 0].astype(np.float64)
            return joints - joints[:, pelvis : pelvis + 1]

        return predict

    inputs = [("gt2d", clean_2d, "ground-truth 2D")]
    if not args.skip_noisy:
        inputs.append(("noisy2d", noisy_2d, "ground-truth 2D + simpose detector-noise model (default NoiseConfig)"))
    kinds = [""] + (["_refined", "_product"] if args.refine else []) + (["_selftrained"] if args.self_train else [])
    labels = {"": "lifter only", "_refined": "test-time refinement", "_product": "the product (fitted body)", "_selftrained": "self-training + refinement"}
    conditions = [(key + kind, estimated(source, KINDS[kind]), f"{label}, {labels[kind]}") for kind in kinds for key, source, label in inputs]
    if args.only:
        unknown = set(args.only) - {key for key, _, _ in conditions}
        if unknown:
            parser.error(f"--only: unknown conditions {sorted(unknown)} (known: {[key for key, _, _ in conditions]})")
        conditions = [c for c in conditions if c[0] in args.only]
    results = {}
    for key, fn, label in conditions:
        t0 = time.perf_counter()
        res = evaluate_sequences(sequences, fn, model_name=base.lifter.name, inputs=label)
        write_report(res, args.out / key)
        results[key] = res
        print(f"{key}: P1 {res.protocol1_mpjpe_mm:.1f} mm, P2 {res.protocol2_pa_mpjpe_mm:.1f} mm ({res.n_poses} poses, {time.perf_counter() - t0:.0f} s)", flush=True)
    keys = list(results)
    print("\n| action | " + " | ".join(f"{k} P1 | {k} P2" for k in keys) + " |")
    print("| --- |" + " ---: | ---: |" * len(keys))
    for action in results[keys[0]].per_action:
        cells = " | ".join(f"{results[k].per_action[action]['mpjpe_mm']:.1f} | {results[k].per_action[action]['pa_mpjpe_mm']:.1f}" for k in keys)
        print(f"| {action} | {cells} |")
    cells = " | ".join(f"**{results[k].protocol1_mpjpe_mm:.1f}** | **{results[k].protocol2_pa_mpjpe_mm:.1f}**" for k in keys)
    print(f"| average | {cells} |")
    if args.card is not None:
        if args.every != 1:
            parser.error("--card records the protocol: drop --every")
        _record(args.card, results, False, args.refine, args.self_train)


def _record(card_path: Path, results: dict, causal: bool, refine: bool = False, self_train: bool = False) -> None:
    """Write the averages and per-action [P1, P2] into the card, as evaluation (nothing fitted to it)."""
    card = json.loads(card_path.read_text())
    h36m = card.setdefault("metrics", {}).setdefault("h36m_s9_s11", {})
    h36m["protocol"] = "all frames, all 4 cameras, averaged per action then over the 15 actions; per_action = [P1, P2] mm; evaluation only, nothing fitted to it"
    h36m["command"] = "python benchmarks/lifter_h36m.py" + (" --causal" if causal else "") + (" --refine" if refine else "") + (" --self-train" if self_train else "")
    names = {"gt2d": "gt_2d", "noisy2d": "gt_2d_plus_noise_model"}
    names.update({k + suffix: v + suffix for k, v in list(names.items()) for suffix in ("_refined", "_product", "_selftrained")})
    for key, res in results.items():
        entry = {"protocol1_mpjpe_mm": round(res.protocol1_mpjpe_mm, 1), "protocol2_pa_mpjpe_mm": round(res.protocol2_pa_mpjpe_mm, 1)}
        if causal:
            h36m[names[key] + "_causal_head"] = entry
        else:
            entry["per_action"] = {a: [round(v["mpjpe_mm"], 1), round(v["pa_mpjpe_mm"], 1)] for a, v in res.per_action.items()}
            h36m[names[key]] = entry
    card_path.write_text(json.dumps(card, indent=1))
    print(f"recorded in {card_path}")


if __name__ == "__main__":
    main()
