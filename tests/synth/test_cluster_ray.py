"""``--engine ray`` (simpose.cluster): a 2-worker local Ray cluster writes the same bytes as a local
run, resumes a killed job, retries failed tasks; an unreachable address and a shard holding no
clip are clear errors.

One Ray session (2 CPUs, no dashboard) serves the module: starting Ray costs seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray not installed: pip install 'simpose[cluster]'")

from simpose.cluster import ClusterError, run_tasks  # noqa: E402
from simpose.synth.writer import clip_path, synthesize  # noqa: E402

S, T, N_CLIPS, SEED = 64, 4, 2, 3


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _synth(out: Path, motions, **kw) -> list[Path]:
    return synthesize(out, N_CLIPS, T, S, seed=SEED, people=1, motions=motions, progress=False, **kw)


def test_ray_writes_the_local_runs_bytes_and_resumes(ray_cluster, motions, tmp_path):
    local = _synth(tmp_path / "local", motions)
    on_ray = _synth(tmp_path / "ray", motions, engine="ray")
    assert [p.name for p in on_ray] == [p.name for p in local]
    for a, b in zip(local, on_ray):
        assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "ray/synth_config.json").read_text() == (tmp_path / "local/synth_config.json").read_text()
    # a killed job: clip 1 was never written; the re-run renders it alone and leaves the others
    clip_path(tmp_path / "ray", 1).unlink()
    stamps = clip_path(tmp_path / "ray", 0).stat().st_mtime_ns
    _synth(tmp_path / "ray", motions, engine="ray")
    assert clip_path(tmp_path / "ray", 1).read_bytes() == local[1].read_bytes()
    assert clip_path(tmp_path / "ray", 0).stat().st_mtime_ns == stamps


def test_failed_tasks_are_retried_and_reported(ray_cluster, tmp_path):
    marks = str(tmp_path)

    def dies_once(k: int) -> int:  # the worker process dies on each task's first try
        mark = os.path.join(marks, f"tried_{k}")
        if not os.path.exists(mark):
            open(mark, "w").close()
            os._exit(1)
        return k * k

    got = {}
    run_tasks(dies_once, [(k,) for k in range(3)], lambda job, r: got.__setitem__(job[0], r), retries=1)
    assert got == {0: 0, 1: 1, 2: 4}

    def fails_on_odd(k: int) -> int:
        if k % 2:
            raise RuntimeError(f"clip {k} is broken")
        return k

    got = {}
    with pytest.raises(ClusterError, match=r"2 of 4 tasks failed after 1 retries.*broken"):
        run_tasks(fails_on_odd, [(k,) for k in range(4)], lambda job, r: got.__setitem__(job[0], r), retries=1)
    assert got == {0: 0, 2: 2}  # the other tasks still finished


@pytest.mark.slow  # reason: MediaPipe starts in each Ray worker and in this process: ~30 s on 2 busy cores
def test_detector_cache_on_ray_equals_local(ray_cluster, motions, tmp_path):
    pytest.importorskip("mediapipe", reason="mediapipe not installed: pip install 'simpose[mediapipe]'")
    from simpose.synth.detcache import build_detector_cache

    options = {"truncated_share": 0.0, "occluder_prob": 0.0, "distance_scale": (1.0, 1.0)}
    kw = dict(clips=2, frames=4, size=128, seed=SEED, people=1, motions=motions, options=options, progress=False)
    local = build_detector_cache(tmp_path / "local", **kw)
    on_ray = build_detector_cache(tmp_path / "ray", **kw, engine="ray")
    for a, b in zip(local, on_ray, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "ray/detcache.json").read_text() == (tmp_path / "local/detcache.json").read_text()


def test_cli_errors(tmp_path):
    from typer.testing import CliRunner

    from simpose.cli import app

    # port 1 on this machine: nothing listens; the error comes at once, before any work
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "a"), "--clips", "1", "--engine", "ray", "--address", "127.0.0.1:1"])
    assert res.exit_code == 2 and "no Ray cluster answers at 127.0.0.1:1" in res.output
    assert not (tmp_path / "a").exists()
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "b"), "--clips", "1", "--address", "127.0.0.1:6379"])
    assert res.exit_code == 2 and "--engine ray" in res.output
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "c"), "--clips", "3", "--shard", "3/4"])
    assert res.exit_code == 2 and "holds no clip" in res.output
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "d"), "--engine", "spark"])
    assert res.exit_code == 2 and "--engine must be one of local, ray" in res.output


@pytest.mark.slow  # reason: each Ray worker and this process load the estimator (lifter, body model) before the video fails
def test_run_over_a_folder_of_videos_on_ray_reports_as_local(ray_cluster, tmp_path):
    """``simpose run FOLDER --engine ray``: a task per video; unreadable videos are reported per video, as locally."""
    from simpose.track.batch import run_folder
    from simpose.track.run import RunConfig

    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(bytes(range(256)) * 16)  # not a video
    config = RunConfig(cache_dir="", views=False, progress=False)
    local = run_folder(folder, tmp_path / "local", config)
    on_ray = run_folder(folder, tmp_path / "ray", config, engine="ray")
    assert sorted(on_ray.failed) == ["a", "b"] and on_ray.done == {} == local.done
    assert on_ray.failed == local.failed
