"""The OpenGL context of the renderer: one headless EGL context per worker.

On a machine without a GPU, EGL gives Mesa's llvmpipe (software rasterizer, multi-threaded);
with a GPU and its driver it gives the GPU. A context is bound to the thread (and process) that
made it: create one per worker process, never share one across a ``fork``.
"""

from __future__ import annotations

import logging

import moderngl

logger = logging.getLogger(__name__)

__all__ = ["RenderError", "create_context", "MIN_GL_VERSION"]

# GLSL 3.30 core: geometry shaders, multiple render targets, integer colour attachments.
MIN_GL_VERSION = 330

_INSTALL_HINT = (
    "simpose renders through a headless EGL OpenGL context. On Debian/Ubuntu install Mesa's EGL and "
    "software rasterizer: `apt-get install libegl1 libgl1-mesa-dri libegl-mesa0`; on a GPU machine "
    "install the GPU driver's EGL library (e.g. NVIDIA's libnvidia-egl / libEGL_nvidia)."
)


class RenderError(RuntimeError):
    """The renderer cannot work here (no EGL/OpenGL, too old a driver) or was misused (closed)."""


def create_context(backend: str = "egl") -> moderngl.Context:
    """A standalone (headless, windowless) OpenGL context.

    Args:
        backend: moderngl's standalone backend; ``"egl"`` (the default) works without a display.
    Returns:
        A moderngl context of at least OpenGL 3.3 core; the caller releases it.
    Raises:
        RenderError: no context could be created (the message says what to install and
            includes the original error), or its OpenGL version is below 3.3.
    """
    try:
        ctx = moderngl.create_standalone_context(backend=backend)
    except Exception as exc:  # moderngl raises plain Exception subclasses from the C layer
        raise RenderError(f"could not create a headless OpenGL context ({backend}): {exc}. {_INSTALL_HINT}") from exc
    if ctx.version_code < MIN_GL_VERSION:
        info = f"{ctx.info.get('GL_RENDERER')} / {ctx.info.get('GL_VERSION')}"
        ctx.release()
        needed = f"{MIN_GL_VERSION // 100}.{MIN_GL_VERSION % 100 // 10}"
        raise RenderError(f"OpenGL {needed} core needed, got {info}. {_INSTALL_HINT}")
    logger.debug("OpenGL context: %s, %s", ctx.info.get("GL_RENDERER"), ctx.info.get("GL_VERSION"))
    return ctx
