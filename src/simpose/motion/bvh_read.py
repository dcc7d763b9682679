"""Reading BVH files: text to :class:`~simpose.motion.bvh.BvhClip`, with errors that name the file and line.

Conventions (angles, offsets, position channels): :mod:`simpose.motion.bvh`.
"""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import numpy as np

from simpose.motion.bvh import CANONICAL_CHANNELS, POSITION_CHANNELS, ROTATION_CHANNELS, BvhClip, BvhError, BvhSkeleton

__all__ = ["parse_bvh", "read_bvh"]


def _number(tok: str, what: str, source: str, line: int) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise BvhError(f"{what}: expected a number, found {tok!r}", source, line) from None
    if not math.isfinite(value):
        raise BvhError(f"{what}: value {tok!r} is not finite", source, line)
    return value


def _parse_hierarchy(tokens: list[tuple[str, int]], source: str) -> BvhSkeleton:
    """Build the skeleton from ``(token, line)`` pairs of the HIERARCHY section."""
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float] | None] = []
    channels: list[tuple[str, ...] | None] = []
    end_sites: list[np.ndarray | None] = []
    end_offset: list[float] | None = None
    # Stack of open braces: (kind "joint"/"end", joint index, line of the '{').
    stack: list[tuple[str, int, int]] = []
    pending: tuple[str, int, int] | None = None  # a node waiting for its '{'
    i = 1  # tokens[0] is HIERARCHY
    n_tok = len(tokens)

    def take(count: int, what: str, line: int) -> list[str]:
        if i + count > n_tok:
            raise BvhError(f"{what}: expected {count} more value(s) before MOTION", source, line)
        return [t for t, _ in tokens[i:i + count]]

    while i < n_tok:
        tok, line = tokens[i]
        key = tok.upper()
        i += 1
        if pending is not None and tok != "{":
            raise BvhError(f"expected '{{' after {pending[0]} declared at line {pending[2]}, found {tok!r}", source, line)
        if key in ("ROOT", "JOINT"):
            name_toks = []
            while i < n_tok and tokens[i][1] == line and tokens[i][0] != "{":
                name_toks.append(tokens[i][0])
                i += 1
            if not name_toks:
                raise BvhError(f"{key} without a name", source, line)
            name = " ".join(name_toks)
            if key == "ROOT" and (stack or names):
                raise BvhError("a second ROOT (only one skeleton per file is supported)" if names
                               else "ROOT inside another joint", source, line)
            if key == "JOINT" and not stack:
                raise BvhError(f"JOINT {name!r} outside the ROOT's braces", source, line)
            if stack and stack[-1][0] == "end":
                raise BvhError(f"JOINT {name!r} inside an End Site", source, line)
            if name in names:
                raise BvhError(f"duplicate joint name {name!r}", source, line)
            names.append(name)
            parents.append(stack[-1][1] if stack else -1)
            offsets.append(None)
            channels.append(None)
            end_sites.append(None)
            pending = ("joint", len(names) - 1, line)
        elif key == "END":
            if i >= n_tok or tokens[i][0].upper() != "SITE":
                raise BvhError("'End' not followed by 'Site'", source, line)
            i += 1
            if not stack or stack[-1][0] != "joint":
                raise BvhError("End Site outside a joint", source, line)
            if end_sites[stack[-1][1]] is not None:
                raise BvhError(f"joint {names[stack[-1][1]]!r} has more than one End Site", source, line)
            end_offset = None
            pending = ("end", stack[-1][1], line)
        elif tok == "{":
            if pending is None:
                raise BvhError("unexpected '{'", source, line)
            stack.append((pending[0], pending[1], line))
            pending = None
        elif tok == "}":
            if not stack:
                raise BvhError("unbalanced '}' (no open '{')", source, line)
            kind, j, _ = stack.pop()
            if kind == "end":
                if end_offset is None:
                    raise BvhError(f"End Site of joint {names[j]!r} has no OFFSET", source, line)
                end_sites[j] = np.asarray(end_offset)
            elif offsets[j] is None:
                raise BvhError(f"joint {names[j]!r} has no OFFSET", source, line)
        elif key == "OFFSET":
            if not stack:
                raise BvhError("OFFSET outside a joint", source, line)
            kind, j, _ = stack[-1]
            values = [_number(t, "OFFSET", source, line) for t in take(3, "OFFSET", line)]
            i += 3
            label = f"End Site of {names[j]!r}" if kind == "end" else f"joint {names[j]!r}"
            if (end_offset if kind == "end" else offsets[j]) is not None:
                raise BvhError(f"{label} has a second OFFSET", source, line)
            if kind == "end":
                end_offset = values
            else:
                offsets[j] = values
        elif key == "CHANNELS":
            if not stack or stack[-1][0] != "joint":
                raise BvhError("CHANNELS outside a joint (End Sites have none)", source, line)
            j = stack[-1][1]
            count_tok = take(1, "CHANNELS", line)[0]
            i += 1
            if not count_tok.isdigit() or int(count_tok) > 6:
                raise BvhError(f"CHANNELS count must be an integer 0..6, found {count_tok!r}", source, line)
            raw = take(int(count_tok), "CHANNELS", line)
            i += int(count_tok)
            chans = []
            for c in raw:
                if c.lower() not in CANONICAL_CHANNELS:
                    raise BvhError(f"unknown channel name {c!r} (expected one of "
                                   f"{', '.join(POSITION_CHANNELS + ROTATION_CHANNELS)})", source, line)
                chans.append(CANONICAL_CHANNELS[c.lower()])
            if len(set(chans)) != len(chans):
                raise BvhError(f"repeated channel in {raw}", source, line)
            if channels[j] is not None:
                raise BvhError(f"joint {names[j]!r} has a second CHANNELS line", source, line)
            channels[j] = tuple(chans)
        else:
            raise BvhError(f"unexpected token {tok!r} in HIERARCHY", source, line)
    last_line = tokens[-1][1]
    if pending is not None:
        raise BvhError(f"{pending[0]} declared at line {pending[2]} has no '{{'", source, pending[2])
    if stack:
        kind, j, opened = stack[-1]
        what = f"End Site of {names[j]!r}" if kind == "end" else f"joint {names[j]!r}"
        raise BvhError(f"unbalanced braces: '{{' of {what} opened at line {opened} is never closed "
                       f"(HIERARCHY ends at line {last_line})", source, opened)
    if not names:
        raise BvhError("HIERARCHY has no joints (no ROOT)", source, last_line)
    return BvhSkeleton(names=tuple(names), parents=tuple(parents), offsets=np.asarray(offsets),
                       channels=tuple(c or () for c in channels), end_sites=tuple(end_sites))


def _header_value(lines: list[str], k: int, label: str, source: str) -> tuple[str, int]:
    """Value after ``label`` on the next non-blank line from ``k``; returns (value, index)."""
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k >= len(lines):
        raise BvhError(f"missing '{label}' line after MOTION (file truncated?)", source, len(lines))
    text = lines[k].strip()
    head, sep, rest = text.partition(":")
    if not sep or head.split() != label.split() or len(rest.split()) != 1:
        raise BvhError(f"expected '{label}: <value>', found {text[:60]!r}", source, k + 1)
    return rest.strip(), k


def parse_bvh(text: str, source: str = "<string>") -> BvhClip:
    """Parse BVH text (LF or CRLF line ends, spaces or tabs).

    Args:
        text: the whole file contents.
        source: name used in error messages and stored in the clip.

    Returns:
        The parsed :class:`BvhClip`.

    Raises:
        BvhError: for any malformed input; the message names ``source``, the line and
            the problem.
    """
    lines = text.lstrip("\ufeff").splitlines()
    first = next((n for n, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise BvhError("empty file", source)
    if lines[first].split()[0].upper() != "HIERARCHY":
        raise BvhError(f"missing HIERARCHY: file starts with {lines[first].strip()[:40]!r}", source, first + 1)
    motion_at = next((n for n, ln in enumerate(lines) if ln.split()[:1] in (["MOTION"], ["motion"])), None)
    if motion_at is None:
        raise BvhError("missing MOTION section (file truncated?)", source, len(lines))
    tokens = [(t, n + 1) for n in range(first, motion_at) for t in lines[n].split()]
    skeleton = _parse_hierarchy(tokens, source)

    frames_tok, k = _header_value(lines, motion_at + 1, "Frames", source)
    if not frames_tok.isdigit():
        raise BvhError(f"Frames must be a non-negative integer, found {frames_tok!r}", source, k + 1)
    n_frames = int(frames_tok)
    time_tok, k = _header_value(lines, k + 1, "Frame Time", source)
    frame_time = _number(time_tok, "Frame Time", source, k + 1)
    if frame_time <= 0:
        raise BvhError(f"Frame Time must be > 0 seconds, found {time_tok!r}", source, k + 1)

    n_ch = skeleton.n_channels
    rows, row_lines = [], []
    for n in range(k + 1, len(lines)):
        toks = lines[n].split()
        if toks:
            rows.append(toks)
            row_lines.append(n + 1)
    if len(rows) < n_frames:
        last = row_lines[-1] if row_lines else k + 1
        raise BvhError(f"truncated: header says Frames: {n_frames} but there are only {len(rows)} "
                       f"data rows (last at line {last})", source, last)
    if len(rows) > n_frames:
        raise BvhError(f"{len(rows)} data rows but header says Frames: {n_frames}", source, row_lines[n_frames])
    for toks, line in zip(rows, row_lines):
        if len(toks) != n_ch:
            hint = " (file truncated?)" if line == row_lines[-1] and len(toks) < n_ch else ""
            raise BvhError(f"expected {n_ch} values on a frame row, found {len(toks)}{hint}", source, line)
    try:
        motion = np.array(list(itertools.chain.from_iterable(rows)), dtype=np.float64).reshape(n_frames, n_ch)
    except ValueError:
        for toks, line in zip(rows, row_lines):  # slow path, only to locate the culprit
            for t in toks:
                _number(t, "frame value", source, line)
        raise  # pragma: no cover - numpy and float() disagree
    bad = ~np.isfinite(motion)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise BvhError(f"non-finite value {rows[r][c]!r} in column {c}", source, row_lines[r])
    return BvhClip(skeleton=skeleton, motion=motion, frame_time=frame_time, source=source)


def read_bvh(path: str | os.PathLike) -> BvhClip:
    """Read a ``.bvh`` file.

    Args:
        path: file to read.

    Returns:
        The parsed :class:`BvhClip`; ``source`` is the path.

    Raises:
        FileNotFoundError: the path does not exist. ``ValueError``: the path is empty.
        BvhError: the file is not valid BVH (message: ``<path>:<line>: <problem>``).
    """
    if not str(path):
        raise ValueError("read_bvh: empty path")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BVH file not found: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_bvh(text, source=str(path))
