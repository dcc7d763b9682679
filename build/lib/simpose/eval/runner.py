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


def _simpose_lifter():
    from simpose.models.lifter import Lifter

    return Lifter.from_pretrained()


# A plain dict from model name to factory (STYLE.md: no registry machinery).
MODELS = {"simpose-lifter": _simpose_lifter, "mean-pose": _mean_pose}


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
    model: str = "simpose-lifter",
    data: Path | None = None,
    keypoints2d: Path | None = None,
    joint_set: str = "h36m17",
    plot: bool = False,
    progress: bool = True,
    refine: bool = False,
    self_train: bool = False,
) -> tuple[H36mResult, list[Path]]:
    """Protocols #1 and #2 on S9+S11; writes the report to ``out``.

    With ``refine`` each sequence's prediction goes through the test-time refinement of
    :mod:`simpose.adapt.refine` (its 2D and calibration only; ``h36m17`` 2D needed). With
    ``self_train`` the simpose lifter also adapts to each sequence on its own refined 3D
    (:mod:`simpose.adapt.selftrain`; includes the refinement; ~15 s per sequence on 2 cores).
    """
    from simpose.data.h36m import load_h36m, load_positions_2d

    for flag, wanted in (("--refine", refine), ("--self-train", self_train)):
        if wanted and joint_set != "h36m17":
            raise EvalError(f"{flag} needs h36m17 2D (the refinement puts those joints on their rays), got {joint_set}")
    if self_train and model != "simpose-lifter":
        raise EvalError(f"--self-train fine-tunes the simpose lifter, not {model!r}")

    root = Path(data) if data is not None else _default_h36m_dir()
    sequences = load_h36m(root)
    lifter = load_model(model)
    if keypoints2d is not None:
        detections = load_positions_2d(keypoints2d, joint_set)
        inputs = f"2D detections {Path(keypoints2d).name} ({joint_set})"

        def inputs_of(seq):
            try:
                x = detections[seq.subject][seq.take][seq.camera_index]
            except (KeyError, IndexError):
                raise EvalError(f"{keypoints2d}: no detections for {seq.subject} {seq.take} camera {seq.camera_index}") from None
            T = seq.joints3d.shape[0]
            if len(x) > T:  # detections run over the whole video, which can outlast the mocap: trim, as VideoPose3D does
                x = x[:T]
            if len(x) != T:
                raise EvalError(
                    f"{keypoints2d}: {seq.subject} {seq.take} camera {seq.camera_index} has {len(x)} frames, ground truth {seq.joints3d.shape[0]}"
                )
            return x, joint_set
    else:
        inputs = "ground-truth 2D (projected with distortion)"

        def inputs_of(seq):
            return np.asarray(seq.joints2d)[:, 0], "h36m17"

    # Every model takes the camera's calibration (intrinsics and distortion, part of every
    # Human3.6M sequence; no 3D ground truth): the simpose lifter uses it for its pelvis-view
    # virtual camera.
    if refine or self_train:
        from simpose.adapt.refine import refine_sequence
        from simpose.adapt.selftrain import adapt_sequence
        from simpose.body.joints import get_joint_set
        from simpose.camera import image_to_normalised

        inputs += ", self-training + refinement" if self_train else ", test-time refinement"
        pelvis = get_joint_set("h36m17").index("pelvis")

    def predict(seq):
        x, js = inputs_of(seq)
        if self_train:
            joints = adapt_sequence(lifter, x, None, seq.camera, seq.fps)
            return joints - joints[:, pelvis : pelvis + 1]
        pred = lifter.predict(x, joint_set=js, camera=seq.camera)
        if not refine:
            return pred
        joints = refine_sequence(pred, image_to_normalised(x, seq.camera), None, seq.fps)
        return joints - joints[:, pelvis : pelvis + 1]

    bar = _progress_wrapper("Human3.6M", len(sequences)) if progress else None
    result = evaluate_sequences(sequences, predict, model_name=model, inputs=inputs, progress=bar)
    paths = write_report(result, Path(out), plot=plot)
    return result, paths


def _progress_wrapper(label: str, total: int):
    from rich.progress import track

    return lambda it: track(it, description=label, total=total, transient=True)


def _load_poses(path: Path) -> dict:
    """A ``poses.npz`` (the video pipeline's layout) or a synthetic clip's 3D ground truth."""
    path = Path(path)
    if not path.exists():
        raise EvalError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input error
        raise EvalError(f"{path}: not a readable .npz file ({exc})") from exc
    for key in ("joints3d", "joint_set"):
        if key not in data:
            raise EvalError(f"{path}: missing '{key}' (expected the poses.npz layout: joints3d (T,P,J,3), joint_set, valid (T,P))")
    j = data["joints3d"]
    if j.ndim != 4 or j.shape[-1] != 3:
        raise EvalError(f"{path}: joints3d must be (T, P, J, 3), got {j.shape}")
    data["joint_set"] = str(data["joint_set"])
    data.setdefault("valid", np.ones(j.shape[:2], dtype=bool))
    return data


def evaluate_clips(pred_path: Path, gt_path: Path, out: Path, plot: bool = False) -> tuple[dict, list[Path]]:
    """Score predictions against ground truth, both in the ``poses.npz`` layout.

    Predictions in another joint set are converted to the ground truth's set where joints
    correspond (an error otherwise). Frames the ground truth marks invalid are skipped; frames
    the prediction marks invalid or leaves NaN count as failures and are reported.
    """
    import json

    from simpose.body.joints import convert, get_joint_set
    from simpose.eval import metrics

    pred, gt = _load_poses(pred_path), _load_poses(gt_path)
    if pred["joints3d"].shape[:2] != gt["joints3d"].shape[:2]:
        raise EvalError(
            f"frame/person counts differ: prediction {pred['joints3d'].shape[:2]} vs ground truth {gt['joints3d'].shape[:2]} (T, P)"
        )
    js = get_joint_set(gt["joint_set"])
    try:
        p = convert(pred["joints3d"].astype(np.float64), pred["joint_set"], js.name)
    except (ValueError, KeyError) as exc:
        raise EvalError(f"joint sets do not match: {exc}") from exc
    g = gt["joints3d"].astype(np.float64)
    keep = gt["valid"].astype(bool)
    p = np.where(pred["valid"].astype(bool)[..., None, None], p, np.nan)
    root = js.index("pelvis") if "pelvis" in js.names else js.root
    p_sel, g_sel = p[keep], g[keep]  # (N, J, 3)
    per_pose = {
        "mpjpe_mm": metrics.mpjpe(p_sel, g_sel, root=root),
        "pa_mpjpe_mm": metrics.pa_mpjpe(p_sel, g_sel),
        "n_mpjpe_mm": metrics.n_mpjpe(p_sel, g_sel, root=root),
        "pck3d_150mm": metrics.pck3d(p_sel, g_sel, root=root),
        "auc3d": metrics.auc3d(p_sel, g_sel, root=root),
    }
    failed = int((~np.isfinite(per_pose["mpjpe_mm"])).sum())
    results = {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in per_pose.items()}
    results.update(n_poses=int(len(p_sel)), n_failed=failed, joint_set=js.name)
    per_joint = metrics.mpjpe(p_sel, g_sel, root=root, per_joint=True)
    results["per_joint_mpjpe_mm"] = {n: float(np.nanmean(per_joint[:, j])) for j, n in enumerate(js.names)}
    if g.shape[0] >= 3:
        accel = [metrics.accel_error(p[:, i], g[:, i], root=root) for i in range(g.shape[1]) if keep[:, i].all()]
        if accel:
            results["accel_error_mm_per_frame2"] = float(np.nanmean(np.concatenate(accel)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md"]
    paths[0].write_text(json.dumps(results, indent=1))
    rows = [f"| {k} | {v:.1f} |" for k, v in results.items() if isinstance(v, float)]
    paths[1].write_text(
        f"# {Path(pred_path).name} vs {Path(gt_path).name}\n\n| metric | value |\n| --- | ---: |\n" + "\n".join(rows)
        + f"\n\nposes: {results['n_poses']}, failed: {failed}\n"
    )
    if failed:
        logger.warning("%d poses have no valid prediction: counted as failures, excluded from the means", failed)
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4))
        names = list(results["per_joint_mpjpe_mm"])
        ax.bar(range(len(names)), [results["per_joint_mpjpe_mm"][n] for n in names])
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
        ax.set_ylabel("MPJPE (mm)")
        fig.tight_layout()
        fig.savefig(out / "per_joint.png", dpi=100)
        plt.close(fig)
        paths.append(out / "per_joint.png")
    return results, paths
