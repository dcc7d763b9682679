"""The keypoint stage: Ctrl-C stops it gracefully; complete results are cached, partial ones not."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest

from simpose.cues.keypoints import KeypointConfig
from simpose.cues.video import open_video
from simpose.cues.detect import detect, graceful_interrupt


def test_first_ctrl_c_sets_stop_second_raises():
    # Python's own handler, whatever this process inherited (a background job ignores SIGINT,
    # and graceful_interrupt rightly leaves an ignored signal ignored)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stop = threading.Event()
        with graceful_interrupt(stop):
            signal.raise_signal(signal.SIGINT)  # the handler runs here, in the main thread
            assert stop.is_set()
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_cache_hit_gives_the_same_keypoints(mediapipe, person_clip, tmp_path):
    source = open_video(person_clip)
    first = detect(source, KeypointConfig(), cache_dir=tmp_path)
    second = detect(source, KeypointConfig(), cache_dir=tmp_path)
    assert not first.cached and second.cached and second.complete
    np.testing.assert_array_equal(first.keypoints.keypoints, second.keypoints.keypoints)
    np.testing.assert_array_equal(first.frame_index, second.frame_index)
    # another range is another entry
    third = detect(source, KeypointConfig(), start=2, cache_dir=tmp_path)
    assert not third.cached and third.frame_index[0] == 2
    np.testing.assert_allclose(third.keypoints.valid, first.keypoints.valid[2:])


# ------------------------------------------------------------------ issue 18: truncated videos, cache entries, SIGTERM
def _noise_video(path, n=40, fps=10, faststart=False):
    """A small video of noise (it compresses badly, so the frames are most of the file)."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(n):
            frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_truncated_video_is_not_passed_off_as_complete(mediapipe, tmp_path, caplog):
    full = _noise_video(tmp_path / "full.mp4", faststart=True)  # the index first: the cut keeps it
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.3)])
    source = open_video(cut)
    assert source.n_frames == 40 and source.n_frames_exact  # the container still declares 40
    with caplog.at_level("WARNING"):
        d = detect(source, KeypointConfig())
    n = len(d.frame_index)
    assert 0 < n < 40 and not d.complete
    assert f"frames {n}-39 are missing" in caplog.text


def test_end_past_the_video_is_said_to_be_clamped(mediapipe, tmp_path, caplog):
    source = open_video(_noise_video(tmp_path / "v.mp4", n=6))
    with caplog.at_level("WARNING"):
        d = detect(source, KeypointConfig(), start=2, end=100)
    assert d.complete and list(d.frame_index) == [2, 3, 4, 5]
    assert "--end 100 is past the end" in caplog.text and "clamped to 6" in caplog.text


@pytest.fixture
def cached(mediapipe, person_clip, tmp_path):
    """The person clip's keypoints, cached: the source, the entry and its arrays."""
    source = open_video(person_clip)
    d = detect(source, KeypointConfig(), cache_dir=tmp_path)
    with np.load(d.cache_entry) as z:
        arrays = {k: z[k] for k in z.files}
    return source, d, arrays


def _tampered(cached, caplog, **changes):
    from simpose.cues.cache import save_arrays

    source, first, arrays = cached
    save_arrays(first.cache_entry, {**arrays, **changes})
    with caplog.at_level("WARNING"):
        again = detect(source, KeypointConfig(), cache_dir=first.cache_entry.parent)
    assert not again.cached and again.complete and "recomputing" in caplog.text  # recomputed, with a warning
    np.testing.assert_array_equal(again.keypoints.keypoints, first.keypoints.keypoints)
    assert detect(source, KeypointConfig(), cache_dir=first.cache_entry.parent).cached  # and the entry repaired
    return caplog.text


def test_cache_entry_with_wrong_shapes_is_recomputed(cached, caplog):
    _, _, a = cached
    assert "wrong shapes" in _tampered(cached, caplog, keypoints=a["keypoints"][:, :, :17])


def test_cache_entry_with_nan_keypoints_is_recomputed(cached, caplog):
    _, _, a = cached
    kp = a["keypoints"].copy()
    kp[2] = np.nan
    v = a["valid"].copy()
    v[2] = True
    assert "non-finite" in _tampered(cached, caplog, keypoints=kp, valid=v)


def test_cache_entry_with_missing_frames_is_recomputed(cached, caplog):
    _, _, a = cached
    n = len(a["frame_index"])  # half of the frames, marked complete
    cut = {k: a[k][: n // 2] for k in ("keypoints", "confidence", "valid", "world", "frame_index")}
    assert f"{n // 2} frames where the range holds {n}" in _tampered(cached, caplog, **cut)


def test_another_videos_entry_is_recomputed(cached, caplog):
    assert "another video" in _tampered(cached, caplog, content=np.array("0" * 64))


def test_sigterm_stops_like_the_first_ctrl_c():
    stop = threading.Event()
    with graceful_interrupt(stop):
        signal.raise_signal(signal.SIGTERM)  # was: the process died and wrote nothing
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
