"""Benchmark runners behind ``simpose eval``: data, model and report wired together."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from simpose.eval.h36m import EvalError, H36mResult, evaluate_sequences, write_report

logger = logging.getLogger(__name__)

__all__ = ["MODELS", "load_model", "run_h36m", "EvalError"]


def _mean_pose():
    from simpose.models.baselines import MeanPoseLifter

    return MeanPoseLifter()


# A plain dict from model name to factory (STYLE.md: no registry machinery).
MODELS = {"mean-pose": _mean_pose}


def load_model(name: str):
    try:
        factory = MODELS[name]
    except KeyError:
        raise EvalError(f"unknown model {name!r}; available: {', '.join(MODELS)}") from None
    return factory()


def _default_h36m_dir() -> Path:
    from simpose.data.paths import shared_dir

    shared = shared_dir()
    if shared is None or not (shared / "benchmarks" / "h36m").is_dir():
        raise EvalError("no Human3.6M data: pass --data DIR (the layout of shared/benchmarks/h36m)")
    return shared / "benchmarks" / "h36m"


def run_h36m(
    out: Path,
    model: str = "mean-pose",
    data: Path | None = None,
    keypoints2d: Path | None = None,
    joint_set: str = "h36m17",
    plot: bool = False,
    progress: bool = True,
) -> tuple[H36mResult, list[Path]]:
    """Protocols #1 and #2 on S9+S11; writes the report to ``out``."""
    from simpose.data.h36m import load_h36m, load_positions_2d

    root = Path(data) if data is not None else _default_h36m_dir()
    sequences = load_h36m(root)
    lifter = load_model(model)
    if keypoints2d is not None:
        detections = load_positions_2d(keypoints2d, joint_set)
        inputs = f"2D detections {Path(keypoints2d).name} ({joint_set})"

        def inputs_of(seq):
            try:
                x = detections[seq.subject][seq.name.split(".")[0] if False else seq.take][seq.camera_index]
            except (KeyError, IndexError):
                raise EvalError(f"{keypoints2d}: no detections for {seq.subject} {seq.take} camera {seq.camera_index}") from None
            if len(x) != seq.joints3d.shape[0]:
                raise EvalError(
                    f"{keypoints2d}: {seq.subject} {seq.take} camera {seq.camera_index} has {len(x)} frames, ground truth {seq.joints3d.shape[0]}"
                )
            return x, joint_set
    else:
        inputs = "ground-truth 2D (projected with distortion)"

        def inputs_of(seq):
            return np.asarray(seq.joints2d)[:, 0], "h36m17"

    def predict(seq):
        x, js = inputs_of(seq)
        return lifter.predict(x, joint_set=js)

    bar = _progress_wrapper("Human3.6M", len(sequences)) if progress else None
    result = evaluate_sequences(sequences, predict, model_name=model, inputs=inputs, progress=bar)
    paths = write_report(result, Path(out), plot=plot)
    return result, paths


def _progress_wrapper(label: str, total: int):
    from rich.progress import track

    return lambda it: track(it, description=label, total=total, transient=True)
