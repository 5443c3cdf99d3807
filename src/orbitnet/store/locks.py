"""Exclusive, re-entrant locks between processes, for artifacts and runs."""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from orbitnet.store.notices import notice

_HELD: dict[str, int] = {}
_HELD_LOCK = threading.Lock()


class Busy(RuntimeError):
    """Another process holds a lock this one needs."""


def lock_file(path: Path | str) -> Path:
    """The lock file of an artifact: named by its absolute path, in the machine's temporary
    folder (every process that could write the artifact sees it; artifact folders hold
    artifacts only)."""
    where = str(Path(path).resolve())
    name = f"{hashlib.sha256(where.encode()).hexdigest()[:24]}-{Path(path).name}.lock"
    return Path(tempfile.gettempdir()) / "orbitnet-locks" / name


@contextlib.contextmanager
def locked(path: Path | str, wait: bool = True, what: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a lock file, see :func:`lock_file`).

    Re-entrant within a process; released when the process dies, however it dies. With
    ``wait=False`` a held lock raises :class:`Busy` naming the holder.
    """
    path = Path(path)
    key = str(path.resolve())
    with _HELD_LOCK:
        if key in _HELD:
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            if not wait:
                raise Busy(f"another run holds {path} ({holder})") from None
            notice(f"waiting for {holder} to release {what or path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        info = (f"pid {os.getpid()}" + (f", {what}" if what else "") + ", since "
                + _dt.datetime.now().isoformat(timespec="seconds")).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        with _HELD_LOCK:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

