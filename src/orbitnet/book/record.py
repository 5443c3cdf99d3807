"""What a chapter run cost: wall time, peak memory, time per cell, and the machine it ran on.

The runner writes ``build/results/<chapter>.run.json`` after every successful chapter; the
reproducibility appendix (:mod:`orbitnet.book.appendix`) is generated from these records.
Peak memory is the largest sum, over this process and all its descendants (the notebook's
kernel and its worker pools), of the proportional set size (PSS: shared pages are split
between the processes sharing them, so forked workers are not counted twice), sampled every
``interval`` seconds.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from orbitnet.data import paths

#: Packages whose versions the appendix lists.
PACKAGES = ("numpy", "scipy", "h5py", "astropy", "matplotlib", "keras", "tensorflow",
            "scikit-learn", "numba", "galpy", "dask", "distributed", "papermill", "jupytext",
            "jupyter-book", "myst-nb", "sphinx")


def book_record_path() -> Path:
    """``build/book.run.json``: profile, chapters at a time and wall time of the last book run."""
    return paths.book_record()


def write_book_record(profile: str, jobs: int, chapters: list[str], started: float,
                      wall: float) -> Path:
    """Record a book run (:func:`book_record_path`), atomically."""
    from orbitnet.store.artifacts import write_text_atomic

    return write_text_atomic(book_record_path(), json.dumps({
        "profile": profile, "jobs": int(jobs), "chapters": list(chapters),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_seconds": round(wall, 2)}, indent=1) + "\n")


def load_book_record() -> dict[str, Any] | None:
    """The last book run's record, or None when there is none."""
    path = book_record_path()
    return json.loads(path.read_text()) if path.is_file() else None


def run_record_path(chapter_id: str) -> Path:
    """``build/results/<chapter>.run.json``."""
    return paths.run_record(chapter_id)


def _children_cpu() -> float:
    """User + system CPU seconds of this process and its reaped descendants."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class PeakMemory:
    """Context manager sampling the memory of this process tree in a background thread.

    After the block, ``peak`` is the largest PSS sum seen, ``peak_process`` the largest
    single process' RSS, ``peak_rss_sum`` the largest plain RSS sum (bytes), and ``cpu_seconds`` the CPU time this process and the
    descendants it reaped (the kernel and, through it, its workers) used meanwhile: unlike
    the wall time it hardly depends on what else shares the cores.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak = 0
        self.peak_process = 0
        self.peak_rss_sum = 0
        self.cpu_seconds = float("nan")
        self._cpu0 = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._root = psutil.Process(os.getpid())

    def sample(self) -> None:
        procs = [self._root, *self._root.children(recursive=True)]
        rss = {}
        for proc in procs:
            try:
                rss[proc] = proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        rss_sum = sum(rss.values())
        self.peak_process = max(self.peak_process, max(rss.values(), default=0))
        self.peak_rss_sum = max(self.peak_rss_sum, rss_sum)
        if rss_sum <= self.peak:
            return  # PSS <= RSS for every process: no new peak possible, skip the costly read
        pss = 0
        for proc, r in rss.items():
            try:
                pss += getattr(proc.memory_full_info(), "pss", r)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        self.peak = max(self.peak, pss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self._cpu0 = _children_cpu()
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="orbitnet-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.cpu_seconds = _children_cpu() - self._cpu0


def cell_times(nb: Any) -> list[dict[str, Any]]:
    """Seconds per executed code cell (from papermill's metadata), with its first line."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("papermill", {})
        lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")]
        first = next((ln for ln in lines if not ln.startswith(("from ", "import "))),
                     lines[0] if lines else "")
        out.append({"cell": i, "first_line": first[:100], "tags": list(cell.metadata.get(
            "tags", [])), "seconds": meta.get("duration")})
    return out


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, OS, Python and GPUs (as TensorFlow would see them)."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_model": model or "unknown", "logical_cores": psutil.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False), "usable_cores": usable,
            "memory_bytes": psutil.virtual_memory().total, "os": platform.platform(),
            "python": platform.python_version(), "gpus": gpus()}


def gpus() -> list[str]:
    """GPU names from ``nvidia-smi`` where there is one (no TensorFlow import)."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [ln.strip() for ln in out.splitlines() if ln.strip()]


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` where absent)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_run_record(chapter_id: str, profile: str, params: Mapping[str, Any], started: float,
                     wall_seconds: float, memory: PeakMemory, nb: Any,
                     forced: bool = False) -> Path:
    """Write ``build/results/<chapter>.run.json`` atomically; return its path."""
    from orbitnet.store.artifacts import write_text_atomic
    from orbitnet.store.code import git_commit

    record = {
        "chapter": chapter_id, "profile": profile, "parameters": dict(params),
        "forced": forced,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_seconds": round(wall_seconds, 2), "cpu_seconds": round(memory.cpu_seconds, 2),
        "peak_memory_bytes": memory.peak,
        "peak_process_rss_bytes": memory.peak_process,
        "peak_rss_sum_bytes": memory.peak_rss_sum,
        "load_average_1min_at_end": os.getloadavg()[0],
        "cells": cell_times(nb), "git_commit": git_commit(), "machine": machine(),
    }
    path = run_record_path(chapter_id)
    write_text_atomic(path, json.dumps(record, indent=2, default=str) + "\n")
    return path
