"""What ``simpose run`` does when things go wrong (issue 18): options checked before any slow
stage, reruns that never mix or destroy results, interruptions that keep the work done, exit
codes 0 complete / 2 bad input / 3 incomplete or interrupted."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from simpose.cli import app
from simpose.track.inputs import warn_if_far
from simpose.track.run import FOCAL_RANGE, RunConfig, RunError, check_out_dir, run_video, validate_run_config

runner = CliRunner()


def _run(*args):
    result = runner.invoke(app, ["run", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.mark.parametrize(
    "option, value",
    [("fps", math.nan), ("fps", math.inf), ("fps", 0.001), ("fps", 5000.0), ("fov", 0.001), ("fov", 179.5), ("fov", math.nan),
     ("focal", math.inf), ("focal", 0.0), ("focal", -3.0), ("focal", 1e12)],
)  # fmt: skip
def test_implausible_options_are_one_line_errors(option, value):
    # each of these ran for minutes, filled memory or ended in a traceback after the 2D stage
    with pytest.raises(RunError, match=f"--{option}"):
        validate_run_config(RunConfig(**{option: value}), image_size=(1080, 1920))


def test_focal_range_is_the_fov_range_in_pixels():
    from simpose.camera import Camera

    # FOCAL_RANGE (times the larger side) spans the same lenses as the 1-179 degree FOV range
    side = 1920
    f_narrow = float(Camera.from_fov(1.0, (1080, side)).K[0, 0])
    f_wide = float(Camera.from_fov(179.0, (1080, side)).K[0, 0])
    assert FOCAL_RANGE[0] * side <= f_wide and f_narrow <= FOCAL_RANGE[1] * side
    validate_run_config(RunConfig(focal=f_narrow, fps=25.0), image_size=(1080, side))  # accepted
    validate_run_config(RunConfig(focal=f_wide, fps=1.0), image_size=(1080, side))


def test_bad_options_fail_before_the_2d_stage(tmp_path, monkeypatch):
    from simpose.viz.video import write_video

    clip = write_video(tmp_path / "c.mp4", [np.zeros((24, 32, 3), np.uint8)] * 3, fps=10)

    def no_2d(*a, **k):
        raise AssertionError("the 2D stage ran")

    from simpose.cues import detect as detect_module

    monkeypatch.setattr(detect_module, "detect", no_2d)
    for opt in (["--fps", "nan"], ["--fps", "inf"], ["--fps", "0.001"], ["--focal", "inf"], ["--focal", "1e12"], ["--fov", "0.001"]):
        r = _run(clip, "--out", tmp_path / "o", "--no-cache", *opt)
        assert r.exit_code == 2 and opt[0] in r.output, (opt, r.output)
        assert not (tmp_path / "o").exists()


def test_a_person_placed_absurdly_far_is_warned_about(caplog):
    z = np.full((4, 17, 3), 0.1)
    z[..., 2] = 176e3  # --fov 0.001 put the person 176 km away without a word
    with caplog.at_level("WARNING"):
        warn_if_far(z)
    assert "--focal/--fov" in caplog.text


def test_out_folder_rules(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.png").write_bytes(b"")
    with pytest.raises(RunError, match="overlaps the input"):
        check_out_dir(frames, frames)  # summary.png would become a frame of the next run
    with pytest.raises(RunError, match="overlaps the input"):
        check_out_dir(frames / "run", frames)
    with pytest.raises(RunError, match="overlaps the input"):
        check_out_dir(tmp_path, frames / "0001.png")  # replacing it would delete the input
    other = tmp_path / "documents"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    with pytest.raises(RunError, match="not a simpose run"):
        check_out_dir(other, frames)
    with pytest.raises(RunError, match="cue cache"):
        check_out_dir(tmp_path / "o", frames, cache_dir=tmp_path / "o" / "cache")
    check_out_dir(tmp_path / "new", frames)  # a new, an empty or an earlier run's folder is fine
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "run_config.json").write_text("{}")
    check_out_dir(tmp_path / "old", frames)


@pytest.fixture(scope="module")
def good_run(mediapipe, person_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    cache = tmp_path_factory.mktemp("cache")
    run_video(person_clip, out, RunConfig(fov=60.0, cache_dir=str(cache)))
    return out, cache, {p.name: p.read_bytes() for p in out.iterdir()}


def test_a_rerun_that_fails_late_leaves_the_good_run(good_run, person_clip, monkeypatch):
    out, cache, before = good_run
    from simpose.track import views

    def broken(work, *a, **k):
        (work / "overlay.mp4").write_bytes(b"half")  # a stage that fails after writing some files
        raise ValueError("no valid frame to write")

    monkeypatch.setattr(views, "write_views", broken)
    with pytest.raises(ValueError, match="no valid frame"):
        run_video(person_clip, out, RunConfig(fov=45.0, cache_dir=str(cache)))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # byte for byte the good run
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_rerun_is_one_consistent_set(good_run, person_clip, tmp_path):
    out, cache, before = good_run
    copy = tmp_path / "run"
    copy.mkdir()
    for name, data in before.items():
        (copy / name).write_bytes(data)
    r = run_video(person_clip, copy, RunConfig(fov=60.0, start=5, cache_dir=str(cache), views=False))
    assert r.n_frames == 3
    # the old 8-frame overlay.mp4 and friends no longer sit beside 3-frame poses
    assert sorted(p.name for p in copy.iterdir()) == ["motion.bvh", "poses.json", "poses.npz", "run_config.json"]
    assert json.loads((copy / "run_config.json").read_text())["start"] == 5
    assert all(p.parent == copy for p in r.paths.values())


def test_ctrl_c_after_the_2d_stage(mediapipe, person_clip, tmp_path, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    from simpose.track.estimator import Estimator

    monkeypatch.setattr(Estimator, "_estimate", interrupted)  # the 3D stages, after the 2D stage
    cache = tmp_path / "cache"
    r = _run(person_clip, "--out", tmp_path / "o", "--cache", cache, "--fov", "60")
    assert r.exit_code == 3 and "interrupted" in r.output
    assert not (tmp_path / "o").exists() and "left as it was" in r.output  # no promise of a folder that does not exist
    (entry,) = cache.glob("*.npz")  # the 2D work is kept ...
    with np.load(entry) as z:
        assert bool(z["complete"]) and len(z["frame_index"]) == 8
    assert str(cache) in r.output.replace("\n", "")  # ... and the message says where
    r = _run(person_clip, "--out", tmp_path / "o", "--no-cache", "--fov", "60")
    assert r.exit_code == 3 and "not kept" in r.output  # with --no-cache it says the 2D is lost


def test_an_incomplete_run_exits_3(mediapipe, person_clip, tmp_path, monkeypatch):
    from simpose.cues import detect as detect_module

    real = detect_module.detect

    def stopped(source, config, start, end, cache_dir, stop, progress):  # a first Ctrl-C or a SIGTERM after 3 frames
        return real(source, config, start, end, cache_dir, _Later(3), progress)

    monkeypatch.setattr(detect_module, "detect", stopped)
    r = _run(person_clip, "--out", tmp_path / "o", "--no-cache", "--fov", "60", "--no-views")
    assert r.exit_code == 3 and "incomplete" in r.output  # was 0, though the result is partial
    with np.load(tmp_path / "o" / "poses.npz") as z:
        assert not bool(z["complete"]) and z["joints3d"].shape[0] == 3


class _Later:
    """Reads as set after ``n`` questions (the 2D stage asks once per frame)."""

    def __init__(self, n):
        self.n = n

    def is_set(self):
        self.n -= 1
        return self.n < 0
