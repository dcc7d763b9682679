"""Fixtures of the reader tests: the shared real samples, located by simpose.data.paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpose.data.paths import shared_dir


def _shared_sub(*parts: str) -> Path:
    root = shared_dir()
    if root is None:
        pytest.skip("no shared data folder: set SIMPOSE_SHARED or put shared/ beside the repository")
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing from the shared data folder")
    return path


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """shared/real (small real samples in their datasets' own formats)."""
    return _shared_sub("real")


@pytest.fixture(scope="session")
def h36m_benchmark_dir() -> Path:
    """shared/benchmarks/h36m (S9 + S11 ground truth and cameras)."""
    return _shared_sub("benchmarks", "h36m")
