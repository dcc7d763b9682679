"""Synthetic clip files (written by ``simpose synth``): one compressed ``.npz`` per clip.

Layout inside the npz: the image arrays (``rgb mask parts depth flow K``) by name, the
annotation dicts flattened as ``joints3d/<set>``, ``joints2d/<set>``, ``visible/<set>``, ``occlusion/<set>`` (why a joint is
not visible, codes in ``meta['occlusion_codes']``),
``body/<name>``, and ``meta`` as a JSON string (uint8 bytes). The uint8 images are deflated
(level 1), other arrays stored; entries carry a fixed timestamp, so equal clips give equal bytes.
``depth`` is zero on the background (most pixels), so it is stored exactly as its non-zero pixels:
``depth.bits`` (np.packbits of ``depth != 0``, deflated) and ``depth.values`` (float32, in
C order). ``flow`` is stored as float16 (``flow.f16``) and read
back as float32: its error is at most ``|flow| * 2**-11`` (under 0.008 px for flows below 16 px),
far below what optical-flow training resolves, and it halves the largest array of a clip.
:func:`read_clip` rebuilds the dict.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from simpose._files import atomic_open

__all__ = ["write_clip", "encode_clip", "read_clip", "CLIP_KEYS", "SyntheticClipError"]

CLIP_KEYS = ("rgb", "mask", "parts", "depth", "flow", "K", "joints3d", "joints2d", "visible", "occlusion", "body", "meta")
_ARRAYS = {"rgb": np.uint8, "mask": np.uint8, "parts": np.uint8, "depth": np.float32, "flow": np.float32, "K": np.float64}
_DICTS = {"joints3d": np.float64, "joints2d": np.float64, "visible": bool, "occlusion": np.uint8, "body": None}


class SyntheticClipError(ValueError):
    """A synthetic clip file that is missing, unreadable or incomplete."""


def write_clip(path: str | Path, clip: dict) -> None:
    """Write a clip dict (the keys of :data:`CLIP_KEYS`) atomically (:func:`simpose._files.atomic_open`).

    Args:
        path: target ``.npz`` file; its folder must exist.
        clip: as :func:`encode_clip`.
    """
    arrays = _clip_arrays(clip)
    # atomic_open: a reader never sees a half-written clip (the fsync adds ~2 ms to a 5 MB clip)
    with atomic_open(Path(path)) as f:
        _write_npz(f, arrays)


def encode_clip(clip: dict) -> bytes:
    """The bytes :func:`write_clip` writes for ``clip`` (a cluster task returns them; the driver writes the file).

    Args:
        clip: rgb (T,H,W,3) uint8, mask/parts (T,H,W) uint8, depth (T,H,W) float32 metres,
            flow (T-1,H,W,2) float32 pixels, K (T,3,3), joints3d/joints2d/visible dicts
            set -> (T,P,J,3)/(T,P,J,2)/(T,P,J), occlusion dict set -> (T,P,J) uint8 (may be
            empty), body dict of arrays, meta JSON-able dict.
    """
    buf = io.BytesIO()
    _write_npz(buf, _clip_arrays(clip))
    return buf.getvalue()


def _clip_arrays(clip: dict) -> dict[str, np.ndarray]:
    """The npz entries of a clip (module docstring). Raises ValueError: a key missing, a broken flow."""
    missing = [k for k in CLIP_KEYS if k not in clip]
    if missing:
        raise ValueError(f"clip dict lacks {missing}")
    arrays = {k: np.asarray(clip[k], dtype=dt) for k, dt in _ARRAYS.items()}
    for k, dt in _DICTS.items():
        for name, a in clip[k].items():
            arrays[f"{k}/{name}"] = np.asarray(a) if dt is None else np.asarray(a, dtype=dt)
    # flow as float16 (module docstring); its range (65504 px) is never reached
    flow = arrays.pop("flow")
    if flow.size and not np.abs(flow).max() < 6e4:
        raise ValueError("flow beyond the float16 range; clip is broken")
    arrays["flow.f16"] = flow.astype(np.float16)
    depth = arrays.pop("depth")
    nz = depth != 0
    arrays["depth.shape"] = np.asarray(depth.shape, np.int64)
    arrays["depth.bits"] = np.packbits(nz.ravel())
    arrays["depth.values"] = depth[nz]
    arrays["meta"] = np.frombuffer(json.dumps(clip["meta"], sort_keys=True).encode(), dtype=np.uint8)
    return arrays


def _write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, a in arrays.items():
            # a fixed timestamp: the same clip gives the same bytes
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            # deflate the uint8 images (they shrink a lot); float arrays barely do, store them
            deflate = a.size > 4096 and a.dtype == np.uint8
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as g:
                np.lib.format.write_array(g, np.ascontiguousarray(a), allow_pickle=False)


def read_clip(path: str | Path) -> dict:
    """Read a clip written by :func:`write_clip`.

    Returns:
        dict with exactly :data:`CLIP_KEYS` (shapes in :func:`write_clip`).
    Raises:
        SyntheticClipError: the file is missing, not an npz, or lacks a key (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise SyntheticClipError(f"synthetic clip {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise SyntheticClipError(f"synthetic clip {path} is not a readable npz ({e}); delete it and re-run synth") from e
    out: dict = {k: {} for k in _DICTS}
    if "flow.f16" in data:
        data["flow"] = data.pop("flow.f16").astype(np.float32)
    if "depth.bits" in data:
        shape = tuple(int(x) for x in data.pop("depth.shape"))
        nz = np.unpackbits(data.pop("depth.bits"), count=int(np.prod(shape))).astype(bool).reshape(shape)
        depth = np.zeros(shape, np.float32)
        depth[nz] = data.pop("depth.values")
        data["depth"] = depth
    try:
        for k in _ARRAYS:
            out[k] = data[k]
        out["meta"] = json.loads(bytes(data["meta"]).decode())
    except (KeyError, ValueError) as e:
        raise SyntheticClipError(f"synthetic clip {path} lacks or has a bad {e}; delete it and re-run synth") from e
    for key, value in data.items():
        head, _, name = key.partition("/")
        if name and head in _DICTS:
            out[head][name] = value
    if not out["joints3d"] or not out["body"]:
        raise SyntheticClipError(f"synthetic clip {path} has no joints3d or body arrays; delete it and re-run synth")
    return {k: out[k] for k in CLIP_KEYS}
