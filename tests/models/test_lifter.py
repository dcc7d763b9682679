"""The temporal lifter: causality, shapes and units, input invariances, a tiny overfit, shipped weights."""

import numpy as np
import pytest
import torch

from simpose.body.joints import get_joint_set
from simpose.models.lifter import WEIGHTS_PATH, Lifter
from simpose.models.lifter_input import (
    INPUT_SET,
    SCALE_FRAMES,
    normalize_keypoints,
    output_slices,
    rate_positions,
    resample_frames,
    resample_to_frames,
    resample_track,
    sliding_scales,
)
from simpose.models.lifter_net import TemporalLifterNet

H36M = get_joint_set("h36m17")
N_OUT = sum(s.stop - s.start for s in output_slices().values())


def _lifter(seed: int = 0, channels: int = 32) -> Lifter:
    torch.manual_seed(seed)
    net = TemporalLifterNet(len(H36M), N_OUT, channels=channels)
    with torch.no_grad():  # random BN statistics so that every layer matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return Lifter(net)


def _walk(T: int = 80, seed: int = 0) -> np.ndarray:
    """A wobbling 2D skeleton, (T, 17, 2) pixels."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-80, 80, (len(H36M), 2)) + (640, 360)
    t = np.arange(T)[:, None, None]
    return base + 10 * np.sin(0.2 * t + rng.uniform(0, 6, (1, len(H36M), 1)))


def test_causal_mode_ignores_the_future():
    lifter = _lifter()
    x = _walk()
    conf = np.full(x.shape[:2], 0.9)
    ref = lifter.predict(x, confidence=conf, causal=True)
    changed = x.copy()
    changed[50:] += np.random.default_rng(1).normal(0, 40, changed[50:].shape)
    conf2 = conf.copy()
    conf2[50:, :5] = 0.0
    out = lifter.predict(changed, confidence=conf2, causal=True)
    np.testing.assert_array_equal(out[:50], ref[:50])
    assert np.abs(out[50:] - ref[50:]).max() > 1e-3
    # The offline mode does look ahead (half its receptive field).
    off, off2 = lifter.predict(x, confidence=conf), lifter.predict(changed, confidence=conf2)
    assert np.abs(off2[50 - lifter.receptive_field // 2 : 50] - off[50 - lifter.receptive_field // 2 : 50]).max() > 1e-4


def test_stream_matches_batched_causal():
    lifter = _lifter()
    x = _walk(40)
    stream = lifter.stream()
    pushed = np.stack([stream.push(frame) for frame in x])
    np.testing.assert_allclose(pushed, lifter.predict(x, causal=True), atol=1e-5)


@pytest.mark.parametrize("fps", [30.0, 12.5, 100.0])
def test_stream_at_another_frame_rate_matches_batched_causal(fps):
    """Pushed at 30, 12.5 or 100 fps, the stream lifts the frames of the track resampled to 50 fps
    as they become known: the numbers of the batched causal mode at that rate."""
    lifter = _lifter()
    x = _walk(45)
    conf = np.full(x.shape[:2], 0.9)
    conf[10:13, 3] = 0.0  # a joint lost for three frames
    x[20, 5] = np.nan  # and one missing altogether
    K = np.array([[900.0, 0, 640], [0, 900.0, 360], [0, 0, 1]])
    for camera in (None, K):
        stream = lifter.stream(camera=camera, fps=fps)
        pushed = np.stack([stream.push(frame, c) for frame, c in zip(x, conf)])
        np.testing.assert_allclose(pushed, lifter.predict(x, confidence=conf, camera=camera, causal=True, fps=fps), atol=1e-5)
        assert np.abs(pushed - lifter.predict(x, confidence=conf, camera=camera, causal=True)).max() > 1e-3


def _camera() -> np.ndarray:
    return np.array([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 1]])


def test_shapes_units_and_roots():
    lifter = _lifter()
    x = _walk(33)
    out = lifter.predict(x)
    assert out.shape == (33, 17, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, H36M.index("pelvis")], 0.0)
    anny = get_joint_set("anny")
    out_a = lifter.predict(x, output_set="anny")
    assert out_a.shape == (33, len(anny), 3)
    np.testing.assert_array_equal(out_a[:, anny.root], 0.0)
    assert lifter.predict(x[:5]).shape == (5, 17, 3)  # shorter than the receptive field: edge padding
    both = lifter.predict_sets(x, camera=_camera())
    for name in ("h36m17", "anny"):  # one pass for both sets gives what two predict calls give
        np.testing.assert_array_equal(both[name], lifter.predict(x, camera=_camera(), output_set=name))
    with pytest.raises(ValueError, match="output_set"):
        lifter.predict(x, output_set="coco17")
    with pytest.raises(ValueError, match="output_set"):
        lifter.stream(output_set="coco17")
    coco = get_joint_set("coco17")
    assert lifter.predict(np.zeros((7, len(coco), 2)) + 100, joint_set="coco17").shape == (7, 17, 3)


def test_batched_sliding_windows_match_single_windows():
    lifter = _lifter()
    lifter.flip = False  # one window of the network, not averaged with its mirror image
    x = _walk(61)
    RF = lifter.receptive_field
    full = lifter.predict(x, chunk=4096)
    np.testing.assert_allclose(lifter.predict(x, chunk=16), full, atol=1e-5)
    feats, _ = normalize_keypoints(x)
    idx = np.clip(np.arange(-(RF // 2), RF // 2 + 1) + 30, 0, len(x) - 1)
    with torch.no_grad():
        one = lifter.net.forward_windows(torch.from_numpy(feats[idx].reshape(1, RF, -1)))[0, 0]
    sl = output_slices()["h36m17"]
    one = one[sl].numpy()
    np.testing.assert_allclose(one - one[H36M.index("pelvis")], full[30], atol=1e-5)


def test_normalisation_is_translation_and_scale_invariant():
    x = _walk(30)
    conf = np.random.default_rng(2).uniform(0.3, 1, x.shape[:2])
    conf[3, 4] = 0.0
    f0, s0 = normalize_keypoints(x, conf)
    f1, s1 = normalize_keypoints(2.5 * x + np.array([-300.0, 77.0]), conf)
    np.testing.assert_allclose(f1, f0, atol=1e-5)
    assert s1 == pytest.approx(2.5 * s0)
    # Intrinsics: the same normalised image seen through two cameras.
    K1 = np.array([[1000.0, 0, 500], [0, 1000.0, 400], [0, 0, 1]])
    K2 = np.array([[1500.0, 0, 960], [0, 1500.0, 540], [0, 0, 1]])
    xn = (x - 500) / 1000
    u1, u2 = xn * 1000 + (500, 400), xn * 1500 + (960, 540)
    np.testing.assert_allclose(normalize_keypoints(u1, conf, K1)[0], normalize_keypoints(u2, conf, K2)[0], atol=1e-5)
    lifter = _lifter()
    np.testing.assert_allclose(lifter.predict(u1, confidence=conf, camera=K1), lifter.predict(u2, confidence=conf, camera=K2), atol=1e-5)


def test_tiny_overfit():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    RF, B = 27, 32
    pose3d = rng.normal(0, 0.3, (B, len(H36M), 3)) + np.array([0, 0, 4.0])
    uv = pose3d[..., :2] / pose3d[..., 2:] * 1000
    windows = uv[:, None].repeat(RF, 1) + rng.normal(0, 1.0, (B, RF, len(H36M), 2))
    feats, _ = normalize_keypoints(windows)
    x = torch.from_numpy(feats.reshape(B, RF, -1))
    y = torch.from_numpy((pose3d - pose3d[:, :1]).astype(np.float32))
    net = TemporalLifterNet(len(H36M), len(H36M), channels=64, dropout=0.0, heads=1)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: thread start-up costs more than it saves
    try:
        for _ in range(300):
            loss = (net.forward_windows(x)[:, 0] - y).norm(dim=-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < losses[0] / 10


def _synthetic_clip(body, fps: float = 50.0, n_frames: int = 60, family: str = "reach"):
    """A procedural clip (a "reach" by default) seen from 4 m in front at 1.2 m height: (T, 17, 2) pixels, the
    camera, (T, 17, 3) root-relative camera-frame truth."""
    from simpose.camera import Camera
    from simpose.motion.procedural import generate
    import roma

    rng = np.random.default_rng(123)
    shape = np.full(6, 0.5)
    motion = generate(family, n_frames, fps, rng, body, shape)
    with torch.no_grad():
        world = body.forward_joints(
            "h36m17",
            torch.as_tensor(motion.pose_rotvecs),
            torch.as_tensor(shape)[None],
            torch.as_tensor(motion.global_rotvecs),
            torch.as_tensor(motion.trans),
        ).numpy()
    # A camera 4 m in front of the body at 1.2 m height, looking at the pelvis (world y is down).
    centre = world[:, H36M.index("pelvis")].mean(0)
    eye = centre.copy()
    eye[1] = -1.2
    facing = roma.rotvec_to_rotmat(torch.as_tensor(motion.global_rotvecs[0])).numpy() @ np.array([0.0, 0.0, -1.0])
    facing[1] = 0.0
    eye[[0, 2]] += 4.0 * facing[[0, 2]] / np.linalg.norm(facing[[0, 2]])
    fwd = centre - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross([0.0, 1.0, 0.0], fwd)
    right /= np.linalg.norm(right)
    R = np.stack([right, np.cross(fwd, right), fwd])
    cam = Camera.from_fov(60.0, (1280, 720), dtype=torch.float64).with_extrinsics(torch.as_tensor(R), torch.as_tensor(-R @ eye))
    joints_cam = cam.world_to_camera(torch.as_tensor(world)).numpy()
    uv = cam.project(torch.as_tensor(world)).numpy()
    return uv, cam, joints_cam - joints_cam[:, H36M.index("pelvis") : H36M.index("pelvis") + 1]


@pytest.mark.skipif(not WEIGHTS_PATH.exists(), reason="no shipped lifter weights")
def test_shipped_weights_on_a_synthetic_clip(body):
    lifter = Lifter.from_pretrained()
    assert lifter.card["input"]["joint_set"] == INPUT_SET
    uv, cam, gt = _synthetic_clip(body)
    pred = lifter.predict(uv, camera=cam)
    mpjpe_mm = np.linalg.norm(pred - gt, axis=-1).mean() * 1000
    print(f"shipped lifter on a synthetic clip: MPJPE {mpjpe_mm:.1f} mm")
    assert mpjpe_mm < 120, mpjpe_mm


def test_pelvis_view_turns_with_the_camera():
    from simpose.models.lifter_input import pelvis_view_rotations, to_pelvis_view

    rng = np.random.default_rng(5)
    T = 40
    pose = rng.normal(0, 0.25, (T, len(H36M), 3)) * np.array([1, 2, 0.5]) + np.array([0.6, 0.3, 4.0])  # off-axis person
    K = np.array([[900.0, 0, 640], [0, 900.0, 360], [0, 0, 1]])

    def project(X):
        return X[..., :2] / X[..., 2:] * 900.0 + (640, 360)

    conf = np.ones((T, len(H36M)))
    R = pelvis_view_rotations((project(pose) - (640, 360)) / 900.0, conf)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    ray = np.einsum("tij,tj->ti", R, pose[:, H36M.index("pelvis")])
    np.testing.assert_allclose(ray[:, :2], 0.0, atol=1e-9)  # the virtual camera looks at the pelvis
    view = to_pelvis_view((project(pose) - (640, 360)) / 900.0, R)
    np.testing.assert_allclose(view[:, H36M.index("pelvis")], 0.0, atol=1e-9)
    np.testing.assert_allclose(pelvis_view_rotations(np.zeros((1, len(H36M), 2)), conf[:1])[0], np.eye(3), atol=1e-12)
    # Panning the camera about its centre turns the prediction with it, exactly (same virtual view).
    a = np.radians(20.0)
    Ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    lifter = _lifter()
    pa = lifter.predict(project(pose), camera=K)
    pb = lifter.predict(project(pose @ Ry.T), camera=K)
    np.testing.assert_allclose(pb, pa @ Ry.T, atol=1e-4)
    # Without the virtual view the centred image changes and so does the prediction.
    assert np.abs(lifter.predict(project(pose @ Ry.T)) - pa @ Ry.T).max() > 1e-3


def test_flipped_prediction_is_mirror_equivariant():
    """Test-time flipping averages the lift of the input and of its mirror image mirrored back,
    so lifting a mirrored clip gives exactly the mirrored 3D (a random net alone does not)."""
    lifter = _lifter(seed=3)
    x = _walk(60, seed=2)
    mirrored = x[:, list(H36M.flip_permutation)].copy()
    mirrored[..., 0] = 1280 - mirrored[..., 0]
    for output_set in ("h36m17", "anny"):
        perm = list(get_joint_set(output_set).flip_permutation)
        y, ym = lifter.predict(x, output_set=output_set), lifter.predict(mirrored, output_set=output_set)
        expected = y[:, perm] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        np.testing.assert_allclose(ym, expected, atol=1e-5)
    lifter.flip = False
    y, ym = lifter.predict(x), lifter.predict(mirrored)
    assert np.abs(ym - y[:, list(H36M.flip_permutation)] * np.array([-1.0, 1.0, 1.0])).max() > 1e-3


def test_sliding_scales_are_span_medians():
    sizes = np.arange(1.0, 301.0)  # a person growing steadily in the image
    S = 11
    centred, causal = sliding_scales(sizes, S), sliding_scales(sizes, S, causal=True)
    np.testing.assert_allclose(centred[5:-5], sizes[5:-5])  # symmetric span about t: its median is sizes[t]
    np.testing.assert_allclose(causal[10:], sizes[10:] - 5)  # the last 11 frames up to t
    assert centred[0] == np.median(sizes[:6]) and causal[0] == sizes[0]  # spans cut at the clip's ends
    gaps = sizes.copy()
    gaps[100:200] = np.nan  # invalid frames are skipped; a span with none valid gets 1
    out = sliding_scales(gaps, S)
    assert np.isfinite(out).all() and out[150] == 1.0 and out[98] == np.median(sizes[93:100])


def test_a_person_walking_away_is_scaled_frame_by_frame():
    """The same pose at 3 m and at 7 m in one clip: with the size taken over SCALE_FRAMES frames
    (not the whole clip) both ends give the network (nearly) the same input."""
    from simpose.models.lifter_input import frame_sizes

    x = _walk(1)[0]
    x = x - x[H36M.index("pelvis")]
    T = 10 * SCALE_FRAMES
    depth = np.linspace(3.0, 7.0, T)
    clip = 320 + x[None] * (3.0 / depth)[:, None, None]  # (T, J, 2): shrinking with distance
    feats, _ = normalize_keypoints(clip, scale=1.0)
    local = sliding_scales(frame_sizes(feats[..., :2], feats[..., 2]))
    first, last = feats[0, :, :2] / local[0], feats[-1, :, :2] / local[-1]
    assert np.abs(first - last).max() < 0.1 * np.abs(first).max()
    whole, _ = normalize_keypoints(clip)  # one size for the whole clip: the ends differ by 7/3
    assert np.abs(whole[0, :, :2] - whole[-1, :, :2]).max() > 0.5 * np.abs(whole[0, :, :2]).max()


def test_folded_inference_follows_weight_changes():
    """The folded-batch-norm inference path caches its weights; changing the network in place
    (load_state_dict, an optimiser step, new batch-norm statistics) must be seen at once."""
    lifter, other = _lifter(0), _lifter(1)
    net = lifter.net
    feats = np.stack([normalize_keypoints(_walk(27, seed))[0] for seed in range(3)])  # (3, 27, 17, 3)
    x = torch.from_numpy(feats.reshape(3, 27, -1))

    def check():
        with torch.no_grad():
            np.testing.assert_allclose(net.forward_windows(x).numpy(), net(x)[:, 0].numpy(), atol=1e-4)

    check()
    net.load_state_dict(other.net.state_dict())
    check()
    with torch.no_grad():
        net.bns[0].running_var.mul_(2.0)
        net.shrink.weight.add_(0.01)
    check()


def test_rate_positions_and_resampling_of_a_track():
    np.testing.assert_array_equal(rate_positions(7, 50.0, 50.0), np.arange(7))
    np.testing.assert_allclose(rate_positions(4, 25.0, 50.0), np.arange(7) / 2)  # 0.12 s: 7 frames at 50 fps
    np.testing.assert_allclose(rate_positions(4, 30.0, 50.0), np.arange(6) * 0.6)  # 0.1 s: 6 frames at 50 fps
    pos = rate_positions(5, 30.0, 50.0)  # 0.133 s: 7 frames reach 0.12 s, an 8th covers the last frame
    np.testing.assert_allclose(pos, np.minimum(np.arange(8) * 0.6, 4.0))
    with pytest.raises(ValueError, match="positive"):
        rate_positions(4, 0.0, 50.0)
    # A track moving at constant speed is resampled exactly, and taken back exactly.
    t = np.arange(9) / 30.0
    xy = np.stack([100 + 300 * t, 50 - 60 * t], -1)[:, None].repeat(3, 1)  # (T, 3, 2)
    conf = np.tile([1.0, 0.5, 0.8], (9, 1))
    conf[4, 2] = 0.2
    xy[6, 1] = np.nan
    up, c = resample_track(xy, conf, 30.0, 50.0)
    tu = rate_positions(9, 30.0, 50.0) / 30.0
    np.testing.assert_allclose(up[:, 0], np.stack([100 + 300 * tu, 50 - 60 * tu], -1), atol=1e-9)
    np.testing.assert_allclose(c[:, 0], 1.0)
    # between frames a point is as confident as the less confident one; missing beside a missing one
    near4 = np.abs(tu * 30.0 - 4) < 1
    np.testing.assert_allclose(c[near4, 2], 0.2)
    near6 = np.abs(tu * 30.0 - 6) < 1
    assert (c[near6, 1] == 0).all() and np.isnan(up[near6, 1]).all()
    assert np.isfinite(up[~near6]).all()
    back = resample_to_frames(up, 9, 30.0, 50.0)
    np.testing.assert_allclose(back[:, 0], xy[:, 0], atol=1e-4)
    # causal: each frame takes the last resampled frame at or before it (a stream cannot know
    # that a frame is the last, so not the offline mode's extra frame clamped onto it)
    causal = resample_to_frames(np.arange(len(up), dtype=float), 9, 30.0, 50.0, causal=True)
    np.testing.assert_array_equal(causal, [0, 1, 3, 5, 6, 8, 10, 11, 13])
    np.testing.assert_array_equal(resample_frames(xy[:, 0], 30.0, 30.0), xy[:, 0])


def test_lifting_at_another_frame_rate():
    lifter = _lifter()
    x = _walk(60)
    conf = np.full(x.shape[:2], 0.9)
    np.testing.assert_array_equal(lifter.predict(x, confidence=conf, fps=50.0), lifter.predict(x, confidence=conf))
    slow = lifter.predict(x, confidence=conf, fps=25.0)
    assert slow.shape == (60, 17, 3)
    assert np.abs(slow - lifter.predict(x, confidence=conf)).max() > 1e-3  # it does lift another track
    K = np.array([[900.0, 0, 640], [0, 900.0, 360], [0, 0, 1]])
    assert lifter.predict(x, camera=K, fps=30.0).shape == (60, 17, 3)
    # The causal mode stays causal at other rates: later frames do not change earlier outputs.
    changed = x.copy()
    changed[40:] += np.random.default_rng(1).normal(0, 40, changed[40:].shape)
    a, b = lifter.predict(x, confidence=conf, causal=True, fps=30.0), lifter.predict(changed, confidence=conf, causal=True, fps=30.0)
    np.testing.assert_array_equal(a[:40], b[:40])
    assert np.abs(a[40:] - b[40:]).max() > 1e-3


@pytest.mark.skipif(not WEIGHTS_PATH.exists(), reason="no shipped lifter weights")
def test_shipped_weights_lift_a_motion_alike_at_12_and_50_fps(body):
    """The same motion filmed at 12.5 fps (every 4th frame) lifts to what it lifts to at 50 fps,
    the training rate, when the lifter is told the rate; taken as 50 fps frames (the motion four
    times as fast) it lifts to something else. (On Human3.6M the first keeps protocol #1 at 79 mm,
    the second loses 10 mm: benchmarks/lifter_frame_rate.py.)"""
    lifter = Lifter.from_pretrained()
    for family in ("pick_up", "crouch"):
        uv, cam, _ = _synthetic_clip(body, fps=50.0, n_frames=200, family=family)
        at_50 = lifter.predict(uv, camera=cam)[::4]
        told = np.linalg.norm(lifter.predict(uv[::4], camera=cam, fps=12.5) - at_50, axis=-1).mean() * 1000
        untold = np.linalg.norm(lifter.predict(uv[::4], camera=cam) - at_50, axis=-1).mean() * 1000
        print(f"{family} at 12.5 fps vs its 50 fps lift: {told:.1f} mm with the rate, {untold:.1f} mm without")
        assert told < 2.0 and untold > 10.0, (family, told, untold)  # 0.1 and 31-38 mm here


def test_resampling_has_a_bound_so_no_rate_can_exhaust_memory():
    from simpose.models.lifter import LifterStream
    from simpose.models.lifter_input import MAX_UPSAMPLING

    # 40 frames at 0.001 fps were resampled to ~2 million frames at 50 fps (418 s, 20.4 GB)
    with pytest.raises(ValueError, match="too low"):
        rate_positions(40, 0.001, 50.0)
    with pytest.raises(ValueError, match="too low"):
        resample_track(np.zeros((40, 17, 2)), np.ones((40, 17)), 0.001, 50.0)
    lowest = 50.0 / MAX_UPSAMPLING
    assert len(rate_positions(40, lowest, 50.0)) == 39 * MAX_UPSAMPLING + 1  # the bound itself is allowed
    with pytest.raises(ValueError, match="too low"):
        LifterStream(Lifter.from_pretrained(), fps=0.001)
    with pytest.raises(ValueError, match="finite"):
        rate_positions(40, float("nan"), 50.0)


def test_shipped_card_carries_the_input_contract():
    import json

    from simpose.models.lifter import CARD_PATH, InputContract

    card = json.loads(CARD_PATH.read_text())
    lifter = Lifter.from_pretrained()
    assert lifter.contract == InputContract.from_card(card)
    assert (lifter.contract.joint_set, lifter.scale_frames, lifter.fps) == (card["input"]["joint_set"], card["input"]["scale_frames"], card["input"]["fps"])
    assert lifter.contract.output_sets == tuple(card["output"]["joint_sets"])


def test_the_scale_window_is_read_from_the_card(tmp_path):
    """A card's input.scale_frames is what the lifter uses (numbers as sliding_scales over that window)."""
    import dataclasses

    from simpose.models.lifter import InputContract
    from simpose.models.lifter_input import frame_sizes

    base = _lifter()
    short = Lifter(base.net, contract=dataclasses.replace(InputContract(), scale_frames=9))
    x = _walk(T=60)
    x[30:] = (x[30:] - 640) * 1.8 + 640  # the person grows: the size window matters
    conf = np.full(x.shape[:2], 0.9)
    feats, scales, _ = short._features(x, conf, None)
    np.testing.assert_allclose(scales, sliding_scales(frame_sizes(feats[..., :2], feats[..., 2]), 9).astype(np.float32))
    assert np.abs(short.predict(x, confidence=conf) - base.predict(x, confidence=conf)).max() > 1e-4


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["input"].pop("scale_frames"), "lacks input.scale_frames"),
        (lambda c: c["input"].update(joint_set="coco17"), "input.joint_set 'coco17'"),
        (lambda c: c["output"].update(joint_sets=["anny", "h36m17"]), "output.joint_sets"),
        (lambda c: c["input"].update(fps=0), "input.fps > 0"),
    ],
)
def test_a_card_that_does_not_match_the_code_is_a_clear_error(tmp_path, change, message):
    import json
    import shutil

    from simpose.models.lifter import CARD_PATH, LifterCardError

    card = json.loads(CARD_PATH.read_text())
    change(card)
    shutil.copy(WEIGHTS_PATH, tmp_path / "w.pt")
    (tmp_path / "w.json").write_text(json.dumps(card))
    with pytest.raises(LifterCardError, match=message):
        Lifter.from_pretrained(tmp_path / "w.pt")
    from simpose.track.estimator import Estimator
    from simpose.track.sequence import EstimatorError

    with pytest.raises(EstimatorError, match=message):
        Estimator.from_pretrained(tmp_path / "w.pt")


@pytest.mark.parametrize("fps", [None, 60.0])
def test_differentiable_lift_matches_predict_and_reaches_the_weights(fps):
    """Lifter.differentiable: predict's numbers (camera, mirror averaging, resampling back), and a
    loss on its output has a gradient on every layer; the weights changed, it follows them."""
    lifter = _lifter()
    x = _walk(50)
    conf = np.full(x.shape[:2], 0.9)
    K = np.array([[900.0, 0, 640], [0, 900.0, 360], [0, 0, 1]])
    run = lifter.differentiable(x, None, conf, K, "anny", fps)
    y = run()
    np.testing.assert_allclose(y.detach().numpy(), lifter.predict(x, None, conf, K, "anny", fps=fps), atol=1e-5)
    y.square().sum().backward()
    grads = [p.grad for p in lifter.net.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    with torch.no_grad():
        for p in lifter.net.parameters():
            p.mul_(1.01)
    np.testing.assert_allclose(run().detach().numpy(), lifter.predict(x, None, conf, K, "anny", fps=fps), atol=1e-5)
