"""Association of per-frame 3D poses into tracks, on constructed scenes with known identities."""

from __future__ import annotations

import numpy as np
import pytest

from simpose.track.associate import associate, match_references, pose_distances

J = 17


def body(centre) -> np.ndarray:
    """(17, 3) a fixed 3D joint layout (metres) around ``centre``."""
    offsets = np.random.default_rng(7).normal(0, 0.25, (J, 3))
    return offsets + np.asarray(centre, np.float64)


def crossing_scene(T: int = 41, hidden=range(22, 26)):
    """A walks right at 4 m depth, B walks left at 5 m: they cross in the image at frame 20
    (same x, 1 m apart in depth); B is hidden in ``hidden``. A third person C enters at frame 30.
    Returns per-frame poses (shuffled) and the true identity of each pose."""
    rng = np.random.default_rng(3)
    poses, truth = [], []
    for t in range(T):
        people = {"A": body([-1 + 0.05 * t, 0, 4.0]), "B": body([1 - 0.05 * t, 0.1, 5.0])}
        if t in hidden:
            del people["B"]
        if t >= 30:
            people["C"] = body([0.5, 0, 3.0])
        names = list(people)
        order = rng.permutation(len(names))
        poses.append(np.stack([people[names[i]] for i in order]))
        truth.append([names[i] for i in order])
    return poses, truth


def identities(tracks, truth):
    """track id -> set of true names it was given."""
    out = {}
    for t in range(tracks.index.shape[0]):
        for p, i in enumerate(tracks.index[t]):
            if i >= 0:
                out.setdefault(int(tracks.track_ids[p]), set()).add(truth[t][i])
    return out


def test_pose_distances_mean_joint_distance_and_nan_joints():
    a = body([0, 0, 4])
    b = a + [0.3, 0.4, 0.0]  # every joint 0.5 m away
    b_nan = b.copy()
    b_nan[:5] = np.nan
    d = pose_distances(a[None], np.stack([a, b, b_nan, np.full_like(a, np.nan)]))
    np.testing.assert_allclose(d[0, :3], [0.0, 0.5, 0.5], atol=1e-12)
    assert d[0, 3] == np.inf


def test_crossing_people_keep_their_ids_through_an_occlusion():
    poses, truth = crossing_scene()
    tracks = associate(poses, max_distance=0.5, max_missed=5)
    ids = identities(tracks, truth)
    assert sorted(map(sorted, ids.values())) == [["A"], ["B"], ["C"]]  # no swap, no split
    b = next(p for p, i in enumerate(tracks.track_ids) if ids[int(i)] == {"B"})
    assert not tracks.valid[22:26, b].any() and tracks.valid[26:, b].all()  # NaN while hidden, never invented
    assert np.isnan(tracks.joints[22:26, b]).all()
    c = next(p for p, i in enumerate(tracks.track_ids) if ids[int(i)] == {"C"})
    assert not tracks.valid[:30, c].any()  # a track starts when the person enters


def test_a_track_ends_after_max_missed():
    poses, truth = crossing_scene(hidden=range(22, 30))
    tracks = associate(poses, max_distance=0.5, max_missed=5)
    ids = identities(tracks, truth)
    assert sorted(map(sorted, ids.values())) == [["A"], ["B"], ["B"], ["C"]]  # B seen again after 8 frames: a new track


def test_known_association_follows_only_the_given_people():
    poses, truth = crossing_scene()
    a0 = truth[0].index("A")
    tracks = associate(poses, max_distance=0.5, max_missed=5, initial=np.array([a0]))
    assert tracks.index.shape == (41, 1)
    assert identities(tracks, truth) == {0: {"A"}}
    assert tracks.valid.all()


def test_per_frame_references_pick_each_person():
    poses, truth = crossing_scene()
    f = 1000.0  # project to pixels: the references are 2D
    poses2d = [f * p[..., :2] / p[..., 2:] + 500 for p in poses]
    ref_names = ["B", "A"]
    refs = np.full((len(poses), 2, J, 2), np.nan)
    for t in range(len(poses)):
        for k, name in enumerate(ref_names):
            if name in truth[t]:
                refs[t, k] = poses2d[t][truth[t].index(name)] + 3.0  # a reference a few pixels off
    index = match_references(poses2d, refs, max_distance=30.0)
    for t in range(len(poses)):
        for k, name in enumerate(ref_names):
            assert (truth[t][index[t, k]] if index[t, k] >= 0 else None) == (name if name in truth[t] else None)


def test_bad_input():
    with pytest.raises(ValueError, match="at least one frame"):
        associate([], 0.5)
    with pytest.raises(ValueError, match="out of range"):
        associate([body([0, 0, 4])[None]], 0.5, initial=np.array([3]))
