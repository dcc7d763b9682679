"""Camera degradations of rendered RGB: motion blur, sensor noise, JPEG compression.

Applied to ``rgb`` only, after every annotation is computed (the labels stay those of the sharp
image, as a real camera's ground truth would). Each is off at its default (0) and then leaves
the image untouched and draws nothing from the random stream.

* Motion blur: each pixel averages ``n`` samples of its own frame along its ground-truth flow,
  over ``exposure`` of the frame interval centred on the frame time (the last frame uses the
  previous frame's flow).
* Noise: additive Gaussian, standard deviation uniform in [0, noise_std] 8-bit levels per clip.
* JPEG: every frame encoded and decoded at a quality uniform in [jpeg_quality, 95] per clip.
"""

from __future__ import annotations

import numpy as np

__all__ = ["motion_blur", "add_noise", "jpeg", "degrade"]


def motion_blur(rgb: np.ndarray, flow: np.ndarray, exposure: float, n: int = 5) -> np.ndarray:
    """(T, H, W, 3) uint8 blurred copy of ``rgb`` along ``flow`` (T-1, H, W, 2) pixels per frame."""
    import cv2

    T, H, W = rgb.shape[:3]
    if exposure <= 0 or T < 2:
        return rgb.copy()
    v, u = np.mgrid[0:H, 0:W].astype(np.float32)
    out = np.empty_like(rgb)
    offsets = (np.linspace(-0.5, 0.5, n) * exposure).astype(np.float32)
    for t in range(T):
        f = flow[min(t, T - 2)]
        acc = np.zeros((H, W, 3), np.float32)
        for s in offsets:
            acc += cv2.remap(rgb[t], u + s * f[..., 0], v + s * f[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        out[t] = np.clip(acc / n + 0.5, 0, 255).astype(np.uint8)
    return out


def add_noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` plus N(0, sigma^2) (8-bit levels), rounded and clipped to uint8."""
    noisy = rgb.astype(np.float32) + rng.normal(0.0, sigma, size=rgb.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Every frame of (T, H, W, 3) uint8 RGB through a JPEG encode/decode at ``quality``."""
    import cv2

    out = np.empty_like(rgb)
    for t in range(len(rgb)):
        ok, buf = cv2.imencode(".jpg", rgb[t][..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise RuntimeError("OpenCV could not JPEG-encode a frame")
        out[t] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return out


def degrade(rgb: np.ndarray, flow: np.ndarray, config, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Apply the degradations ``config`` switches on (:class:`simpose.synth.scene.SceneConfig`).

    Returns:
        the (T, H, W, 3) uint8 result (``rgb`` itself when all are off) and a dict of the drawn
        settings for ``meta``.
    """
    info: dict = {}
    if config.motion_blur > 0:
        rgb = motion_blur(rgb, flow, config.motion_blur)
        info["motion_blur_exposure"] = float(config.motion_blur)
    if config.noise_std > 0:
        sigma = float(rng.uniform(0.0, config.noise_std))
        rgb = add_noise(rgb, sigma, rng)
        info["noise_sigma"] = sigma
    if config.jpeg_quality > 0:
        q = int(rng.integers(config.jpeg_quality, 96))
        rgb = jpeg(rgb, q)
        info["jpeg_quality"] = q
    return rgb, info
