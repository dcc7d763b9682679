"""Per-frame poses of several people associated into tracks (the 3DPW-challenge scheme).

Each frame gives a set of poses in one camera space (3D joints in metres, camera frame; the
functions work on any D, e.g. 2D pixels). A pose joins the track whose constant-velocity
prediction it is nearest to (mean joint distance over joints finite in both), by Hungarian
matching with a gate; an unmatched track survives ``max_missed`` frames, so people pass behind
each other or behind an object and keep their id; an unmatched pose starts a new track. People
who cross in the image stay apart here because they differ in depth.

The known-association variant (3DPW challenge): given one 2D reference pose per person,
:func:`match_references` picks each frame's pose of each person by 2D distance (per-frame
references), or seeds :func:`associate` in the first frame, after which it follows exactly
those people and starts no new tracks.

Pure functions on numpy arrays; nothing here runs a model.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np

from simpose.cues.people_match import match

__all__ = ["Tracks", "pose_distances", "associate", "match_references", "gather"]


@dataclasses.dataclass(frozen=True, eq=False)
class Tracks:
    """Poses of P tracks over T frames.

    Attributes:
        index: (T, P) int64, which pose of frame t is track p (-1: not seen).
        track_ids: (P,) int64, in order of first appearance.
        joints: (T, P, J, D) float64, the poses gathered by ``index``; NaN where not seen.
    """

    index: np.ndarray
    track_ids: np.ndarray
    joints: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """(T, P) bool, whether track p was seen in frame t."""
        return self.index >= 0


def pose_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean joint distance between every pose of ``a`` and every pose of ``b``.

    Args:
        a: (A, J, D), b: (B, J, D) in one space (metres, camera frame; or pixels).
    Returns:
        (A, B) float64 mean over the joints finite in both; inf where none is.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 3 or b.ndim != 3 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"poses must be (A, J, D) and (B, J, D) with equal J, D; got {a.shape} and {b.shape}")
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)  # (A, B, J), NaN where either is
    ok = np.isfinite(d)
    n = ok.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, d, 0).sum(-1) / np.maximum(n, 1), np.inf)


def gather(poses: Sequence[np.ndarray], index: np.ndarray) -> np.ndarray:
    """(T, P, J, D) poses picked by ``index`` (T, P) from per-frame (N_t, J, D) arrays; NaN at -1."""
    T, P = index.shape
    shape = next((p.shape[1:] for p in poses if len(p)), None)
    if shape is None:
        raise ValueError("no frame holds a pose: cannot tell the joint shape")
    out = np.full((T, P) + shape, np.nan)
    for t in range(T):
        for p in np.flatnonzero(index[t] >= 0):
            out[t, p] = poses[t][index[t, p]]
    return out


def associate(
    poses: Sequence[np.ndarray], max_distance: float, max_missed: int = 10, initial: np.ndarray | None = None
) -> Tracks:
    """Associate per-frame poses into tracks by distance to each track's predicted pose.

    Args:
        poses: T arrays (N_t, J, D), the poses found in frame t (N_t may be 0), in one space.
        max_distance: gate: a pose farther than this (mean joint distance, the poses' units,
            e.g. 0.5 m) from a track's prediction never joins it.
        max_missed: frames a track survives unseen (its prediction keeps moving at its last
            velocity); after that it ends and the person, seen again, starts a new track.
        initial: (P,) int indices into ``poses[0]`` of the people to follow (known
            association); then tracks are exactly those P and none is started later.
    Returns:
        :class:`Tracks`.
    """
    if not len(poses):
        raise ValueError("associate needs at least one frame")
    T = len(poses)
    known = initial is not None
    live: list[dict] = []  # id, last pose, velocity (D,), missed
    columns: dict[int, list[int]] = {}
    next_id = 0

    def start(t: int, i: int) -> None:
        nonlocal next_id
        live.append({"id": next_id, "pose": np.asarray(poses[t][i], np.float64), "velocity": None, "missed": 0})
        columns[next_id] = [-1] * T
        columns[next_id][t] = i
        next_id += 1

    first = 0
    if known:
        for i in np.asarray(initial, np.int64):
            if not 0 <= i < len(poses[0]):
                raise ValueError(f"initial index {i} out of range: frame 0 has {len(poses[0])} poses")
            start(0, int(i))
        first = 1
    for t in range(first, T):
        cur = np.asarray(poses[t], np.float64)
        pairs: list[tuple[int, int]] = []
        if live and len(cur):
            pred = np.stack([_predict(tr) for tr in live])
            dist = pose_distances(pred, cur)
            pairs = match(np.where(np.isfinite(dist), -dist, -np.inf), -max_distance)
        for a, b in pairs:
            tr = live[a]
            step = _centre(cur[b]) - _centre(tr["pose"])
            tr["velocity"] = step / (tr["missed"] + 1) if np.isfinite(step).all() else None
            tr["pose"], tr["missed"] = cur[b], 0
            columns[tr["id"]][t] = b
        matched = {a for a, _ in pairs}
        for a, tr in enumerate(live):
            if a not in matched:
                tr["missed"] += 1
        live = [tr for tr in live if tr["missed"] <= max_missed]
        if not known:
            taken = {b for _, b in pairs}
            for b in range(len(cur)):
                if b not in taken:
                    start(t, b)
    ids = np.array(sorted(columns), np.int64)
    index = np.array([columns[i] for i in ids], np.int64).T.reshape(T, len(ids))
    joints = gather(poses, index) if len(ids) else np.zeros((T, 0) + _joint_shape(poses))
    return Tracks(index, ids, joints)


def match_references(poses2d: Sequence[np.ndarray], references: np.ndarray, max_distance: float) -> np.ndarray:
    """Known association: in each frame, the pose of each reference person (Hungarian on mean
    2D joint distance, gated).

    Args:
        poses2d: T arrays (N_t, J, 2), the 2D poses found in frame t (pixels).
        references: (T, P, J, 2) one reference pose per person and frame (pixels, NaN joints
            ignored); a frame whose reference for p is all NaN leaves p unmatched there.
        max_distance: pixels; a pose farther than this from the reference is not that person.
    Returns:
        (T, P) int64 indices into ``poses2d[t]`` (-1: the person was not found).
    """
    references = np.asarray(references, np.float64)
    if references.ndim != 4 or references.shape[0] != len(poses2d):
        raise ValueError(f"references must be (T={len(poses2d)}, P, J, 2), got {references.shape}")
    T, P = references.shape[:2]
    out = np.full((T, P), -1, np.int64)
    for t in range(T):
        if len(poses2d[t]) == 0:
            continue
        dist = pose_distances(references[t], poses2d[t])
        for p, b in match(np.where(np.isfinite(dist), -dist, -np.inf), -max_distance):
            out[t, p] = b
    return out


def _centre(pose: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN pose
        return np.nanmean(pose, axis=0)


def _predict(track: dict) -> np.ndarray:
    v = track["velocity"]
    return track["pose"] if v is None else track["pose"] + v * (track["missed"] + 1)


def _joint_shape(poses: Sequence[np.ndarray]) -> tuple[int, ...]:
    return tuple(np.asarray(poses[0]).shape[1:]) if np.asarray(poses[0]).ndim == 3 else (0, 0)
