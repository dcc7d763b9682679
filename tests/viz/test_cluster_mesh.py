"""The overlay's decimated body (:func:`simpose.viz.overlay.cluster_mesh`) against a closed sphere
whose volume, surface and outward winding are known."""

from __future__ import annotations

import numpy as np
import pytest

from simpose.viz.overlay import cluster_mesh


def _uv_sphere(n_lat: int = 40, n_lon: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A closed unit sphere: poles + rings, triangles wound counter-clockwise seen from outside."""
    theta = np.pi * np.arange(1, n_lat) / n_lat
    phi = 2 * np.pi * np.arange(n_lon) / n_lon
    ring = np.stack([np.sin(theta)[:, None] * np.cos(phi), np.sin(theta)[:, None] * np.sin(phi), np.cos(theta)[:, None] + 0 * phi], -1)
    v = np.concatenate([[[0, 0, 1]], ring.reshape(-1, 3), [[0, 0, -1]]])
    idx = lambda i, j: 1 + i * n_lon + j % n_lon  # noqa: E731
    f = [(0, idx(0, j), idx(0, j + 1)) for j in range(n_lon)]
    for i in range(n_lat - 2):
        for j in range(n_lon):
            f += [(idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)), (idx(i, j), idx(i + 1, j + 1), idx(i, j + 1))]
    f += [(len(v) - 1, idx(n_lat - 2, j + 1), idx(n_lat - 2, j)) for j in range(n_lon)]
    return v, np.array(f)


def _volume(v, f):
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6


def _outward(v, f):
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c)


def test_a_tiny_cell_keeps_the_mesh():
    v, f = _uv_sphere()
    keep, g = cluster_mesh(v, f, 1e-6)
    assert sorted(keep) == list(range(len(v)))
    assert {tuple(sorted(t)) for t in keep[g].tolist()} == {tuple(sorted(t)) for t in f.tolist()}
    assert _volume(v[keep], g) == pytest.approx(_volume(v, f), rel=1e-12)


def test_a_coarse_sphere_stays_a_closed_outward_sphere():
    v, f = _uv_sphere()
    assert (_outward(v, f) > 0).all() and _volume(v, f) == pytest.approx(4 / 3 * np.pi, rel=0.01)
    keep, g = cluster_mesh(v, f, 0.2)
    w = v[keep]
    assert len(g) < len(f) / 4  # decimated
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-12)  # kept vertices lie on the fine mesh
    assert (_outward(w, g) > 0).mean() > 0.99  # winding kept: back-face culling still shows the outside
    assert _volume(w, g) == pytest.approx(4 / 3 * np.pi, rel=0.03)  # still encloses the sphere's volume
    assert len({tuple(np.roll(t, -int(np.argmin(t)))) for t in g.tolist()}) == len(g)  # no duplicate triangle
    assert (np.diff(np.sort(g, axis=1), axis=1) > 0).all()  # no collapsed triangle
    assert g.dtype == np.int32 and g.max() < len(keep)


def test_bad_cell():
    v, f = _uv_sphere(4, 8)
    with pytest.raises(ValueError, match="cell > 0"):
        cluster_mesh(v, f, 0.0)
