"""Time the Chapter 2 chain: read library -> GH projection -> NNLS solve -> M/L sweep.

Run: ``.venv/bin/python benchmarks/bench_chain.py [--n-jobs N] [--repeat R]``.
Prints a table of timings, peak memory (max RSS of this process and of the worker
processes) and the best-fit M/L of the sweep.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np

from orbitnet.data import paths
from orbitnet.fit.chi2 import summarise
from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.solver import WeightProblem, observed_targets
from orbitnet.fit.sweep import ml_grid, run_sweep
from orbitnet.orblib.dynamite import read_orblib


def _kinematics() -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(paths.reference_h5(), "r") as f:
        return {k: f["kinematics"][k][()] for k in f["kinematics"]}


def _timeit(fn, repeat: int) -> tuple[float, float]:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.mean(ts)), float(np.min(ts))


def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-jobs", type=int, default=None, help="sweep workers (default: all)")
    ap.add_argument("--repeat", type=int, default=10, help="repeats of GH and solve timings")
    args = ap.parse_args()

    rows: list[tuple[str, str]] = []
    t0 = time.perf_counter()
    lib = read_orblib(paths.dynamite_run_dir())
    rows.append(("read library (2 x bz2 + FortranFile)", f"{time.perf_counter() - t0:.2f} s"))

    kin = _kinematics()
    t0 = time.perf_counter()
    gh = gh_per_orbit(lib, kin["v"], kin["sigma"], 5.0)
    rows.append(("GH projection, first call (+ layout cache)",
                 f"{1e3 * (time.perf_counter() - t0):.1f} ms"))
    mean, best = _timeit(lambda: gh_per_orbit(lib, kin["v"], kin["sigma"], 5.3), args.repeat)
    rows.append((f"GH projection (mean/min of {args.repeat})",
                 f"{1e3 * mean:.1f} / {1e3 * best:.1f} ms"))

    problem = WeightProblem(lib, *observed_targets(kin))
    mean, best = _timeit(lambda: problem.solve(gh), args.repeat)
    rows.append((f"one NNLS solve 1121x360 (mean/min of {args.repeat})",
                 f"{1e3 * mean:.1f} / {1e3 * best:.1f} ms"))

    res = run_sweep(lib, kin, ml_grid(), n_jobs=args.n_jobs, progress=False, problem=problem)
    rows.append((f"sweep of {res.ml.size} models ({res.n_jobs} processes)",
                 f"{res.seconds:.1f} s"))
    rows.append(("peak RSS main process", f"{_maxrss_mb(resource.RUSAGE_SELF):.0f} MB"))
    rows.append(("peak RSS largest worker", f"{_maxrss_mb(resource.RUSAGE_CHILDREN):.0f} MB"))

    n_kin = 4 * lib.n_bins
    for name in ("kinchi2", "chi2"):
        fit = summarise(res.ml, getattr(res, name), n_kin)
        rows.append((f"best M/L by {name} (grid / parabola)",
                     f"{fit.ml_best:.2f} / {fit.ml_best_refined:.3f}"))
        rows.append((f"  1 sigma, 2 sigma by {name}",
                     "[{:.3f}, {:.3f}], [{:.3f}, {:.3f}]".format(*fit.ml_1sigma,
                                                                 *fit.ml_2sigma)))

    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} usable cores, python {platform.python_version()}")
    width = max(len(r[0]) for r in rows)
    print(f"| {'step'.ljust(width)} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for k, v in rows:
        print(f"| {k.ljust(width)} | {v} |")


if __name__ == "__main__":
    main()
