"""Multi-person 2D: skeleton similarity and NMS, mask overlap, matching, tiles, and track ids on
constructed sequences (no model); a short real clip with two people."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simpose.cues.blazepose import PoseCandidate, Roi, box_iou
from simpose.cues.people import PeopleConfig, PeopleTracker
from simpose.cues.people_match import (
    duplicates, mask_overlaps, match, on_mask, skeleton_nms, skeleton_similarity, tile_rois,
)  # fmt: skip

J = 33


def template(x: float = 0.0, y: float = 0.0, mirror: bool = False) -> np.ndarray:
    """(33, 2) a fixed person-like layout spanning 100 x 200 px, top-left at (x, y)."""
    j = np.arange(J)
    u = 50 + 50 * np.sin(1.7 * j)
    if mirror:
        u = 100 - u
    return np.stack([u + x, 200 * j / (J - 1) + y], -1)


def candidate(kps: np.ndarray, score: float = 1.0, mask: np.ndarray | None = None, roi: Roi | None = None) -> PoseCandidate:
    roi = roi or Roi(kps.mean(0), 250.0, 0.0)
    return PoseCandidate(
        keypoints=kps.astype(np.float32), z=np.zeros(J, np.float32), visibility=np.ones(J, np.float32),
        presence=np.ones(J, np.float32), world=np.zeros((J, 3), np.float32), score=score, roi=roi, next_roi=roi, mask=mask,
    )  # fmt: skip


def test_similarity_is_an_oks_of_the_shift():
    a = template()
    area = np.ptp(a[:, 0]) * np.ptp(a[:, 1])
    ones = np.ones((1, J))
    assert skeleton_similarity(a[None], ones, a[None], ones)[0, 0] == pytest.approx(1.0)
    d = 12.0
    expected = math.exp(-(d**2) / (2 * area * 0.1**2))
    assert skeleton_similarity(a[None], ones, (a + [d, 0])[None], ones, kappa=0.1)[0, 0] == pytest.approx(expected, rel=1e-9)
    hidden = np.zeros((1, J))
    assert skeleton_similarity(a[None], ones, a[None], hidden)[0, 0] == 0.0  # nothing visible in both


def test_nms_merges_duplicates_and_keeps_two_overlapping_people():
    a = template()
    dup = a + np.random.default_rng(0).normal(0, 1.0, a.shape)  # the same person from another tile
    b = template(x=30, mirror=True)  # a second person, half in front of the first
    boxes = np.array([[*k.min(0), *k.max(0)] for k in (a, b)])
    assert box_iou(boxes[0], boxes[1:])[0] > 0.5  # box NMS (IoU 0.3) would merge them
    kps = np.stack([a, dup, b])
    keep = skeleton_nms(kps, np.ones((3, J)), np.array([0.9, 0.95, 0.8]), threshold=0.5)
    assert keep.tolist() == [1, 2]
    # a mask overlap marks a skeleton drawn on the same person (another scale, a limb) as a duplicate
    same = np.zeros((3, 3), bool)
    same[2, 1] = True
    assert skeleton_nms(kps, np.ones((3, J)), np.array([0.9, 0.95, 0.8]), 0.5, duplicate=same).tolist() == [1]


def test_mask_overlap_of_constructed_masks():
    mask = np.zeros((256, 256), np.float32)
    mask[:, :128] = 1.0  # the left half of a 100 px ROI at (100, 100): x in [50, 100)
    big = candidate(template(), mask=mask, roi=Roi(np.array([100.0, 100.0]), 100.0, 0.0))
    limb = candidate(template(), mask=np.ones((256, 256), np.float32), roi=Roi(np.array([75.0, 100.0]), 40.0, 0.0))
    other = candidate(template(), mask=np.ones((256, 256), np.float32), roi=Roi(np.array([300.0, 100.0]), 40.0, 0.0))
    m = mask_overlaps([big, limb, other])
    assert m[0, 1] == pytest.approx(1.0, abs=0.02) and m[0, 2] == 0.0 and m[1, 2] == 0.0
    dup = duplicates([big, limb, other], overlap=0.8, part_overlap=0.5, part_size_ratio=0.75)
    assert dup.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    m_half = duplicates([big, limb], overlap=1.5, part_overlap=0.5, part_size_ratio=0.75)  # only the size rule
    assert m_half.tolist() == [[False, False], [True, False]]  # the smaller one is the part
    assert on_mask(np.array([[60.0, 100.0], [140.0, 100.0], [500.0, 0.0]]), mask, big.roi).tolist() == [True, False, False]


def test_match_is_optimal_and_gated():
    sim = np.array([[0.9, 0.8], [0.85, 0.1], [0.05, 0.02]])
    assert match(sim, 0.2) == [(0, 1), (1, 0)]  # 0.8 + 0.85 beats 0.9 + 0.1; row 2 below the gate
    assert match(np.zeros((0, 3)), 0.2) == []


def test_tiles_cover_the_frame():
    rois = tile_rois(1920, 1080, (1.0, 0.5), 0.25)
    big = [r for r in rois if r.size == 1080]
    assert len(big) == 3 and len(rois) == 3 + 5 * 3  # 540 px tiles: 5 across, 3 down
    xs, ys = np.meshgrid(np.arange(0, 1920, 7) + 0.5, np.arange(0, 1080, 7) + 0.5)
    pts = np.stack([xs.ravel(), ys.ravel()], -1)
    for side in (1080, 540):
        covered = np.zeros(len(pts), bool)
        for r in (r for r in rois if r.size == side):
            covered |= (np.abs(pts - r.center) <= side / 2).all(-1)
        assert covered.all()


def test_track_ids_stable_through_a_crossing_and_an_occlusion():
    """A walks right, B (mirrored pose, 40 px lower) walks left; they cross at frame 15 and B is
    hidden in frames 20-22. Candidates come unordered, as from the detector."""
    tracker = PeopleTracker(PeopleConfig(max_missed=5), model=object())
    rng = np.random.default_rng(1)
    ids_a, ids_b = [], []
    for t in range(31):
        a = candidate(template(x=100 + 10 * t))
        b = candidate(template(x=400 - 10 * t, y=40, mirror=True))
        cands = [a] + ([] if 20 <= t <= 22 else [b])
        order = rng.permutation(len(cands))
        found = tracker.update([cands[i] for i in order], [None] * len(cands))
        by_obj = {id(c): i for i, c in found.items()}
        ids_a.append(by_obj[id(a)])
        ids_b.append(by_obj.get(id(b)))
    assert set(ids_a) == {ids_a[0]}
    assert {i for i in ids_b if i is not None} == {ids_b[0]} and ids_b[0] != ids_a[0]
    assert ids_b[20:23] == [None] * 3
    # a track unseen for longer than max_missed ends; the person then gets a new id
    for _ in range(6):
        tracker.update([candidate(template(x=410))], [None])
    found = tracker.update([candidate(template(x=600, y=300, mirror=True))], [None])
    assert list(found) == [2]


def test_two_people_of_the_multi_person_demo(shared, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    from simpose.cues.people import detect_people
    from simpose.cues.video import open_video

    source = open_video(shared / "real" / "videos" / "multi_person_demo.mp4")
    out = detect_people(source, PeopleConfig(detect_every=2), end=3, cache_dir=tmp_path)
    kp = out.keypoints
    assert kp.keypoints.shape == (3, 2, 33, 2) and kp.valid.all()  # two people visible by eye, both found
    assert out.detector_frames.tolist() == [True, False, True]
    # the two tracks are two different people: their hips lie far apart in every frame
    hips = kp.keypoints[:, :, 23:25].mean(2)
    assert (np.linalg.norm(hips[:, 0] - hips[:, 1], axis=-1) > 200).all()
    again = detect_people(source, PeopleConfig(detect_every=2), end=3, cache_dir=tmp_path)
    assert again.cached and not out.cached
    np.testing.assert_array_equal(again.keypoints.keypoints, kp.keypoints)
    np.testing.assert_array_equal(again.track_ids, out.track_ids)


def test_nobody_in_the_video_gives_zero_people(tiny_video):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    from simpose.cues.people import detect_people
    from simpose.cues.video import open_video

    out = detect_people(open_video(tiny_video))
    assert out.keypoints.keypoints.shape == (5, 0, 33, 2) and out.track_ids.shape == (0,)
    assert out.detector_frames.all()  # nobody tracked: the detector runs in every frame


@pytest.mark.parametrize(
    "bad", [{"detect_every": 0}, {"tile_fractions": (1.5,)}, {"tile_overlap": 1.0}, {"max_people": 0}, {"smoothing_rate": 0.0}]
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        PeopleConfig(**bad)


def test_a_stopped_people_stage_resumes_to_the_uninterrupted_result(shared, tmp_path, stop_after):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    from simpose.cues.people import detect_people
    from simpose.cues.video import open_video

    source = open_video(shared / "real" / "videos" / "multi_person_demo.mp4")
    config = PeopleConfig(detect_every=3)
    whole = detect_people(source, config, end=6)
    part = detect_people(source, config, end=6, cache_dir=tmp_path, stop=stop_after(4))
    assert not part.complete and part.frame_index.tolist() == [0, 1, 2, 3]
    rest = detect_people(source, config, end=6, cache_dir=tmp_path)  # resumes after frame 3
    assert rest.complete and not rest.cached and rest.frame_index.tolist() == list(range(6))
    np.testing.assert_array_equal(rest.detector_frames, whole.detector_frames)
    np.testing.assert_array_equal(rest.track_ids, whole.track_ids)
    for name in ("keypoints", "confidence", "valid", "world"):
        np.testing.assert_array_equal(getattr(rest.keypoints, name), getattr(whole.keypoints, name))
    again = detect_people(source, config, end=6, cache_dir=tmp_path)
    assert again.cached and again.complete
    np.testing.assert_array_equal(again.keypoints.keypoints, whole.keypoints.keypoints)


def test_a_people_cache_entry_of_other_frames_is_not_resumed(shared, tiny_video, tmp_path, stop_after, caplog):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    from simpose.cues.people import detect_people
    from simpose.cues.video import open_video

    # a partial entry of two people (2 frames), put where the empty tiny video's entry lies (as a
    # renamed or copied cache folder would): resuming it would splice the two people into the video
    foreign = detect_people(open_video(shared / "real" / "videos" / "multi_person_demo.mp4"), cache_dir=tmp_path / "a", stop=stop_after(2))
    assert not foreign.complete and len(foreign.track_ids) == 2
    source = open_video(tiny_video)
    fresh = detect_people(source, cache_dir=tmp_path / "b")
    (entry,) = (tmp_path / "b").glob("*.npz")
    (foreign_entry,) = (tmp_path / "a").glob("*.npz")
    entry.write_bytes(foreign_entry.read_bytes())
    again = detect_people(source, cache_dir=tmp_path / "b")
    assert "made from another video's frames" in caplog.text
    assert not again.cached and again.complete and again.track_ids.shape == (0,) == fresh.track_ids.shape
    assert again.frame_index.tolist() == list(range(5))
