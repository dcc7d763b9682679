"""simpose: monocular 3D human motion capture trained on synthetic humans.

``simpose.Estimator`` and ``simpose.PoseSequence`` (:mod:`simpose.track.estimator`) are imported
on first use, so ``import simpose`` stays light (no torch, no body model).
"""

__version__ = "0.1.0"

__all__ = ["Estimator", "EstimatorConfig", "EstimatorError", "PoseSequence", "__version__"]

_LAZY = {"Estimator", "EstimatorConfig", "EstimatorError", "PoseSequence"}


def __getattr__(name: str):
    if name in _LAZY:
        from simpose.track import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'simpose' has no attribute {name!r}")
