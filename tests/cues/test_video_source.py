"""Reading videos and image folders: frames come back upright and in order; bad input fails clearly."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from simpose.cues.video import ImageSequence, KeptFrames, VideoError, VideoFile, _rotation_degrees, open_video, prefetch, rotate_frame
from simpose.viz.video import write_video


def _quadrant_colours(frame: np.ndarray) -> np.ndarray:
    """(2, 2, 3) mean colour of each quadrant (robust to H.264 blur at the edges)."""
    h, w = frame.shape[:2]
    qh, qw = h // 2, w // 2
    m = 3  # margin from the edges between quadrants
    return np.array(
        [[frame[r * qh + m : (r + 1) * qh - m, c * qw + m : (c + 1) * qw - m].reshape(-1, 3).mean(0) for c in (0, 1)] for r in (0, 1)]
    )


# ----------------------------------------------------------------- video files
@pytest.mark.parametrize("fps", [7.5, 12.5, 60.0])
def test_tiny_video_roundtrip(tmp_path, fps, quadrant_frames):
    frames = quadrant_frames()
    source = open_video(write_video(tmp_path / "v.mp4", frames, fps=fps))
    assert isinstance(source, VideoFile)
    assert source.fps == pytest.approx(fps)
    assert (source.n_frames, source.size) == (5, (32, 24))
    decoded = list(source.frames())
    assert [i for i, _ in decoded] == list(range(5))
    for (_, got), want in zip(decoded, frames):
        assert got.shape == (24, 32, 3) and got.dtype == np.uint8
        np.testing.assert_allclose(_quadrant_colours(got), _quadrant_colours(want), atol=12)


def test_frame_range(tiny_video):
    source = open_video(tiny_video)
    frames = dict(source.frames(start=1, end=3))
    assert list(frames) == [1, 2]
    grey = [f[-4, -4, 0] for f in frames.values()]  # the bottom-right quadrant brightens by 40 per frame
    np.testing.assert_allclose(grey, [40, 80], atol=8)
    assert list(dict(open_video(tiny_video).frames(start=3))) == [3, 4]


def test_rotate_frame_is_counter_clockwise():
    image = np.arange(6).reshape(2, 3)  # [[0 1 2], [3 4 5]]
    np.testing.assert_array_equal(rotate_frame(image, 90), [[2, 5], [1, 4], [0, 3]])  # top-right goes top-left
    np.testing.assert_array_equal(rotate_frame(image, -90), [[3, 0], [4, 1], [5, 2]])
    np.testing.assert_array_equal(rotate_frame(image, 180), image[::-1, ::-1])
    np.testing.assert_array_equal(rotate_frame(image, 270), rotate_frame(image, -90))
    assert rotate_frame(image, 0) is image


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_display_rotation_is_applied(write_rotated, degrees, quadrant_frames):
    frames = quadrant_frames(3, w=48, h=32)
    source = open_video(write_rotated(frames, degrees))
    want = rotate_frame(frames[0], degrees)
    assert source.size == (want.shape[1], want.shape[0])
    _, got = next(source.frames())
    assert got.shape == want.shape
    np.testing.assert_allclose(_quadrant_colours(got), _quadrant_colours(want), atol=12)


def test_legacy_rotate_tag_is_clockwise():
    frame = SimpleNamespace(rotation=0)
    assert _rotation_degrees(frame, SimpleNamespace(metadata={"rotate": "90"})) == -90
    assert _rotation_degrees(SimpleNamespace(rotation=90), SimpleNamespace(metadata={})) == 90
    assert _rotation_degrees(frame, SimpleNamespace(metadata={})) == 0


def test_real_videos(real_videos):
    portrait = open_video(real_videos("single_person_demo.mp4"))
    assert (portrait.size, portrait.n_frames, portrait.fps) == ((1080, 1920), 40, 12.0)
    assert portrait.n_frames_exact
    shapes = {f.shape for _, f in portrait.frames()}
    assert shapes == {(1920, 1080, 3)}
    street = open_video(real_videos("street_demo.mp4"))
    assert (street.size, street.n_frames, street.fps) == ((960, 540), 5, 5.0)
    assert sum(1 for _ in street.frames()) == 5


# ----------------------------------------------------------------- image folders
def test_image_folder_natural_order_and_fps(tmp_path):
    frames = [np.full((6, 8, 3), 20 * i, np.uint8) for i in range(11)]
    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"frame_{i}.png")  # frame_10 sorts after frame_9
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_video(tmp_path)
    assert isinstance(source, ImageSequence)
    assert (source.fps, source.n_frames, source.size) == (30.0, 11, (8, 6))
    for (i, got), want in zip(source.frames(), frames):
        np.testing.assert_array_equal(got, want)
    assert open_video(tmp_path, fps=24).fps == 24.0
    assert list(dict(source.frames(start=9))) == [9, 10]


def test_single_image_and_exif_orientation(tmp_path):
    image = np.zeros((10, 20, 3), np.uint8)
    image[:, :10] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(image).save(tmp_path / "img.jpg", exif=exif, quality=95)
    source = open_video(tmp_path / "img.jpg")
    assert (source.n_frames, source.size) == (1, (10, 20))
    _, got = next(source.frames())
    assert got.shape == (20, 10, 3)
    assert got[:8].mean() > 200 and got[12:].mean() < 50  # the left half is now on top


def test_mixed_sizes_name_the_file_and_sizes(tmp_path):
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "b.jpg")
    Image.fromarray(np.zeros((7, 8, 3), np.uint8)).save(tmp_path / "c.png")
    with pytest.raises(VideoError, match=r"c\.png: image size 8x7 differs from 8x6 of a\.png"):
        open_video(tmp_path)


# ----------------------------------------------------------------- bad input
def test_bad_inputs(tmp_path, corrupt_video, zero_length_video):
    with pytest.raises(VideoError, match="no such file"):
        open_video(tmp_path / "missing.mp4")
    with pytest.raises(VideoError, match="cannot read as a video"):
        open_video(corrupt_video)
    with pytest.raises(VideoError, match="no decodable frames"):
        open_video(zero_length_video)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty file"):
        open_video(tmp_path / "empty.mp4")
    (tmp_path / "notes.txt").write_text("hello\n" * 100)
    with pytest.raises(VideoError, match="cannot read as a video"):
        open_video(tmp_path / "notes.txt")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(VideoError, match="broken.png: cannot read image"):
        open_video(tmp_path / "broken.png")
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    with pytest.raises(VideoError, match="folder has no images"):
        open_video(empty)
    assert issubclass(VideoError, ValueError)


def test_video_without_video_stream(tmp_path):
    import av

    path = tmp_path / "header_only.mp4"
    with av.open(str(path), "w") as container:  # a stream is declared but never written
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        container.start_encoding()
    with pytest.raises(VideoError, match="no video stream"):
        open_video(path)


def test_prefetch_keeps_order_and_raises_errors_in_the_consumer():
    """The 2D stages and the overlay decode ahead in a thread: the frames come in order, a
    decoding error comes out in the consumer after the frames before it, closing stops it."""
    assert list(prefetch(iter(range(50)), size=3)) == list(range(50))

    def broken():
        yield 1
        raise OSError("corrupt frame")

    got = []
    with pytest.raises(OSError, match="corrupt frame"):
        for x in prefetch(broken()):
            got.append(x)
    assert got == [1]
    stream = prefetch(iter(range(1000)), size=2)
    assert next(stream) == 0
    stream.close()  # stops the thread that waits on a full queue (does not hang)


def test_kept_frames_decode_once_and_give_the_same_frames(tiny_video):
    """A second pass over kept frames comes from memory (the very arrays of the first pass) and
    equals a fresh decode; a pass past what is kept, or a budget too small, decodes again."""
    plain = dict(open_video(tiny_video).frames())
    kept = KeptFrames(open_video(tiny_video))
    first = list(kept.frames())
    assert [i for i, _ in first] == list(range(5)) and kept.end == 5
    for i, image in first:
        np.testing.assert_array_equal(image, plain[i])
    again = list(kept.frames(start=1))  # end None: to the end found by the first pass
    assert [i for i, _ in again] == [1, 2, 3, 4]
    assert all(image is first[i][1] for i, image in again)
    assert [i for i, _ in kept.frames(start=3, end=99)] == [3, 4]
    small = KeptFrames(open_video(tiny_video), max_bytes=2 * first[0][1].nbytes)  # room for 2 of 5 frames
    list(small.frames())
    assert small.kept == {}  # over the budget: keeps nothing
    second = list(small.frames())
    assert all(image is not first[i][1] for i, image in second)
    for i, image in second:
        np.testing.assert_array_equal(image, plain[i])
    part = KeptFrames(open_video(tiny_video))
    list(part.frames(end=2))  # kept 0 and 1 only
    assert [i for i, _ in part.frames()] == list(range(5))  # decodes the rest
