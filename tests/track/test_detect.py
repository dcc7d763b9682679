"""The keypoint stage: Ctrl-C stops it gracefully; complete results are cached, partial ones not."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest

from simpose.cues.keypoints import KeypointConfig
from simpose.cues.video import open_video
from simpose.track.detect import detect, graceful_interrupt


def test_first_ctrl_c_sets_stop_second_raises():
    stop = threading.Event()
    with graceful_interrupt(stop):
        signal.raise_signal(signal.SIGINT)  # the handler runs here, in the main thread
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


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
