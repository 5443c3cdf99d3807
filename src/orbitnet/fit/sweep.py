"""Sweep M/L: GH projection and NNLS weights for every model of a grid, in parallel."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from orbitnet.fit.gh import gh_per_orbit, losvd_by_bin
from orbitnet.fit.mlgrid import ml_grid
from orbitnet.fit.solver import WeightProblem, kin_column, observed_targets
from orbitnet.orblib.library import OrbitLibrary

__all__ = ["SweepResult", "check_ml_grid", "ml_grid", "run_sweep", "solve_many"]


@dataclass
class SweepResult:
    """Per-model output of :func:`run_sweep` (models in grid order).

    Attributes
    ----------
    ml : (n,) M/L values.
    gh : (n, n_orbits, n_bins, 4) float32 per-orbit GH coefficients (None unless kept).
    chi2, kinchi2 : (n,) chi2 over all rows and over the GH rows.
    weights : (n, n_orbits) NNLS orbit weights.
    seconds : wall-clock time of the whole sweep.
    n_jobs : number of worker processes used.
    """

    ml: np.ndarray
    gh: np.ndarray | None
    chi2: np.ndarray
    kinchi2: np.ndarray
    weights: np.ndarray
    seconds: float
    n_jobs: int = 1


def nearest_index(ml: Sequence[float] | np.ndarray, value: float) -> int:
    """Index of the grid value nearest to ``value`` (the first of two equally near)."""
    grid = np.asarray(ml, dtype=float)
    if grid.size == 0:
        raise ValueError("the M/L grid is empty")
    return int(np.argmin(np.abs(grid - float(value))))


def check_ml_grid(ml: Sequence[float] | np.ndarray, name: str = "ml_grid") -> np.ndarray:
    """Return ``ml`` as a float array; raise ``ValueError`` naming ``name`` unless it is a
    non-empty, strictly increasing sequence of positive finite numbers."""
    arr = np.atleast_1d(np.asarray(ml, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be positive, got min {arr.min()}")
    if np.any(np.diff(arr) <= 0):
        i = int(np.argmax(np.diff(arr) <= 0))
        raise ValueError(
            f"{name} must be strictly increasing: {name}[{i}]={arr[i]} >= {name}[{i + 1}]="
            f"{arr[i + 1]}"
        )
    return arr


# state of the current sweep; worker processes inherit it by fork or get it in _init
_STATE: dict[str, Any] = {}


def die_with_parent(parent: int, pdeathsig: bool = True) -> None:
    """Make this (worker) process exit as soon as process ``parent`` is gone.

    A pool worker blocks on a pipe its own fork keeps open, so it would outlive a parent
    killed with SIGKILL forever. On Linux the kernel delivers SIGKILL when the parent exits
    (``PR_SET_PDEATHSIG``; only when the pool was made by the parent's main thread, since
    the signal follows the forking thread); everywhere a daemon thread checks every 0.2 s.
    """
    if pdeathsig and sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # already gone before the watch began
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="orbitnet-parent-watch", daemon=True).start()


def _init(state: dict[str, Any] | None, blas_threads: int, parent: int | None = None,
          pdeathsig: bool = False) -> None:
    if parent is not None:
        die_with_parent(parent, pdeathsig)
    if state is not None:
        _STATE.clear()
        _STATE.update(state)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(blas_threads)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


def _chain(chunk: tuple[int, int]) -> list[tuple[int, np.ndarray | None, float, float,
                                                  np.ndarray]]:
    """Solve models lo..hi-1 in M/L order, each warm-started from its neighbour's positive set."""
    from threadpoolctl import threadpool_limits

    lib, prob = _STATE["library"], _STATE["problem"]
    out, passive = [], None
    with threadpool_limits(1):  # one BLAS thread: the same rounding in every process
        for i in range(*chunk):
            gh = gh_per_orbit(lib, _STATE["v"], _STATE["sigma"], float(_STATE["ml"][i]))
            res = prob.solve(gh, warm=_STATE["solver"] == "warm", passive=passive)
            passive = res.passive
            out.append((i, gh.astype(np.float32) if _STATE["keep_gh"] else None, res.chi2,
                        res.kinchi2, res.weights))
    return out


def _chain_job(j: int) -> list:
    return _chain(_STATE["parts"][j])


def chunks(n: int, n_jobs: int, per_job: int = 4) -> list[tuple[int, int]]:
    """Contiguous (lo, hi) index ranges: one for a single job, else ``per_job`` per job."""
    k = 1 if n_jobs == 1 else min(n, per_job * n_jobs)
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def run_sweep(
    library: OrbitLibrary,
    kin: Any,
    ml_grid: Sequence[float] | np.ndarray,
    n_jobs: int | None = None,
    progress: bool = True,
    problem: WeightProblem | None = None,
    keep_gh: bool = True,
    solver: str = "scipy",
) -> SweepResult:
    """GH projection and NNLS solve for each M/L of ``ml_grid``.

    The models are solved in M/L order in contiguous chunks (one per job, or four per job
    when several run in parallel); within a chunk each NNLS starts from the previous M/L's
    positive set (:func:`orbitnet.solver.nnls_warm`), and the weights are a QR solve on the
    final positive set, so every number is independent of the chunking and equals
    ``scipy.optimize.nnls``'s solution (chi2 to ~1e-14).

    Parameters
    ----------
    library : orbit library.
    kin : observed kinematics (attributes ``v, dv, sigma, dsigma, h3, dh3, h4, dh4``).
    ml_grid : strictly increasing positive M/L values.
    n_jobs : worker processes (default: all usable cores; 1 runs in this process).
    progress : show a tqdm progress bar.
    problem : a prebuilt :class:`WeightProblem` (default: from ``kin`` with default errors).
    keep_gh : keep the per-orbit GH cube (``gh`` is None otherwise; saves its memory).
    solver : ``"scipy"`` or ``"warm"`` (see above).

    Returns
    -------
    SweepResult
    """
    ml = check_ml_grid(ml_grid, "ml_grid")
    if solver not in ("scipy", "warm"):
        raise ValueError(f"solver must be 'scipy' or 'warm', got {solver!r}")
    if problem is None:
        problem = WeightProblem(library, *observed_targets(kin))
    v, sigma = kin_column(kin, "v"), kin_column(kin, "sigma")
    n_jobs = default_jobs(ml.size, n_jobs)

    n, no, nb = ml.size, library.n_orbits, library.n_bins
    gh = np.empty((n, no, nb, 4), dtype=np.float32) if keep_gh else None
    chi2, kinchi2 = np.empty(n), np.empty(n)
    weights = np.empty((n, no))
    state = {"library": library, "problem": problem, "v": v, "sigma": sigma, "ml": ml,
             "keep_gh": keep_gh, "solver": solver}
    t0 = time.perf_counter()
    losvd_by_bin(library)  # build the cached layout once, before any fork
    parts = chunks(n, n_jobs)
    bar = tqdm(total=n, desc="M/L sweep", unit="model", disable=not progress)
    try:
        for part in _pool_map(_chain_job, len(parts), {**state, "parts": parts}, n_jobs, "",
                              False):
            for i, g, c, k, w in part:
                if keep_gh:
                    gh[i] = g
                chi2[i], kinchi2[i], weights[i] = c, k, w
            bar.update(len(part))
    finally:
        bar.close()
    return SweepResult(ml=ml, gh=gh, chi2=chi2, kinchi2=kinchi2, weights=weights,
                       seconds=time.perf_counter() - t0, n_jobs=n_jobs)


def default_jobs(n_tasks: int, n_jobs: int | None = None) -> int:
    """All usable cores by default, never more workers than tasks."""
    if n_jobs is None:
        n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    return max(1, min(int(n_jobs), n_tasks))


def _pool_map(func, n: int, state: dict[str, Any], n_jobs: int, desc: str, progress: bool):
    """Yield ``func(i)`` for i < n, in a fork pool sharing ``state``; with a progress bar."""
    bar = tqdm(total=n, desc=desc, unit="model", disable=not progress)
    _STATE.clear()
    _STATE.update(state)
    try:
        if n_jobs == 1:
            results = map(func, range(n))
            for r in results:
                bar.update()
                yield r
        else:
            if "fork" in mp.get_all_start_methods():
                ctx, init_state = mp.get_context("fork"), None  # workers inherit _STATE
            else:  # pragma: no cover - no fork on this platform: ship the state once
                ctx, init_state = mp.get_context("spawn"), state
            main = threading.current_thread() is threading.main_thread()
            with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_init,
                                     initargs=(init_state, 1, os.getpid(), main)) as pool:
                for r in pool.map(func, range(n), chunksize=max(1, n // (8 * n_jobs))):
                    bar.update()
                    yield r
    finally:
        bar.close()
        _STATE.clear()


def _solve_one(i: int) -> tuple[int, float, float, np.ndarray]:
    res = _STATE["problem"].solve(_STATE["gh"][i])
    return i, res.chi2, res.kinchi2, res.weights


def solve_many(problem: WeightProblem, gh: np.ndarray, n_jobs: int | None = None,
               progress: bool = True, desc: str = "weights") -> tuple[np.ndarray, ...]:
    """Solve the weights for each of ``gh`` (n, n_orbits, n_bins, 4), e.g. predictions.

    This is the thesis' "modified solver": the same NNLS system as the orbit models, with
    predicted per-orbit coefficients in place of the library's.

    Returns
    -------
    chi2, kinchi2 : (n,); weights : (n, n_orbits).
    """
    gh = np.asarray(gh)
    if gh.ndim != 4:
        raise ValueError(f"gh must have shape (n_models, n_orbits, n_bins, 4), got {gh.shape}")
    for g in (gh[0],):
        problem.check_gh(g)
    n = gh.shape[0]
    chi2, kinchi2 = np.empty(n), np.empty(n)
    weights = np.empty((n, problem.n_orbits))
    state = {"problem": problem, "gh": gh}
    for i, c, k, w in _pool_map(_solve_one, n, state, default_jobs(n, n_jobs), desc, progress):
        chi2[i], kinchi2[i], weights[i] = c, k, w
    return chi2, kinchi2, weights
