"""Fixtures of the run tests: a short real person clip, bad inputs written on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simpose.viz.video import write_video


@pytest.fixture(scope="session")
def mediapipe():
    return pytest.importorskip("mediapipe", reason="mediapipe not installed: pip install 'simpose[mediapipe]'")


@pytest.fixture(scope="session")
def person_frames(shared) -> tuple[list[np.ndarray], float]:
    """The first 8 frames of the real single-person demo, downscaled to 270x480, and its fps."""
    from PIL import Image

    from simpose.cues.video import open_video

    path = shared / "real" / "videos" / "single_person_demo.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the shared data")
    source = open_video(path)
    frames = [np.asarray(Image.fromarray(f).resize((270, 480), Image.BILINEAR)) for _, f in source.frames(end=8)]
    return frames, source.fps


@pytest.fixture(scope="session")
def person_clip(person_frames, tmp_path_factory) -> Path:
    frames, fps = person_frames
    return write_video(tmp_path_factory.mktemp("clip") / "person.mp4", frames, fps=fps)


@pytest.fixture(scope="session")
def person_clip_with_gap(person_frames, tmp_path_factory) -> Path:
    """The clip with frames 3 and 4 replaced by empty grey frames (nobody there)."""
    frames, fps = person_frames
    frames = [np.full_like(f, 128) if i in (3, 4) else f for i, f in enumerate(frames)]
    return write_video(tmp_path_factory.mktemp("gap") / "gap.mp4", frames, fps=fps)


@pytest.fixture
def empty_scene(tmp_path) -> Path:
    """A 10-frame video of a smooth colour gradient: no person anywhere."""
    y, x = np.mgrid[0:240, 0:320]
    frames = [np.stack([(x + 3 * i) % 256, y % 256, np.full_like(x, 90)], -1).astype(np.uint8) for i in range(10)]
    return write_video(tmp_path / "empty.mp4", frames, fps=10)
