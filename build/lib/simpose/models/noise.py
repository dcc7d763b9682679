"""A 2D keypoint detector-noise model for synthetic training data.

Projected synthetic joints are exact; a real detector's are not. :func:`apply_detector_noise`
degrades clean 2D keypoints the way detectors do, and gives each keypoint a synthetic
confidence that falls as its error grows:

- **jitter**: Gaussian, per axis, with standard deviation ``jitter_std * size * joint_scale``
  where ``size`` is the person's 2D size (:func:`person_size`, per frame) and ``joint_scale``
  is heavier for the extremities (wrists and ankles x2, elbows and knees x1.5 by default).
  It is AR(1)-correlated over time (``jitter_corr``) with the marginal std unchanged.
- **left/right swaps**: each left/right joint pair swaps places in a frame with probability
  ``swap_prob`` (a detector confusing the two sides).
- **dropped joints**: with probability ``drop_prob`` a joint is lost: it is thrown
  ``outlier_std * size`` away and gets a confidence in ``drop_confidence``.
- **truncation**: with an image size, joints outside the image get confidence 0.
- **confidence**: ``u * exp(-0.5 (err / (confidence_scale * size))^2)`` with ``u`` uniform in
  ``[confidence_floor, 1]``: decreasing in the joint's pixel error ``err``.

Every function is pure: arrays in, arrays out, randomness only from the numpy ``Generator``
passed in. Shapes: ``(..., T, J, 2)`` pixels (any leading batch dims, T frames, J joints).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simpose.body.joints import get_joint_set

__all__ = ["NoiseConfig", "person_size", "joint_noise_scales", "apply_detector_noise"]


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    """Parameters of the detector-noise model (fractions of the person's 2D size, probabilities).

    Attributes:
        jitter_std: std of the per-axis Gaussian jitter, as a fraction of :func:`person_size`.
        extremity_scale: jitter multiplier for wrists and ankles.
        mid_limb_scale: jitter multiplier for elbows and knees.
        jitter_corr: AR(1) coefficient of the jitter between consecutive frames (0 = white).
        swap_prob: per frame and left/right pair, the probability that the two swap.
        drop_prob: per frame and joint, the probability that the joint is lost.
        outlier_std: std (fraction of size) of a lost joint's displacement.
        drop_confidence: (low, high) uniform range of a lost joint's confidence.
        confidence_scale: error (fraction of size) at which confidence falls to exp(-1/2).
        confidence_floor: lower end of the uniform factor multiplying every confidence.
    """

    jitter_std: float = 0.012
    extremity_scale: float = 2.0
    mid_limb_scale: float = 1.5
    jitter_corr: float = 0.5
    swap_prob: float = 0.005
    drop_prob: float = 0.01
    outlier_std: float = 0.25
    drop_confidence: tuple[float, float] = (0.0, 0.2)
    confidence_scale: float = 0.05
    confidence_floor: float = 0.75

    def __post_init__(self) -> None:
        for name in ("swap_prob", "drop_prob", "confidence_floor"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"NoiseConfig.{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.jitter_corr < 1.0:
            raise ValueError(f"NoiseConfig.jitter_corr must lie in [0, 1), got {self.jitter_corr}")
        if min(self.jitter_std, self.outlier_std, self.confidence_scale) < 0:
            raise ValueError("NoiseConfig: standard deviations must be >= 0")


def person_size(joints2d: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
    """The person's 2D size per frame: the diagonal of the joints' bounding box.

    Args:
        joints2d: (..., J, 2) pixels.
        confidence: (..., J) or None; joints with confidence 0 are ignored.
    Returns:
        (...,) pixels (0 where no joint counts).
    """
    x = np.asarray(joints2d, dtype=np.float64)
    keep = np.isfinite(x).all(-1) if confidence is None else (np.asarray(confidence) > 0) & np.isfinite(x).all(-1)
    big = np.where(keep[..., None], x, np.inf)
    small = np.where(keep[..., None], x, -np.inf)
    lo, hi = big.min(-2), small.max(-2)
    diag = np.linalg.norm(hi - lo, axis=-1)
    return np.where(keep.any(-1), diag, 0.0)


def joint_noise_scales(joint_set: str, config: NoiseConfig = NoiseConfig()) -> np.ndarray:
    """(J,) jitter multiplier per joint of ``joint_set``: extremities heavier."""
    names = get_joint_set(joint_set).names
    out = np.ones(len(names))
    for j, n in enumerate(names):
        if "wrist" in n or "ankle" in n:
            out[j] = config.extremity_scale
        elif "elbow" in n or "knee" in n:
            out[j] = config.mid_limb_scale
    return out


def _ar1(shape: tuple[int, ...], corr: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian noise, AR(1)-correlated along axis -3 (frames)."""
    e = rng.standard_normal(shape)
    if corr == 0.0 or shape[-3] < 2:
        return e
    out = np.empty(shape)
    out[..., 0, :, :] = e[..., 0, :, :]
    innovation = np.sqrt(1.0 - corr * corr)
    for t in range(1, shape[-3]):
        out[..., t, :, :] = corr * out[..., t - 1, :, :] + innovation * e[..., t, :, :]
    return out


def apply_detector_noise(
    joints2d: np.ndarray,
    joint_set: str,
    rng: np.random.Generator,
    config: NoiseConfig = NoiseConfig(),
    image_size: np.ndarray | tuple[int, int] | None = None,
    strength: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Degrade clean projected keypoints like a 2D detector.

    Args:
        joints2d: (..., T, J, 2) clean pixels in ``joint_set``.
        joint_set: the joint set of axis J (left/right pairs and extremities by name).
        rng: numpy Generator, the only source of randomness.
        config: the noise parameters.
        image_size: (width, height), or an array (..., 2) per leading batch element; joints
            outside ``[0, width) x [0, height)`` get confidence 0. None: no truncation.
        strength: scalar or (...,) per leading batch element, multiplying the jitter std and the
            swap and drop probabilities (0 gives clean keypoints with confidence 1 in the image).
    Returns:
        noisy: (..., T, J, 2) pixels.
        confidence: (..., T, J) in [0, 1].
    """
    x = np.asarray(joints2d, dtype=np.float64)
    if x.ndim < 3 or x.shape[-1] != 2:
        raise ValueError(f"joints2d must be (..., T, J, 2), got {x.shape}")
    js = get_joint_set(joint_set)
    if x.shape[-2] != len(js):
        raise ValueError(f"joints2d has {x.shape[-2]} joints, joint set {joint_set!r} has {len(js)}")
    lead = x.shape[:-3]
    k = np.broadcast_to(np.asarray(strength, dtype=np.float64), lead)[..., None, None]  # (..., 1, 1)
    size = person_size(x)[..., None]  # (..., T, 1)
    sigma = config.jitter_std * k * size * joint_noise_scales(joint_set, config)  # (..., T, J)
    noisy = x + sigma[..., None] * _ar1(x.shape, config.jitter_corr, rng)

    # Left/right swaps, per frame and pair.
    pairs = js.left_right_pairs
    if pairs and config.swap_prob > 0:
        left = np.array([a for a, _ in pairs])
        right = np.array([b for _, b in pairs])
        swap = rng.random(x.shape[:-2] + (len(pairs),)) < config.swap_prob * k  # (..., T, P)
        l_val, r_val = noisy[..., left, :].copy(), noisy[..., right, :].copy()
        noisy[..., left, :] = np.where(swap[..., None], r_val, l_val)
        noisy[..., right, :] = np.where(swap[..., None], l_val, r_val)

    # Confidence from the error (after jitter and swaps), then lost joints.
    err = np.linalg.norm(noisy - x, axis=-1)
    scale = np.maximum(config.confidence_scale * size, 1e-9)
    u = rng.uniform(config.confidence_floor, 1.0, err.shape)
    confidence = u * np.exp(-0.5 * (err / scale) ** 2)
    confidence = np.where(k > 0, confidence, 1.0)
    drop = rng.random(err.shape) < config.drop_prob * k
    throw = config.outlier_std * size[..., None] * rng.standard_normal(x.shape)
    noisy = np.where(drop[..., None], x + throw, noisy)
    lo, hi = config.drop_confidence
    confidence = np.where(drop, rng.uniform(lo, hi, err.shape), confidence)

    if image_size is not None:
        wh = np.asarray(image_size, dtype=np.float64)
        wh = np.broadcast_to(wh, lead + (2,))[..., None, None, :]
        inside = ((noisy >= 0) & (noisy < wh)).all(-1)
        confidence = np.where(inside, confidence, 0.0)
    return noisy, np.clip(confidence, 0.0, 1.0)
