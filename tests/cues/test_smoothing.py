"""MediaPipe's landmark filters against closed forms."""

from __future__ import annotations

import math

import numpy as np

from simpose.cues.smoothing import low_pass, one_euro


def test_one_euro_without_beta_is_an_exponential_filter_at_the_cutoffs_alpha():
    x = np.r_[0.0, np.ones(9)]
    out = one_euro(x, np.ones(10, bool), rate=30.0, min_cutoff=0.05, beta=0.0)
    alpha = 1 / (1 + 30.0 / (2 * math.pi * 0.05))
    assert abs(alpha - 0.0104) < 1e-4  # MediaPipe's comment: "~0.01 alpha ... when static"
    np.testing.assert_allclose(out, 1 - (1 - alpha) ** np.arange(10), rtol=1e-12)


def test_one_euro_follows_fast_motion_and_restarts_after_a_gap():
    t = np.arange(20)
    x = 10.0 * t[:, None]  # 10 px per frame, ROI 100 px: 3 ROI sizes per second at 30 Hz
    valid = np.ones(20, bool)
    valid[10] = False
    out = one_euro(x, valid, scale=np.full(20, 100.0), rate=30.0, min_cutoff=0.05, beta=80.0)
    assert np.abs(out[9] - x[9]).max() < 0.15 * 10  # fast motion: little lag (alpha near 1)
    assert out[10, 0] == x[10, 0] and out[11, 0] == x[11, 0]  # the gap passes through, the filter restarts
    # slow motion lags far more, in frames of motion: beta scales the cutoff with the speed
    slow = one_euro(0.01 * x, np.ones(20, bool), np.full(20, 100.0), 30.0, 0.05, 80.0)
    lag_fast = (x[9] - out[9])[0] / 10.0
    lag_slow = (0.01 * x[9] - slow[9])[0] / 0.1
    assert lag_slow > 3 * lag_fast


def test_low_pass_closed_form():
    x = np.r_[1.0, np.zeros(4)]
    np.testing.assert_allclose(low_pass(x, np.ones(5, bool), 0.1), 0.9 ** np.arange(5))
