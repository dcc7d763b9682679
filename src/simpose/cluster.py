"""Independent jobs (synthetic clips, detector-cache clips) as tasks on a Ray cluster.

``simpose synth --engine ray [--address ADDR]`` (and ``--detect``) hands every clip to
:func:`run_tasks`: one Ray task per clip, retried where it fails (an exception or a dead worker
process), its file bytes sent back to this process, which writes them exactly where a local run
writes them (atomically; finished files are skipped, so a killed job resumes). Clip ``i`` depends
on the dataset seed and ``i`` alone, so the files are byte-identical to a local run's.

Without ``--address`` the command starts a Ray instance on this machine (``--workers`` CPUs) and
stops it at the end; with one it joins a running cluster (``ray start --head`` on the head,
``ray start --address HEAD:6379`` on the others). Every node needs the same simpose install and
the input folders (motions, backgrounds) at the same paths; the output only needs to be on the
machine that runs the command. Ray is an optional extra (``pip install 'simpose[cluster]'``),
imported only here and only when ``--engine ray`` is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence

logger = logging.getLogger(__name__)

__all__ = ["ENGINES", "ClusterError", "check_engine", "import_ray", "ray_session", "run_tasks", "process_cached"]

ENGINES = ("local", "ray")
# seconds to wait for the head's port before calling an address unreachable
_CONNECT_TIMEOUT_S = 5.0


class ClusterError(ValueError):
    """Ray missing, a cluster that cannot be reached, or tasks that kept failing."""


def import_ray():
    """The ``ray`` module. Raises ClusterError naming the extra when it is not installed."""
    try:
        import ray
    except ImportError:
        raise ClusterError("--engine ray needs Ray: pip install 'simpose[cluster]'") from None
    return ray


def check_engine(engine: str, address: str | None) -> None:
    """Raise ClusterError for an unknown engine, an ``--address`` without ``--engine ray``, or an
    address where no cluster answers (checked before any work starts)."""
    if engine not in ENGINES:
        raise ClusterError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if address is not None and engine != "ray":
        raise ClusterError("--address is the Ray cluster to join: give it with --engine ray")
    if address is not None:
        _check_reachable(address)


def _check_reachable(address: str) -> None:
    """Fail fast (seconds, not Ray's minutes of retries) when nothing listens at ``HOST:PORT``."""
    if address in ("auto", "local"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--address {address!r}: expected HOST:PORT of a Ray head (ray start --head prints it), ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ClusterError(f"no Ray cluster answers at {address} ({e}): start one with 'ray start --head', or drop --address to run on this machine") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator:
    """Ray connected to the cluster at ``address``, or to a new instance on this machine with
    ``num_cpus`` CPUs (stopped on exit). A connection that is already open (a caller's, a test's)
    is used as it is and left open.

    Raises:
        ClusterError: Ray missing, or the cluster unreachable.
    """
    ray = import_ray()
    if address is not None:
        _check_reachable(address)
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address is None:
        kwargs["num_cpus"] = num_cpus
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterError(f"cannot start or join Ray (address {address or 'none: this machine'}): {e}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def run_tasks(
    fn: Callable,
    jobs: Sequence[tuple],
    on_result: Callable[[tuple, object], None],
    address: str | None = None,
    num_cpus: int | None = None,
    retries: int = 3,
) -> None:
    """Run ``fn(*job)`` for every job as a Ray task (one CPU each) and hand each result to
    ``on_result(job, result)`` in this process as it arrives (``job[-1]`` names it in the log).

    A task that raises, or whose worker dies, is retried up to ``retries`` times. Tasks that
    still fail do not stop the others; after all have ended they are reported together.

    Raises:
        ClusterError: Ray missing, the cluster unreachable, or tasks that failed every try.
    """
    with ray_session(address, num_cpus) as ray:
        # Ray gives its workers OMP_NUM_THREADS=1 where it is unset; BLAS would then add up in
        # another order than this process does, and a clip's bytes differ from a local run's in
        # the last bits: the workers get this process's setting (unset here: one per core).
        threads = os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count() or 1)
        env = {"env_vars": {"OMP_NUM_THREADS": threads}}
        remote = ray.remote(num_cpus=1, max_retries=retries, retry_exceptions=True, runtime_env=env)(fn)
        pending = {remote.remote(*job): job for job in jobs}
        failed = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as e:
                    logger.error("task %s failed %d times: %s", job[-1], retries + 1, e)
                    failed.append((job, e))
                    continue
                on_result(job, result)
        if failed:
            first = str(failed[0][1]).strip().splitlines()[-1]
            raise ClusterError(f"{len(failed)} of {len(jobs)} tasks failed after {retries} retries (first: {first}); a re-run redoes only them")


_PROCESS: dict = {}


def process_cached(key: object, factory: Callable[[], object], close: Callable[[object], None] | None = None):
    """One expensive object (a renderer with its EGL context) per worker process, rebuilt only
    when ``key`` changes: a Ray worker process runs many tasks of a job."""
    if _PROCESS.get("key") != key:
        if "value" in _PROCESS and close is not None:
            close(_PROCESS["value"])
        _PROCESS.clear()
        _PROCESS["value"] = factory()
        _PROCESS["key"] = key
    return _PROCESS["value"]
