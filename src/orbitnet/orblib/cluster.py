"""Where a grid runs: a Dask ``LocalCluster`` of our own, or a running scheduler, checked.

:func:`connect` returns a client: to a scheduler (``--scheduler`` or
``DASK_SCHEDULER_ADDRESS``) once :func:`check_scheduler` has had it answer as one, within the
timeout, else to a new ``LocalCluster`` of single-threaded worker processes with no dashboard.
Light to import (no engine, no numpy): the chapter runner checks a scheduler with it before a
kernel starts.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class GridError(RuntimeError):
    """A grid cannot be designed or run (empty design, unreachable scheduler, failed point)."""



class CancelBugFilter(logging.Filter):
    """Drops tornado's log of a known distributed bug: when Ctrl-C interrupts
    ``distributed.utils.sync``, its cancel callback fails with ``NameError: ... free variable
    'future'`` inside the event loop. The run itself stops cleanly; only that log line, a
    traceback that is not ours, would reach the user. Every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, NameError) and "'future'" in str(exc))


class LostSchedulerFilter(logging.Filter):
    """Drops a local worker's logs of a lost scheduler connection (``CommClosedError``,
    ``StreamClosedError``, "Failed to communicate with scheduler during heartbeat").

    Installed only in the worker processes of the grid's own ``LocalCluster``: they share our
    stderr, and after Ctrl-C the scheduler can stop before a worker busy in a library does, so
    the worker's next heartbeat logs a traceback about a shutdown that was asked for. A real
    loss of a worker still reaches the grid as an error of its point."""

    NAMES = ("CommClosedError", "StreamClosedError")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ in self.NAMES:
            return False
        return "Failed to communicate with scheduler" not in record.getMessage()


def _add_filter_once(target: logging.Filterer, kind: type[logging.Filter]) -> None:
    if not any(isinstance(f, kind) for f in target.filters):
        target.addFilter(kind())


def quiet_lost_scheduler() -> int:
    """Install :class:`LostSchedulerFilter` on this process's ``distributed`` log handlers
    (run on each local worker); returns how many handlers carry it."""
    handlers = logging.getLogger("distributed").handlers
    for h in handlers:
        _add_filter_once(h, LostSchedulerFilter)
    return len(handlers)


def quiet_cancel_bug() -> None:
    _add_filter_once(logging.getLogger("tornado.application"), CancelBugFilter)


def default_workers() -> int:
    """Usable cores (one single-threaded worker process each)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The Dask scheduler to use: ``scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else None
    (a new ``LocalCluster``)."""
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


def check_timeout(timeout: float) -> float:
    """``timeout`` as seconds > 0 (a :class:`GridError` naming it otherwise)."""
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = float("nan")
    if not (value > 0 and math.isfinite(value)):
        raise GridError(f"connect timeout must be a number of seconds > 0, got {timeout!r}")
    return value


async def _identity(address: str, timeout: float) -> dict[str, Any]:
    from distributed.comm import connect as open_comm

    comm = await open_comm(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def check_scheduler(address: str, timeout: float = 10.0) -> dict[str, Any]:
    """Ask the Dask scheduler at ``address`` who it is; return its identity.

    The exchange is bounded by ``timeout`` seconds (the TCP connection, then the question in
    a thread of its own, so a listener that never answers cannot hang the caller). Nothing
    listening, no answer in time, or an answer that is not a Dask scheduler's (an HTTP
    server, say) is a one-line :class:`GridError` naming the address, before any work.
    """
    timeout = check_timeout(timeout)
    env = "" if address != os.environ.get(SCHEDULER_ENV) else f" (from {SCHEDULER_ENV})"
    why = _unreachable(address, timeout)
    if why is None:
        ident, why = _ask_identity(address, timeout)
        if why is None:
            return ident
    raise GridError(f"no Dask scheduler answered at {address!r}{env} within {timeout:g} s "
                    f"({why}); start one with `dask scheduler`, or unset --scheduler / "
                    f"{SCHEDULER_ENV} for a local cluster")


def _unreachable(address: str, timeout: float) -> str | None:
    """Why a TCP connection to ``address`` cannot be opened (None when it can, or when the
    address is not TCP)."""
    import socket

    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, loc = parse_address(address)
        if scheme != "tcp":
            return None
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        return f"not an address: {exc}"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"nothing listens there: {exc.strerror or type(exc).__name__}"
    return None


def _ask_identity(address: str, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
    """(the scheduler's identity, None), or (None, why not) after at most ``timeout`` s."""
    import asyncio
    import threading

    out: dict[str, Any] = {}

    def ask() -> None:
        try:
            out["identity"] = asyncio.run(asyncio.wait_for(_identity(address, timeout),
                                                           timeout))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=ask, name="orbitnet-scheduler-check", daemon=True)
    thread.start()
    thread.join(timeout + 2.0)
    ident, exc = out.get("identity"), out.get("error")
    if thread.is_alive() or exc is not None:
        return None, "it accepted the connection but did not answer as a Dask scheduler"
    if not (isinstance(ident, dict) and ident.get("type") == "Scheduler"):
        return None, "it answered, but not as a Dask scheduler"
    return ident, None


def connect(scheduler: str | None = None, n_workers: int | None = None,
            timeout: float = 10.0):
    """A ``distributed.Client``: to ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``) when
    given, else to a new ``LocalCluster`` of ``n_workers`` single-threaded processes.

    Returns (client, cluster or None). A scheduler is first asked who it is
    (:func:`check_scheduler`): one that does not answer as a Dask scheduler within
    ``timeout`` seconds is a :class:`GridError`.
    """
    import logging

    from distributed import Client

    timeout = check_timeout(timeout)
    address = scheduler_address(scheduler)
    if address:
        check_scheduler(address, timeout)
        try:
            return Client(address, timeout=f"{timeout}s"), None
        except (OSError, TimeoutError) as exc:
            raise GridError(f"no Dask scheduler answered at {address!r} within {timeout:g} s "
                            f"({type(exc).__name__}); start one with `dask scheduler` or "
                            f"unset --scheduler / {SCHEDULER_ENV} for a local cluster"
                            ) from exc
    n = default_workers() if n_workers is None else int(n_workers)
    if n < 1:
        raise GridError(f"n_workers must be >= 1, got {n}")
    cluster = local_cluster(n, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def local_cluster(n_workers: int, **kwargs: Any):
    """A ``LocalCluster`` of ``n_workers`` single-threaded processes on loopback, without a
    dashboard: the scheduler's HTTP server (health routes; distributed always starts one)
    takes a free port instead of 8787, so two clusters never compete for it (issue 22 #8)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address="127.0.0.1:0",
                        scheduler_kwargs={"dashboard": False}, **kwargs)
