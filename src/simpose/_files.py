"""The last step of every atomic write: the temporary file gets its final mode, then its name.

Writers create their temporary file with :func:`tempfile.mkstemp` beside the target (so that
``os.replace`` is atomic), and ``mkstemp`` creates it readable by its owner only. Without this
step a dataset, a video or a cache written by one user of a shared machine or job array would be
unreadable to the others.
"""

from __future__ import annotations

import functools
import os

__all__ = ["replace_atomically"]


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
