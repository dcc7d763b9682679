"""The ``simpose`` command: one sub-command per pipeline stage, each a thin layer over the library."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="simpose",
    help="Monocular 3D human motion capture trained on synthetic humans.",
    no_args_is_help=True,
    add_completion=False,
)
motion_app = typer.Typer(help="Motion library: BVH clips, retargeting, procedural motion.", no_args_is_help=True)
app.add_typer(motion_app, name="motion")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def info() -> None:
    """Versions, the body model, the joint sets, and which optional parts work here."""
    from simpose.body.joints import JOINT_SETS

    table = Table(title="simpose", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    for pkg in ("simpose", "torch", "numpy", "anny", "roma", "moderngl", "av", "mediapipe"):
        try:
            version = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            version = "[yellow]not installed[/]"
        table.add_row(pkg, version)

    try:
        from simpose.body.model import POSE_BONES, BodyModel

        body = BodyModel()
        table.add_row(
            "body model",
            f"anny (default rig/topology): {body.num_vertices} vertices, {body.faces.shape[0]} faces, "
            f"{len(body.bone_labels)} bones, {len(POSE_BONES)} posable",
        )
    except Exception as exc:  # noqa: BLE001 - report, don't crash, in a diagnostic command
        table.add_row("body model", f"[red]unusable[/]: {exc}")
    for name, js in JOINT_SETS.items():
        table.add_row(f"joint set {name}", f"{len(js)} joints: {', '.join(js.names[:6])}, ...")
    table.add_row("renderer (EGL)", _egl_status())
    table.add_row("mediapipe extra", _mediapipe_status())
    console.print(table)


def _egl_status() -> str:
    try:
        import moderngl

        ctx = moderngl.create_standalone_context(backend="egl")
        renderer = ctx.info.get("GL_RENDERER", "?")
        ctx.release()
        return f"[green]usable[/] ({renderer})"
    except Exception as exc:  # noqa: BLE001
        return f"[red]unusable[/]: {exc} (Debian: apt-get install libegl1 libgl1-mesa-dri)"


def _mediapipe_status() -> str:
    try:
        importlib.import_module("mediapipe")
        return "[green]usable[/]"
    except Exception as exc:  # noqa: BLE001
        return f"[yellow]not usable[/] ({type(exc).__name__}); pip install 'simpose[mediapipe]'"


@motion_app.command("preview")
def motion_preview(
    clip: Path = typer.Argument(..., help="A BVH file (CMU skeleton out of the box) or 'procedural:FAMILY'."),
    out: Path = typer.Option(Path("preview.mp4"), "--out", "-o", help="Output .mp4 or .gif."),
    fps: float = typer.Option(30.0, help="Frames per second of the preview."),
    seconds: float = typer.Option(4.0, help="Longest stretch of the clip to show."),
    size: int = typer.Option(384, help="Image side in pixels."),
    seed: int = typer.Option(0, help="Seed of the random body shape."),
    age: float | None = typer.Option(None, help="Force the body's age phenotype (0 baby .. 1 elder)."),
    joint_map: Path | None = typer.Option(None, help="JSON joint-name map for a non-CMU BVH skeleton."),
) -> None:
    """Render the body model driven by a retargeted clip, so a person can check it."""
    from simpose.viz.preview import PreviewError, render_preview

    try:
        path = render_preview(
            clip, out, fps=fps, seconds=seconds, size=size, seed=seed, age=age, joint_map=joint_map, progress=True
        )
    except (PreviewError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"wrote [bold]{path}[/]")


@motion_app.command("gallery")
def motion_gallery(
    clips: list[Path] = typer.Argument(..., help="BVH files, one column each."),
    out: Path = typer.Option(Path("gallery.png"), "--out", "-o", help="Output PNG."),
    bodies: int = typer.Option(8, help="Rows: random bodies from child to elder."),
    seed: int = typer.Option(0, help="Seed of the bodies and frames."),
) -> None:
    """A picture of random bodies (child to elder, rows) in retargeted poses (columns)."""
    from simpose.viz.preview import render_gallery

    try:
        path = render_gallery(clips, out, n_bodies=bodies, seed=seed)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"wrote [bold]{path}[/]")


@app.command()
def synth(
    out: Path | None = typer.Option(None, "--out", help="Output folder of clip_XXXXXXX.npz files."),
    clips: int = typer.Option(100, help="Total clips in the dataset."),
    frames: int = typer.Option(16, help="Frames per clip."),
    size: int = typer.Option(256, help="Image side in pixels."),
    seed: int = typer.Option(0, help="Dataset seed (the same seed gives identical files)."),
    people: int = typer.Option(1, help="At most this many people per clip."),
    workers: int = typer.Option(1, help="Worker processes."),
    motions: Path | None = typer.Option(None, help="Folder of BVH files (default: the shared CMU subset, else procedural)."),
    backgrounds: Path | None = typer.Option(None, help="Folder of background images (default: procedural textures)."),
    shard: str = typer.Option("0/1", help="i/n: this job renders clip indices i, i+n, ..."),
    preview: Path | None = typer.Option(None, "--preview", help="Write contact sheets for the clips in this folder."),
    truncated: float = typer.Option(0.1, help="Share of people cut by the left or right frame border (0..1)."),
    occluders: float = typer.Option(0.3, help="Share of clips with synthetic occluders pasted in front (0..1)."),
    max_occluders: int = typer.Option(2, help="At most this many occluders in such a clip."),
    motion_blur: float = typer.Option(0.0, help="Motion blur exposure, fraction of a frame interval (0 = off)."),
    noise: float = typer.Option(0.0, help="Sensor noise: Gaussian std up to this many 8-bit levels per clip (0 = off)."),
    jpeg: int = typer.Option(0, help="JPEG compression at a quality drawn in [JPEG, 95] per clip (0 = off)."),
    detect: bool = typer.Option(
        False, "--detect", help="Build a detector cache instead: run simpose run's 2D detector on each clip, keep its output and the ground truth, no images."
    ),
    engine: str = typer.Option("local", help="local: this machine's processes; ray: one Ray task per clip (pip install 'simpose[cluster]'), the same files."),
    address: str | None = typer.Option(None, help="With --engine ray: the cluster to join (HEAD:6379, or auto); default: start Ray here with --workers CPUs."),
    motion_crops: Path | None = typer.Option(
        None, "--motion-crops", help="Build motion crops of this detector cache's clips into --out (re-rendered: RGB, DIS and true flow crops); --clips caps them."
    ),
    crop: int = typer.Option(64, help="Crop side in pixels of --motion-crops."),
) -> None:
    """Render a synthetic dataset (resumable, sharded), or contact sheets of one (--preview), or a detector cache (--detect)."""
    from simpose.render.context import RenderError
    from simpose.synth.writer import parse_shard, synthesize

    try:
        import cv2  # noqa: F401 - backgrounds, occluders, degradations and sheets use OpenCV
    except ImportError:
        _fail("simpose synth needs OpenCV: pip install 'simpose[mediapipe]' (or opencv-python-headless)")
    try:
        if preview is not None:
            from simpose.synth.preview import preview_folder

            for p in preview_folder(preview):
                console.print(f"wrote [bold]{p}[/]")
            return
        if out is None:
            _fail("--out DIR is required (or --preview DIR)")
        options = {"truncated_share": truncated, "occluder_prob": occluders, "max_occluders": max_occluders,
                   "motion_blur": motion_blur, "noise_std": noise, "jpeg_quality": jpeg}  # fmt: skip
        if motion_crops is not None:
            from simpose.cues.crops import CropConfig
            from simpose.synth.motion_crops import build_motion_crops

            build_motion_crops(motion_crops, out, clips, CropConfig(size=crop))
            return
        if detect:
            from simpose.cues.errors import CueError
            from simpose.synth.detcache import build_detector_cache

            if workers != 1 and engine == "local":
                _fail("--detect runs one process; run several --shard i/n jobs, or --engine ray, for more")
            try:
                build_detector_cache(out, clips, frames, size, seed, people, motions, backgrounds, parse_shard(shard), options=options,
                                     engine=engine, address=address, workers=workers)  # fmt: skip
            except CueError as exc:
                _fail(str(exc))
            return
        synthesize(out, clips, frames, size, seed, people, workers, motions, backgrounds, parse_shard(shard), options=options,
                   engine=engine, address=address)  # fmt: skip
    except (ValueError, RenderError) as exc:
        _fail(str(exc))


train_app = typer.Typer(help="Train models on synthetic data only.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("lifter")
def train_lifter(
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoints, config.json, lifter.pt + lifter.json."),
    steps: int | None = typer.Option(None, help="Training steps of the --config run (without --config: the shipped recipe's two runs)."),
    seed: int | None = typer.Option(None, help="Seed."),
    cache: Path | None = typer.Option(None, help="Joint cache folder (built once, resumable)."),
    config: Path | None = typer.Option(None, help="A TrainConfig JSON for one run; flags override it (default: the shipped recipe, simpose.train.lifter.SHIPPED_RECIPE)."),
    detector_cache: Path | None = typer.Option(None, help="A detector cache (simpose synth --detect) for a blazepose33 lifter's --config run."),
    resume: bool = typer.Option(False, help="Resume from the last checkpoint in --out."),
) -> None:
    """Train the 2D-to-3D lifter on synthetic humans (reproduces the shipped weights)."""
    from simpose.train.lifter import main as lifter_main

    opts = [("--steps", steps), ("--seed", seed), ("--cache", cache), ("--config", config), ("--detector-cache", detector_cache)]
    argv = ["--out", str(out)] + [a for k, v in opts if v is not None for a in (k, str(v))] + (["--resume"] if resume else [])
    lifter_main(argv)


@train_app.command("motion")
def train_motion_cmd(
    crops: Path = typer.Option(..., "--crops", help="A motion crop cache (simpose synth --motion-crops)."),
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoint.pt, config.json, motion.pt + motion.json."),
    inputs: str = typer.Option("flow,keypoints", help="What the network sees: a comma-separated subset of rgb, flow, keypoints."),
    flow: str = typer.Option("dis", help="Training flow: dis (as at test time) or gt (the renderer's)."),
    flow_norm: str = typer.Option("raw", "--flow-norm", help="What the network makes of the flow, in training and in use: raw, or person (on the keypoint skeleton minus its median, zero elsewhere)."),
    steps: int = typer.Option(1000, help="Training steps."),
    batch: int = typer.Option(32, help="Windows per step."),
    window: int = typer.Option(9, help="Frames per window (odd)."),
    seed: int = typer.Option(0, help="Seed."),
    resume: bool = typer.Option(True, help="Continue from --out's checkpoint (same settings)."),
) -> None:
    """Train the motion network (crops of RGB / optical flow / 2D keypoints -> 3D joints) on synthetic crops."""
    import sys

    from simpose.train.motion import MotionTrainConfig, train_motion

    try:
        config = MotionTrainConfig(inputs=inputs, flow_source=flow, steps=steps, batch=batch, window=window, seed=seed, flow_norm=flow_norm)
        weights = train_motion(crops, out, config, resume=resume, command=" ".join(["simpose", *sys.argv[1:]]))
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    console.print(f"wrote [bold]{weights}[/]")


eval_app = typer.Typer(help="Benchmarks: Human3.6M protocols, predictions against ground truth.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("h36m")
def eval_h36m(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for results.json, results.md and plots."),
    model: str = typer.Option("simpose", help="Model: 'simpose' (simpose.Estimator, the product) or 'mean-pose' (model-free floor)."),
    data: Path | None = typer.Option(None, help="Folder in the layout of shared/benchmarks/h36m (default: ../shared's)."),
    keypoints2d: Path | None = typer.Option(None, help="2D detections in the positions_2d layout (default: GT projections)."),
    joint_set: str = typer.Option("h36m17", help="Joint set of --keypoints2d (any set that maps to h36m17)."),
    plot: bool = typer.Option(False, help="Also write per-joint and per-action bar charts."),
    refine: bool = typer.Option(True, help="Ablation --no-refine: no test-time refinement (simpose.adapt.refine)."),
    body: bool = typer.Option(True, help="Ablation --no-body: score the refined joints, not the fitted body's."),
    align_2d: bool = typer.Option(True, "--align-2d/--no-align-2d", help="Ablation --no-align-2d: the body follows the refined 3D only, not the 2D."),
    lifter_only: bool = typer.Option(False, "--lifter-only", help="Ablation: the lifter's output alone (no refinement, no body)."),
    self_train: bool = typer.Option(False, help="Also adapt the lifter to each sequence on its own refined 3D (simpose.adapt.selftrain; ~1 h)."),
    every: int = typer.Option(1, help="Score every k-th sequence only (a quick look, not the protocol)."),
) -> None:
    """Human3.6M S9+S11 protocol #1 (MPJPE) and #2 (PA-MPJPE), all cameras, every frame, through simpose.Estimator."""
    from simpose.eval.h36m import fmt_mm
    from simpose.eval.runner import EvalError, ablation_settings, run_h36m

    try:
        settings = ablation_settings(refine=refine, body=body, align_2d=align_2d, self_train=self_train, lifter_only=lifter_only)
        result, paths = run_h36m(out=out, model=model, data=data, keypoints2d=keypoints2d, joint_set=joint_set, plot=plot, every=every, **settings)
    except (EvalError, FileNotFoundError, KeyError, ValueError) as exc:
        _fail(str(exc))
    table = Table(title=f"Human3.6M S9+S11 — {result.model} ({result.inputs})")
    for col in ("action", "MPJPE (mm)", "PA-MPJPE (mm)", "poses"):
        table.add_column(col, justify="right" if col != "action" else "left")
    for action, v in result.per_action.items():
        table.add_row(action, fmt_mm(v["mpjpe_mm"]), fmt_mm(v["pa_mpjpe_mm"]), str(v["n_poses"]))
    table.add_row("[bold]average[/]", f"[bold]{fmt_mm(result.protocol1_mpjpe_mm)}[/]", f"[bold]{fmt_mm(result.protocol2_pa_mpjpe_mm)}[/]", str(result.n_poses))
    if result.n_failed:
        console.print(f"[yellow]{result.n_failed} of {result.n_poses} poses failed (non-finite 2D input or prediction)[/]")
    console.print(table)
    console.print("wrote " + ", ".join(str(p) for p in paths))


@eval_app.command("clips")
def eval_clips(
    pred: Path = typer.Option(..., help="Predictions in the poses.npz layout (joints3d, joint_set, valid)."),
    gt: Path = typer.Option(..., help="Ground truth in the same layout."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for results.json and results.md."),
    plot: bool = typer.Option(False, help="Also write a per-joint bar chart."),
) -> None:
    """MPJPE, PA-MPJPE, N-MPJPE, PCK3D, AUC and acceleration error of predictions against ground truth."""
    from simpose.eval.h36m import fmt_mm
    from simpose.eval.runner import EvalError, evaluate_clips

    try:
        results, paths = evaluate_clips(pred, gt, out, plot=plot)
    except EvalError as exc:
        _fail(str(exc))
    table = Table(title=f"{pred.name} vs {gt.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in results.items():
        if isinstance(v, float):
            table.add_row(k, fmt_mm(v))
    table.add_row("poses (failed)", f"{results['n_poses']} ({results['n_failed']})")
    console.print(table)
    console.print("wrote " + ", ".join(str(p) for p in paths))


@eval_app.command("tracks")
def eval_tracks(
    pred: Path = typer.Option(..., help="Predictions: a run folder or its poses.npz (h36m17, every person: run --people all)."),
    gt: Path = typer.Option(..., help="Ground truth: a tracks .npz (joints3d (T,G,17,3), valid, joints2d), a simpose synth clip, a 3DPW .pkl, or a PoseTrack18 annotation .json (2D only)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for results.json and results.md."),
    min_confidence: float = typer.Option(0.0, help="PoseTrack .json only: predicted joints with a lower confidence are left out."),
) -> None:
    """Multi-person tracks, 3DPW-challenge style: known and per-frame association; MPJPE, PA-MPJPE, PCK3D, AUC, matched share, ID switches.
    Against a PoseTrack18 .json (2D ground truth): PoseTrack's per-joint CLEAR-MOT (MOTA, MOTP, precision, recall, ID switches)."""
    from simpose.eval.tracks import TracksError, evaluate_tracks_files
    from simpose.eval.tracks2d import evaluate_posetrack_files

    try:
        if gt.suffix.lower() == ".json":  # PoseTrack18: 2D ground truth only
            _, paths = evaluate_posetrack_files(pred, gt, out, min_confidence)
        else:
            _, paths = evaluate_tracks_files(pred, gt, out)
    except TracksError as exc:
        _fail(str(exc))
    console.print(Path(paths[1]).read_text(), markup=False, soft_wrap=True)
    console.print("wrote " + ", ".join(str(p) for p in paths))


@eval_app.command("multiview")
def eval_multiview(
    directory: Path = typer.Argument(..., help="Synchronised views: one video per camera (cam01.mp4, ...) and calib.json or a QTM .qca.txt."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for results.json, results.md, reference.png, reference.npz."),
    calib: Path | None = typer.Option(None, help="Calibration file (default: DIR/calib.json, else DIR/*.qca.txt)."),
    views: str | None = typer.Option(None, help="Comma-separated cameras to use (default: every camera of the calibration)."),
    start: int = typer.Option(0, help="First reference frame scored."),
    end: int | None = typer.Option(None, help="One past the last frame scored (default: to the end)."),
    threshold: float = typer.Option(40.0, help="Reprojection error (px) beyond which a view is an outlier for a joint and frame."),
    max_offset: int = typer.Option(5, help="Per-view frame offsets -N..N are estimated (0: none)."),
    sync: bool = typer.Option(True, help="Apply the estimated offsets (--no-sync: only report them)."),
    swaps: bool = typer.Option(True, help="Detect and undo left/right swaps per view and frame."),
    cache: Path | None = typer.Option(None, help="Cue cache folder (default ~/.cache/simpose/cues)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Always recompute the 2D keypoints."),
) -> None:
    """A 3D reference triangulated from calibrated views; each view's monocular 3D scored against it (and MediaPipe's own 3D)."""
    from simpose.cues.errors import CueError
    from simpose.data.records import DatasetError
    from simpose.eval.multiview import MultiviewConfig, MultiviewError, evaluate_multiview
    from simpose.track.run import RunError, default_cache_dir

    config = MultiviewConfig(threshold_px=threshold, max_offset=max_offset, sync=sync, fix_swaps=swaps, start=start, end=end,
                             cache_dir="" if no_cache else str(cache or default_cache_dir()))  # fmt: skip
    names = [v.strip() for v in views.split(",") if v.strip()] if views else None
    try:
        results, paths = evaluate_multiview(directory, out, calib, names, config, progress=True)
    except (MultiviewError, DatasetError, CueError, RunError) as exc:
        _fail(str(exc))
    console.print(Path(paths[1]).read_text(), markup=False, soft_wrap=True)
    console.print("wrote " + ", ".join(str(p) for p in paths))


@app.command()
def run(
    input: Path = typer.Argument(..., help="A video file, a folder of images, one image, or a folder of videos (a run folder OUT/<name> each)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: poses.npz/json, motion.bvh, overlay.mp4, skeleton3d.mp4, summary.png."),
    focal: float | None = typer.Option(None, help="Focal length in pixels (wins over --fov)."),
    fov: float | None = typer.Option(None, help="Field of view in degrees across the larger image side (default 60, with a warning)."),
    start: int = typer.Option(0, help="First frame (0-based)."),
    end: int | None = typer.Option(None, help="One past the last frame (default: to the end)."),
    fps: float | None = typer.Option(None, help="Frame rate: overrides the video's own; an image folder's (default 30)."),
    cache: Path | None = typer.Option(None, help="Cue cache folder (default ~/.cache/simpose/cues)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Always recompute the 2D keypoints."),
    views: bool = typer.Option(True, help="Write overlay.mp4, skeleton3d.mp4 and summary.png."),
    meshes_every: int = typer.Option(0, help="Also write DIR/meshes/mesh_XXXXXX.obj for every n-th valid frame (0: none)."),
    refine: bool = typer.Option(True, help="Test-time refinement: one skeleton (constant bone lengths) on the 2D rays, near the lifter's pose."),
    self_train: bool = typer.Option(False, help="Then fine-tune a copy of the lifter on the refined track and lift again (more accurate; ~8 ms/frame more on 2 cores)."),
    detector_lifter: bool = typer.Option(True, help="Lift MediaPipe's own 33 landmarks with the lifter trained on its output (--no-detector-lifter: map them to h36m17 for the h36m17 lifter)."),
    people: str = typer.Option("main", help="main: the main person (MediaPipe Pose); all: everyone, one track each (motion_<id>.bvh per track)."),
    max_people: int = typer.Option(8, help="With --people all: the most-seen tracks kept (and tracked at once)."),
    adapt: str = typer.Option("off", help="Test-time self-supervision on the video's keypoints, person masks and optical flow (a second MediaPipe pass with segmentation, and DIS flow): params optimises the body; weights back-propagates the same losses into a copy of the lifter through the body fit; off: none."),
    adapt_with: str = typer.Option("all", help="The cues of --adapt: all (keypoints, person masks, optical flow; a second MediaPipe pass) or keypoints (the 2D stage's own, no second pass)."),
    engine: str = typer.Option("local", help="A folder of videos: local (one after another) or ray (one Ray task per video; pip install 'simpose[cluster]')."),
    address: str | None = typer.Option(None, help="With --engine ray: the cluster to join (HEAD:6379, or auto); default: start Ray here with --workers CPUs."),
    workers: int = typer.Option(1, help="With --engine ray and no --address: CPUs of the Ray instance started here."),
    model: str = typer.Option("lifter", help="The 3D model: lifter (2D keypoints -> 3D, shipped) or motion (crops of optical flow / keypoints / RGB -> 3D; needs --motion-weights)."),
    motion_weights: Path | None = typer.Option(None, help="With --model motion: the weights (simpose train motion's motion.pt, card beside it)."),
) -> None:
    """Video to 3D motion of the main person, or of everyone with --people all (Ctrl-C once: stop and keep the frames done).

    Exit codes: 0 complete, 2 bad input, 3 incomplete (interrupted, or a video shorter than it
    declares) or aborted; a folder of videos: 3 when a video failed or is incomplete.
    """
    from simpose.cues.errors import CueError
    from simpose.track.run import RunConfig, RunError, RunInterrupted, default_cache_dir, run_video

    cache_dir = "" if no_cache else str(cache or default_cache_dir())
    if model not in ("lifter", "motion"):
        _fail(f"--model must be lifter or motion, got {model!r}")
    if (model == "motion") != (motion_weights is not None):
        _fail("--model motion needs --motion-weights (no motion model is shipped: simpose train motion makes one), and only it takes them")
    if model == "motion" and people != "main":
        _fail("--model motion follows the main person: drop --people all")
    config = RunConfig(
        focal=focal, fov=fov, start=start, end=end, fps=fps, cache_dir=cache_dir, views=views, mesh_every=meshes_every, refine=refine,
        self_train=self_train, detector_lifter=detector_lifter, progress=True, people=people, max_people=max_people, adapt=adapt,
        adapt_with=adapt_with, motion_weights=str(motion_weights) if motion_weights is not None else "",
    )
    if self_train and not refine:
        _fail("--self-train learns from the refined track: drop --no-refine")
    from simpose.track.batch import folder_videos

    if folder_videos(input):
        _run_folder(input, out, config, engine, address, workers)
        return
    if engine != "local" or address is not None:
        _fail("--engine ray runs a folder of videos (one task per video); one video runs here")
    try:
        with _sigterm_as_interrupt():
            result = run_video(input, out, config)
    except (CueError, RunError, FileNotFoundError) as exc:
        _fail(str(exc))
    except RunInterrupted as exc:
        _fail(f"interrupted while writing the views: {exc.out_dir} holds this run's poses, motion.bvh and run_config.json, no views", code=3)
    except KeyboardInterrupt:
        kept = (f"the 2D keypoints of a finished or stopped 2D stage are in the cue cache {cache_dir}: a rerun with the same input and options resumes from them"
                if cache_dir else "with --no-cache the 2D keypoints were not kept")  # fmt: skip
        _fail(f"interrupted: {out} was left as it was before this run (nothing half-written); {kept}", code=3)
    state = "" if result.complete else " [yellow](incomplete: see the warning above; complete = False in poses.npz)[/]"
    who = f"{result.n_people} people; " if people == "all" else ""
    console.print(f"{who}{result.n_valid} of {result.n_frames} frames with a person{state}; stage seconds: "
                  + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
    for name, path in result.paths.items():
        console.print(f"wrote [bold]{path}[/]")
    if not result.complete:
        raise typer.Exit(3)


def _run_folder(folder: Path, out: Path, config, engine: str, address: str | None, workers: int) -> None:
    """``simpose run`` over a folder of videos (simpose.track.batch): a line per video, exit 3 when one failed or is incomplete."""
    from simpose.track.batch import run_folder
    from simpose.track.run import RunError

    try:
        result = run_folder(folder, out, config, engine=engine, address=address, workers=workers)
    except (RunError, ValueError) as exc:
        _fail(str(exc))
    for stem in result.skipped:
        console.print(f"{stem}: complete before, skipped")
    for stem, (n_valid, n_frames, complete) in result.done.items():
        console.print(f"{stem}: {n_valid} of {n_frames} frames with a person" + ("" if complete else " [yellow](incomplete)[/]") + f" -> {out / stem}")
    for stem, message in result.failed.items():
        err_console.print(f"[bold red]{stem}:[/] {message}")
    if result.failed or not all(c for _, _, c in result.done.values()):
        raise typer.Exit(3)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler's or ``docker stop``'s) takes the path of a Ctrl-C: the 2D stage
    stops and keeps its frames (:func:`simpose.cues.detect.graceful_interrupt`), later stages
    abort cleanly (exit 3) instead of dying without a word."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
def adapt(
    run_dir: Path = typer.Argument(..., help="A run folder of 'simpose run' (its poses.npz)."),
    out: Path = typer.Option(..., "--out", "-o", help="New run folder: poses.npz/json, motion.bvh, run_config.json (no views)."),
    refine: bool = typer.Option(True, help="Test-time refinement: one skeleton (constant bone lengths) on the 2D rays, near the lifter's pose."),
    self_train: bool = typer.Option(False, help="Then fine-tune a copy of the lifter on the refined track and lift again (more accurate; ~8 ms/frame more on 2 cores)."),
    meshes_every: int = typer.Option(0, help="Also write DIR/meshes/mesh_XXXXXX.obj for every n-th valid frame (0: none)."),
) -> None:
    """Re-estimate a run's 3D from its own 2D keypoints, K and fps with other settings (no video needed).

    Exit codes: 0 done, 2 bad input.
    """
    from simpose.track.run import RunConfig, RunError, adapt_run

    if self_train and not refine:
        _fail("--self-train learns from the refined track: drop --no-refine")
    config = RunConfig(refine=refine, self_train=self_train, views=False, mesh_every=meshes_every, cache_dir="", progress=True)
    try:
        result = adapt_run(run_dir, out, config)
    except (RunError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"{result.n_valid} of {result.n_frames} frames with a person; stage seconds: "
                  + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
    for name, path in result.paths.items():
        console.print(f"wrote [bold]{path}[/]")


if __name__ == "__main__":  # pragma: no cover
    app()
