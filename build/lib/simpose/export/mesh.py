"""Mesh files of a fitted body: Wavefront OBJ, one per frame (opens in Blender, MeshLab, ...).

Vertices are written in the camera frame turned to Y up (as the BVH: ``(x, y, z) -> (x, -y,
-z)``), metres; faces keep the body model's winding, which the turn (a rotation) preserves.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from simpose.body.fit import BodyFit, body_vertices
from simpose.body.model import BodyModel
from simpose.export.bvh import CAM_TO_BVH
from simpose.export.poses import _atomic

__all__ = ["write_obj", "write_meshes"]


def write_obj(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Write one triangle mesh as OBJ, atomically.

    Args:
        path: output ``.obj``.
        vertices: (V, 3) positions (written as given).
        faces: (F, 3) 0-based vertex indices (OBJ counts from 1).
    Returns:
        ``path``.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"need vertices (V, 3) and faces (F, 3), got {v.shape} and {f.shape}")
    if not np.isfinite(v).all():
        raise ValueError("vertices contain NaN or inf")
    buf = io.StringIO()
    np.savetxt(buf, v, fmt="v %.5f %.5f %.5f")
    np.savetxt(buf, f + 1, fmt="f %d %d %d")
    data = buf.getvalue().encode()
    return _atomic(Path(path), lambda fh: fh.write(data))


def write_meshes(out_dir: str | os.PathLike, body: BodyModel, fit: BodyFit, every: int = 1, batch: int = 32) -> list[Path]:
    """``out_dir/mesh_XXXXXX.obj`` for every ``every``-th valid frame (numbered by result row).

    Returns:
        The paths written.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    out_dir = Path(out_dir)
    rows = np.flatnonzero(fit.valid)[::every]
    faces = body.faces.numpy()
    paths = []
    for s in range(0, len(rows), batch):
        chunk = rows[s : s + batch]
        for r, verts in zip(chunk, body_vertices(body, fit, chunk)):
            paths.append(write_obj(out_dir / f"mesh_{r:06d}.obj", verts @ CAM_TO_BVH.T, faces))
    return paths
