"""Run a chapter's kernel safely: one run per checkout, results only on success, the cache's
notices on the command line, and nothing left behind when the run is stopped.

* :func:`run_lock` holds ``build/locks/run.lock`` for the whole run; a second run in the same
  checkout stops at once with "another run holds …" (the lock dies with its process).
* :func:`chapter_environment` stages the results JSON written by the kernel
  (:func:`orbitnet.book.results.write_results`) and :func:`commit_results` moves them into
  ``build/results/`` only when the chapter succeeded; it also passes the chapter's
  parameters (recorded in the results) and a file for :func:`orbitnet.store.notices.notice`.
* :func:`execute` runs papermill in a thread, echoing notices to stderr; Ctrl-C (or SIGTERM)
  kills the kernel's process group (kernel and pool workers) and re-raises
  ``KeyboardInterrupt`` for the command to print one line.
* :class:`ChapterKernelManager` keeps connection files under ``build/.kernels/`` and removes
  each as soon as its kernel has answered; the kernel exits when the ``orbitnet`` process dies
  (ipykernel watches ``JPY_PARENT_PID``) and pool workers exit with the kernel
  (:func:`orbitnet.fit.sweep.die_with_parent`), so even SIGKILL leaves no process or file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from orbitnet.book.results import PARAMETERS_ENV, STAGING_ENV
from orbitnet.data import paths
from orbitnet.store.fingerprint import canonical_json
from orbitnet.store.locks import locked
from orbitnet.store.notices import NOTICES_ENV


def lock_path() -> Path:
    return paths.run_lock()


def kernels_dir() -> Path:
    """The owner-only folder of the kernels' connection files and IPC sockets."""
    return paths.kernels_dir()


#: Set by a book run for the chapter processes it starts: the pid of the book's process,
#: which holds the run lock for them.
LOCK_HOLDER_ENV = "ORBITNET_RUN_LOCK_HOLDER"


@contextlib.contextmanager
def run_lock(what: str) -> Iterator[None]:
    """Hold the checkout's run lock; raise :class:`orbitnet.store.locks.Busy` when another
    run holds it.

    A chapter process started by a book run (its parent named in ``ORBITNET_RUN_LOCK_HOLDER``)
    runs under the book's lock."""
    if os.environ.get(LOCK_HOLDER_ENV) == str(os.getppid()):
        yield
        return
    with locked(lock_path(), wait=False, what=what):
        sweep_leftovers()
        yield


#: Free space a chapter run needs in the build and output folders before it starts: its
#: notebook, results and artifacts (the full profile's cube of orbit models is 135 MiB).
MIN_FREE_BYTES = 512 * 2**20


def check_writable(folders: Sequence[Path]) -> None:
    """Raise ``OSError`` (naming the folder) unless each folder can be created and written and
    its file system has :data:`MIN_FREE_BYTES` free: checked before a run starts, so that a
    read-only or full disk stops it with one line instead of a traceback mid-way."""
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, b"0" * 4096)
            except OSError as exc:  # a write error names no file: name the probe
                raise OSError(exc.errno, exc.strerror, str(probe)) from None
            finally:
                os.close(fd)
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        free = shutil.disk_usage(folder).free
        if free < MIN_FREE_BYTES:
            raise OSError(errno.ENOSPC, f"only {free / 2**20:.0f} MiB free, a chapter needs "
                          f"{MIN_FREE_BYTES / 2**20:.0f} MiB", str(folder))


def sweep_leftovers() -> None:
    """Remove what a killed run (SIGKILL, a power cut) left: staged results
    (``build/results/.staging-*``) and partly executed notebooks
    (``book/chapters/.<id>.running.ipynb``). Called with the run lock held, when no other
    run of this checkout can be using them."""
    for d in paths.staging_dirs():
        shutil.rmtree(d, ignore_errors=True)
    for f in paths.running_chapters():
        f.unlink(missing_ok=True)
    sweep_connection_files()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_connection_files() -> None:
    """Remove connection files and IPC sockets whose ``orbitnet`` process is gone."""
    for f in kernels_dir().glob("kernel-*"):
        try:
            pid = int(f.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            f.unlink(missing_ok=True)


class ChapterKernelManager(AsyncKernelManager):
    """A kernel manager whose connection file lives only while the kernel starts.

    The kernel listens on IPC sockets in the owner-only :func:`kernels_dir`, not on TCP:
    no other user can reach them, and ipykernel has no "running over TCP without
    encryption" warning to print on every chapter (issue 22 #8).
    """

    live: ClassVar[set[ChapterKernelManager]] = set()

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("connection_file")
    def _connection_file_default(self) -> str:
        folder = kernels_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        return str(folder / f"kernel-{os.getpid()}-{uuid.uuid4().hex[:8]}.json")

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        await super()._async_post_start_kernel(**kw)
        ChapterKernelManager.live.add(self)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        ChapterKernelManager.live.discard(self)
        await super()._async_cleanup_resources(restart=restart)

    def kill_group(self) -> None:
        """SIGKILL the kernel's process group: the kernel and its pool workers."""
        prov = self.provisioner
        pgid = getattr(prov, "pgid", None) or getattr(prov, "pid", None)
        if pgid:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
        self.cleanup_connection_file()

    @classmethod
    def forget_connection_files(cls, **_: Any) -> None:
        """Remove the connection files of running kernels: a kernel reads its file once while
        it starts and the client keeps the connection in memory (papermill calls this as
        ``on_notebook_start``, when the kernel has answered)."""
        for km in list(cls.live):
            km.cleanup_connection_file()

    @classmethod
    def kill_all(cls) -> None:
        for km in list(cls.live):
            km.kill_group()
        cls.live.clear()


@contextlib.contextmanager
def chapter_environment(params: Mapping[str, Any]) -> Iterator[Path]:
    """Environment of a chapter run; yields the staging folder of its results JSON."""
    staging = paths.new_staging_dir()
    env = {"ORBITNET_ROOT": str(paths.ROOT), STAGING_ENV: str(staging),
           NOTICES_ENV: str(paths.notices_file(staging)),
           PARAMETERS_ENV: canonical_json(params)}
    defaults = {"MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "TF_CPP_MIN_LOG_LEVEL": "2"}
    before = {k: os.environ.get(k) for k in (*env, *defaults)}
    os.environ.update(env)
    for k, v in defaults.items():
        os.environ.setdefault(k, v)
    try:
        yield staging
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(staging, ignore_errors=True)


def commit_results(staging: Path) -> list[Path]:
    """Move the staged results JSON into ``build/results/`` (after a successful run)."""
    out = []
    for f in sorted(staging.glob("*.json")):
        json.loads(f.read_text())  # complete, or the run did not succeed
        dest = paths.results_path(f.stem)
        os.replace(f, dest)
        out.append(dest)
    return out


class _Echo:
    """Print new lines of the notices file to stderr, as ``orbitnet (<chapter>): …``."""

    def __init__(self, path: Path, chapter: str) -> None:
        self.path, self.pos, self.prefix = path, 0, f"orbitnet ({chapter}): "

    def __call__(self) -> None:
        try:
            with open(self.path) as fh:
                fh.seek(self.pos)
                text = fh.read()
        except OSError:
            return
        done = text.rfind("\n") + 1
        for line in text[:done].splitlines():
            print(self.prefix + line, file=sys.stderr, flush=True)
        self.pos += len(text[:done].encode())


def execute(run: Callable[[], None], notices: Path, chapter: str) -> None:
    """Call ``run()`` (papermill) in a thread, echo notices, and on Ctrl-C, SIGTERM or SIGHUP kill
    the kernel's process group and re-raise ``KeyboardInterrupt``. Errors of ``run`` propagate.
    """
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    echo = _Echo(notices, chapter)
    thread = threading.Thread(target=target, name="orbitnet-chapter", daemon=True)
    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def on_term(signum, frame):
            raise KeyboardInterrupt

        # a closed terminal (SIGHUP) stops the run like Ctrl-C: kernel killed, nothing kept
        old = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            echo()
        echo()
    except KeyboardInterrupt:
        ChapterKernelManager.kill_all()
        thread.join(10)
        raise
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if "error" in outcome:
        raise outcome["error"]
