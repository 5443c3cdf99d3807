"""Chapter 2: orbit libraries — timings, summaries and the engine beside DYNAMITE."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.cube import (
    OrbitModels,
    build_orbit_models,
    engine_library,
    family_counts,
    run_name,
    weight_problem,
)
from orbitnet.fit.sweep import nearest_index
from orbitnet.orblib.library import OrbitLibrary


def time_chain(galaxy: Galaxy, library: OrbitLibrary, ml: float = 5.0,
               repeat: int = 10) -> dict[str, float]:
    """Mean seconds of one GH projection and of one weight solve (``repeat`` runs each)."""
    from orbitnet.fit.gh import gh_per_orbit

    k = galaxy.kinematics
    gh_per_orbit(library, k.v, k.sigma, ml)  # first call builds a cached layout
    t0 = time.perf_counter()
    for _ in range(repeat):
        gh = gh_per_orbit(library, k.v, k.sigma, ml)
    t_gh = (time.perf_counter() - t0) / repeat
    problem = weight_problem(galaxy, library)
    t0 = time.perf_counter()
    for _ in range(repeat):
        problem.solve(gh)
    t_solve = (time.perf_counter() - t0) / repeat
    return {"gh_seconds": t_gh, "solve_seconds_per_model": t_solve}


def summary(orbit_models: OrbitModels, library: OrbitLibrary, source: str, read_seconds: float,
            timing: dict[str, float], ml_show: float) -> dict[str, Any]:
    """Chapter 2's headline numbers (``build/results/02_orbit_libraries.json``)."""
    fit, fit_chi2 = orbit_models.fit, orbit_models.fit_chi2
    i_show = nearest_index(orbit_models.ml, ml_show)
    gh = orbit_models.gh[i_show]
    return {
        "source": source,
        "ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
        "ml_1sigma": list(fit.ml_1sigma), "ml_2sigma": list(fit.ml_2sigma),
        "kinchi2_min": fit.chi2_min,
        "chi2": {"ml_best": fit_chi2.ml_best, "ml_best_refined": fit_chi2.ml_best_refined,
                 "ml_1sigma": list(fit_chi2.ml_1sigma), "ml_2sigma": list(fit_chi2.ml_2sigma),
                 "chi2_min": fit_chi2.chi2_min},
        "level_1sigma": fit.levels[0], "level_2sigma": fit.levels[1], "n_kin": fit.n_kin,
        "solve_seconds_per_model": timing["solve_seconds_per_model"],
        "gh_seconds": timing["gh_seconds"], "read_seconds": read_seconds,
        "sweep_seconds": float(orbit_models.attrs.get("sweep_seconds", np.nan)),
        "n_models": int(orbit_models.ml.size), "n_orbits": library.n_orbits,
        "n_tube": library.n_tube, "n_bins": library.n_bins, "n_vel": library.n_vel,
        "ml_library": library.ml_library, "ml_first": float(orbit_models.ml[0]),
        "ml_last": float(orbit_models.ml[-1]), "ml_show_value": float(orbit_models.ml[i_show]),
        "zero_fraction": float(np.mean(gh == 0)),
        "twin_correlation": twin_correlation(library, gh),
    }


def twin_correlation(library: OrbitLibrary, gh: np.ndarray) -> list[float]:
    """Correlation of each coefficient between tube orbits and their flipped twins."""
    if library.twin_index is None:
        return []
    parents = np.flatnonzero(~library.is_box & ~library.is_flipped)
    twins = library.twin_index[parents]
    return [float(np.corrcoef(gh[parents, :, k].ravel(), gh[twins, :, k].ravel())[0, 1])
            for k in range(gh.shape[-1])]


def family_table(library: OrbitLibrary):
    """:func:`family_counts` as a two-column astropy Table."""
    from astropy.table import Table

    counts = family_counts(library)
    return Table({"orbits": list(counts), "number": list(counts.values())})


def engine_summary(engine_models: OrbitModels | None, library: OrbitLibrary | None,
                   reference: OrbitModels | None = None) -> dict[str, Any]:
    """The ``engine`` block of Chapter 2's results (and the comparison with DYNAMITE)."""
    keys = ("ml_best", "ml_best_refined", "ml_1sigma", "ml_2sigma", "kinchi2_min",
            "library_seconds", "n_orbits", "max_abs_dE_over_E")
    if engine_models is None or library is None:
        return dict.fromkeys(keys)
    fit = engine_models.fit
    timings = library.meta.get("timings", {})
    out = {
        "ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
        "ml_1sigma": list(fit.ml_1sigma), "ml_2sigma": list(fit.ml_2sigma),
        "kinchi2_min": fit.chi2_min,
        "library_seconds": float(timings.get("total_s", np.nan)),
        "n_orbits": library.n_orbits,
        "max_abs_dE_over_E": float(library.meta.get("max_abs_dE_over_E", np.nan)),
    }
    if reference is not None and reference is not engine_models:
        out["ml_best_minus_dynamite"] = fit.ml_best - reference.fit.ml_best
        out["ml_best_refined_minus_dynamite"] = (fit.ml_best_refined
                                                 - reference.fit.ml_best_refined)
    return out


def engine_side(galaxy: Galaxy, orbit_models: OrbitModels, library: OrbitLibrary, source: str,
                enabled: bool, ml: np.ndarray, n_jobs: int | None = None, progress: bool = True
                ) -> tuple[OrbitLibrary | None, OrbitModels | None]:
    """The engine's library and cube: the primary ones when the engine is the source, a
    second cube beside DYNAMITE's when ``enabled``, else ``(None, None)``."""
    if source == "engine":
        return library, orbit_models
    if not enabled:
        return None, None
    lib, fp = engine_library(galaxy, progress=progress)
    path = paths.engine_cube_file(run_name(galaxy))
    cube = build_orbit_models(galaxy, lib, fp, ml=ml, n_jobs=n_jobs, progress=progress,
                              path=path, source="engine")
    return lib, cube



def halo_grid(galaxy: Galaxy, log_f: Sequence[float], orbits: Sequence[int] = (6, 5, 4),
              ml: np.ndarray | None = None, n_workers: int | None = None,
              progress: bool = True, **engine: Any):
    """Engine libraries and χ²(M/L) sweeps at halo masses log10(M200/M*) = ``log_f``, every
    other parameter at its configuration value, built by ``orbitnet grid`` (a Dask
    LocalCluster of ``n_workers``, default one per core) and cached by parameters."""
    from orbitnet.fit.grids import grid_sweeps

    if not len(log_f):
        raise ValueError("grid_log_f is empty: the halo grid needs at least one point")
    if len(orbits) != 3:
        raise ValueError(f"grid_orbits needs three numbers (n_E, n_I2, n_I3), got {orbits}")
    n_e, n_i2, n_i3 = (int(n) for n in orbits)
    return grid_sweeps(galaxy, {"f-dh": (float(min(log_f)), float(max(log_f)))}, kind="list",
                       points=[{"f-dh": float(v)} for v in log_f], ml=ml, n_workers=n_workers,
                       progress=progress, n_e=n_e, n_i2=n_i2, n_i3=n_i3, **engine)


GRID_KEYS = ("points", "ml_best", "ml_best_refined", "kinchi2_min", "workers", "wall_seconds",
             "library_seconds_median", "sweep_seconds_median", "n_orbits", "n_points",
             "log_f_text", "ml_best_text", "ml_best_first", "ml_best_last", "ml_best_shift",
             "trend", "verdict")
VERDICTS = {
    "falls": ("Dark matter and stars share the job of holding the orbits in place, so a "
              "heavier halo leaves less for the stars: M/L and the halo mass are degenerate, "
              "and no sweep over M/L alone can break that."),
    "rises": ("A heavier halo asking for more stellar mass is not what a simple sharing of "
              "the mass predicts; with libraries this small the curves are noisy, and "
              "whether the trend survives larger libraries is a question of convergence."),
    "stays put": ("Within this grid the halo barely moves the best M/L: with libraries of "
                  "this size the kinematics pin M/L more tightly than the halo shifts it."),
}


def grid_summary(grid, step: float = 0.05) -> dict[str, Any]:
    """The ``grid`` block of Chapter 2's results: points, best M/L per point, cost, and
    whether the best M/L falls, rises or stays (beyond one grid ``step``) along the halo."""
    if grid is None:
        return dict.fromkeys(GRID_KEYS)
    d = grid.to_dict()
    order = np.argsort([p["f-dh"] for p in d["points"]])
    best = [float(d["ml_best"][i]) for i in order]
    shift = best[-1] - best[0]
    trend = ("stays put" if abs(shift) < step - 1e-9 or len(best) < 2
             else "falls" if shift < 0 else "rises")
    return {"points": d["points"], "ml_best": d["ml_best"],
            "ml_best_refined": d["ml_best_refined"], "kinchi2_min": d["kinchi2_min"],
            "workers": d["workers"], "wall_seconds": d["wall_seconds"],
            "library_seconds_median": d["library_seconds_median"],
            "sweep_seconds_median": float(np.median(d["sweep_seconds"])),
            "n_orbits": int(grid.summaries[0]["n_orbits"]), "n_points": len(best),
            "log_f_text": ", ".join(f"{d['points'][i]['f-dh']:g}" for i in order),
            "ml_best_text": ", ".join(f"{b:.2f}" for b in best),
            "ml_best_first": best[0], "ml_best_last": best[-1], "ml_best_shift": shift,
            "trend": trend, "verdict": VERDICTS[trend]}


def grid_curves(grid) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """log10(M200/M*) -> (M/L, kinchi2) of each grid point."""
    from orbitnet.fit.grids import read_sweep

    out = {}
    for p, s in zip(grid.points, grid.summaries, strict=True):
        data = read_sweep(s)
        out[float(p["f-dh"])] = (data["ml"], data["kinchi2"])
    return out


def prose_numbers(library: OrbitLibrary, problem) -> dict[str, Any]:
    """Counts the chapter's prose quotes: orbit families, rows of the weight system, and
    DYNAMITE's documented timings and best fit (``orbitnet.data.dynamite_run``)."""
    from orbitnet.data.dynamite_run import dynamite_run, timings

    counts = family_counts(library)
    n_intr = int(library.intrinsic_mass_target.size)
    return {
        "n_tube_parents": counts["tube orbits (launched from the x-z plane)"],
        "n_twins": counts["their velocity-flipped twins"],
        "n_box": counts["box orbits (dropped from rest)"],
        "n_rows": int(problem.n_rows), "n_intrinsic_cells": n_intr,
        "n_aperture_rows": int(problem.n_fixed - 1 - n_intr),
        "dynamite": {**timings(), "ml_best": dynamite_run()["best_fit"]["ml_best"]},
    }
