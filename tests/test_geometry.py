"""simpose.geometry: the one frame-position function and its two explicit end rules."""

import numpy as np
import pytest

from simpose.geometry import frame_positions


def test_the_two_end_rules_differ_only_at_the_last_frame():
    # 5 frames at 30 fps span 0.1333 s; at 50 fps, frames at 0, 0.02, ..., 0.12 s stay inside
    # (7 frames, "floor"), an 8th at 0.14 s covers the input's end, clamped onto its last frame ("cover").
    floor = frame_positions(5, 30.0, 50.0, end="floor")
    cover = frame_positions(5, 30.0, 50.0, end="cover")
    np.testing.assert_allclose(floor, np.arange(7) * 0.6)
    np.testing.assert_allclose(cover, [0.0, 0.6, 1.2, 1.8, 2.4, 3.0, 3.6, 4.0])
    # when the span is a whole number of output frames both rules agree, exactly on the last frame
    np.testing.assert_array_equal(frame_positions(4, 25.0, 50.0, end="floor"), frame_positions(4, 25.0, 50.0, end="cover"))
    np.testing.assert_array_equal(frame_positions(9, 30.0, 30.0, end="cover"), np.arange(9))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="end must be"):
        frame_positions(5, 30.0, 50.0, end="ceil")
    with pytest.raises(ValueError, match="finite and positive"):
        frame_positions(5, 0.0, 50.0)
    with pytest.raises(ValueError, match="too low"):
        frame_positions(5, 0.5, 50.0, max_upsampling=50.0)
