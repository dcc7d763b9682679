"""Does ``motion.bvh`` play in Blender as the fitted body? Blender's own BVH importer, checked joint by joint.

    python benchmarks/bvh_in_blender.py RUN_DIR [--blender-python PATH]

RUN_DIR is a ``simpose run`` folder (``motion.bvh`` + ``poses.npz``). Blender's importer
(``bpy.ops.import_anim.bvh``, Blender as a Python module: ``pip install bpy==4.2.0`` in a
Python 3.11 environment of its own, given as ``--blender-python``; it conflicts with nothing
here but is ~350 MB) builds the armature and its animation; every frame is evaluated in
Blender and each bone's head (its BVH joint) is compared with the fitted body's joint in the
same frame (``simpose.body.fit.body_joints``, in the BVH's Y-up axes). Two independent
implementations of the same skeleton: simpose's exporter and body model on one side, Blender's
BVH reader and forward kinematics on the other. Prints a table (mm) and exits non-zero when a
joint is more than 5 mm off or the frame count / rate differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

BLENDER_SIDE = textwrap.dedent(
    """
    import json, sys
    import bpy
    bvh, out = sys.argv[1], sys.argv[2]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=bvh, axis_forward="-Z", axis_up="Y", global_scale=1.0, rotate_mode="NATIVE",
                            update_scene_fps=True, update_scene_duration=True)
    arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    scene = bpy.context.scene
    first, last = (int(round(v)) for v in arm.animation_data.action.frame_range)
    frames = range(first, last + 1)
    heads = {}
    for f in frames:
        scene.frame_set(f)
        for pb in arm.pose.bones:
            heads.setdefault(pb.name, []).append(list(arm.matrix_world @ pb.head))
    fps = scene.render.fps / scene.render.fps_base
    json.dump({"fps": fps, "frames": len(frames), "heads": heads, "version": bpy.app.version_string}, open(out, "w"))
    """
)


def blender_heads(bvh: Path, python: str) -> dict:
    """Run Blender's importer in ``python`` (which has ``bpy``); its bone heads per frame."""
    with tempfile.TemporaryDirectory() as tmp:
        script, out = Path(tmp) / "blender_side.py", Path(tmp) / "heads.json"
        script.write_text(BLENDER_SIDE)
        proc = subprocess.run([python, str(script), str(bvh), str(out)], capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"Blender side failed ({python}):\n{proc.stderr[-2000:]}")
        return json.loads(out.read_text())


def _to_bvh_axes(heads: list) -> np.ndarray:
    """Blender world points (N, 3), Z up -> the BVH's axes (the importer maps BVH (x, y, z) to (x, -z, y))."""
    h = np.asarray(heads)
    return np.stack([h[:, 0], h[:, 2], -h[:, 1]], -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--blender-python", default=sys.executable, help="a Python with the bpy module (default: this one)")
    args = parser.parse_args()

    from simpose.body.fit import BodyFit, body_joints
    from simpose.body.joints import get_joint_set
    from simpose.body.model import BodyModel
    from simpose.export.bvh import CAM_TO_BVH
    from simpose.export.poses import read_poses
    from simpose.motion.bvh_read import read_bvh

    bvh = args.run_dir / "motion.bvh"
    a = read_poses(args.run_dir / "poses.npz")
    clip = read_bvh(bvh)
    got = blender_heads(bvh, args.blender_python)
    fit = BodyFit(*(a[k][:, 0].astype(float) for k in ("body_pose_rotvecs", "body_global_rotvecs", "body_trans")),
                  a["body_shape"][0, 0].astype(float), a["valid"][:, 0])  # fmt: skip
    ref = body_joints(BodyModel(), fit) @ CAM_TO_BVH.T  # (T, 25, 3) native joints, BVH axes (Y up)
    names = get_joint_set("anny").names
    valid = a["valid"][:, 0]
    rows, worst = [], 0.0
    for name in clip.skeleton.names:
        if name not in got["heads"]:
            rows.append((name, "missing in Blender", np.inf, np.inf))
            worst = np.inf
            continue
        h = _to_bvh_axes(got["heads"][name])
        d = np.linalg.norm(h[valid] - ref[valid, names.index(name)], axis=-1) * 1000
        rows.append((name, "", float(d.mean()), float(d.max())))
        worst = max(worst, float(d.max()))
    print(f"Blender {got['version']}: {got['frames']} frames at {got['fps']:.3f} fps; motion.bvh: {clip.n_frames} frames at {clip.fps:.3f} fps; "
          f"{int(valid.sum())} valid frames compared")  # fmt: skip
    print("| joint | mean (mm) | max (mm) |")
    print("|---|---:|---:|")
    # Negative control: the same comparison one frame off must show the motion (else the check is blind).
    h = _to_bvh_axes(got["heads"]["wrist.L"])
    shifted = np.linalg.norm(h[1:] - ref[:-1, names.index("wrist.L")], axis=-1).mean() * 1000
    for name, note, mean, mx in rows:
        print(f"| {name} | {note or f'{mean:.3f}'} | {note or f'{mx:.3f}'} |")
    print(f"control: wrist.L compared one frame off: {shifted:.1f} mm mean")
    ok = worst <= 5.0 and got["frames"] == clip.n_frames and abs(got["fps"] - clip.fps) < 1e-3
    print(f"largest difference {worst:.2f} mm: {'OK' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
