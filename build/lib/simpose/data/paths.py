"""Where the project's shared data folder is (``shared/`` beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_dir"]

_ENV = "SIMPOSE_SHARED"


def shared_dir() -> Path | None:
    """The project's shared data folder, or None where there is none (a user's clone).

    Looked up in this order: the ``SIMPOSE_SHARED`` environment variable (when it names an
    existing folder), then ``shared/`` beside the repository root (this file lives at
    ``<repo>/src/simpose/data/paths.py``, so that is ``parents[3].parent / "shared"``).

    Returns:
        The folder, or None if neither exists.
    """
    candidates = []
    env = os.environ.get(_ENV)
    if env:
        candidates.append(Path(env).expanduser())
    candidates.append(Path(__file__).resolve().parents[3].parent / "shared")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None
