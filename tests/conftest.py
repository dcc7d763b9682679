"""Shared test configuration: the slow marker and where ../shared is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path | None:
    """The project's shared data folder (beside the repository), or None in a user's clone."""
    env = os.environ.get("SIMPOSE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1].parent / "shared")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if path is None:
        pytest.skip("../shared (the project's shared data) is not beside this clone; set SIMPOSE_SHARED to run this test")
    return path


@pytest.fixture(scope="session")
def body():
    from simpose.body.model import BodyModel

    return BodyModel()
