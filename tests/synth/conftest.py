"""Fixtures shared by the synth tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simpose.data.paths import shared_dir


@pytest.fixture(scope="module")
def motions(tmp_path_factory) -> Path | None:
    """A folder with one real CMU walk (09_07), or None without ../shared (the library then uses procedural motion)."""
    shared = shared_dir()
    src = shared / "mocap/cmu/mb/09/09_07.bvh" if shared else None
    if src is None or not src.is_file():
        return None
    d = tmp_path_factory.mktemp("motions")
    shutil.copy(src, d / src.name)
    return d
