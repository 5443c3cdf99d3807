"""Run the book's chapters several at a time, each as its own ``orbitnet chapter`` process.

A chapter starts when the chapters it waits for (:func:`orbitnet.book.registry.waits_for`)
have finished, in book order among those ready. Each runs exactly as ``orbitnet chapter <id>
--profile <profile>`` would (its own kernel, run record and peak memory) under the book's run
lock, with its output in ``build/logs/<id>.log``. The first failure stops the others
(SIGTERM: each kills its kernel and writes nothing) and names the chapter and its log;
Ctrl-C does the same. If the book's process is killed, its chapter processes get SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from orbitnet.book import execution, registry
from orbitnet.data import paths


class ChapterFailed(RuntimeError):
    """A chapter process of a book run exited with an error."""


def logs_dir() -> Path:
    return paths.logs_dir()


def _term_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PDEATHSIG


def _tail(path: Path, lines: int = 25) -> str:
    """The last non-blank ``lines`` of a log (progress bars' carriage returns as new lines)."""
    try:
        text = path.read_text(errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def next_ready(pending: list[str], done: set[str]) -> str | None:
    """The first chapter of ``pending`` (book order) whose chapters to wait for are done."""
    for cid in pending:
        if all(w in done for w in registry.waits_for(cid)):
            return cid
    return None


def chapter_command(chapter_id: str, profile: str) -> list[str]:
    """``orbitnet chapter <id> --profile <profile> --no-progress`` in this interpreter."""
    return [sys.executable, "-m", "orbitnet.book.cli", "chapter", chapter_id,
            "--profile", profile, "--no-progress"]


def run_concurrently(profile: str, jobs: int, log: Callable[[str], None] = print,
                     progress: bool = True, poll: float = 0.5,
                     command: Callable[[str, str], list[str]] = chapter_command
                     ) -> dict[str, float]:
    """Run every chapter of the book, at most ``jobs`` at a time, each as ``command(id,
    profile)``; return each one's wall seconds. Raises :class:`ChapterFailed` naming the
    first chapter that failed and the end of its output."""
    pending = [c.id for c in registry.CHAPTERS]
    done: set[str] = set()
    running: dict[str, tuple[subprocess.Popen, Any, Path, float]] = {}
    walls: dict[str, float] = {}
    logs_dir().mkdir(parents=True, exist_ok=True)
    env = {**os.environ, execution.LOCK_HOLDER_ENV: str(os.getpid())}
    bar = tqdm(total=len(pending), desc=f"book ({jobs} at a time)", unit="chapter",
               disable=not progress)
    try:
        while pending or running:
            while len(running) < jobs and (cid := next_ready(pending, done)):
                pending.remove(cid)
                log_file = paths.log_file(cid)
                out = open(log_file, "w")  # noqa: SIM115 - closed below
                proc = subprocess.Popen(command(cid, profile), stdout=out,
                                        stderr=subprocess.STDOUT, env=env, cwd=paths.ROOT,
                                        preexec_fn=_term_with_parent)
                running[cid] = (proc, out, log_file, time.perf_counter())
                log(f"book: chapter {cid} started (running: {', '.join(running)})")
            if not running:
                raise ChapterFailed(f"no chapter can start: {pending} wait for each other")
            time.sleep(poll)
            for cid, (proc, out, log_file, t0) in list(running.items()):
                rc = proc.poll()
                if rc is None:
                    continue
                out.close()
                del running[cid]
                if rc != 0:
                    raise ChapterFailed(f"chapter {cid} failed (exit {rc}); its output is in "
                                        f"{log_file}; the end of it:\n{_tail(log_file)}")
                walls[cid] = time.perf_counter() - t0
                done.add(cid)
                bar.update()
                log(f"book: chapter {cid} done in {walls[cid]:.1f} s")
    finally:
        bar.close()
        _stop(running)
    return walls


def _stop(running: dict[str, tuple[subprocess.Popen, Any, Path, float]]) -> None:
    """SIGTERM every chapter still running (each kills its kernel), then wait for them."""
    for proc, *_ in running.values():
        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGTERM)
    for proc, out, *_ in running.values():
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
