"""A disk cache of retargeted BVH clips, shared by the workers (and re-runs) of one dataset.

Retargeting a CMU clip to the body takes about a second; a dataset samples each of ~200 files
many times, in every worker. :class:`CachedMotionLibrary` is the motion library with its
per-file retargeting result also kept as ``<cache_dir>/<key>.npz``, written atomically. The key
hashes the file's path, size and modification time, the retargeting frame rate and the source
of the modules that retarget (so a code change never reads stale results). The arrays are
stored exactly (float64), so a cached clip gives the same dataset bytes as a fresh one.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.motion.library import MotionLibrary
from simpose.motion.retarget import MotionClip

logger = logging.getLogger(__name__)

__all__ = ["CachedMotionLibrary"]


@functools.lru_cache(maxsize=1)
def _code_hash() -> str:
    """Hash of the sources that turn a BVH file into a retargeted clip (and of anny's version)."""
    import importlib.metadata

    import simpose.body.model
    import simpose.body.skinning
    import simpose.motion.acclaim
    import simpose.motion.bvh
    import simpose.motion.library
    import simpose.motion.resample
    import simpose.motion.retarget

    h = hashlib.sha1()
    for mod in (simpose.motion.acclaim, simpose.motion.bvh, simpose.motion.resample, simpose.motion.retarget, simpose.motion.library,
                simpose.body.model, simpose.body.skinning):  # fmt: skip
        h.update(Path(mod.__file__).read_bytes())
    try:
        h.update(importlib.metadata.version("anny").encode())
    except importlib.metadata.PackageNotFoundError:
        pass
    return h.hexdigest()[:16]


class CachedMotionLibrary(MotionLibrary):
    """:class:`MotionLibrary` whose retargeted BVH clips are also cached in ``cache_dir``.

    Args:
        body, config: as :class:`MotionLibrary`. cache_dir: the cache folder (created); None =
            no disk cache (plain :class:`MotionLibrary`).
    """

    def __init__(self, body, config, cache_dir: str | Path | None = None) -> None:
        super().__init__(body, config)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)

    def _key(self, path: Path) -> str:
        st = path.stat()
        rel = self.source_name(path)
        text = f"{rel}|{st.st_size}|{st.st_mtime_ns}|{self.config.retarget_fps}|{_code_hash()}"
        return hashlib.sha1(text.encode()).hexdigest()[:20]

    def mocap_clip(self, index: int) -> MotionClip:
        """As :meth:`MotionLibrary.mocap_clip`, reading and filling the disk cache."""
        path = self.files[index]
        if self.cache_dir is None or path in self._cache:
            return super().mocap_clip(index)
        file = self.cache_dir / f"{self._key(path)}.npz"
        motion = None
        if file.is_file():
            try:
                with np.load(file, allow_pickle=False) as z:
                    shape = z["shape_params"] if z["shape_params"].size else None
                    motion = MotionClip(
                        pose_rotvecs=z["pose_rotvecs"], global_rotvecs=z["global_rotvecs"], trans=z["trans"],
                        fps=float(z["fps"]), source=str(z["source"]), shape_params=shape,
                    )  # fmt: skip
            except (OSError, ValueError, KeyError) as e:  # a damaged entry: retarget again
                logger.warning("motion cache entry %s unreadable (%s); retargeting %s again", file, e, path)
        if motion is None:
            motion = super().mocap_clip(index)
            self._store(file, motion)
            return motion
        self._cache[path] = motion
        while len(self._cache) > max(self.config.cache_size, 1):
            self._cache.popitem(last=False)
        return motion

    def _store(self, file: Path, motion: MotionClip) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(file) as f:
            np.savez(
                f, pose_rotvecs=motion.pose_rotvecs, global_rotvecs=motion.global_rotvecs, trans=motion.trans,
                fps=np.float64(motion.fps), source=np.str_(motion.source),
                shape_params=np.zeros(0) if motion.shape_params is None else np.asarray(motion.shape_params),
            )  # fmt: skip

    def __repr__(self) -> str:
        return super().__repr__() + f", disk cache {self.cache_dir}"

