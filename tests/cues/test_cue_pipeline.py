"""extract_cues: computes keypoints, masks and flow once per video and settings, then reads the cache."""

import logging
import os

import numpy as np
import pytest

from simpose.cues import keypoints as keypoints_module
from simpose.cues.cache import load_arrays, pack_flow, save_arrays, unpack_flow
from simpose.cues.errors import VideoError
from simpose.cues.flow import FlowConfig
from simpose.cues.keypoints import KeypointConfig, Keypoints2D
from simpose.cues.pipeline import CueConfig, extract_cues

J = 33


def fake_detector(calls: list):
    """A stand-in for MediaPipe: one person whose keypoints span x 8..24, y 4..20; masks to match."""

    def detect(frames, config):
        frames = list(frames)
        calls.append(len(frames))
        T, (h, w) = len(frames), frames[0].shape[:2]
        kp = np.zeros((T, 1, J, 2), np.float32)
        kp[..., 0] = np.linspace(8, 24, J)
        kp[..., 1] = np.linspace(4, 20, J)
        masks = np.zeros((T, 1, h, w), bool)
        masks[:, :, 4:20, 8:24] = True
        kp2d = Keypoints2D(kp, np.ones((T, 1, J), np.float32), np.ones((T, 1), bool), (w, h), "blazepose33", None)
        return kp2d, masks

    return detect


def refuse(frames, config):
    raise AssertionError("the detector ran although the cues are cached")


def _cache_entries(folder):
    return sorted(p.name for p in folder.iterdir())


def test_second_run_reads_the_cache(tmp_path, tiny_video, monkeypatch, cv2):
    calls = []
    monkeypatch.setattr(keypoints_module, "detect_keypoints", fake_detector(calls))
    cache = tmp_path / "cache"
    first = extract_cues(tiny_video, cache)
    assert calls == [5]
    assert first.num_frames == 5 and first.image_size == (32, 24) and first.fps == 12.5
    assert first.masks.shape == (5, 1, 24, 32) and first.flow.shape == (4, 24, 32, 2)
    assert first.flow_boxes.shape == (4, 4)
    entries = _cache_entries(cache)
    assert len(entries) == 1 and entries[0].startswith("tiny.") and entries[0].endswith(".npz")  # no temp files left

    monkeypatch.setattr(keypoints_module, "detect_keypoints", refuse)
    second = extract_cues(tiny_video, cache)
    np.testing.assert_array_equal(second.keypoints.keypoints, first.keypoints.keypoints)
    np.testing.assert_array_equal(second.keypoints.confidence, first.keypoints.confidence)
    np.testing.assert_array_equal(second.keypoints.valid, first.keypoints.valid)
    np.testing.assert_array_equal(second.masks, first.masks)
    np.testing.assert_array_equal(second.flow, first.flow)  # exactly: the first run returns what it cached
    np.testing.assert_array_equal(second.flow_boxes, first.flow_boxes)
    assert second.config == first.config == CueConfig()
    assert second.keypoints.world is None

    # other settings or a changed video miss the cache
    with pytest.raises(AssertionError, match="detector ran"):
        extract_cues(tiny_video, cache, CueConfig(flow=FlowConfig(pad=0.3)))
    with pytest.raises(AssertionError, match="detector ran"):
        extract_cues(tiny_video, cache, CueConfig(keypoints=KeypointConfig(static_image_mode=True)))
    st = tiny_video.stat()
    os.utime(tiny_video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="detector ran"):
        extract_cues(tiny_video, cache)


def test_unreadable_cache_entry_is_recomputed(tmp_path, tiny_video, monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(keypoints_module, "detect_keypoints", fake_detector(calls))
    cache = tmp_path / "cache"
    extract_cues(tiny_video, cache, CueConfig(flow=None))
    (entry,) = cache.iterdir()
    entry.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="simpose.cues"):
        again = extract_cues(tiny_video, cache, CueConfig(flow=None))
    assert "unreadable cue cache entry" in caplog.text
    assert calls == [5, 5] and again.flow is None
    assert load_arrays(entry) is not None


def test_no_cache_dir_and_bad_video(tmp_path, tiny_video, corrupt_video, monkeypatch, cv2):
    calls = []
    monkeypatch.setattr(keypoints_module, "detect_keypoints", fake_detector(calls))
    extract_cues(tiny_video, None)
    extract_cues(tiny_video, None)
    assert calls == [5, 5]
    with pytest.raises(VideoError):
        extract_cues(corrupt_video, tmp_path / "cache")


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", fail)
    with pytest.raises(OSError, match="disk full"):
        save_arrays(tmp_path / "entry.npz", {"a": np.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def test_flow_packing_roundtrip():
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 20, (3, 10, 12, 2)).astype(np.float32)
    boxes = np.array([[0, 0, 12, 10], [2, 3, 7, 9], [0, 0, 0, 0]])
    back = unpack_flow(pack_flow(flow, boxes), boxes, (12, 10))
    np.testing.assert_allclose(back[0], flow[0], atol=1 / 32 + 1e-6)
    np.testing.assert_allclose(back[1, 3:9, 2:7], flow[1, 3:9, 2:7], atol=1 / 32 + 1e-6)
    assert (back[1, :3] == 0).all() and (back[2] == 0).all()
    np.testing.assert_array_equal(unpack_flow(pack_flow(back, boxes), boxes, (12, 10)), back)  # idempotent


def test_real_clip_end_to_end(tmp_path, person_clip, mediapipe, monkeypatch):
    cues = extract_cues(person_clip, tmp_path / "cache")
    kp = cues.keypoints
    assert kp.valid.all() and kp.keypoints.shape == (6, 1, 33, 2)
    assert cues.masks[:, 0].mean() > 0.02
    # the person's keypoints lie on their mask, and the flow was computed around them
    pelvis = kp.to_joint_set("h36m17").keypoints[:, 0, 0]
    for t, (x, y) in enumerate(pelvis):
        assert cues.masks[t, 0, int(y), int(x)]
        x0, y0, x1, y1 = cues.flow_boxes[min(t, 4)]
        assert x0 <= x < x1 and y0 <= y < y1
    assert np.abs(cues.flow).max() > 0.5
    monkeypatch.setattr(keypoints_module, "detect_keypoints", refuse)
    cached = extract_cues(person_clip, tmp_path / "cache")
    np.testing.assert_array_equal(cached.keypoints.world, kp.world)


@pytest.mark.parametrize("tamper, reason", [
    (lambda a: {**a, "keypoints": a["keypoints"][:, :, :17]}, "wrong shapes"),
    (lambda a: {**a, "keypoints": np.full_like(a["keypoints"], np.nan)}, "non-finite"),
    (lambda a: {**a, **{k: a[k][:2] for k in ("keypoints", "confidence", "valid", "masks")}}, "2 keypoint rows for 5 frames"),
    (lambda a: {**a, "content": np.array("0" * 64)}, "another video"),
])  # fmt: skip
def test_cache_entry_that_does_not_fit_the_video_is_recomputed(tmp_path, tiny_video, monkeypatch, caplog, tamper, reason):
    """Issue 18: entries were trusted: wrong shapes crashed every later run, NaN keypoints gave a
    traceback, 2 of 5 frames or another video's entry were used silently."""
    calls = []
    monkeypatch.setattr(keypoints_module, "detect_keypoints", fake_detector(calls))
    cache = tmp_path / "cache"
    first = extract_cues(tiny_video, cache, CueConfig(flow=None))
    (entry,) = cache.iterdir()
    save_arrays(entry, tamper(load_arrays(entry)))
    with caplog.at_level(logging.WARNING, logger="simpose.cues"):
        again = extract_cues(tiny_video, cache, CueConfig(flow=None))
    assert calls == [5, 5] and reason in caplog.text and "recomputing" in caplog.text
    np.testing.assert_array_equal(again.keypoints.keypoints, first.keypoints.keypoints)
    monkeypatch.setattr(keypoints_module, "detect_keypoints", refuse)
    extract_cues(tiny_video, cache, CueConfig(flow=None))  # the entry is repaired
