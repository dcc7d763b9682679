"""Shared fixtures of the adaptation tests."""

from __future__ import annotations

import pytest

T = 6  # frames of the rendered track


@pytest.fixture(scope="module")
def track():
    from simpose.adapt.synthetic import synthetic_track
    from simpose.synth.scene import SceneConfig
    from simpose.synth.writer import ClipSynthesizer

    # procedural motion only (no mocap folders), so the clip is the same with or without
    # ../shared and does not change when the default library grows (HDM05's arrival changed it)
    syn = ClipSynthesizer(SceneConfig(size=128, frames=T, people=1, occluder_prob=0.0, truncated_share=0.0), motions=())
    try:
        yield synthetic_track(syn, 3, 0)
    finally:
        syn.rasterizer.close()
