"""Files written atomically get the mode a plain open() gives, not mkstemp's owner-only 0600."""

import os
import stat
import tempfile

import numpy as np

from simpose._files import replace_atomically
from simpose.viz.video import write_video


def _expected_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_replace_gives_the_plain_open_mode_and_moves(tmp_path):
    target = tmp_path / "out.bin"
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")  # the reference: what open() gives under this umask
    fd, tmp = tempfile.mkstemp(dir=tmp_path)
    os.write(fd, b"data")
    os.close(fd)
    assert _mode(tmp) == 0o600
    replace_atomically(tmp, target)
    assert not os.path.exists(tmp)
    assert target.read_bytes() == b"data"
    assert _mode(target) == _mode(plain) == _expected_mode()


def test_videos_are_readable_like_other_files(tmp_path):
    frames = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(3)]
    path = write_video(tmp_path / "v.mp4", frames, fps=10)
    assert _mode(path) == _expected_mode()


def test_atomic_open_leaves_the_old_file_on_error(tmp_path):
    from simpose._files import atomic_open

    target = tmp_path / "t.txt"
    with atomic_open(target, "w", encoding="utf-8") as f:
        f.write("first")
    assert target.read_text() == "first" and _mode(target) == _expected_mode()
    try:
        with atomic_open(target, "w", encoding="utf-8") as f:
            f.write("second, half")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]  # no temporary file left


def test_staged_folder_swaps_in_whole_or_not_at_all(tmp_path):
    import pytest

    from simpose._files import staged_folder

    out = tmp_path / "run"
    out.mkdir()
    (out / "poses.npz").write_text("good")
    (out / "overlay.mp4").write_text("good video")
    with pytest.raises(RuntimeError):
        with staged_folder(out) as work:
            (work / "poses.npz").write_text("bad")
            raise RuntimeError("a late stage fails")
    assert sorted(p.name for p in out.iterdir()) == ["overlay.mp4", "poses.npz"] and (out / "poses.npz").read_text() == "good"
    with staged_folder(out) as work:
        assert work.parent == tmp_path and work != out  # beside the target: the rename is atomic
        (work / "poses.npz").write_text("new")
    assert [p.name for p in out.iterdir()] == ["poses.npz"] and (out / "poses.npz").read_text() == "new"  # no stale video
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary or old folder left
