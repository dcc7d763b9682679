"""benchmarks/motion_shifted.py's background crops miss every person box and ignore region."""

from __future__ import annotations

import numpy as np


def test_squares_miss_people_and_ignore_regions(benchmark_script):
    tool = benchmark_script("motion_shifted")
    w, h = 640, 400
    boxes = np.array([[250.0, 50.0, 100.0, 300.0]])  # one person in the middle
    ignore = np.zeros((h, w), bool)
    ignore[:, 560:] = True  # a crowd on the right
    squares = tool.person_free_squares((w, h), boxes, ignore, per_image=10)
    assert squares, "the left 200+ px are free: there must be a square"
    mask = np.zeros((h, w), bool)  # the person box grown as the tool grows it (15 % and 8 px)
    mask[int(50 - 45 - 8) : int(50 + 345 + 8) + 1, int(250 - 15 - 8) : int(250 + 115 + 8) + 1] = True
    for x0, y0, s in squares:
        assert s >= 96 and x0 >= 0 and y0 >= 0 and x0 + s <= w and y0 + s <= h
        assert not mask[y0 : y0 + s, x0 : x0 + s].any() and not ignore[y0 : y0 + s, x0 : x0 + s].any()
    # pairwise overlap below a third of the square
    for i, (ax, ay, a) in enumerate(squares):
        for bx, by, b in squares[i + 1 :]:
            inter = max(0, min(ax + a, bx + b) - max(ax, bx)) * max(0, min(ay + a, by + b) - max(ay, by))
            assert inter < min(a, b) ** 2 / 3 + 1e-9


def test_no_square_when_the_person_fills_the_image(benchmark_script):
    tool = benchmark_script("motion_shifted")
    assert tool.person_free_squares((300, 300), np.array([[10.0, 10.0, 280.0, 280.0]]), None, per_image=4) == []
