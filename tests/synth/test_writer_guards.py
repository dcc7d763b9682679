"""``simpose synth`` into a folder that already holds a dataset (issue 18): never two datasets
under one synth_config.json; temporaries of a killed run removed; a memory warning for huge
clips. Rendering is replaced by a stand-in that writes each clip's settings: the checks come
before any rendering."""

from __future__ import annotations

import json
import os
import time

import pytest

import simpose.synth.writer as w
from simpose.synth.writer import clip_path, synthesize


@pytest.fixture
def fake_render(monkeypatch):
    """Stand-in workers: clip i's file holds the (seed, size) it was made with."""
    state = {}

    def init(config, *a):
        state["size"] = config.size
        w._WORKER["synth"] = _Fake()

    def work(jobs):
        for seed, index, out in jobs:
            clip_path(out, index).write_text(json.dumps({"seed": seed, "size": state["size"]}))
        return [j[1] for j in jobs]

    monkeypatch.setattr(w, "_init_worker", init)
    monkeypatch.setattr(w, "_work", work)


class _Fake:
    class rasterizer:  # noqa: N801
        @staticmethod
        def close():
            pass


def test_resuming_with_other_settings_is_an_error(fake_render, tmp_path):
    d = tmp_path / "D"
    synthesize(d, 8, 2, 384, seed=5, progress=False)
    # before: both runs exited 0; D held 384 and 128 px clips of seed 5 and a config claiming seed 6
    with pytest.raises(ValueError, match=r"other settings: size 384 \(asked: 128\)"):
        synthesize(d, 10, 2, 128, seed=5, progress=False)
    with pytest.raises(ValueError, match=r"seed 5 \(asked: 6\)"):
        synthesize(d, 8, 2, 384, seed=6, progress=False)
    made = {json.loads(clip_path(d, i).read_text())["size"] for i in range(8)}
    assert made == {384} and not clip_path(d, 8).exists()
    # more clips with the same settings extend the dataset, and the config says so
    synthesize(d, 10, 2, 384, seed=5, progress=False)
    config = json.loads((d / "synth_config.json").read_text())
    assert (config["clips"], config["seed"], config["size"]) == (10, 5, 384)
    assert all(json.loads(clip_path(d, i).read_text()) == {"seed": 5, "size": 384} for i in range(10))
    synthesize(d, 4, 2, 384, seed=5, progress=False)  # asking for fewer does not make the config lie
    assert json.loads((d / "synth_config.json").read_text())["clips"] == 10


def test_clips_without_a_config_are_checked_against_their_own_record(fake_render, tmp_path):
    import dataclasses

    import numpy as np

    from simpose.synth.scene import SceneConfig

    def clip_made_with(size, index):  # what a killed run leaves: a clip, no config yet
        meta = {"seed": 0, "config": json.loads(json.dumps(dataclasses.asdict(SceneConfig(size=size, frames=2))))}
        np.savez(clip_path(tmp_path, index), meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))

    clip_made_with(128, 0)
    with pytest.raises(ValueError, match=r"clips made with other settings: size 128 \(asked: 64\)"):
        synthesize(tmp_path, 2, 2, 64, progress=False)
    synthesize(tmp_path, 2, 2, 128, progress=False)  # the same settings resume
    assert json.loads((tmp_path / "synth_config.json").read_text())["size"] == 128
    (tmp_path / "synth_config.json").unlink()
    clip_path(tmp_path, 0).write_text("not a clip")
    with pytest.raises(ValueError, match="unreadable"):
        synthesize(tmp_path, 2, 2, 128, progress=False)


def test_a_failed_start_does_not_claim_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .bvh"):
        synthesize(tmp_path / "D", 1, 2, 32, motions=tmp_path / "empty", progress=False)
    assert not (tmp_path / "D" / "synth_config.json").exists()  # a run with other inputs may still start there


def test_temporaries_of_a_killed_run_are_removed(fake_render, tmp_path):
    stale = tmp_path / ".clip_0000003.npz.abcd.tmp"  # left, 0 bytes, by a SIGKILL
    stale.write_bytes(b"")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    live = tmp_path / ".clip_0000004.npz.efgh.tmp"  # another shard's worker is writing this one now
    live.write_bytes(b"")
    synthesize(tmp_path, 2, 2, 64, progress=False)
    assert not stale.exists() and live.exists()


def test_huge_clips_are_warned_about(fake_render, tmp_path, caplog):
    with caplog.at_level("WARNING"):
        synthesize(tmp_path / "small", 0, 16, 256, progress=False)
    assert "memory" not in caplog.text
    with caplog.at_level("WARNING"):
        synthesize(tmp_path / "big", 0, 16, 4096, progress=False)
    assert "--size 4096" in caplog.text and "7.8 GB" in caplog.text  # 29 bytes x 4096^2 x 16 frames
