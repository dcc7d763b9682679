"""A folder of cached cues: one ``.npz`` per (video, settings), written atomically.

The key of an entry hashes what identifies the input cheaply — the resolved path, byte size and
modification time of the video file (of every image, for an image folder) — together with the
cue settings, the cache format and the detector's version. Editing or replacing the video, or
changing any setting, therefore misses the cache; renaming or touching the file does too
(a cheap false miss). A file rewritten with its old size and mtime, or an entry copied under
another name, would hit: so the readers also store the video's :func:`content_fingerprint` and
check every entry against the video (frames, shapes, finite values) before using it.

Entries are written to a temporary file in the cache folder and renamed over the final name
(``os.replace``), so an interrupted run never leaves a truncated entry; an unreadable entry is
logged and treated as a miss.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.cues.video import ImageSequence, VideoSource

__all__ = [
    "CACHE_FORMAT", "source_fingerprint", "content_fingerprint", "cache_key", "cache_path", "save_arrays", "load_arrays", "range_entry_problem",
    "pack_flow", "unpack_flow", "quantize_flow_", "FLOW_QUANTUM",
]  # fmt: skip

log = logging.getLogger(__name__)

# bump when the stored arrays change meaning; old entries then miss
CACHE_FORMAT = 1
# packages whose version changes the cues
_VERSIONED = ("mediapipe", "opencv-contrib-python", "opencv-python", "opencv-python-headless")


def source_fingerprint(source: VideoSource) -> dict:
    """What identifies a video's content cheaply: path, size and mtime of its file(s).

    Returns:
        a JSON-serialisable dict.
    """
    files = source.files if isinstance(source, ImageSequence) else [source.path]
    stats = []
    for f in files:
        st = Path(f).stat()
        stats.append([Path(f).name, st.st_size, st.st_mtime_ns])
    return {"path": str(Path(source.path).resolve()), "files": stats}


def content_fingerprint(source: VideoSource) -> str:
    """Hex SHA-256 of what the video shows: its first frame's pixels, its size and frame count.

    The key (:func:`source_fingerprint`) trusts the path, size and mtime; an entry stores this
    too, so that one made from other content (a copied or renamed entry, a file rewritten with
    its old mtime) is caught when it is read. One decoded frame: cheap next to any cue.
    """
    _, first = next(iter(source.frames(0, 1)))
    h = hashlib.sha256(np.ascontiguousarray(first).tobytes())
    h.update(json.dumps([list(source.size), int(source.n_frames)]).encode())
    return h.hexdigest()


def range_entry_problem(arrays: dict, keys, content: str, start: int) -> str | None:
    """Why a stage's entry of a frame range from ``start`` (complete, or a prefix of it: a
    partial entry, to resume) cannot be this video's, as far as every such entry goes; None if
    it can (the stage then checks the range's length and its own arrays).

    Args:
        arrays: the entry (:func:`load_arrays`); keys: the names it must hold, ``frame_index`` and
            ``content`` among them; content: this video's :func:`content_fingerprint`; start: the
            range's first frame.
    """
    missing = [k for k in keys if k not in arrays]
    if missing:
        return f"no {', '.join(missing)}"
    if str(arrays["content"]) != content:
        return "made from another video's frames"
    fi = arrays["frame_index"]
    if fi.ndim != 1 or len(fi) == 0 or not np.array_equal(fi, np.arange(start, start + len(fi))):
        return f"frame indices are not the range's from {start}"
    return None


def _versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def cache_key(source: VideoSource, settings: dict) -> str:
    """Hex SHA-256 of the source fingerprint, the settings, the cache format and library versions.

    Args:
        source: the opened video.
        settings: JSON-serialisable cue settings (e.g. ``dataclasses.asdict(config)``).
    """
    blob = json.dumps(
        {"format": CACHE_FORMAT, "source": source_fingerprint(source), "settings": settings, "versions": _versions()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_path(cache_dir: str | os.PathLike, source: VideoSource, key: str) -> Path:
    """``cache_dir/<video name>.<key[:16]>.npz`` (the name is only for people browsing the folder)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source.path).stem)[:64] or "video"
    return Path(cache_dir) / f"{stem}.{key[:16]}.npz"


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays to a compressed ``.npz`` atomically (temporary file + ``os.replace``).

    Deflate level 1: several times faster than ``np.savez_compressed``'s default on masks and
    flow, for a few percent more bytes; ``np.load`` reads it as usual.

    Args:
        path: final file name; its folder is created.
        arrays: name -> array (no object arrays; strings as numpy unicode arrays).
    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return path


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """Read a ``.npz`` written by :func:`save_arrays`; None if missing or unreadable (logged)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        log.warning("ignoring unreadable cue cache entry %s (%s)", path, e)
        return None


# ----------------------------------------------------------------- flow storage
# Flow is stored as int16 multiples of FLOW_QUANTUM pixels, only inside the boxes where it was
# computed: error <= 1/32 px (DIS itself is good to a few tenths), range +-2048 px, and about a
# third of the compressed size of float16.
FLOW_QUANTUM = 1.0 / 16.0


def pack_flow(flow: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Quantise the flow inside each box and concatenate the crops.

    Args:
        flow: (N, H, W, 2) float pixels.
        boxes: (N, 4) int ``x0, y0, x1, y1`` inside the image (empty boxes store nothing).
    Returns:
        (M,) int16, the crops in order, row-major.
    """
    parts = [_quantize(flow[i, y0:y1, x0:x1]).ravel() for i, (x0, y0, x1, y1) in enumerate(boxes)]
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


def unpack_flow(packed: np.ndarray, boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`pack_flow`: (N, H, W, 2) float32 pixels, zero outside the boxes."""
    w, h = image_size
    flow = np.zeros((len(boxes), h, w, 2), np.float32)
    offset = 0
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        shape = (max(y1 - y0, 0), max(x1 - x0, 0), 2)
        n = shape[0] * shape[1] * 2
        if packed.size < offset + n:
            raise ValueError(f"packed flow too short for box {i}: {packed.size} < {offset + n}")
        flow[i, y0:y1, x0:x1] = packed[offset : offset + n].reshape(shape).astype(np.float32) * np.float32(FLOW_QUANTUM)
        offset += n
    if offset != packed.size:
        raise ValueError(f"packed flow has {packed.size - offset} values beyond its boxes")
    return flow


def quantize_flow_(flow: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Round ``flow`` inside the boxes to what :func:`pack_flow` stores, in place; returns it."""
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        flow[i, y0:y1, x0:x1] = _quantize(flow[i, y0:y1, x0:x1]).astype(np.float32) * np.float32(FLOW_QUANTUM)
    return flow


def _quantize(flow: np.ndarray) -> np.ndarray:
    return np.clip(np.round(flow / FLOW_QUANTUM), -32768, 32767).astype(np.int16)
