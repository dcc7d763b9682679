"""The motion crop cache: person crops of RGB, DIS flow and ground-truth flow for detector-cache clips.

``simpose synth --motion-crops DETCACHE --out DIR`` (:func:`build_motion_crops`) re-renders clips
of a detector cache (clip ``i`` depends on the cache's seed and ``i`` alone, so the frames are the
ones the detector saw; a check holds the rendered ground-truth 2D to the cache's) and stores, per
clip, the followed person's square crop (:func:`simpose.cues.crops.motion_crops`, the function the
real-video path calls, boxes from the cached detector keypoints):

* ``boxes`` (T, 3) float32 ``cx, cy, side`` pixels; ``rgb`` (T, S, S, 3) uint8;
* ``flow_dis`` (T - 1, S, S, 2) float16 crop pixels: OpenCV DIS on the rendered frames inside the
  person box, as the cue stage on real video; ``flow_gt`` the renderer's exact flow, same crops.

Files ``crops_XXXXXXX.npz`` (deflated, written atomically) next to ``motion_crops.json`` (the
detector cache, the crop settings); labels stay in the detector cache. A re-run skips finished
clips; a build into a folder made with other settings is an error.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.cues.crops import CropConfig, crop_flow, motion_crops
from simpose.synth.detcache import F16_MAX, KEYPOINT_SET, DetectorCache, det_path, encode_record, read_detector_clip
from simpose.synth.scene import SceneConfig

__all__ = ["MANIFEST", "crops_path", "build_motion_crops", "read_motion_crops"]

logger = logging.getLogger(__name__)

MANIFEST = "motion_crops.json"
_GT_CHECK_PX = 0.5  # rendered vs cached ground-truth 2D, beyond float16 rounding


def crops_path(out: str | Path, index: int) -> Path:
    """The file of clip ``index`` of a motion crop cache."""
    return Path(out) / f"crops_{index:07d}.npz"


def read_motion_crops(path: str | Path) -> dict[str, np.ndarray]:
    """One clip's crops: ``boxes``, ``rgb`` uint8, ``flow_dis`` and ``flow_gt`` float32."""
    with np.load(path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files if k != "meta"}
    for k in ("flow_dis", "flow_gt"):
        out[k] = out[k].astype(np.float32)
    return out


def _scene_config(manifest: dict) -> SceneConfig:
    scene = {k: tuple(v) if isinstance(v, list) else v for k, v in manifest["scene"].items()}
    return SceneConfig(**scene)


def build_motion_crops(detcache: str | Path, out: str | Path, clips: int | None = None, config: CropConfig = CropConfig(), progress: bool = True) -> list[Path]:
    """Build (or resume) the motion crops of the first ``clips`` clips of a detector cache.

    Args:
        detcache: a detector cache folder (read only). out: the crop cache folder (created).
        clips: how many (None: every finished clip of the cache). config: the crops.
        progress: a rich progress bar.
    Returns:
        The crop files, in clip order.
    Raises:
        DetectorCacheError: not a detector cache. ValueError: ``out`` holds crops of another
        cache or settings; a re-rendered clip whose ground truth differs from the cache's.
    """
    from rich.progress import Progress

    from simpose.synth.writer import ClipSynthesizer, single_threaded_math

    cache = DetectorCache(detcache)
    m = cache.manifest
    indices = sorted(int(f.stem.split("_")[1]) for f in cache.files)[: clips if clips is not None else None]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"detcache": str(Path(detcache).resolve()), "detector_version": m["detector_version"], "seed": m["seed"],
                "scene": m["scene"], "crop": dataclasses.asdict(config)}  # fmt: skip
    path = out / MANIFEST
    if path.is_file():
        old = json.loads(path.read_text())
        if {k: v for k, v in old.items() if k != "clips"} != manifest:
            raise ValueError(f"{out} holds motion crops of another detector cache or crop settings; use another --out")
    with atomic_open(path, "w") as f:
        f.write(json.dumps({**manifest, "clips": len(indices)}, indent=2))
    todo = [k for k in indices if not crops_path(out, k).is_file()]
    logger.info("motion crops %s: %d clips, %d already done", out, len(indices), len(indices) - len(todo))
    if todo:
        single_threaded_math()
        synth = ClipSynthesizer(_scene_config(m), m.get("motions"), m.get("backgrounds"), out / ".motion_cache")
        try:
            start = time.perf_counter()
            with Progress(disable=not progress) as bar:
                task = bar.add_task("motion crops", total=len(todo))
                for n, k in enumerate(todo, 1):
                    data = _clip_crops(synth, m["seed"], k, det_path(detcache, k), config)
                    with atomic_open(crops_path(out, k)) as f:
                        f.write(data)
                    bar.advance(task)
                    logger.info("clip %d: %.1f s/clip", k, (time.perf_counter() - start) / n)
        finally:
            synth.rasterizer.close()
    return [crops_path(out, k) for k in indices]


def _clip_crops(synth, seed: int, index: int, det_file: Path, config: CropConfig) -> bytes:
    """Render clip ``index``, check it is the cached one, crop it; the file bytes."""
    det = read_detector_clip(det_file)
    clip = synth.make(seed, index)
    # the cache stores float16, clipped to its range (joints near the camera plane project far
    # out), and its spacing grows with the value
    gt = np.clip(np.asarray(clip["joints2d"][KEYPOINT_SET], np.float64), -F16_MAX, F16_MAX)
    gap = np.nanmax(np.abs(gt - det.joints2d[KEYPOINT_SET]) - np.abs(gt) * 2.0**-10)
    if not gap <= _GT_CHECK_PX:
        raise ValueError(f"clip {index}: the re-rendered ground truth differs from the detector cache's by {gap:.2f} px")
    crops = motion_crops(clip["rgb"], det.keypoints, det.valid, config)
    flow_gt = crop_flow(clip["flow"], crops.boxes[:-1], config.size)
    arrays = {"boxes": crops.boxes, "rgb": crops.rgb, "flow_dis": crops.flow.astype(np.float16), "flow_gt": flow_gt.astype(np.float16)}
    return encode_record(arrays, {"clip_index": int(index), "crop": dataclasses.asdict(config)})
