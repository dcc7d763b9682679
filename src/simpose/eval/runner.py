"""Benchmark runners behind ``simpose eval``: data, model and report wired together."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import numpy as np

from simpose.eval.h36m import EvalError, H36mResult, evaluate_sequences, fmt_mm, json_safe, write_report

logger = logging.getLogger(__name__)

__all__ = ["MODELS", "load_model", "run_h36m", "ablation_settings", "describe_settings", "EvalError"]


def _mean_pose():
    from simpose.models.baselines import MeanPoseLifter

    return MeanPoseLifter()


def _simpose_estimator(**settings):
    from simpose.track.estimator import Estimator

    return Estimator.from_pretrained(**settings)


# A plain dict from model name to factory (STYLE.md: no registry machinery). ``simpose`` is the
# product: :class:`simpose.Estimator` with its settings; ``mean-pose`` a model-free floor.
MODELS = {"simpose": _simpose_estimator, "mean-pose": _mean_pose}
ALIASES = {"simpose-lifter": "simpose"}  # the name before the estimator scored the whole product


def load_model(name: str, **settings):
    name = ALIASES.get(name, name)
    try:
        factory = MODELS[name]
    except KeyError:
        raise EvalError(f"unknown model {name!r}; available: {', '.join(MODELS)}") from None
    if settings and name != "simpose":
        raise EvalError(f"{name!r} takes no estimator settings (got {sorted(settings)})")
    return factory(**settings)


def _default_h36m_dir() -> Path:
    from simpose.data.paths import shared_dir

    shared = shared_dir()
    if shared is None or not (shared / "benchmarks" / "h36m").is_dir():
        raise EvalError("no Human3.6M data: pass --data DIR (the layout of shared/benchmarks/h36m)")
    return shared / "benchmarks" / "h36m"


def ablation_settings(refine: bool = True, body: bool = True, align_2d: bool = True, self_train: bool = False, lifter_only: bool = False) -> dict:
    """Estimator settings of an ablation (all defaults: the product's own, ``{}``)."""
    if lifter_only:
        refine, body, align_2d, self_train = False, False, False, False
    defaults = {"refine": True, "body": True, "align_2d": True, "self_train": False}
    wanted = {"refine": refine, "body": body, "align_2d": align_2d, "self_train": self_train}
    if self_train and not refine:
        raise EvalError("--self-train learns from the refined track: drop --no-refine")
    return {k: v for k, v in wanted.items() if v != defaults[k]}


def describe_settings(settings: dict) -> str:
    """A short label of an estimator's settings for reports ("the product's settings" when default)."""
    if not settings:
        return "the product's settings (simpose.Estimator defaults)"
    if settings == {"refine": False, "body": False, "align_2d": False}:
        return "lifter only (no refinement, no body)"
    return "ablation: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))


def run_h36m(
    out: Path,
    model: str = "simpose",
    data: Path | None = None,
    keypoints2d: Path | None = None,
    joint_set: str = "h36m17",
    plot: bool = False,
    progress: bool = True,
    every: int = 1,
    **settings,
) -> tuple[H36mResult, list[Path]]:
    """Protocols #1 and #2 on S9+S11; writes the report to ``out``.

    The ``simpose`` model is :class:`simpose.Estimator` (``estimate_keypoints`` with each
    sequence's 2D, calibration and frame rate; its 3D made pelvis-relative), with the product's
    settings unless ``settings`` (fields of :class:`~simpose.track.estimator.EstimatorConfig`,
    e.g. :func:`ablation_settings`) say otherwise. ``every`` > 1 scores every k-th sequence only
    (a quick look, not the protocol).
    """
    from simpose.body.joints import get_joint_set
    from simpose.data.h36m import load_h36m, load_positions_2d

    root = Path(data) if data is not None else _default_h36m_dir()
    sequences = load_h36m(root)[:: max(1, int(every))]
    estimator = load_model(model, **settings)
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

    name = ALIASES.get(model, model)
    if name == "simpose":
        inputs += "; " + describe_settings(settings)
    if every > 1:  # say so wherever the numbers go: they are not the whole protocol
        inputs += f"; every {int(every)}th sequence only ({len(sequences)} sequences), not the whole protocol"
    pelvis = get_joint_set("h36m17").index("pelvis")

    weights = getattr(estimator, "weights", None)
    store = _PredictionStore(Path(out) / "predictions", {"model": name, "inputs": inputs, "weights": getattr(weights, "sha256", None)})

    def predict(seq):
        done = store.get(seq)
        if done is not None:
            return done
        x, js = inputs_of(seq)
        return store.put(seq, failed_where_input_is(x, predict_finite(seq, x, js)))

    def predict_finite(seq, x, js):
        if name != "simpose":
            return estimator.predict(x, joint_set=js, camera=seq.camera)
        if not np.isfinite(np.asarray(x, np.float64)).all(axis=(-1, -2)).any():
            return np.full((len(x), 17, 3), np.nan)  # nothing detected: every pose a failure
        # Every sequence comes with its calibration (intrinsics and distortion; no 3D ground truth).
        joints = estimator.estimate_keypoints(x, None, js, seq.camera, seq.fps).joints3d[:, 0].astype(np.float64)
        return joints - joints[:, pelvis : pelvis + 1]

    bar = _progress_wrapper("Human3.6M", len(sequences)) if progress else None
    result = evaluate_sequences(sequences, predict, model_name=name, inputs=inputs, progress=bar)
    paths = write_report(result, Path(out), plot=plot)
    return result, paths


class _PredictionStore:
    """Each sequence's prediction kept in ``folder`` as it is made, so that an interrupted
    evaluation (the whole protocol is hours on a CPU) resumes where it stopped. ``key`` (model,
    inputs, settings, weights) is written beside them; predictions made under another key are
    discarded, never mixed in."""

    def __init__(self, folder: Path, key: dict) -> None:
        self.folder = folder
        key_file = folder / "key.json"
        if folder.is_dir() and any(folder.iterdir()) and not key_file.is_file():
            raise EvalError(f"{folder}: holds files that are not an evaluation's predictions; choose another --out")
        if key_file.is_file() and json.loads(key_file.read_text()) != key:
            logger.info("%s: predictions of other settings, discarded", folder)
            for f in folder.glob("*.npy"):
                f.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        key_file.write_text(json.dumps(key))

    def _path(self, seq) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{seq.subject}_{seq.take}_{seq.camera_index}") + ".npy")

    def get(self, seq) -> np.ndarray | None:
        """The stored (T, 17, 3) prediction of ``seq``, or None (none, or unreadable / wrong shape)."""
        path = self._path(seq)
        try:
            pred = np.load(path)
        except (OSError, ValueError):
            return None
        return pred if pred.shape == (len(seq.joints3d), 17, 3) else None

    def put(self, seq, pred: np.ndarray) -> np.ndarray:
        path = self._path(seq)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, np.asarray(pred, np.float64))
        os.replace(tmp, path)  # atomic: a stop mid-write leaves no half file
        return pred


def failed_where_input_is(x: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """A pose lifted from 2D with a missing (non-finite) joint is a failure, not a prediction:
    NaN there, so it is counted (``n_failed``) and never scored as if it had been detected.

    Args:
        x: (T, J, 2) the 2D input. pred: (T, 17, 3) what the model made of it.
    Returns:
        (T, 17, 3) ``pred`` with NaN in the frames whose input is not finite.
    """
    bad = ~np.isfinite(np.asarray(x, np.float64)).all(axis=(-1, -2))
    if bad.any():
        pred = np.array(pred, dtype=np.float64)
        pred[bad] = np.nan
    return pred


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
    from simpose.body.joints import get_joint_set

    try:
        js = get_joint_set(data["joint_set"])
    except (KeyError, ValueError) as exc:
        raise EvalError(f"{path}: unknown joint set {data['joint_set']!r} ({exc})") from None
    if j.shape[2] != len(js):
        raise EvalError(f"{path}: joints3d has {j.shape[2]} joints, but joint set {js.name!r} has {len(js)}")
    data.setdefault("valid", np.ones(j.shape[:2], dtype=bool))
    if data["valid"].shape != j.shape[:2]:
        raise EvalError(f"{path}: valid must be (T, P) = {j.shape[:2]}, got {data['valid'].shape}")
    _check_metres(j, data["valid"].astype(bool), path)
    return data


# Half a body: the median distance of a joint from its pose's centre is ~0.2-0.5 m for any person
# in any joint set; 5 (metres) is beyond any body, and a few hundred is a body in millimetres.
_MAX_MEDIAN_SPREAD_M = 5.0


def _check_metres(joints3d: np.ndarray, valid: np.ndarray, path: Path) -> None:
    """Poses in the poses.npz layout are metres; millimetres (or other units) are a clear error,
    never a score 1000 times too large."""
    poses = joints3d[valid]  # (N, J, 3)
    ok = np.isfinite(poses).all(-1)
    if not ok.any():
        return
    centre = np.nanmean(np.where(ok[..., None], poses, np.nan), axis=1, keepdims=True)
    spread = float(np.nanmedian(np.linalg.norm(poses - centre, axis=-1)[ok]))
    if spread > _MAX_MEDIAN_SPREAD_M:
        unit = " (millimetres?)" if 50 < spread < 5000 else ""
        raise EvalError(
            f"{path}: joints are a median {spread:.4g} from their pose's centre, not a body in metres{unit}: "
            "the poses.npz layout is metres (divide millimetres by 1000)"
        )


def _nanmean(x: np.ndarray) -> float:
    """Mean over the finite values; NaN (written as null) when there are none."""
    x = np.asarray(x, np.float64)
    return float(np.mean(x[np.isfinite(x)])) if np.isfinite(x).any() else float("nan")


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
    keep &= np.isfinite(g).all((-1, -2))  # ground truth that is not there scores nothing
    if not keep.any():
        raise EvalError(f"{gt_path}: no valid ground-truth pose (every frame invalid or non-finite): nothing to score")
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
    results["per_joint_mpjpe_mm"] = {n: _nanmean(per_joint[:, j]) for j, n in enumerate(js.names)}
    if g.shape[0] >= 3:
        accel = [metrics.accel_error(p[:, i], g[:, i], root=root) for i in range(g.shape[1]) if keep[:, i].all()]
        if accel:
            results["accel_error_mm_per_frame2"] = _nanmean(np.concatenate(accel))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md"]
    paths[0].write_text(json.dumps(json_safe(results), indent=1, allow_nan=False))
    rows = [f"| {k} | {fmt_mm(v)} |" for k, v in results.items() if isinstance(v, float)]
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
