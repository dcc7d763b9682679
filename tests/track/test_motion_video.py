"""The motion model on a video track: model frames back at the video's rate, short tracks padded; guards."""

import dataclasses
import logging

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from simpose.cli import app
from simpose.cues.crops import CropConfig
from simpose.models.motion import MotionModel, frame_inputs
from simpose.models.motion_net import MotionNet, MotionNetConfig
from simpose.track.estimator import EstimatorConfig, EstimatorError
from simpose.track.motion_video import MotionTrack, predict_track

S = 16


def _model(window=5) -> MotionModel:
    torch.manual_seed(0)
    net = MotionNet(MotionNetConfig(inputs=("keypoints",), crop=S, window=window, channels=(4, 4, 8, 8), embed=8, temporal=16)).eval()
    card = {"fps": 30.0, "crop": dataclasses.asdict(CropConfig(size=S))}
    return MotionModel(net, card)


def _track(n: int, stride: int, n_frames: int) -> MotionTrack:
    rng = np.random.default_rng(0)
    x = frame_inputs(np.zeros((n, S, S, 3), np.uint8), np.zeros((n - 1, S, S, 2)), rng.uniform(-0.4, 0.4, (n, 33, 2)), np.ones((n, 33)))
    return MotionTrack(x, None, np.ones(n, bool), stride, n_frames, 0.0)


def test_model_frames_held_over_skipped_video_frames():
    model = _model()
    track = _track(5, 2, 9)  # a 60 fps video of 9 frames read at 30 fps: frames 0, 2, 4, 6, 8
    out = predict_track(model, track)
    direct = model.predict(track.inputs)
    assert out["h36m17"].shape == (9, 17, 3)
    np.testing.assert_array_equal(out["h36m17"][[0, 1, 2, 3, 8]], direct["h36m17"][[0, 0, 1, 1, 4]])
    assert out["anny"].shape[0] == 9


def test_short_track_is_padded_and_said(caplog):
    with caplog.at_level(logging.WARNING):
        out = predict_track(_model(window=9), _track(3, 1, 3), "short.mp4")
    assert out["h36m17"].shape == (3, 17, 3) and np.isfinite(out["h36m17"]).all()
    assert "fewer than the model's window of 9" in caplog.text


def test_motion_model_guards():
    with pytest.raises(EstimatorError):
        EstimatorConfig(motion_weights="w.pt", people="all")
    with pytest.raises(EstimatorError):
        EstimatorConfig(motion_weights="w.pt", self_train=True)
    result = CliRunner().invoke(app, ["run", "video.mp4", "--out", "o", "--model", "motion"])
    assert result.exit_code == 2 and "--motion-weights" in result.output


def test_run_with_freshly_trained_motion_weights(mediapipe, person_clip, motion_caches, tmp_path):
    """End to end: ``simpose train motion``'s weights (a few steps on a tiny crop cache, flow on the
    person) drive ``simpose run --model motion`` on a short real clip."""
    from simpose.train.motion import MotionTrainConfig, train_motion

    config = MotionTrainConfig(inputs=("flow", "keypoints"), window=3, steps=3, batch=4, warmup=1, flow_norm="person")
    weights = train_motion(motion_caches(), tmp_path / "train", config)
    result = CliRunner().invoke(app, ["run", str(person_clip), "--out", str(tmp_path / "o"), "--no-cache", "--no-views",
                                      "--model", "motion", "--motion-weights", str(weights)])  # fmt: skip
    assert result.exit_code == 0, result.output
    poses = np.load(tmp_path / "o" / "poses.npz")
    j3 = poses["joints3d"]
    assert j3.shape[0] == 8 and np.isfinite(j3[poses["valid"].astype(bool)]).all()
    assert MotionModel.from_weights(weights).net.config.flow_norm == "person"
