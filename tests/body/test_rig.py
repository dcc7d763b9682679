"""JointRig: the joints of a fixed shape as a function of pose, against anny's own forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import jacfwd, vmap

from simpose.body.rig import JointRig, right_jacobian

SHAPE = np.array([0.2, 0.8, 0.5, 0.3, 0.6, 0.9])


def _random_pose(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pose = (torch.rand(n, 19, 3, generator=g, dtype=torch.float64) - 0.5) * 1.2
    glob = (torch.rand(n, 3, generator=g, dtype=torch.float64) - 0.5) * 2.0
    trans = torch.randn(n, 3, generator=g, dtype=torch.float64)
    return pose, glob, trans


@pytest.mark.parametrize("joint_set, atol", [("anny", 1e-9), ("h36m17", 1e-3), ("coco17", 2e-3)])
def test_rig_matches_the_body_model(body, joint_set, atol):
    """Bone-head joints exactly; joints on skinned vertices to within a millimetre or two (module docstring)."""
    rig = JointRig.build(body, SHAPE, joint_set)
    pose, glob, trans = _random_pose(16)
    with torch.no_grad():
        ref = body.forward_joints(joint_set, pose, torch.as_tensor(SHAPE)[None], glob, trans)
        got = rig(pose, glob, trans)
    assert (got - ref).abs().max().item() < atol
    with torch.no_grad():  # the reference pose is exact for every set
        zero = torch.zeros(1, 19, 3, dtype=torch.float64)
        assert (rig(zero) - body.forward_joints(joint_set, zero, torch.as_tensor(SHAPE)[None])).abs().max().item() < 1e-9


def test_closed_form_jacobian_matches_autodiff(body):
    rig = JointRig.build(body, SHAPE, "h36m17")
    pose, glob, trans = _random_pose(8, seed=1)
    pose[0] = 0.0  # the small-angle branch of the right Jacobian
    glob[0] = 0.0
    params = torch.cat([pose.reshape(8, -1), glob, trans], -1)

    def f(q):
        return rig(q[:57].reshape(1, 19, 3), q[57:60].reshape(1, 3), q[60:].reshape(1, 3))[0]

    ref = vmap(jacfwd(f))(params)  # (8, 17, 3, 63)
    joints, jac = rig.jacobian(pose, glob, trans)
    torch.testing.assert_close(joints, vmap(f)(params), atol=1e-12, rtol=0)
    torch.testing.assert_close(jac, ref, atol=1e-10, rtol=0)


def test_right_jacobian_first_order(body):
    """R(v + dv) = R(v) exp(J_r(v) dv) to first order (float64, central differences)."""
    import roma

    v = torch.tensor([[0.3, -1.1, 0.7], [1e-8, 0.0, 0.0]], dtype=torch.float64)
    dv = torch.tensor([[1e-6, -2e-6, 0.5e-6]], dtype=torch.float64).expand(2, 3)
    lhs = roma.rotvec_to_rotmat(v).transpose(-1, -2) @ roma.rotvec_to_rotmat(v + dv)
    rhs = roma.rotvec_to_rotmat((right_jacobian(v) @ dv[..., None])[..., 0])
    torch.testing.assert_close(lhs, rhs, atol=1e-11, rtol=0)


def test_vertex_rig_matches_the_body_model(body):
    """Posed vertices through the 20-bone rig against anny's forward: exact at the reference pose;
    within millimetres at random poses (the helper bones of the module docstring)."""
    ids = np.arange(0, body.num_vertices, 7)
    rig = JointRig.for_vertices(body, SHAPE, ids)
    pose, glob, trans = _random_pose(8, seed=2)
    with torch.no_grad():
        ref = body(pose, torch.as_tensor(SHAPE)[None], glob, trans).vertices[:, ids]
        err = (rig(pose, glob, trans) - ref).norm(dim=-1)
        zero = torch.zeros(1, 19, 3, dtype=torch.float64)
        assert (rig(zero) - body(zero, torch.as_tensor(SHAPE)[None]).vertices[:, ids]).abs().max().item() < 1e-9
    assert err.mean().item() < 5e-4 and err.max().item() < 1e-2, (err.mean().item(), err.max().item())
    both = JointRig.stacked([JointRig.build(body, SHAPE, "h36m17"), rig])
    with torch.no_grad():
        torch.testing.assert_close(both(pose, glob, trans), torch.cat([JointRig.build(body, SHAPE, "h36m17")(pose, glob, trans), rig(pose, glob, trans)], 1))
    with pytest.raises(ValueError, match="same body and shape"):
        JointRig.stacked([rig, JointRig.for_vertices(body, 1 - SHAPE, ids)])
