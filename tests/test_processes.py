"""The `orbitnet` command under stress: killed, interrupted, failing, run twice at once.

Issue 13 items 3 (notices on the command line), 5, 6 and 7, on a toy book of real MyST
notebooks executed by a real kernel (``tests/toybook.py``).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import toybook

from orbitnet.book import cli, execution, runner
from orbitnet.data import paths
from orbitnet.store.locks import locked

TOYBOOK = Path(toybook.__file__)


@pytest.fixture
def book(tmp_path, monkeypatch):
    toybook.write_notebook(tmp_path / "notebooks" / "90_ok.md", [
        "from orbitnet.book.results import write_results\n"
        "summary = write_results('90_ok', {'y': x * 2})"])
    toybook.write_notebook(tmp_path / "notebooks" / "91_partial.md", [
        "from orbitnet.book.results import write_results\nwrite_results('91_partial', {'y': 1})",
        "raise RuntimeError('fails after writing its results')"])
    toybook.configure(tmp_path, monkeypatch.setattr)
    return tmp_path


def _quiet(*_):
    pass


def _wait_for(check, seconds: float, what: str):
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def _alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _spawn(root: Path, chapter: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(runner.__file__).parents[2]), str(TOYBOOK.parent),
         os.environ.get("PYTHONPATH", "")])}
    # as from a terminal: a shell running the tests in the background ignores SIGINT, and the
    # child would inherit that (Python then installs no KeyboardInterrupt handler)
    return subprocess.Popen([sys.executable, str(TOYBOOK), str(root), chapter], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


# --- item 6: results only from chapters that succeed; the book needs every chapter -------


def test_results_reach_build_results_only_when_the_chapter_succeeds(book):
    runner.run_chapter("90_ok", profile="quick", progress=False, log=_quiet)
    res = json.loads(paths.results_path("90_ok").read_text())
    assert res["y"] == 10 and res["provenance"]["parameters"] == {
        "profile": "quick", "x": 5, "name": "a"}
    with pytest.raises(runner.ChapterError, match="fails after writing its results"):
        runner.run_chapter("91_partial", progress=False, log=_quiet)
    assert not paths.results_path("91_partial").exists()
    assert sorted(p.name for p in paths.RESULTS.iterdir()) == ["90_ok.json", "90_ok.run.json"]


def _html_state() -> dict[str, int]:
    """Every file of the HTML book with its modification time (empty when there is none)."""
    if not paths.HTML.exists():
        return {}
    return {str(f): f.stat().st_mtime_ns for f in paths.HTML.rglob("*")}


def test_build_only_with_a_chapter_missing_names_it(book, capfd):
    runner.run_chapter("90_ok", progress=False, log=_quiet)
    html = _html_state()  # a checkout may hold an earlier book: it must stay untouched
    assert cli.main(["book", "--build-only"]) == 2
    err = capfd.readouterr().err
    assert "91_partial" in err and "orbitnet chapter 91_partial" in err and "90_ok," not in err
    assert _html_state() == html


# --- item 3: a recomputation is announced on the command's stderr ------------------------


def test_cache_notices_reach_the_command_line(book, capfd, monkeypatch):
    toybook.write_notebook(book / "notebooks" / "92_corrupt.md", [
        "import numpy as np\nfrom orbitnet.store.artifacts import cached\n"
        f"p = __import__('pathlib').Path(r'{book}') / 'x.h5'\n"
        "cached(p, {'a': 1}, {}, lambda: {'y': np.zeros(3)})\n"
        "p.write_bytes(p.read_bytes()[:300])\n"
        "out = cached(p, {'a': 1}, {}, lambda: {'y': np.ones(3)})"])
    toybook.configure(book, monkeypatch.setattr)
    runner.run_chapter("92_corrupt", progress=False, log=_quiet)
    err = capfd.readouterr().err
    assert "orbitnet (92_corrupt): " in err and "x.h5 is unreadable" in err
    assert "recomputing it" in err


# --- item 7: one run at a time per checkout -------------------------------------------------


def test_a_second_run_is_refused_naming_the_first(book):
    ready = book / "ready"
    proc = mp.get_context("spawn").Process(
        target=_hold, args=(str(execution.lock_path()), str(ready)))
    proc.start()
    try:
        _wait_for(ready.exists, 60, "the other run to take the lock")
        with pytest.raises(runner.ChapterError,
                           match=rf"another run holds .*locks/run\.lock \(pid {proc.pid}, chapter 90"):
            runner.run_chapter("90_ok", progress=False, log=_quiet)
        assert not (paths.CHAPTERS_OUT / "90_ok.ipynb").exists()
    finally:
        proc.terminate()
        proc.join(10)
    runner.run_chapter("90_ok", progress=False, log=_quiet)  # free again


def _hold(lock: str, ready: str) -> None:
    with locked(lock, what="chapter 90_ok"):
        Path(ready).write_text("held")
        time.sleep(60)


# --- item 5: SIGKILL and Ctrl-C leave nothing behind --------------------------------------


def _start_with_kernel(book, name: str, body: str) -> tuple[subprocess.Popen, int]:
    """Run a toy chapter whose cell writes its kernel's pid, then ``body``; return the
    ``orbitnet`` process and the kernel's pid once it runs (the process is killed on failure)."""
    pidfile = book / "kernel.pid"
    toybook.write_notebook(book / "notebooks" / f"{name}.md", [
        f"import os, pathlib, time\npathlib.Path(r'{pidfile}').write_text(str(os.getpid()))\n"
        + body])
    proc = _spawn(book, name)
    try:
        return proc, int(_wait_for(lambda: pidfile.exists() and pidfile.read_text(), 120,
                                   "the kernel to start"))
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


@pytest.mark.slow
def test_sigkill_of_the_process_group_leaves_no_workers_or_connection_files(book):
    proc, kernel = _start_with_kernel(
        book, "93_pool", "from orbitnet.fit.sweep import _pool_map\n"
        "for _ in _pool_map(time.sleep, 40, {}, 2, 'sleep', False):\n    pass")
    try:
        workers = _wait_for(lambda: len(_children(kernel)) >= 2 and _children(kernel), 60,
                            "the pool workers")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        _wait_for(lambda: not any(_alive(p) for p in [kernel, *workers]), 15,
                  f"kernel {kernel} and workers {workers} to exit")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert list((book / "build" / ".kernels").glob("kernel-*.json")) == []


@pytest.mark.slow
def test_ctrl_c_prints_one_line_and_writes_nothing(book):
    proc, kernel = _start_with_kernel(
        book, "94_sleep", "from orbitnet.book.results import write_results\n"
        "write_results('94_sleep', {'started': True})\ntime.sleep(120)")
    try:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == cli.INTERRUPTED
    assert "Traceback" not in err
    _wait_for(lambda: not _alive(kernel), 15, "the kernel to exit")
    assert not (book / "build" / "results" / "94_sleep.json").exists()
    assert not list((book / "out").glob("*94_sleep*"))
    assert list((book / "build" / ".kernels").glob("kernel-*.json")) == []


# --- issue 22 #8: no "running over TCP without encryption" on every chapter ----------------


def test_the_kernel_talks_over_owner_only_ipc_sockets_and_says_nothing(book, capfd):
    runner.run_chapter("90_ok", progress=False, log=_quiet)
    err = capfd.readouterr().err
    assert "without encryption" not in err and "WARNING" not in err
    kernels = execution.kernels_dir()
    assert kernels.stat().st_mode & 0o777 == 0o700  # jupyter_client adds the sticky bit
    assert list(kernels.iterdir()) == []  # no connection file, no socket left behind
