"""Self-supervision losses: finite differences (gradcheck, float64), closed-form answers, and a
rendered clip on which the true body scores ~0 and a perturbed one more."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simpose.adapt import losses as L

D = torch.float64


def _rand(*shape, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g, dtype=D) * scale).requires_grad_()


# ----------------------------------------------------------------------------- finite differences
def test_gradcheck_keypoints_and_projection():
    K = torch.tensor([[100.0, 0, 30], [0, 100.0, 25], [0, 0, 1]], dtype=D)
    pts = _rand(2, 4, 3)
    with torch.no_grad():
        pts[..., 2] += 2.0
    tgt = torch.rand(2, 4, 2, dtype=D) * 60
    tgt[0, 1] = float("nan")
    conf = torch.tensor([[1.0, 0.5, 0.0, 0.2], [0.3, 1.0, 1.0, 0.7]], dtype=D)
    f = lambda p: L.keypoint_loss(L.project(p, K), tgt, conf, scale=5.0)  # noqa: E731
    assert torch.autograd.gradcheck(f, (pts,))


def test_gradcheck_chamfer_flow_and_priors():
    p = _rand(2, 5, 2, scale=10, seed=1)
    w = torch.tensor([[1, 1, 0, 1, 1], [1, 0, 1, 1, 1]], dtype=D)
    m = torch.rand(2, 6, 2, dtype=D) * 10
    mw = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=D)
    assert torch.autograd.gradcheck(lambda x: L.silhouette_chamfer_loss(x, w, m, mw, 2.0), (p,))
    # flow constant over each image: the (detached) sampling position then has no true gradient
    flow = (torch.rand(2, 1, 1, 2, dtype=D) * 3).expand(2, 12, 12, 2).contiguous()
    p0 = torch.rand(2, 5, 2, dtype=D) * 10
    assert torch.autograd.gradcheck(lambda a, b: L.flow_loss(a, b, flow, w, 1.0), (p0.clone().requires_grad_(), _rand(2, 5, 2, scale=10, seed=2)))
    x = _rand(6, 4, 3, seed=3)
    assert torch.autograd.gradcheck(lambda a: L.smoothness_loss(a, 0.1, torch.tensor([1.0, 0, 1, 1], dtype=D)), (x,))
    assert torch.autograd.gradcheck(lambda a: L.constancy_loss(a.reshape(6, 12), 0.1), (x,))
    pose = (torch.rand(3, 19, 3, dtype=D) - 0.5).requires_grad_()
    lim = torch.stack([-0.2 * torch.ones(19, 3, dtype=D), 0.3 * torch.ones(19, 3, dtype=D)], -1)
    assert torch.autograd.gradcheck(lambda a: L.pose_prior_loss(a, torch.zeros_like(a), lim), (pose,))


# ----------------------------------------------------------------------------- closed form
def test_closed_form_values():
    s = 3.0
    rho = lambda d: 2 * (np.sqrt(1 + d**2 / s**2) - 1)  # noqa: E731
    one = torch.tensor([[[0.0, 0.0]]], dtype=D)
    ones = torch.ones(1, 1, dtype=D)
    # one point, one mask pixel 4 px away: both directions see 4 px
    assert L.silhouette_chamfer_loss(one, ones, one + torch.tensor([3.0, 4.0], dtype=D), ones, s).item() == pytest.approx(2 * rho(5.0))
    # a constant flow c; points moving by c + e cost rho(|e|)
    flow = torch.zeros(1, 8, 8, 2, dtype=D) + torch.tensor([1.5, -0.5], dtype=D)
    p0 = torch.tensor([[[2.3, 4.1], [5.0, 1.0]]], dtype=D)
    w = torch.ones(1, 2, dtype=D)
    assert L.flow_loss(p0, p0 + torch.tensor([1.5, -0.5], dtype=D), flow, w, s).item() == pytest.approx(0.0, abs=1e-12)
    assert L.flow_loss(p0, p0 + torch.tensor([1.5, 1.5], dtype=D), flow, w, s).item() == pytest.approx(rho(2.0))
    # keypoints: confidence-weighted mean; a zero-confidence keypoint is ignored however far
    kp = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]], dtype=D)
    tgt = torch.tensor([[[3.0, 4.0], [500.0, 0.0]]], dtype=D)
    assert L.keypoint_loss(kp, tgt, torch.tensor([[1.0, 0.0]], dtype=D), s).item() == pytest.approx(rho(5.0))
    # a constant-velocity trajectory is perfectly smooth; a constant track has no deviation
    x = torch.arange(5, dtype=D)[:, None] * torch.tensor([0.1, 0.2], dtype=D)
    assert L.smoothness_loss(x, 0.01).item() == pytest.approx(0.0, abs=1e-20)
    assert L.constancy_loss(torch.ones(4, 6, dtype=D), 0.1).item() == 0.0


def test_missing_cues_drop_their_frames():
    """A frame without a mask / a pair without flow: the loss equals the loss of the other frames."""
    g = torch.Generator().manual_seed(4)
    p = torch.rand(2, 5, 2, generator=g, dtype=D) * 10
    w = torch.ones(2, 5, dtype=D)
    m = torch.rand(2, 6, 2, generator=g, dtype=D) * 10
    mw = torch.ones(2, 6, dtype=D)
    mw_missing = mw.clone()
    mw_missing[1] = 0
    assert L.silhouette_chamfer_loss(p, w, m, mw_missing).item() == pytest.approx(L.silhouette_chamfer_loss(p[:1], w[:1], m[:1], mw[:1]).item())
    flow = torch.rand(2, 12, 12, 2, generator=g, dtype=D)
    flow[1] = float("nan")  # no flow for the second pair
    q = p + 0.7
    assert L.flow_loss(p, q, flow, w).item() == pytest.approx(L.flow_loss(p[:1], q[:1], flow[:1], w[:1]).item())
    # nothing at all: 0 with a (zero) gradient
    pr = p.clone().requires_grad_()
    loss = L.silhouette_chamfer_loss(pr, w, m, torch.zeros_like(mw))
    loss.backward()
    assert loss.item() == 0.0 and pr.grad.abs().max().item() == 0.0


def test_mask_samples_cover_the_mask():
    mask = np.zeros((40, 50), bool)
    mask[10:30, 5:45] = True
    pts = L.mask_samples(mask, n_area=50, n_boundary=40)
    u, v = pts[:, 0].astype(int), pts[:, 1].astype(int)
    assert mask[v, u].all()
    # the outline is in: the samples reach the mask's extent to within the outline's stride
    assert u.min() == 5 and v.min() == 10 and u.max() >= 43 and v.max() >= 28
    assert 50 <= len(pts) <= 50 + 40 + 60
    assert L.mask_samples(np.zeros((4, 4), bool)).shape == (0, 2)


def test_mask_samples_on_the_bounding_box_equal_the_whole_frame():
    """The samples are computed on the mask's bounding box; a whole-frame reference agrees."""
    rng = np.random.default_rng(0)
    mask = np.zeros((120, 90), bool)
    mask[37:101, 23:61] = rng.random((64, 38)) > 0.2  # ragged, with holes
    mask[50:60, 61:80] = True

    def whole_frame(m, n_area, n_boundary):
        pad = np.pad(m, 1)
        inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
        boundary = np.argwhere(m & ~inner)
        stride = max(1, int(np.sqrt(m.sum() / n_area)))
        grid = np.zeros_like(m)
        grid[stride // 2 :: stride, stride // 2 :: stride] = True
        rc = np.concatenate([np.argwhere(m & grid), boundary[:: max(1, len(boundary) // n_boundary)]])
        return rc[:, ::-1].astype(np.float32)

    for n_area, n_boundary in ((50, 40), (300, 200), (7, 3)):
        np.testing.assert_array_equal(L.mask_samples(mask, n_area, n_boundary), whole_frame(mask, n_area, n_boundary))


# ----------------------------------------------------------------------------- a rendered clip
@pytest.fixture(scope="module")
def track():
    from simpose.adapt.synthetic import synthetic_track
    from simpose.synth.scene import SceneConfig
    from simpose.synth.writer import ClipSynthesizer

    syn = ClipSynthesizer(SceneConfig(size=128, frames=4, people=1, occluder_prob=0.0, truncated_share=0.0))
    try:
        yield synthetic_track(syn, 7, 0)
    finally:
        syn.rasterizer.close()


def _terms(body, track, fit) -> dict:
    from simpose.adapt.optimise import _pad_masks, OptimiseConfig
    from simpose.body.fit import body_joints, body_vertices

    T = len(fit.valid)
    K = torch.as_tensor(track.K)
    v = torch.as_tensor(body_vertices(body, fit, np.arange(T)))
    vis = L.splat_visibility(v, K, track.image_size).to(D)
    sub = torch.arange(0, v.shape[1], 20)
    p2 = L.project(v[:, sub], K)
    mp, mw = _pad_masks(list(track.masks), np.arange(T), OptimiseConfig(), D)
    j2 = L.project(torch.as_tensor(body_joints(body, fit, "coco17")), K)
    conf = torch.as_tensor(track.visible["coco17"], dtype=D)
    return {
        "kp": L.keypoint_loss(j2, torch.as_tensor(track.joints2d["coco17"]), conf).item(),
        "sil": L.silhouette_chamfer_loss(p2, vis[:, sub], mp, mw).item(),
        "flow": L.flow_loss(p2[:-1], p2[1:], torch.as_tensor(track.flows, dtype=D), vis[:-1, sub]).item(),
    }


def test_true_body_scores_near_zero_perturbed_more(body, track):
    import dataclasses

    truth = _terms(body, track, track.fit)
    # the exact body: keypoints to rounding; silhouette and flow to the pixel grid (a vertex on
    # the outline rounds up to a pixel off the mask; the flow is sampled between pixel centres)
    assert truth["kp"] < 1e-6
    assert truth["sil"] < 0.5, truth  # ~ robust(2 px^2): the 1-in-20 vertex subset's spacing
    assert truth["flow"] < 0.25, truth  # ~ robust(0.5 px^2): bilinear samples mix in the background's flow at the outline
    rng = np.random.default_rng(0)
    pose = track.fit.pose_rotvecs + rng.normal(0, 0.15, track.fit.pose_rotvecs.shape)
    bad = _terms(body, track, dataclasses.replace(track.fit, pose_rotvecs=pose, trans=track.fit.trans + [0.03, -0.02, 0.05]))
    for k in truth:
        assert bad[k] > 3 * truth[k] + 0.05, (k, truth, bad)


def test_splat_visibility_agrees_with_the_rendered_depth(body, track):
    from simpose.body.fit import body_vertices
    from simpose.camera import Camera
    from simpose.render.raster import vertex_visible

    v = body_vertices(body, track.fit, np.arange(4))
    K = torch.as_tensor(track.K)
    splat = L.splat_visibility(torch.as_tensor(v), K, track.image_size).numpy()
    cam = Camera(K, torch.eye(3, dtype=D), torch.zeros(3, dtype=D), track.image_size)
    # at 128 px one pixel spans centimetres of depth on a slanted surface, so the rendered-depth
    # reference is itself tolerance-dependent: compare with a lenient one for "hidden" and a
    # strict one for "clearly visible"
    hidden = ~np.stack([vertex_visible(v[t], track.depth[t], cam, eps=0.04) for t in range(4)])
    clear = np.stack([vertex_visible(v[t], track.depth[t], cam, eps=0.01) for t in range(4)])
    assert (splat & hidden).mean() < 0.05, (splat & hidden).mean()
    assert (clear & ~splat).mean() < 0.06, (clear & ~splat).mean()
    assert 0.3 < splat.mean() < 0.8  # about the front half of the body


def test_flow_on_a_crop_equals_flow_on_the_image():
    """A flow cut to a box (stride 1) or subsampled (stride 2, on the grid) gives the full image's
    value; points outside the crop drop out, the rest are scored as before."""
    D = torch.float64
    H, W = 40, 50
    flow = _rand(1, H, W, 2, scale=2.0, seed=3)
    p0 = torch.tensor([[[20.0, 14.0], [24.0, 18.0], [30.0, 22.0]]], dtype=D)
    p1 = p0 + _rand(1, 3, 2, seed=4)
    w = torch.ones(1, 3, dtype=D)
    full = L.flow_loss(p0, p1, flow, w, 1.0)
    flow_nan = flow.clone()
    flow_nan[0, 0, 0] = torch.nan  # far from the points: the same value, prepared or not
    torch.testing.assert_close(L.flow_loss(p0, p1, L.prepare_flow(flow_nan), w, 1.0), L.flow_loss(p0, p1, flow_nan, w, 1.0), atol=0, rtol=0)
    crop = flow[:, 10:30, 16:36]
    got = L.flow_loss(p0, p1, crop, w, 1.0, torch.tensor([[16.0, 10.0]], dtype=D), torch.tensor([1.0], dtype=D))
    torch.testing.assert_close(got, full, atol=1e-12, rtol=0)
    sub = flow[:, 10:30:2, 16:36:2]  # the points sit on even pixels of the crop: bilinear = exact
    got2 = L.flow_loss(p0, p1, sub, w, 1.0, torch.tensor([[16.0, 10.0]], dtype=D), torch.tensor([2.0], dtype=D))
    torch.testing.assert_close(got2, full, atol=1e-12, rtol=0)
    # a point outside the crop does not count: the loss is the other two's
    only2 = L.flow_loss(p0[:, :2], p1[:, :2], flow, w[:, :2], 1.0)
    got3 = L.flow_loss(p0, p1, flow[:, 0:20, 0:28], w, 1.0, torch.tensor([[0.0, 0.0]], dtype=D), torch.tensor([1.0], dtype=D))
    torch.testing.assert_close(got3, only2, atol=1e-12, rtol=0)


def test_silhouette_matches_given_equal_matches_found():
    pts, msk = _rand(3, 40, 2, scale=20.0, seed=5), _rand(3, 30, 2, scale=20.0, seed=6)
    pw, mw = (torch.rand(3, 40, dtype=torch.float64) > 0.3).double(), torch.ones(3, 30, dtype=torch.float64)
    matches = L.silhouette_matches(pts, pw, msk, mw, chunk=2)
    torch.testing.assert_close(L.silhouette_chamfer_loss(pts, pw, msk, mw, 3.0, matches), L.silhouette_chamfer_loss(pts, pw, msk, mw, 3.0))
    d = torch.cdist(pts, msk)  # an independent nearest neighbour
    assert torch.equal(matches[0][pw > 0], d.argmin(2)[pw > 0])
    assert torch.equal(matches[1], torch.where(pw[..., None] > 0, d, torch.inf).argmin(1))
