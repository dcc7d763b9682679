"""Shared test configuration: the slow marker and where ../shared is."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from simpose.data.paths import shared_dir


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


class StopAfter(threading.Event):
    """A stop event that reads as set once it has been asked ``n`` times (the 2D stages ask once
    per frame, before reading it): the stage ends after ``n`` frames."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def is_set(self) -> bool:
        self.n -= 1
        return self.n < 0 or super().is_set()


@pytest.fixture
def stop_after():
    """:class:`StopAfter`, for tests (conftest modules are not imported by name)."""
    return StopAfter
