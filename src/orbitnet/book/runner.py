"""Execute chapter notebooks with papermill and build the book with jupyter-book.

A chapter's source is the MyST Markdown notebook ``notebooks/<id>.md``; jupytext converts
it, its parameters cell is generated from the registry, and papermill executes the result
into ``book/chapters/<id>.ipynb`` (ignored by git), which the book is built from. Parameter
names the registry does not declare are rejected (papermill would inject them silently), and
a failing cell is printed with its error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orbitnet.book import execution, notebooks, registry
from orbitnet.book.params import ParameterError
from orbitnet.book.registry import PRODUCES, get_chapter, requires
from orbitnet.data import paths
from orbitnet.store.locks import Busy

HIDDEN_TAGS = ("parameters", "injected-parameters")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ChapterError(RuntimeError):
    """A chapter could not be run: bad id, bad parameter, or a failing cell."""


def notebook_path(chapter_id: str) -> Path:
    """The chapter's source, ``notebooks/<id>.md``; an unknown id or a missing file is an error."""
    get_chapter(chapter_id)
    path = notebooks.source_path(chapter_id)
    if not path.is_file():
        raise ChapterError(f"chapter {chapter_id} has no notebook at {path}")
    return path


def resolve_parameters(chapter_id: str, profile: str = "full",
                       overrides: Mapping[str, Any] | None = None,
                       force: bool = False) -> dict[str, Any]:
    """Every declared parameter: the profile's value, then ``overrides``, all checked.

    Types, ranges, choices, cross-parameter rules and memory estimates come from the
    chapter's declaration in :mod:`orbitnet.book.registry`; a bad value is a
    :class:`ChapterError` naming parameter, value and what is allowed (``force`` lets a
    value exceed the memory limit).
    """
    chapter = get_chapter(chapter_id)
    values = chapter.profile(profile)
    values.update(overrides or {})
    try:
        return chapter.validate(values, force=force)
    except ParameterError as exc:
        raise ChapterError(str(exc)) from None


def missing_prerequisites(chapter_id: str, galaxy: str = paths.GALAXY) -> list[str]:
    """What ``chapter_id`` reads but is missing, each as "<file> (run chapter <id> first)"."""
    missing = []
    for req in requires(chapter_id):
        files = [paths.results_path(req)]
        files += [paths.artifact(galaxy, name) for name in PRODUCES.get(req, ())]
        missing += [f"{f} (run chapter {req} first: `orbitnet chapter {req}`)"
                    for f in files if not f.is_file()]
    return missing


def check_prerequisites(chapter_id: str, params: Mapping[str, Any]) -> None:
    """Raise a `ChapterError` naming the chapters to run first when their outputs are missing.

    ``params`` are the resolved parameters (their ``galaxy``, if the chapter has one).
    """
    missing = missing_prerequisites(chapter_id, params.get("galaxy") or paths.GALAXY)
    if missing:
        raise ChapterError(f"chapter {chapter_id} reads what earlier chapters make, and "
                           "these are missing:\n  " + "\n  ".join(missing))


def check_scheduler_env(what: str) -> None:
    """A ``DASK_SCHEDULER_ADDRESS`` in the environment (which the chapters' grids would use)
    must answer as a Dask scheduler now, within 10 s, not at a chapter's last cell: a
    `ChapterError` naming the address otherwise."""
    from orbitnet.orblib.cluster import SCHEDULER_ENV, GridError, check_scheduler

    address = os.environ.get(SCHEDULER_ENV)
    if not address:
        return
    try:
        check_scheduler(address)
    except GridError as exc:
        raise ChapterError(f"{what}: {exc}") from None


def _tag_hidden(output: Path) -> None:
    import nbformat

    nb = nbformat.read(output, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in HIDDEN_TAGS) and "hide-cell" not in tags:
            tags.append("hide-cell")
    nbformat.write(nb, output)


def _failure_message(chapter_id: str, exc: Exception, failed: Path) -> str:
    import nbformat

    try:
        nb = nbformat.read(failed, as_version=4)
    except Exception:  # noqa: BLE001 - no notebook: the kernel did not start
        return (f"chapter {chapter_id} failed before its first cell: "
                f"{type(exc).__name__}: {str(exc)[-2000:]}")
    lines = [f"chapter {chapter_id} failed: {type(exc).__name__}"]
    errors = [(i, cell, out) for i, cell in enumerate(nb.cells)
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    if errors:
        i, cell, out = errors[0]
        tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
        lines += [f"--- failing cell {i} ---", cell.source, "--- error ---", tb[-4000:]]
    else:
        lines.append(str(exc)[-4000:])
    lines.append(f"(the partly executed notebook is {failed})")
    return "\n".join(lines)


def run_chapter(chapter_id: str, profile: str = "full",
                overrides: Mapping[str, Any] | None = None, progress: bool = True,
                log=print, force: bool = False) -> Path:
    """Execute ``notebooks/<id>.md`` into ``book/chapters/<id>.ipynb``; return that path.

    Parameters are checked before the kernel starts (:func:`resolve_parameters`); the run's
    wall time, peak memory and time per cell go to ``build/results/<id>.run.json``. One run
    per checkout at a time (another is refused naming the holder); the chapter's results
    JSON reach ``build/results/`` only when every cell succeeded.
    """
    params = resolve_parameters(chapter_id, profile, overrides, force=force)
    path = notebook_path(chapter_id)
    try:
        source = notebooks.with_parameters(notebooks.read(path), chapter_id, str(path))
    except (ValueError, SyntaxError) as exc:
        raise ChapterError(str(exc)) from None
    check_prerequisites(chapter_id, params)
    params["profile"] = profile
    check_output(f"chapter {chapter_id}")
    check_scheduler_env(chapter_id)
    try:
        with execution.run_lock(f"chapter {chapter_id}"):
            return _run_locked(chapter_id, source, profile, params, progress, log, force)
    except Busy as exc:
        raise ChapterError(f"{exc}: wait for it to finish") from None
    except OSError as exc:  # the lock or the output folders, before the kernel starts
        raise ChapterError(f"chapter {chapter_id}: {_os_error(exc)}") from None


def _os_error(exc: OSError) -> str:
    if exc.strerror is None and exc.filename is None:  # a message of ours (an unsafe lock)
        return str(exc)
    where = f"{exc.filename}: " if exc.filename else ""
    return f"cannot write {where}{exc.strerror or exc}"


def check_output(what: str) -> None:
    """A :class:`ChapterError` (one line naming the folder) unless the build and output
    folders are writable with room to spare (a read-only or full disk)."""
    try:
        execution.check_writable([paths.BUILD, paths.RESULTS, paths.CHAPTERS_OUT])
    except OSError as exc:
        raise ChapterError(f"{what}: {_os_error(exc)}") from None


def _run_locked(chapter_id: str, source, profile: str, params: dict[str, Any],
                progress: bool, log, force: bool) -> Path:
    import papermill as pm

    from orbitnet.book.record import PeakMemory, write_run_record

    paths.CHAPTERS_OUT.mkdir(parents=True, exist_ok=True)
    execution.sweep_connection_files()
    final = paths.executed_chapter(chapter_id)
    running = paths.running_chapter(chapter_id)
    failed = paths.failed_chapter(chapter_id)
    log(f"chapter {chapter_id} ({profile}): parameters {params}")
    t0, started = time.perf_counter(), time.time()
    executed = {}
    with execution.chapter_environment({"profile": profile, **params}) as staging:
        def run() -> None:
            executed["nb"] = pm.execute_notebook(
                source, str(running), parameters=params, cwd=str(paths.ROOT),
                kernel_name="python3", progress_bar=progress, log_output=False,
                kernel_manager_class=execution.ChapterKernelManager,
                on_notebook_start=execution.ChapterKernelManager.forget_connection_files)

        try:
            with PeakMemory() as memory:
                execution.execute(run, paths.notices_file(staging), chapter_id)
        except KeyboardInterrupt:
            running.unlink(missing_ok=True)
            raise
        except Exception as exc:
            if running.exists():
                os.replace(running, failed)
            raise ChapterError(_failure_message(chapter_id, exc, failed)) from exc
        _tag_hidden(running)
        execution.commit_results(staging)
        os.replace(running, final)
    if failed.exists():
        failed.unlink()
    wall = time.perf_counter() - t0
    write_run_record(chapter_id, profile, params, started, wall, memory, executed["nb"],
                     forced=force)
    log(f"chapter {chapter_id}: done in {wall:.1f} s, peak memory "
        f"{memory.peak / 2**30:.2f} GiB -> {final}")
    return final


def missing_chapters() -> list[str]:
    """Chapters of the book that have no executed notebook in ``book/chapters/``."""
    return [ch.id for ch in registry.CHAPTERS
            if not paths.executed_chapter(ch.id).is_file()]


def build_book(log=print) -> Path:
    """Generate the reproducibility appendix, run jupyter-book on the repository root; return
    the HTML folder. Every chapter must have been executed: a missing one is an error naming it.
    """
    try:
        with execution.run_lock("book build"):
            return _build_locked(log)
    except Busy as exc:
        raise ChapterError(f"{exc}: wait for it to finish") from None


def _build_locked(log) -> Path:
    missing = missing_chapters()
    if missing:
        raise ChapterError(
            "the book needs every chapter, and these have not been run: "
            + ", ".join(missing) + " (run " + "; ".join(f"`orbitnet chapter {c}`" for c in missing)
            + ", or `orbitnet book`)")
    from orbitnet.book.appendix import write_appendix

    log(f"book: appendix from the run records -> {write_appendix()}")
    exe = Path(sys.executable).parent / "jupyter-book"
    # -W: every warning (a missing glue key, a broken reference) fails the build;
    # -n: nitpicky, so references to missing targets warn; --keep-going: report them all.
    cmd = [str(exe if exe.exists() else shutil.which("jupyter-book") or "jupyter-book"),
           "build", str(paths.ROOT), "-W", "-n", "--keep-going"]
    log("book: " + " ".join(cmd))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=paths.ROOT)
    if proc.returncode != 0:
        raise ChapterError(f"jupyter-book build failed (exit {proc.returncode})")
    log(f"book: built in {time.perf_counter() - t0:.1f} s -> {paths.html_index()}")
    return paths.HTML


def book_jobs(profile: str, jobs: int | None = None) -> int:
    """Chapters a book run executes at a time: ``jobs``, else 2 for the quick profile (its
    chapters mostly use one core each) and 1 for the full one (whose chapters use every core
    and up to 5 GB each), never more than the usable cores."""
    from orbitnet.fit.sweep import default_jobs

    if jobs is None:
        jobs = default_jobs(2) if profile == "quick" else 1
    if int(jobs) < 1:
        raise ChapterError(f"--jobs must be at least 1, got {jobs}")
    return int(jobs)


def run_book(profile: str = "full", build: bool = True, log=print,
             jobs: int | None = None) -> Path:
    """Run every chapter, ``jobs`` at a time (:func:`book_jobs`; several: each in its own
    process, :mod:`orbitnet.book.schedule`), then build the book, holding the run lock
    throughout. The elapsed time of the chapters goes to ``build/book.run.json``."""
    from orbitnet.book import schedule
    from orbitnet.book.record import write_book_record

    n = book_jobs(profile, jobs)
    check_output(f"book ({profile})")
    check_scheduler_env("book")
    try:
        with execution.run_lock(f"book ({profile})"):
            t0, started = time.perf_counter(), time.time()
            if n == 1:
                for ch in registry.CHAPTERS:
                    run_chapter(ch.id, profile=profile, log=log)
            else:
                try:
                    schedule.run_concurrently(profile, n, log=log)
                except schedule.ChapterFailed as exc:
                    raise ChapterError(str(exc)) from None
            wall = time.perf_counter() - t0
            write_book_record(profile, n, [c.id for c in registry.CHAPTERS], started, wall)
            log(f"book: {len(registry.CHAPTERS)} chapters in {wall:.1f} s ({n} at a time)")
            return build_book(log=log) if build else paths.CHAPTERS_OUT
    except Busy as exc:
        raise ChapterError(f"{exc}: wait for it to finish") from None
