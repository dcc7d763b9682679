"""simpose: monocular 3D human motion capture trained on synthetic humans."""

__version__ = "0.1.0"
