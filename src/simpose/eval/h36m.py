"""Human3.6M protocols #1 (MPJPE) and #2 (PA-MPJPE) on S9 + S11, all cameras, every frame.

Protocol (shared/benchmarks/h36m/README.md): 3D in camera coordinates relative to the pelvis,
mean joint error in mm; averaged within each action over all its frames and cameras, then over
the 15 actions. Protocol #2 aligns each pose by Procrustes (rotation, translation, scale) first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.eval import metrics

logger = logging.getLogger(__name__)

__all__ = ["Lifter", "H36mResult", "evaluate_sequences", "write_report", "EvalError", "json_safe", "fmt_mm"]


class EvalError(ValueError):
    """Inputs that cannot be evaluated (mismatched joint sets or frame counts, missing data)."""


def json_safe(value):
    """``value`` with every non-finite float (a metric over failed poses) as None, so that
    ``json.dumps(..., allow_nan=False)`` writes strict JSON (``null``, never ``NaN``)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def fmt_mm(value: float) -> str:
    """A number of millimetres for a table: one decimal, ``n/a`` where it could not be computed."""
    return f"{value:.1f}" if np.isfinite(value) else "n/a"


class Lifter(Protocol):
    """What the benchmark needs of a model: 2D keypoints to root-relative 3D (h36m17)."""

    name: str

    def predict(self, joints2d: np.ndarray, joint_set: str = "h36m17", confidence: np.ndarray | None = None) -> np.ndarray:
        """joints2d (T, J, 2) pixels -> (T, 17, 3) camera-frame metres, pelvis at the origin."""
        ...


@dataclasses.dataclass(frozen=True)
class H36mResult:
    """Benchmark numbers (millimetres)."""

    protocol1_mpjpe_mm: float
    protocol2_pa_mpjpe_mm: float
    per_action: dict[str, dict[str, float]]
    per_joint: dict[str, dict[str, float]]
    n_poses: int
    n_failed: int
    model: str
    inputs: str

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def evaluate_sequences(
    sequences,
    predict: Callable[[object], np.ndarray],
    model_name: str,
    inputs: str,
    progress: Callable | None = None,
) -> H36mResult:
    """Run ``predict`` on every sequence and score it.

    Args:
        sequences: iterable of records with ``action`` (str) and ``joints3d`` (T, 1, 17, 3)
            camera-frame metres in h36m17.
        predict: sequence -> (T, 17, 3) root-relative prediction in metres.
        progress: optional callable wrapping the iterable (e.g. a rich progress bar).
    Returns:
        H36mResult with protocol #1/#2 averaged per action then over actions.
    """
    h36m = get_joint_set("h36m17")
    root = h36m.index("pelvis")
    per_action_p1: dict[str, list[np.ndarray]] = defaultdict(list)
    per_action_p2: dict[str, list[np.ndarray]] = defaultdict(list)
    joint_p1, joint_p2 = [], []
    n_failed = 0
    seqs = progress(sequences) if progress else sequences
    for seq in seqs:
        gt = np.asarray(seq.joints3d)[:, 0]
        pred = np.asarray(predict(seq), dtype=np.float64)
        if pred.shape != gt.shape:
            raise EvalError(f"{getattr(seq, 'name', '?')}: prediction {pred.shape} does not match ground truth {gt.shape}")
        p1 = metrics.mpjpe(pred, gt, root=root, per_joint=True)  # (T, J)
        p2 = metrics.pa_mpjpe(pred, gt, per_joint=True)
        failed = ~np.isfinite(p1).all(-1) | ~np.isfinite(p2).all(-1)
        n_failed += int(failed.sum())
        per_action_p1[seq.action].append(p1.mean(-1))
        per_action_p2[seq.action].append(p2.mean(-1))
        joint_p1.append(p1)
        joint_p2.append(p2)
    if not per_action_p1:
        raise EvalError("no sequences to evaluate")

    def mean_with_failures(values: np.ndarray) -> float:
        # A failed pose is reported, never averaged away: it makes the mean NaN.
        return float(np.mean(values))

    per_action = {}
    for action in sorted(per_action_p1):
        a1 = np.concatenate(per_action_p1[action])
        a2 = np.concatenate(per_action_p2[action])
        per_action[action] = {"mpjpe_mm": mean_with_failures(a1), "pa_mpjpe_mm": mean_with_failures(a2), "n_poses": int(len(a1))}
    j1, j2 = np.concatenate(joint_p1), np.concatenate(joint_p2)
    per_joint = {
        name: {"mpjpe_mm": mean_with_failures(j1[:, j]), "pa_mpjpe_mm": mean_with_failures(j2[:, j])} for j, name in enumerate(h36m.names)
    }
    if n_failed:
        logger.warning("%d poses have non-finite predictions: they count as failures (NaN means)", n_failed)
    return H36mResult(
        protocol1_mpjpe_mm=float(np.mean([v["mpjpe_mm"] for v in per_action.values()])),
        protocol2_pa_mpjpe_mm=float(np.mean([v["pa_mpjpe_mm"] for v in per_action.values()])),
        per_action=per_action,
        per_joint=per_joint,
        n_poses=int(len(j1)),
        n_failed=n_failed,
        model=model_name,
        inputs=inputs,
    )


def write_report(result: H36mResult, out: Path, plot: bool = False) -> list[Path]:
    """Write ``results.json``, ``results.md`` and, with ``plot``, bar charts; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md"]
    paths[0].write_text(json.dumps(json_safe(result.to_json()), indent=1, allow_nan=False))
    lines = [
        f"# Human3.6M S9+S11 — model `{result.model}`, inputs: {result.inputs}",
        "",
        f"- Protocol #1 (MPJPE): **{fmt_mm(result.protocol1_mpjpe_mm)} mm**",
        f"- Protocol #2 (PA-MPJPE): **{fmt_mm(result.protocol2_pa_mpjpe_mm)} mm**",
        f"- poses: {result.n_poses}, failed (non-finite input or prediction; a failure makes its means n/a): {result.n_failed}",
        "",
        "| action | MPJPE (mm) | PA-MPJPE (mm) | poses |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {a} | {fmt_mm(v['mpjpe_mm'])} | {fmt_mm(v['pa_mpjpe_mm'])} | {v['n_poses']} |" for a, v in result.per_action.items()]
    lines += [f"| **average** | **{fmt_mm(result.protocol1_mpjpe_mm)}** | **{fmt_mm(result.protocol2_pa_mpjpe_mm)}** | {result.n_poses} |"]
    lines += ["", "| joint | MPJPE (mm) | PA-MPJPE (mm) |", "| --- | ---: | ---: |"]
    lines += [f"| {j} | {fmt_mm(v['mpjpe_mm'])} | {fmt_mm(v['pa_mpjpe_mm'])} |" for j, v in result.per_joint.items()]
    paths[1].write_text("\n".join(lines) + "\n")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for key, table in (("per_action", result.per_action), ("per_joint", result.per_joint)):
            names = list(table)
            fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names)), 4))
            x = np.arange(len(names))
            ax.bar(x - 0.2, [table[n]["mpjpe_mm"] for n in names], 0.4, label="MPJPE")
            ax.bar(x + 0.2, [table[n]["pa_mpjpe_mm"] for n in names], 0.4, label="PA-MPJPE")
            ax.set_xticks(x, names, rotation=60, ha="right")
            ax.set_ylabel("mm")
            ax.set_title(f"Human3.6M {key.replace('_', ' ')} — {result.model}")
            ax.legend()
            fig.tight_layout()
            path = out / f"{key}.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            paths.append(path)
    return paths
