"""Size Chapter 6: time a few runs of each method and extrapolate a profile's wall time.

Run: ``.venv/bin/python benchmarks/bench_sparse.py [--profile full|quick] [--measure-steps N]``
after Chapter 2 (it needs ``build/artifacts/ngc6278/orbit_models.h5``).

Measures, in this process on the machine as it is (the load average is printed with them):

* the weight solve, per model, with ``solve_many(warm=True)`` over 40 models on all cores;
* the PCA+GP fit at each step of the profile (offset 0);
* one DCNN training of ``--measure-steps`` gradient steps (fast recipe, k = 8, offset 3): the
  first epoch (graph building and compilation) and the seconds per gradient step after it;

and multiplies them with the counts of :func:`orbitnet.studies.sparse.plan` (runs, solves) to
estimate the profile: solves x seconds per solve + PCA+GP fits + per network (overhead +
steps x seconds per step + prediction), the networks' steps summed over every budget of the
training-budget control (the plan counts every budget at every step: an upper bound, since a
budget stops at its first step below 90 %). Nothing is written; copy the printout to
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from orbitnet.book.registry import get_chapter  # noqa: E402
from orbitnet.data import paths  # noqa: E402
from orbitnet.data.galaxy import load_galaxy  # noqa: E402
from orbitnet.fit import cube  # noqa: E402
from orbitnet.fit.solver import gh_errors  # noqa: E402
from orbitnet.fit.sweep import solve_many  # noqa: E402
from orbitnet.judge import subsets  # noqa: E402
from orbitnet.studies import sparse  # noqa: E402


def profile(name: str) -> dict:
    """Chapter 6's parameters in profile ``name``."""
    return get_chapter("06_sparse").profile(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full", choices=("full", "quick"))
    ap.add_argument("--measure-steps", type=int, default=150)
    ap.add_argument("--solves", type=int, default=40)
    args = ap.parse_args()
    prof = profile(args.profile)
    gal = load_galaxy()
    orbit_models = cube.read_models(paths.artifacts_dir() / "orbit_models.h5")
    library, _, _, _ = cube.load_library(cube.source_of(orbit_models), None, gal, progress=False)
    problem = cube.weight_problem(gal, library)
    print(f"profile {args.profile}: {prof}")
    print(f"load average before: {os.getloadavg()}, cores: {len(os.sched_getaffinity(0))}")

    t0 = time.perf_counter()
    solve_many(problem, orbit_models.gh[60:60 + args.solves], progress=False, warm=True)
    t_solve = (time.perf_counter() - t0) / args.solves
    print(f"weight solve (warm-started chunks, as in evaluate): {t_solve:.3f} s per model "
          f"({args.solves} models, all cores)")

    limits = sparse.offset_limits(prof["offsets"], prof["pca_offsets"],
                                  prof["network_offsets"])
    nets = dict.fromkeys(sparse.DCNN_RECIPES, prof["network_steps"])
    todo = sparse.plan(orbit_models.ml.size, prof["steps"], prof["methods"], prof["seeds"],
                       limits, nets, prof["budgets"])
    estimate = {m: p["solves"] * t_solve for m, p in todo.items()}

    if "pca_gp" in todo:
        from orbitnet.emulators.baselines import PCAGaussianProcess

        fits = 0.0
        for k in todo["pca_gp"]["steps"]:
            train = subsets.every_kth(orbit_models.ml.size, k, 0)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                PCAGaussianProcess(err=gh_errors(problem)).fit(orbit_models.ml[train],
                                                               orbit_models.gh[train])
            dt = time.perf_counter() - t0
            n = len(sparse.method_offsets("pca_gp", k, limits))
            print(f"PCA+GP fit, k = {k} ({train.size} models): {dt:.1f} s; {n} offsets")
            fits += n * dt
        estimate["pca_gp"] += fits

    for method in ("dcnn", "dcnn_thesis"):
        if method not in todo:
            continue
        from orbitnet.emulators.cache import train_or_load
        from orbitnet.emulators.recipes import get_recipe

        recipe = get_recipe(sparse.DCNN_RECIPES[method])
        steps = args.measure_steps
        job = replace(sparse.network_job(method, orbit_models.ml.size, 8, 3, 0, steps),
                      out_dir=paths.artifacts_dir() / "bench" / f"{method}_{steps}")
        train, epochs = np.asarray(job.train_idx), job.epochs
        t0 = time.perf_counter()
        emu = train_or_load(orbit_models, problem, progress=False, **job.kwargs())
        t_train = time.perf_counter() - t0
        per_epoch = train.size // recipe.batch_size + (train.size % recipe.batch_size > 0)
        first = [h["epoch_seconds"][0] for h in emu.meta["history"].values()]
        rest = [np.median(h["epoch_seconds"][1:]) for h in emu.meta["history"].values()]
        t_step = float(np.median(rest)) / per_epoch
        overhead = float(np.sum(first) - 4 * np.median(rest))
        t0 = time.perf_counter()
        emu.predict(orbit_models.ml)
        t_pred = time.perf_counter() - t0
        print(f"{method}: {epochs} epochs x {per_epoch} steps; training {t_train:.0f} s "
              f"(4 nets), first epochs {np.sum(first):.1f} s, {t_step * 1e3:.0f} ms per step "
              f"after them; prediction of 161 images {t_pred:.1f} s")
        estimate[method] += (todo[method]["runs"] * (overhead + t_pred)
                             + 4 * todo[method]["gradient_steps"] * t_step)

    total = sum(estimate.values())
    print(f"load average after: {os.getloadavg()}")
    for m, p in todo.items():
        print(f"{m:14s} runs {p['runs']:4d}  solves {p['solves']:6d}  "
              f"estimate {estimate[m] / 60:6.1f} min")
    print(f"total estimate: {total / 60:.1f} min (at the speeds measured above)")


if __name__ == "__main__":
    main()
