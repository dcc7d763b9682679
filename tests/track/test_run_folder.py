"""``simpose run`` over a folder of videos (simpose.track.batch): a run folder per video, complete
runs skipped on a re-run, a failing video reported without stopping the others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from simpose.cli import app
from simpose.track.batch import folder_videos, run_folder
from simpose.track.run import RunConfig, RunError


def _videos(folder: Path, names: list[str]) -> Path:
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(np.random.default_rng(0).bytes(4096))  # not decodable: only the runner below opens them
    return folder


class _Result:
    def __init__(self, n_frames: int) -> None:
        self.n_valid, self.n_frames, self.complete = n_frames - 1, n_frames, True


def test_folder_videos_are_the_videos_of_a_folder_without_images(tmp_path):
    folder = _videos(tmp_path / "v", ["b.mp4", "a.MOV", "notes.txt"])
    assert [p.name for p in folder_videos(folder)] == ["a.MOV", "b.mp4"]
    (folder / "frame_0001.png").write_bytes(b"")
    assert folder_videos(folder) == []  # a folder with images is one image sequence, as before
    assert folder_videos(folder / "b.mp4") == []


def test_each_video_runs_into_its_folder_and_complete_runs_are_skipped(tmp_path, monkeypatch):
    import simpose.track.run as run_mod

    folder = _videos(tmp_path / "v", ["walk.mp4", "dark.mp4", "jump.mp4"])
    calls = []

    def fake_run_video(video, out_dir, config):
        calls.append(Path(video).name)
        if "dark" in str(video):
            raise RunError("no person found in dark.mp4")
        Path(out_dir).mkdir(parents=True)
        np.savez(Path(out_dir) / "poses.npz", complete=np.array(True))  # what a finished run leaves
        return _Result(10 + len(calls))

    monkeypatch.setattr(run_mod, "run_video", fake_run_video)
    result = run_folder(folder, tmp_path / "out", RunConfig())
    assert calls == ["dark.mp4", "jump.mp4", "walk.mp4"]  # the failing one did not stop the others
    assert result.done == {"jump": (11, 12, True), "walk": (12, 13, True)} and result.skipped == []
    assert result.failed == {"dark": "no person found in dark.mp4"}
    calls.clear()
    again = run_folder(folder, tmp_path / "out", RunConfig())  # a re-run: only the unfinished video
    assert calls == ["dark.mp4"] and again.skipped == ["jump", "walk"]
    res = CliRunner().invoke(app, ["run", str(folder), "--out", str(tmp_path / "out")])
    assert res.exit_code == 3 and "no person found in dark.mp4" in res.output and "jump: complete before, skipped" in res.output


def test_engine_ray_needs_a_folder_of_videos(tmp_path):
    (tmp_path / "one.mp4").write_bytes(b"x")
    res = CliRunner().invoke(app, ["run", str(tmp_path / "one.mp4"), "--out", str(tmp_path / "o"), "--engine", "ray"])
    assert res.exit_code == 2 and "folder of videos" in res.output
