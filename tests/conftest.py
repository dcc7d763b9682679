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
def benchmark_script():
    """A loader of benchmarks/NAME.py as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


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


@pytest.fixture
def motion_caches(tmp_path):
    """A maker of a detector cache and its motion crops of random clips (the files' layout, random
    content; 12 frames, 16 px crops): ``motion_caches(clips=3)`` -> the crop cache folder."""
    import json

    import numpy as np

    from simpose.body.joints import get_joint_set
    from simpose.models.motion_net import OUTPUT_SETS
    from simpose.synth.detcache import FORMAT, det_path, encode_record
    from simpose.synth.motion_crops import MANIFEST, crops_path

    T, S, P = 12, 16, 1
    crop = {"size": S, "pad": 0.2, "smooth": 5, "flow": {"preset": "medium", "restrict_to_person": True, "pad": 0.15}}

    def make(clips: int = 3) -> Path:
        det, crops = tmp_path / "det", tmp_path / "crops"
        det.mkdir()
        crops.mkdir()
        (det / "detcache.json").write_text(json.dumps({"format": FORMAT, "detector_version": "fake", "scene": {"fps": 30.0}}))
        (crops / MANIFEST).write_text(json.dumps({"detcache": str(det), "detector_version": "fake", "scene": {"fps": 30.0}, "crop": crop}))
        rng = np.random.default_rng(0)
        for i in range(clips):
            j3 = {s: rng.normal(0, 0.3, (T, P, len(get_joint_set(s).names), 3)) + [0, 0, 4] for s in OUTPUT_SETS}
            root = j3["h36m17"][:, :, :1]
            arrays = {
                "det/keypoints": rng.uniform(0, 100, (T, 33, 2)).astype(np.float16), "det/confidence": rng.uniform(0, 1, (T, 33)).astype(np.float16),
                "det/valid": np.ones(T, bool), "det/world": np.zeros((T, 33, 3), np.float16), "det/person": np.zeros(T, np.int8),
                "gt/root3d": root[:, :, 0].astype(np.float32),
                "camera/K": np.eye(3), "camera/R": np.tile(np.eye(3, dtype=np.float32), (T, 1, 1)), "camera/t": np.zeros((T, 3), np.float32),
            }  # fmt: skip
            for s, j in j3.items():
                arrays |= {f"gt/{s}/joints2d": np.zeros((*j.shape[:3], 2), np.float16), f"gt/{s}/joints3d_rel": (j - root).astype(np.float16),
                           f"gt/{s}/occlusion": np.zeros(j.shape[:3], np.uint8)}  # fmt: skip
            meta = {"format": FORMAT, "joint_sets": list(OUTPUT_SETS), "keypoint_set": "blazepose33", "fps": 30.0, "clip_index": i}
            det_path(det, i).write_bytes(encode_record(arrays, meta))
            boxes = np.tile(np.float32([50, 50, 80]), (T, 1))
            flow = rng.normal(0, 1, (T - 1, S, S, 2)).astype(np.float16)
            rec = {"boxes": boxes, "rgb": rng.integers(0, 255, (T, S, S, 3), dtype=np.uint8), "flow_dis": flow, "flow_gt": flow}
            crops_path(crops, i).write_bytes(encode_record(rec, {"clip_index": i}))
        return crops

    return make
