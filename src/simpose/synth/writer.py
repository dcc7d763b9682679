"""The dataset writer behind ``simpose synth``: one ``clip_XXXXXXX.npz`` per clip, resumable, sharded.

Clip ``i`` is drawn from ``numpy.random.SeedSequence([seed, i])`` alone, so the same seed gives the
same files whatever the sharding, the number of workers or the order of work. Finished files
(written atomically by :func:`simpose.data.synthetic.write_clip`) are skipped on a re-run.
Each worker renders a chunk of clips and writes each file on a background thread while the next
renders; retargeted BVH clips are cached in ``<out>/.motion_cache`` for every worker and re-run
(:mod:`simpose.synth.motion_cache`). Both change timing only, never the bytes.

``synth_config.json`` describes the files: a re-run into the same folder must have the same
settings (only ``clips`` may grow), else it is an error, so two datasets never mix. Temporary
files that a killed run left are removed; a ``--size`` whose clips need gigabytes of memory is
warned about before the work starts.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.body.joints import JOINT_SETS
from simpose.render.parts import PART_NAMES
from simpose.synth.scene import SceneConfig

logger = logging.getLogger(__name__)

__all__ = ["synthesize", "clip_path", "clip_seed", "ClipSynthesizer", "parse_shard", "shard_indices", "single_threaded_math"]


def clip_path(out: str | Path, index: int) -> Path:
    """The file of clip ``index`` (global index) in ``out``."""
    return Path(out) / f"clip_{index:07d}.npz"


def clip_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of clip ``index`` of a dataset with ``seed``."""
    return np.random.SeedSequence([int(seed), int(index)])


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with 0 <= i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def shard_indices(shard: tuple[int, int], clips: int) -> list[int]:
    """The clip indices ``i, i + n, ...`` below ``clips`` of shard ``(i, n)``.

    Raises:
        ValueError: not 0 <= i < n, or a shard that holds no clip of a non-empty dataset (a job
            array with more shards than clips: its spec does not match the dataset).
    """
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard (i, n) needs 0 <= i < n, got {shard}")
    if 0 < clips <= i:
        raise ValueError(f"shard {i}/{n} holds no clip of a {clips}-clip dataset (clip indices 0..{clips - 1}): use at most {clips} shards")
    return list(range(i, clips, n))


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class ClipSynthesizer:
    """Body model, motion library, backgrounds and rasterizer for one process.

    Args:
        config: :class:`SceneConfig`. motions: BVH folder or None (library default).
        backgrounds: image folder or None (procedural).
        motion_cache: folder of retargeted BVH clips shared with other workers
            (:mod:`simpose.synth.motion_cache`); None = in memory only.
    Raises:
        ValueError: bad motions or backgrounds folder. RenderError: no EGL context.
    """

    def __init__(
        self,
        config: SceneConfig,
        motions: str | Path | None = None,
        backgrounds: str | Path | None = None,
        motion_cache: str | Path | None = None,
    ):
        from simpose.body.skinning import FastBodyModel
        from simpose.motion.library import LibraryConfig
        from simpose.synth.motion_cache import CachedMotionLibrary
        from simpose.render.appearance import BackgroundSource
        from simpose.render.parts import body_part_labels
        from simpose.render.raster import Rasterizer
        from simpose.synth.clip import ClipRenderer

        self.config = config
        self.body = FastBodyModel()  # = BodyModel, faster for one shape at a time (motion library too)
        self.skinner = self.body.skinner
        # every retargeted BVH stays cached (a few hundred kB each): a worker retargets a file once
        self.library = CachedMotionLibrary(self.body, LibraryConfig(motions_dir=motions, cache_size=4096), motion_cache)
        self.backgrounds = BackgroundSource(backgrounds)
        self.part_labels = body_part_labels(self.body)
        self.rasterizer = Rasterizer(config.size, config.size)
        self.renderer = ClipRenderer(self.body, self.rasterizer, self.part_labels, config=config)

    def make(self, seed: int, index: int) -> dict:
        """The full clip dict (with ``meta``) of clip ``index``."""
        from simpose.synth.clip import OCCLUSION_CODES
        from simpose.synth.scene import sample_scene

        rng = np.random.default_rng(clip_seed(seed, index))
        scene = sample_scene(self.config, rng, self.body, self.library, self.part_labels, self.backgrounds, self.skinner)
        clip = self.renderer.render(scene)
        clip.pop("occluder_pixels")
        L = scene.lighting
        clip["meta"] = {
            "seed": int(seed),
            "clip_index": int(index),
            "motion_sources": [p.source for p in scene.people],
            "versions": {k: _version(k) for k in ("simpose", "anny", "numpy", "torch", "moderngl")},
            "config": dataclasses.asdict(self.config),
            "fps": self.config.fps,
            "focal_mm": scene.focal_mm,
            "camera_R": clip.pop("camera_R").tolist(),
            "camera_t": clip.pop("camera_t").tolist(),
            "background": scene.background_source,
            "background_plane_depth": scene.far_depth,
            "lighting": dataclasses.asdict(L),
            "truncated": [bool(p.truncated) for p in scene.people],
            "occluders": [
                {"kind": o.kind, "depth": o.depth, "velocity_px": o.velocity.tolist(), "outline_px": o.outline.tolist()}
                for o in scene.occluders
            ],
            "degradations": clip.pop("degradations"),
            "occlusion_codes": {str(k): v for k, v in OCCLUSION_CODES.items()},
            "part_names": list(PART_NAMES),
            "joint_sets": list(JOINT_SETS),
            "world_frame": "y down, floor y=0; body params world frame; joints camera frame",
        }
        return clip


_WORKER: dict = {}


def _init_worker(config, motions, backgrounds, pool: bool = False, motion_cache=None) -> None:
    if pool:
        import os

        # one llvmpipe thread per pool worker: the workers already fill the cores, and extra
        # render threads only add switching (no effect on a GPU; a value set by the user wins)
        os.environ.setdefault("LP_NUM_THREADS", "1")
    single_threaded_math()
    _WORKER["synth"] = ClipSynthesizer(config, motions, backgrounds, motion_cache)


def single_threaded_math() -> int:
    """One torch thread (returns the previous count): a clip's tensors are small, so thread
    hand-offs cost more CPU than they save; the processes are the parallelism. Every path
    (in-process and pool workers) sets it, so the files do not depend on ``--workers``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    return before


def _work(jobs: list[tuple[int, int, str]]) -> list[int]:
    """Render a chunk of clips ``(seed, index, out)`` with this process's synthesizer.

    Each file is compressed and written on a background thread while the next clip renders
    (zlib and file writes release the GIL); at most two clips are in memory. Returns the
    indices once every file of the chunk is on disk, so a reported clip is a finished file.
    """
    from concurrent.futures import ThreadPoolExecutor

    from simpose.data.synthetic import write_clip

    synth = _WORKER["synth"]
    with ThreadPoolExecutor(1) as pool:
        pending = None
        for seed, index, out in jobs:
            clip = synth.make(seed, index)
            if pending is not None:
                pending.result()
            pending = pool.submit(write_clip, clip_path(out, index), clip)
        if pending is not None:
            pending.result()
    return [index for _, index, _ in jobs]


def _ray_clip(config: SceneConfig, motions: str | None, backgrounds: str | None, motion_cache: str | None, seed: int, index: int) -> bytes:
    """A Ray task (:mod:`simpose.cluster`): the file bytes of clip ``index``, rendered by this
    worker process's synthesizer (built on its first task, as a pool worker's)."""
    from simpose.cluster import process_cached
    from simpose.data.synthetic import encode_clip

    def build() -> ClipSynthesizer:
        _init_worker(config, motions, backgrounds, True, motion_cache)
        return _WORKER.pop("synth")

    synth = process_cached(("synth", config, motions, backgrounds, motion_cache), build, lambda s: s.rasterizer.close())
    return encode_clip(synth.make(seed, index))


# Peak memory of one clip per pixel and frame: the outputs (RGB, mask, parts, depth, flow) and
# the render's float buffers; measured: 7.7 GB for one 16-frame 4096 px clip (29 bytes).
_PEAK_BYTES_PER_PIXEL = 29
_MEMORY_WARNING_BYTES = 4 * 2**30
# a temporary clip file untouched this long belongs to a killed run, not a live worker (a live
# one is written within seconds of being created)
_STALE_TMP_SECONDS = 300


def _same_dataset(out: Path, record: dict) -> dict:
    """The settings to record in ``out/synth_config.json``. Resuming (or extending) a dataset
    needs its settings; other ones would mix two datasets under one config file: an error.

    ``clips`` may differ (clip i depends on the seed and i alone): the record keeps the larger.

    Raises:
        ValueError: other settings, an unreadable config, or clips without a config.
    """
    path = out / "synth_config.json"
    if not path.is_file():
        clip = next(iter(sorted(out.glob("clip_*.npz"))), None)
        if clip is not None:  # killed before the config was written: a clip's own record tells
            try:
                with np.load(clip) as z:
                    meta = json.loads(z["meta"].tobytes())
                old = {"seed": meta["seed"], **meta["config"]}
            except Exception:  # noqa: BLE001 - any unreadable clip leaves the settings unknown
                raise ValueError(f"{out} holds clip files but no synth_config.json, and {clip.name} is unreadable: use another --out") from None
            diff = [f"{k} {old[k]!r} (asked: {record.get(k)!r})" for k in sorted(old) if old[k] != record.get(k)]
            if diff:
                raise ValueError(f"{out} holds clips made with other settings: {'; '.join(diff)}. Resume with their settings, or write to another --out")
        return record
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable ({e}); cannot tell whether this run's settings match its clips") from None
    diff = [f"{k} {old.get(k)!r} (asked: {record.get(k)!r})" for k in sorted(set(old) | set(record)) if k != "clips" and old.get(k) != record.get(k)]
    if diff:
        raise ValueError(f"{out} holds a dataset with other settings: {'; '.join(diff)}. Resume it with its settings, or write to another --out")
    return {**record, "clips": max(int(old.get("clips", 0)), int(record["clips"]))}


def _warn_memory(size: int, frames: int, people: int, workers: int) -> None:
    need = _PEAK_BYTES_PER_PIXEL * size * size * frames * workers
    if need > _MEMORY_WARNING_BYTES:
        logger.warning(
            "--size %d with %d frames and %d worker(s) needs about %.1f GB of memory at once (%.1f GB per clip); "
            "use a smaller --size, fewer --frames or --workers if that is more than this machine has",
            size, frames, workers, need / 1e9, need / workers / 1e9,
        )  # fmt: skip


def _remove_stale_temporaries(out: Path) -> None:
    """Remove the ``.clip_*.tmp`` files a killed run left behind (not those of live workers)."""
    import time

    now = time.time()
    for tmp in out.glob(".clip_*.tmp"):
        try:
            if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                tmp.unlink()
                logger.info("removed %s, left by an interrupted run", tmp)
        except FileNotFoundError:  # another shard removed or renamed it meanwhile
            pass


def _chunks(jobs: list, workers: int, most: int = 4) -> list[list]:
    """Jobs in chunks of up to ``most``, small enough that every worker gets several."""
    size = max(1, min(most, len(jobs) // (4 * workers)))
    return [jobs[k : k + size] for k in range(0, len(jobs), size)]


def synthesize(
    out: str | Path,
    clips: int,
    frames: int,
    size: int,
    seed: int = 0,
    people: int = 1,
    workers: int = 1,
    motions: str | Path | None = None,
    backgrounds: str | Path | None = None,
    shard: tuple[int, int] = (0, 1),
    fps: float = 30.0,
    progress: bool = True,
    options: dict | None = None,
    engine: str = "local",
    address: str | None = None,
) -> list[Path]:
    """Render clips ``shard[0], shard[0] + shard[1], ...`` below ``clips`` into ``out``, skipping finished ones.

    Args:
        out: output folder (created). clips: total clips of the dataset. frames: T per clip.
        size: S pixels (square). seed: dataset seed. people: at most P people per clip.
        workers: processes (each with its own BodyModel and Rasterizer). motions: BVH folder.
        backgrounds: image folder. shard: (i, n). fps: frame rate. progress: show a rich bar.
        options: further :class:`SceneConfig` fields (truncated_share, occluder_prob,
            max_occluders, motion_blur, noise_std, jpeg_quality, ...).
        engine: ``"local"`` (this machine's processes) or ``"ray"`` (one Ray task per clip,
            :mod:`simpose.cluster`; the same files). address: the Ray cluster to join (None:
            start one on this machine with ``workers`` CPUs).
    Returns:
        The files of this shard (finished before or now).
    Raises:
        ValueError: bad sizes, shard, motions or backgrounds folder. RenderError: no EGL context.
        ClusterError (a ValueError): Ray missing, the cluster unreachable, clips that failed every retry.
    """
    from simpose.cluster import check_engine

    check_engine(engine, address)
    if size <= 0:
        raise ValueError(f"--size must be a positive number of pixels, got {size}")
    if clips < 0 or frames < 1 or people < 1 or workers < 1:
        raise ValueError(f"need clips >= 0, frames >= 1, people >= 1, workers >= 1; got {clips}, {frames}, {people}, {workers}")
    indices = shard_indices(shard, clips)
    i, n = shard
    unknown = set(options or {}) - {f.name for f in dataclasses.fields(SceneConfig)}
    if unknown:
        raise ValueError(f"unknown scene options {sorted(unknown)}")
    config = SceneConfig(size=size, frames=frames, fps=fps, people=people, **(options or {}))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"clips": clips, "seed": seed, "motions": str(Path(motions).resolve()) if motions else None,
              "backgrounds": str(Path(backgrounds).resolve()) if backgrounds else None, **dataclasses.asdict(config)}  # fmt: skip
    record = _same_dataset(out, json.loads(json.dumps(record)))
    _warn_memory(size, frames, people, workers)
    _remove_stale_temporaries(out)
    todo = [k for k in indices if not clip_path(out, k).is_file()]

    def record_config() -> None:  # once the inputs are known to work: a failed start must not claim the folder
        with atomic_open(out / "synth_config.json", "w") as f:
            f.write(json.dumps(record, indent=2))

    if not todo:
        record_config()
    logger.info("synth: %d clips in shard %d/%d, %d already done", len(indices), i, n, len(indices) - len(todo))
    chunks = _chunks([(seed, k, str(out)) for k in todo], workers)
    cache = out / ".motion_cache"  # retargeted BVH clips, shared by the workers and re-runs
    if todo:
        from rich.progress import Progress

        with Progress(disable=not progress) as bar:
            task = bar.add_task("synth", total=len(todo))
            if engine == "ray":
                _synthesize_ray(out, todo, seed, config, motions, backgrounds, cache, record_config, lambda: bar.advance(task), address, workers)
            elif workers == 1:
                import torch

                threads = torch.get_num_threads()
                _init_worker(config, motions, backgrounds, False, cache)
                record_config()
                try:
                    for done in map(_work, chunks):
                        bar.advance(task, len(done))
                finally:
                    _WORKER.pop("synth").rasterizer.close()
                    torch.set_num_threads(threads)
            else:
                import multiprocessing as mp

                ctx = mp.get_context("spawn")  # no forked EGL / torch state
                # (BLAS threads stay as they are: a different count changes float sums in the
                # last bit, and the files must not depend on --workers)
                pool = ctx.Pool(workers, initializer=_init_worker, initargs=(config, motions, backgrounds, True, cache))
                with pool:
                    for k, done in enumerate(pool.imap_unordered(_work, chunks)):
                        if k == 0:
                            record_config()
                        bar.advance(task, len(done))
    return [clip_path(out, k) for k in indices]


def _synthesize_ray(out: Path, todo: list[int], seed: int, config: SceneConfig, motions, backgrounds, cache: Path,
                    record_config, advance, address: str | None, workers: int) -> None:  # fmt: skip
    """The clips ``todo`` as Ray tasks; this process writes each file as its bytes arrive."""
    from simpose.cluster import run_tasks

    # Absolute paths: a worker's working folder is not this one. The motion cache is a folder of
    # this machine: on a cluster each worker process keeps its retargeted clips in memory instead.
    motions = str(Path(motions).resolve()) if motions else None
    backgrounds = str(Path(backgrounds).resolve()) if backgrounds else None
    shared_cache = str(cache.resolve()) if address is None else None
    written = []

    def write(job: tuple, data: bytes) -> None:
        with atomic_open(clip_path(out, job[-1])) as f:
            f.write(data)
        if not written:  # once a clip exists the inputs are known to work
            record_config()
        written.append(job[-1])
        advance()

    jobs = [(config, motions, backgrounds, shared_cache, seed, k) for k in todo]
    run_tasks(_ray_clip, jobs, write, address=address, num_cpus=workers)
