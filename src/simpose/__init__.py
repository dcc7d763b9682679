"""simpose: monocular 3D human motion capture trained on synthetic humans.

``simpose.Estimator`` (:mod:`simpose.track.estimator`) and ``simpose.PoseSequence``
(:mod:`simpose.track.sequence`) are imported on first use, so ``import simpose`` stays light (no torch, no body model).
"""

__version__ = "0.1.0"

__all__ = ["Estimator", "EstimatorConfig", "EstimatorError", "PoseSequence", "__version__"]

# name -> the module of simpose.track that defines it
_LAZY = {"Estimator": "estimator", "EstimatorConfig": "estimator", "EstimatorError": "sequence", "PoseSequence": "sequence"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"simpose.track.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'simpose' has no attribute {name!r}")
