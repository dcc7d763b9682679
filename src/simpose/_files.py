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
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "replace_atomically", "staged_folder"]


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


@contextlib.contextmanager
def staged_folder(final: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary folder beside ``final`` to write one consistent set of outputs into.

    When the block ends without an error the folder takes the place of ``final`` (a previous
    ``final`` is moved aside first and removed only once the new one is in place); on an error
    (Ctrl-C included) it is removed and ``final`` is left exactly as it was. So a rerun that
    fails late never mixes its files with, or destroys, those of an earlier run.

    The caller decides whether ``final`` may be replaced (it is removed with everything in it).

    Args:
        final: the folder the outputs should end up in; its parent is created.
    Yields:
        the temporary folder (``.<name>.XXXX.tmp`` in the same parent, so the renames are atomic).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    aside = None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a plain mkdir would not
        if final.exists() or final.is_symlink():
            aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
            os.replace(final, aside / final.name)  # aside, in one step, until the new one is in place
        os.replace(tmp, final)
    except BaseException:
        if aside is not None and (aside / final.name).exists() and not final.exists():
            os.replace(aside / final.name, final)  # the swap itself failed: put the old one back
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
