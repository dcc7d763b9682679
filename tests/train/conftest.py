"""Fixtures shared by the training tests."""

from __future__ import annotations

import pytest

from simpose.train.lifter_data import CacheConfig, build_joint_cache


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory, shared):
    """A joint cache of one short CMU walk, one procedural and one grafted clip: (folder, CacheConfig)."""
    mocap = tmp_path_factory.mktemp("mocap")
    (mocap / "09_03.bvh").symlink_to(shared / "mocap/cmu/mb/09/09_03.bvh")
    cfg = CacheConfig(mocap_dir=str(mocap), max_clip_frames=120, chunk_frames=30, n_procedural=1, procedural_frames=40, n_grafted=1, workers=1)
    out = tmp_path_factory.mktemp("cache")
    build_joint_cache(out, cfg, progress=False)
    return out, cfg
