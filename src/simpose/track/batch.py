"""``simpose run FOLDER --out DIR`` over a folder of videos: one run folder ``DIR/<video stem>`` each.

Each video is an independent :func:`~simpose.track.run.run_video` (a folder of images stays one
input: :func:`~simpose.cues.video.open_video`). With ``engine="ray"`` each video is a Ray task
(:mod:`simpose.cluster`; on a cluster the workers write the run folders, so ``DIR`` and the
videos must be on a file system every node sees). A video whose run folder holds a complete
run (``poses.npz`` with ``complete`` true) is skipped, so a killed job resumes where it was.
A video that fails (no person found, unreadable) does not stop the others; they are reported
together at the end.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from simpose.cues.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

logger = logging.getLogger(__name__)

__all__ = ["folder_videos", "run_folder", "FolderResult"]


@dataclasses.dataclass(frozen=True)
class FolderResult:
    """What a folder run produced: per video stem, ``(n_valid, n_frames, complete)`` of the runs
    done now, the stems skipped (complete before) and the stems that failed with their message."""

    done: dict[str, tuple[int, int, bool]]
    skipped: list[str]
    failed: dict[str, str]


def folder_videos(folder: str | Path) -> list[Path]:
    """The video files of ``folder`` (sorted), or [] when it holds images (an image sequence) or no video."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = sorted(f for f in folder.iterdir() if f.is_file())
    if any(f.suffix.lower() in IMAGE_SUFFIXES for f in files):
        return []
    return [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]


def _complete(run_dir: Path) -> bool:
    try:
        with np.load(run_dir / "poses.npz") as z:
            return bool(z["complete"])
    except (OSError, KeyError, ValueError):
        return False


def _run_one(video: str, out_dir: str, config) -> tuple[int, int, bool] | str:
    """One video's run (also a Ray task): ``(n_valid, n_frames, complete)``, or the message of an
    input error (no person, unreadable video: no use retrying it)."""
    from simpose.cues.errors import CueError
    from simpose.track.run import RunError, run_video

    try:
        result = run_video(video, out_dir, config)
    except (CueError, RunError) as e:
        return str(e)
    return result.n_valid, result.n_frames, result.complete


def run_folder(folder: str | Path, out: str | Path, config, engine: str = "local", address: str | None = None, workers: int = 1) -> FolderResult:
    """Run every video of ``folder`` into ``out/<stem>`` (module docstring).

    Args:
        folder: a folder of videos (:func:`folder_videos`). out: the parent of the run folders.
        config: the :class:`~simpose.track.run.RunConfig` of every run.
        engine: ``"local"`` (one after another in this process) or ``"ray"`` (a task per video).
        address: the Ray cluster to join (None: start one here with ``workers`` CPUs).
    Raises:
        RunError: no video in ``folder``, two videos with one stem. ClusterError: Ray missing or unreachable.
    """
    from simpose.cluster import check_engine
    from simpose.track.run import RunError

    check_engine(engine, address)
    videos = folder_videos(folder)
    if not videos:
        raise RunError(f"{folder}: no videos ({', '.join(VIDEO_SUFFIXES)}) in this folder")
    stems = [v.stem for v in videos]
    if len(set(stems)) < len(stems):
        raise RunError(f"{folder}: two videos share a name ({sorted(s for s in stems if stems.count(s) > 1)}): their run folders would collide")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    skipped = [v.stem for v in videos if _complete(out / v.stem)]
    todo = [v for v in videos if v.stem not in skipped]
    done: dict[str, tuple[int, int, bool]] = {}
    failed: dict[str, str] = {}

    def record(stem: str, result) -> None:
        if isinstance(result, str):
            logger.error("%s: %s", stem, result)
            failed[stem] = result
        else:
            done[stem] = tuple(result)

    if engine == "ray" and todo:
        from simpose.cluster import run_tasks

        cfg = dataclasses.replace(config, progress=False)  # progress bars of parallel tasks would interleave
        jobs = [(str(v.resolve()), str((out / v.stem).resolve()), cfg, v.stem) for v in todo]
        run_tasks(_ray_run, jobs, lambda job, r: record(job[-1], r), address=address, num_cpus=workers, retries=1)
    else:
        for v in todo:
            record(v.stem, _run_one(str(v), str(out / v.stem), config))
    return FolderResult(dict(sorted(done.items())), skipped, dict(sorted(failed.items())))


def _ray_run(video: str, out_dir: str, config, stem: str) -> tuple[int, int, bool] | str:
    """The Ray task of one video (``stem`` names it in the log)."""
    return _run_one(video, out_dir, config)
