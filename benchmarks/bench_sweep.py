"""Time the 161-model χ²(M/L) sweep before and after the warm-started NNLS.

    .venv/bin/python benchmarks/bench_sweep.py [--library dynamite|PATH.h5] [--n-jobs 2]

"before": every model solved cold by ``scipy.optimize.nnls`` (``run_sweep``'s default),
"after": ``run_sweep(solver="warm")`` (each chunk of models in M/L order, every NNLS
warm-started from the neighbour's positive set). Both on one process (one BLAS thread) and
on ``--n-jobs`` processes; prints the timings, the largest differences of chi2 / kinchi2 / weights and the
best fit and 1σ ends of both.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from orbitnet.data import paths
from orbitnet.fit.chi2 import summarise
from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.solver import WeightProblem, observed_targets
from orbitnet.fit.sweep import _pool_map, default_jobs, ml_grid, run_sweep


def _kinematics() -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(paths.reference_h5(), "r") as f:
        return {k: f["kinematics"][k][()] for k in f["kinematics"]}


_S: dict = {}


def _cold(i: int):
    with threadpool_limits(1):
        gh = gh_per_orbit(_S["lib"], _S["kin"]["v"], _S["kin"]["sigma"], float(_S["ml"][i]))
        r = _S["problem"].solve(gh)
    return i, r.chi2, r.kinchi2, r.weights


def before(lib, kin, problem, ml, n_jobs: int):
    """Every model solved cold by scipy (the old sweep), on n_jobs processes."""
    _S.update(lib=lib, kin=kin, problem=problem, ml=ml)
    out = np.empty((ml.size, 2))
    w = np.empty((ml.size, lib.n_orbits))
    t0 = time.perf_counter()
    for i, c, k, wi in _pool_map(_cold, ml.size, dict(_S), n_jobs, "", False):
        out[i] = c, k
        w[i] = wi
    return time.perf_counter() - t0, out[:, 0], out[:, 1], w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--library", default="dynamite")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    if args.library == "dynamite":
        from orbitnet.orblib.dynamite import read_orblib

        lib = read_orblib(paths.dynamite_run_dir())
    else:
        from orbitnet.orblib.engine import load_library

        lib = load_library(args.library)
    kin = _kinematics()
    problem = WeightProblem(lib, *observed_targets(kin))
    ml = ml_grid()
    n_kin = 4 * lib.n_bins
    print(f"load average before: {os.getloadavg()}; {lib.n_orbits} orbits, {ml.size} models")
    rows = []
    for jobs in (1, default_jobs(ml.size, args.n_jobs)):
        tb, cb, kb, wb = before(lib, kin, problem, ml, jobs)
        t0 = time.perf_counter()
        res = run_sweep(lib, kin, ml, n_jobs=jobs, progress=False, problem=problem,
                        keep_gh=False, solver="warm")
        ta = time.perf_counter() - t0
        rows.append((jobs, tb, ta))
        print(f"{jobs} process(es): before (cold scipy nnls) {tb:.2f} s, after (warm) {ta:.2f} s"
              f" -> {tb / ta:.1f}x")
    print(f"max |rel diff| chi2 {np.max(np.abs(res.chi2 / cb - 1)):.1e}, kinchi2 "
          f"{np.max(np.abs(res.kinchi2 / kb - 1)):.1e}, weights "
          f"{np.max(np.abs(res.weights - wb)) / wb.max():.1e} (of max weight); positive sets "
          f"equal in {np.mean([np.array_equal(a > 0, b > 0) for a, b in zip(res.weights, wb, strict=True)]):.0%}")
    for name, k in (("before", kb), ("after", res.kinchi2)):
        f = summarise(ml, k, n_kin)
        print(f"  {name}: best {f.ml_best:.2f} (parabola {f.ml_best_refined:.6f}), 1σ "
              f"[{f.ml_1sigma[0]:.6f}, {f.ml_1sigma[1]:.6f}], kinchi2_min {f.chi2_min:.6f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
