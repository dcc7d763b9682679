"""The motion network: one architecture for every input set; a sequence equals its sliding windows."""

import pytest
import torch

from simpose.body.joints import get_joint_set
from simpose.models.motion_net import INPUTS, OUTPUT_SETS, MotionNet, MotionNetConfig, parse_inputs

S, W = 16, 5
J_OUT = sum(len(get_joint_set(s).names) for s in OUTPUT_SETS)


def _inputs(B, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"rgb": torch.rand(B, T, 3, S, S, generator=g) - 0.5, "flow": torch.randn(B, T, 3, S, S, generator=g),
            "keypoints": torch.rand(B, T, 33, 3, generator=g)}  # fmt: skip


@pytest.mark.parametrize("inputs", [("rgb",), ("flow",), ("keypoints",), ("flow", "keypoints"), ("rgb", "flow", "keypoints")])
def test_shapes_and_inputs_switch(inputs):
    torch.manual_seed(0)
    net = MotionNet(MotionNetConfig(inputs=inputs, crop=S, window=W, channels=(4, 4, 8, 8), embed=8, temporal=16)).eval()
    x = _inputs(2, W)
    y = net(**{k: (v if k in inputs else None) for k, v in x.items()})
    assert y.shape == (2, J_OUT, 3)
    # the inputs not configured are not read: changing them changes nothing
    other = _inputs(2, W, seed=1)
    mixed = {k: (x[k] if k in inputs else other[k]) for k in INPUTS}
    torch.testing.assert_close(net(**mixed), y)
    missing = next(k for k in INPUTS if k in inputs)
    with pytest.raises(ValueError):
        net(**{k: (None if k == missing else v) for k, v in x.items()})


def test_sequence_equals_windows_with_repeated_ends():
    torch.manual_seed(0)
    net = MotionNet(MotionNetConfig(inputs=("flow", "keypoints"), crop=S, window=W, channels=(4, 4, 8, 8), embed=8, temporal=16))
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2)
    net.eval()
    T = 7
    x = {k: v[0] for k, v in _inputs(1, T).items()}
    seq = net.forward_sequence(x["rgb"], x["flow"], x["keypoints"], batch=3)
    assert seq.shape == (T, J_OUT, 3)
    for t in range(T):
        idx = torch.clamp(torch.arange(t - W // 2, t + W // 2 + 1), 0, T - 1)
        win = net(None, x["flow"][idx][None], x["keypoints"][idx][None])[0]
        torch.testing.assert_close(seq[t], win, atol=1e-5, rtol=1e-5)


def test_parse_inputs():
    assert parse_inputs("keypoints, flow") == ("flow", "keypoints")
    for bad in ("", "depth", "flow,,mask"):
        with pytest.raises(ValueError):
            parse_inputs(bad)
    with pytest.raises(ValueError):
        MotionNetConfig(window=4)


def test_sequence_shorter_than_the_window_is_padded():
    torch.manual_seed(0)
    net = MotionNet(MotionNetConfig(inputs=("keypoints",), crop=S, window=W, channels=(4, 4, 8, 8), embed=8, temporal=16)).eval()
    kp = torch.rand(1, 33, 3)
    one = net.forward_sequence(keypoints=kp)
    assert one.shape == (1, J_OUT, 3)
    torch.testing.assert_close(one[0], net(keypoints=kp[None].expand(1, W, 33, 3))[0])  # the frame repeated W times


def test_frame_inputs_flow_into_each_frame():
    import numpy as np

    from simpose.models.motion import FLOW_SCALE, frame_inputs

    T = 4
    flow = np.stack([np.full((S, S, 2), t + 1.0, np.float32) for t in range(T - 1)])  # pair t -> t + 1 holds t + 1
    conf = np.ones((T, 33))
    conf[2] = 0
    x = frame_inputs(np.zeros((T, S, S, 3), np.uint8), flow, np.full((T, 33, 2), 0.25), conf, np.array([True, True, True, False]))
    f = x["flow"][:, :, 0, 0].numpy()  # (T, 3): dx, dy, exists
    np.testing.assert_allclose(f[:, 0], [0, 1 / FLOW_SCALE, 2 / FLOW_SCALE, 0])  # frame 0: none; frame 3: after a cut
    np.testing.assert_allclose(f[:, 2], [0, 1, 1, 0])
    np.testing.assert_allclose(x["keypoints"][2].numpy(), 0)  # not found: coordinates and confidence 0
    np.testing.assert_allclose(x["rgb"].numpy(), -0.5)


def test_person_flow_is_the_median_free_flow_on_the_person():
    import numpy as np

    from simpose.models.motion_net import person_flow

    g = torch.Generator().manual_seed(0)
    flow = torch.randn(3, 4, S, S, generator=g)
    flow[:, 3] = (torch.rand(3, S, S, generator=g) > 0.6).float()
    flow[2, 3] = 0  # no person pixel: no flow
    out = person_flow(flow).numpy()
    f = flow.numpy()
    for i in range(2):
        on = f[i, 3] > 0.5
        med = np.array([np.median(f[i, c][on]) if on.sum() % 2 else np.sort(f[i, c][on])[on.sum() // 2 - 1] for c in range(2)])  # torch: the lower median
        np.testing.assert_allclose(out[i, :2][:, on], f[i, :2][:, on] - med[:, None], atol=1e-6)
        assert (out[i, :2][:, ~on] == 0).all()
    assert (out[2, :2] == 0).all()
    np.testing.assert_array_equal(out[:, 2], f[:, 2])  # "exists" unchanged


def test_flow_norm_person_ignores_background_and_translation():
    """A network with flow_norm 'person' reads the same input when the whole flow field moves by a
    constant (camera or crop translation) and the flow off the person changes; a raw one does not."""
    torch.manual_seed(0)
    x = _inputs(2, W)
    flow = torch.cat([x["flow"], (torch.rand(2, W, 1, S, S) > 0.5).float()], 2)  # + person map
    moved = flow.clone()
    moved[:, :, :2] += torch.tensor([0.7, -0.3])[:, None, None]
    off = moved[:, :, 3:4] < 0.5
    moved[:, :, :2] += 5 * torch.randn(2, W, 2, S, S) * off
    for norm, same in (("person", True), ("raw", False)):
        torch.manual_seed(0)
        net = MotionNet(MotionNetConfig(inputs=("flow", "keypoints"), crop=S, window=W, channels=(4, 4, 8, 8), embed=8, temporal=16, flow_norm=norm)).eval()
        a, b = net(flow=flow, keypoints=x["keypoints"]), net(flow=moved, keypoints=x["keypoints"])
        assert torch.allclose(a, b, atol=1e-5) == same
    with pytest.raises(ValueError):  # without the person map
        MotionNet(MotionNetConfig(inputs=("flow",), crop=S, window=W, flow_norm="person"))(flow=x["flow"])
    with pytest.raises(ValueError):
        MotionNetConfig(flow_norm="mean")
