"""``run_video`` loads the lifter and body model in a thread beside the 2D stage; what goes wrong there
surfaces in the caller."""

from __future__ import annotations

import threading

import pytest

from simpose.track.run import RunConfig, run_video
from simpose.track.sequence import EstimatorError


def test_the_load_runs_beside_the_2d_stage_and_its_error_surfaces(mediapipe, person_clip, tmp_path, monkeypatch):
    from simpose.cues import detect as detect_module
    from simpose.track.estimator import Estimator

    seen = {}
    real_detect = detect_module.detect

    def detect(*a, **k):
        seen["detect"] = threading.current_thread()
        return real_detect(*a, **k)

    def from_pretrained(*a, **k):
        seen["load"] = threading.current_thread()
        raise EstimatorError("the card does not match the code")

    monkeypatch.setattr(detect_module, "detect", detect)
    monkeypatch.setattr(Estimator, "from_pretrained", classmethod(lambda cls, *a, **k: from_pretrained()))
    with pytest.raises(EstimatorError, match="card does not match"):
        run_video(person_clip, tmp_path / "o", RunConfig(fov=60.0, views=False))
    assert seen["detect"] is threading.main_thread() and seen["load"] is not threading.main_thread()
    assert not (tmp_path / "o").exists()


def test_missing_weights_are_reported(mediapipe, person_clip, tmp_path):
    with pytest.raises(FileNotFoundError):
        run_video(person_clip, tmp_path / "o", RunConfig(fov=60.0, views=False, lifter_weights=str(tmp_path / "none.pt")))


def test_unknown_settings_fail_before_the_thread():
    from simpose.track.run import _LoadingEstimator

    with pytest.raises(EstimatorError, match="unknown estimator settings"):
        _LoadingEstimator(None, {"no_such_setting": 1})
