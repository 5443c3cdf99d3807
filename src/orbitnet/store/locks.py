"""Exclusive, re-entrant locks between processes, for artifacts and runs.

Lock files live in the checkout's private ``build/locks`` folder (owner-only), are opened
without following symbolic links and must be plain files: a link planted where a lock will be
is refused, never written through (issue 22 #1).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from orbitnet.data import paths
from orbitnet.store.notices import notice

_HELD: dict[str, int] = {}
_HELD_LOCK = threading.Lock()


class Busy(RuntimeError):
    """Another process holds a lock this one needs."""


class UnsafeLock(OSError):
    """A lock file or its folder is a symbolic link, not a plain file, or not ours."""


def lock_file(path: Path | str) -> Path:
    """The lock file of an artifact: named by its absolute path, in ``build/locks`` (every
    process of the checkout that could write the artifact sees it; artifact folders hold
    artifacts only)."""
    where = str(Path(path).resolve())
    name = f"{hashlib.sha256(where.encode()).hexdigest()[:24]}-{Path(path).name}.lock"
    return paths.lock_path(name)


def _safe_folder(folder: Path) -> None:
    """Create ``folder`` (owner-only when new); refuse one that is a link or not ours."""
    if not os.path.lexists(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeLock(f"{folder} is a symbolic link or not a folder: refusing to keep "
                         "locks there (remove it)")
    if st.st_uid != os.getuid():
        raise UnsafeLock(f"{folder} belongs to another user: refusing to keep locks there")


def _open_lock(path: Path) -> int:
    """Open (creating, owner-only) the lock file ``path`` without following a link; the
    checkout's lock folder must be a folder of ours, not a link."""
    if path.parent == paths.lock_dir():
        _safe_folder(path.parent)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeLock(f"the lock file {path} is a symbolic link: refusing to open it "
                             "(remove it)") from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeLock(f"the lock file {path} is not a plain file: refusing to use it")
    return fd


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
    fd = _open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
            if not wait:
                raise Busy(f"another run holds {path} ({holder or 'another process'})") from None
            notice(f"waiting for {holder} to finish" if holder else
                   f"waiting for another process to release {what or path}")
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

