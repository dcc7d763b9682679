"""The last step of every atomic write: the temporary file gets its final mode, then its name.

Writers create their temporary file with :func:`tempfile.mkstemp` beside the target (so that
``os.replace`` is atomic), and ``mkstemp`` creates it readable by its owner only. Without this
step a dataset, a video or a cache written by one user of a shared machine or job array would be
unreadable to the others.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "replace_atomically"]


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    # os.umask can only be read by setting it; done once, on first use, never at import
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_atomically(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give the finished temporary file ``tmp`` the mode a plain ``open(path, "w")`` would give
    (0666 minus the umask), then move it onto ``path`` in one step."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs) -> Iterator[IO]:
    """A file to write ``path`` through: a temporary file beside it that, when the block ends
    without an error, is flushed, synced, given the usual mode and moved onto ``path``; on an
    error (Ctrl-C included) it is removed and ``path`` is left as it was.

    Args:
        path: the final file; its folder must exist.
        mode: ``"wb"`` or ``"w"``; ``kwargs`` go to :func:`os.fdopen` (``encoding``, ``newline``).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        replace_atomically(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
