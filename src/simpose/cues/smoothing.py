"""MediaPipe Pose's landmark smoothing, for the landmarks of :mod:`simpose.cues.people`.

``mp.solutions.pose`` in video mode filters its landmarks (``pose_landmark_filtering.pbtxt``,
v0.10.14): a One-Euro filter per coordinate (min cutoff 0.05, beta 80, derivative cutoff 1)
whose speed is measured in ROI sizes per second, a low-pass filter (alpha 0.1) on visibility,
and a One-Euro filter on world landmarks (min cutoff 0.1, beta 40, no scaling). A filter
restarts when its person is lost. The legacy Python API stamps frames 1/30 s apart whatever
the video's rate, so its filters run at 30 Hz; ``rate`` reproduces that by default.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["one_euro", "low_pass", "LANDMARK_FILTER", "WORLD_FILTER", "VISIBILITY_ALPHA", "LEGACY_RATE"]

LANDMARK_FILTER = {"min_cutoff": 0.05, "beta": 80.0, "derivative_cutoff": 1.0}
WORLD_FILTER = {"min_cutoff": 0.1, "beta": 40.0, "derivative_cutoff": 1.0}
VISIBILITY_ALPHA = 0.1
LEGACY_RATE = 30.0  # Hz: mp.solutions' simulated timestamps, 33333 us apart


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


def one_euro(
    values: np.ndarray, valid: np.ndarray, scale: np.ndarray | None = None, rate: float = LEGACY_RATE,
    min_cutoff: float = 0.05, beta: float = 80.0, derivative_cutoff: float = 1.0,
) -> np.ndarray:
    """One-Euro filter along time (MediaPipe's OneEuroFilter), restarting after invalid frames.

    Args:
        values: (T, ...) float, one track's values (e.g. (T, J, 2) pixels).
        valid: (T,) bool; invalid frames pass through unchanged and reset the filter.
        scale: (T,) object size in the values' units (speed is measured in sizes per second),
            or None for no scaling.
        rate: frames per second the filter assumes.
        min_cutoff, beta, derivative_cutoff: the filter's parameters (Hz, -, Hz).
    Returns:
        (T, ...) float64 filtered values.
    """
    x = np.asarray(values, np.float64)
    out = x.copy()
    a_d = _alpha(derivative_cutoff, rate)
    prev_raw = prev_out = prev_d = None
    for t in range(x.shape[0]):
        if not valid[t]:
            prev_raw = None
            continue
        if prev_raw is None:  # (re)start: the first value passes, the derivative starts at 0
            out[t], prev_d = x[t], np.zeros_like(x[t])
        else:
            s = 1.0 if scale is None else 1.0 / scale[t]
            d = (x[t] - prev_raw) * s * rate
            prev_d = a_d * d + (1 - a_d) * prev_d
            a = _alpha(min_cutoff + beta * np.abs(prev_d), rate)
            out[t] = a * x[t] + (1 - a) * prev_out
        prev_raw, prev_out = x[t], out[t]
    return out


def low_pass(values: np.ndarray, valid: np.ndarray, alpha: float = VISIBILITY_ALPHA) -> np.ndarray:
    """Exponential low-pass along time (MediaPipe's LowPassFilter), restarting after invalid frames.

    Args:
        values: (T, ...) float; valid: (T,) bool.
    Returns:
        (T, ...) float64: ``alpha * value + (1 - alpha) * previous output``.
    """
    x = np.asarray(values, np.float64)
    out = x.copy()
    for t in range(1, x.shape[0]):
        if valid[t] and valid[t - 1]:
            out[t] = alpha * x[t] + (1 - alpha) * out[t - 1]
    return out
