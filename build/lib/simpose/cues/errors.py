"""Errors of the cue stage: one base class, so callers can catch everything :mod:`simpose.cues` raises."""

from __future__ import annotations

__all__ = ["CueError", "VideoError"]


class CueError(RuntimeError):
    """A cue could not be computed (missing optional dependency, detector failure, bad cache)."""


class VideoError(CueError, ValueError):
    """A video or image folder cannot be read: missing, corrupt, empty, not a video, mixed sizes."""
