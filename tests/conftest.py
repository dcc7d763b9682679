"""Shared test configuration: the slow marker and where ../shared is."""

from __future__ import annotations

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
