"""Chapter 9, "Beyond M/L": how few orbit libraries does each strategy need over (log f, q)?

A lattice of engine libraries over (log10 f, q) (M/L by rescaling each) is the truth, used
only for judging. Every strategy chooses its libraries among the lattice nodes and pays the
measured CPU seconds of each library it uses (building it and its χ²(M/L) sweep), plus its
own training and prediction:

``dynamite_grid``  DYNAMITE's LegacyGridSearch from the configuration's start values;
``quadratic``      a quadratic surface through the χ² of a Sobol design (best sampled point
                   below 6 libraries, where a quadratic in two variables is undetermined);
``gp_chi2``        a GP on χ²(log f, q) (M/L minimised per library) with expected improvement;
``cube_*``         emulators of the GH cube over (log f, q, M/L) trained on a regular
                   sub-lattice (``cube_multilinear``, ``cube_pca_gp``, ``cube_dcnn``), with
                   weights solved on predicted cubes at every lattice node.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.chi2 import best_fit, sigma_levels
from orbitnet.fit.lattice import Point, PointResult, point_problem, point_results
from orbitnet.fit.search import (
    SearchParam,
    fit_gp,
    gp_search,
    legacy_grid_search,
    n_quadratic_terms,
    quadratic_eval,
    quadratic_fit,
    quadratic_minimum,
    snap,
    sobol_design,
)
from orbitnet.fit.solver import gh_errors
from orbitnet.fit.sweep import nearest_index
from orbitnet.judge.compare import median_abs_residual_over_err
from orbitnet.judge.region import NAMES, TruthSurface

STRATEGIES = ("dynamite_grid", "quadratic", "gp_chi2", "cube_multilinear", "cube_pca_gp",
              "cube_dcnn")
CUBE_KINDS = {"cube_multilinear": "multilinear", "cube_pca_gp": "pca_gp", "cube_dcnn": "dcnn"}
SEEDED = ("quadratic", "gp_chi2", "cube_pca_gp", "cube_dcnn")
#: NGC 6278's LegacyGridSearch settings (start, step, minstep) in raw units, and its search
#: thresholds: threshold_del_chi2 = 0.1 sqrt(2 N_kin), min_delta_chi2_abs = 0.5.
DYNAMITE_START = {"log_f": (1.0, 0.5, 0.1), "q": (0.54, 0.04, 0.02)}
THRESHOLD_FRACTION = 0.1
MIN_DELTA_CHI2_ABS = 0.5


@dataclass
class Lattice:
    """Libraries on the (log_f × q) lattice, log_f slowest."""

    log_f: np.ndarray
    q: np.ndarray
    results: list[PointResult]
    grid: dict[str, Any] = field(default_factory=dict)  # how the Dask grid ran

    @property
    def n(self) -> int:
        return len(self.results)

    @property
    def points(self) -> np.ndarray:
        return np.array([[r.point.log_f, r.point.q] for r in self.results])

    @property
    def lo(self) -> np.ndarray:
        return np.array([self.log_f.min(), self.q.min()])

    @property
    def hi(self) -> np.ndarray:
        return np.array([self.log_f.max(), self.q.max()])

    def unit(self, raw: np.ndarray) -> np.ndarray:
        return (np.asarray(raw, float) - self.lo) / (self.hi - self.lo)

    def raw(self, unit: np.ndarray) -> np.ndarray:
        return self.lo + np.asarray(unit, float) * (self.hi - self.lo)

    def index(self, point: Sequence[float]) -> int:
        d = np.abs(self.points - np.asarray(point, float)).max(axis=1)
        i = int(np.argmin(d))
        if d[i] > 1e-6:
            raise ValueError(f"point {tuple(point)} is not a lattice node")
        return i

    def cost(self, idx: Sequence[int]) -> float:
        return float(sum(self.results[i].cpu_seconds for i in set(idx)))

    def truth(self, n_kin: int, floor: float = 0.0) -> TruthSurface:
        chi2 = np.stack([r.kinchi2 for r in self.results]).reshape(
            self.log_f.size, self.q.size, -1)
        return TruthSurface(self.log_f, self.q, self.results[0].ml, chi2, n_kin, floor)


def build_lattice(galaxy: Galaxy, log_f: Sequence[float], q: Sequence[float],
                  ml: Sequence[float], ml_cube: Sequence[float], engine: dict | None = None,
                  n_workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True) -> Lattice:
    """Build (or load) every library of the lattice through the Dask grid (a LocalCluster of
    ``n_workers``, or ``scheduler``); the grid's wall time and workers are in ``.grid``."""
    pts = [Point(float(a), float(b)) for a in log_f for b in q]
    res, grid = point_results(galaxy, pts, ml, ml_cube, [dict(engine or {})] * len(pts),
                              n_workers=n_workers, scheduler=scheduler, progress=progress)
    return Lattice(np.asarray(log_f, float), np.asarray(q, float), res,
                   grid={"workers": grid.workers, "wall_seconds": grid.wall_seconds,
                         "libraries_built": grid.n_built, "scheduler": grid.scheduler})


def jitter(lat: Lattice) -> dict[str, float]:
    """χ² roughness of the lattice: the median |second difference| / 2 of min-over-M/L χ²
    along log f and along q (what a smooth surface would make ~0)."""
    c = np.array([r.chi2_min for r in lat.results]).reshape(lat.log_f.size, lat.q.size)
    out = {}
    for name, axis in (("log_f", 0), ("q", 1)):
        d2 = np.diff(c, n=2, axis=axis) if c.shape[axis] > 2 else np.zeros(1)
        out[name] = float(np.median(np.abs(d2)) / 2)
    return out


# --- strategies ------------------------------------------------------------


@dataclass
class Run:
    """One strategy at one budget and seed."""

    best: dict[str, float]
    libraries: list[int]
    cpu_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _node_best(lat: Lattice, i: int) -> dict[str, float]:
    r = lat.results[i]
    return {"log_f": r.point.log_f, "q": r.point.q, "ml": r.ml_best}


def grid_start(log_f: float | None, q: float | None) -> tuple[float, float] | None:
    """(log_f, q) where DYNAMITE's grid search starts; None: the configuration's."""
    if log_f is None and q is None:
        return None
    return (DYNAMITE_START["log_f"][0] if log_f is None else float(log_f),
            DYNAMITE_START["q"][0] if q is None else float(q))


def dynamite_params(lat: Lattice, start: Sequence[float] | None = None) -> list[SearchParam]:
    """DYNAMITE's start values and steps; minstep raised to the lattice spacing (stated).
    ``start`` = (log_f, q) replaces the configuration's start values (snapped to the lattice)."""
    out = []
    for k, (name, axis) in enumerate((("log_f", lat.log_f), ("q", lat.q))):
        value, step, minstep = DYNAMITE_START[name]
        if start is not None:
            value = float(start[k])
        spacing = float(np.min(np.diff(axis))) if axis.size > 1 else step
        value = float(axis[nearest_index(axis, value)])
        step = max(step, spacing)
        out.append(SearchParam(name, value, float(axis.min()), float(axis.max()),
                               step=spacing * max(1, round(step / spacing)),
                               minstep=max(minstep, spacing)))
    return out


def run_dynamite(lat: Lattice, budget: int | None, n_kin: int,
                 start: Sequence[float] | None = None) -> Run:
    threshold = THRESHOLD_FRACTION * sigma_levels(n_kin)[0]
    tr = legacy_grid_search(dynamite_params(lat, start), lambda p: lat.results[lat.index(p)].chi2_min,
                            threshold, MIN_DELTA_CHI2_ABS, n_max_mods=budget)
    idx = [lat.index(p) for p in tr.points]
    i = idx[int(np.argmin(tr.chi2))]
    return Run(_node_best(lat, i), idx, lat.cost(idx),
               {"stopped_by": tr.stopped_by, "iterations": max(tr.iteration),
                "start": {"log_f": tr.points[0][0], "q": tr.points[0][1]}})


def _fit_ml(u: np.ndarray, ml: np.ndarray, at: np.ndarray) -> float:
    """Best M/L at unit point ``at`` from the libraries' best M/L (linear fit)."""
    a = np.column_stack([np.ones(len(u)), u])
    coef, *_ = np.linalg.lstsq(a, ml, rcond=None)
    return float(np.r_[1.0, at] @ coef)


def run_quadratic(lat: Lattice, budget: int, seed: int) -> Run:
    t0 = time.process_time()
    units = lat.unit(lat.points)
    idx = snap(sobol_design(budget, 2, seed), units)
    y = np.array([lat.results[i].chi2_min for i in idx])
    if budget < n_quadratic_terms(2):
        best = _node_best(lat, idx[int(np.argmin(y))])
        return Run(best, idx, lat.cost(idx) + time.process_time() - t0,
                   {"fallback": "best sampled"})
    scale = max(float(np.ptp(y)), 1.0)
    coef = quadratic_fit(units[idx], (y - y.min()) / scale)
    u = quadratic_minimum(coef, [0, 0], [1, 1])
    ml = _fit_ml(units[idx], np.array([lat.results[i].ml_best for i in idx]), u)
    raw = lat.raw(u)
    best = {"log_f": float(raw[0]), "q": float(raw[1]), "ml": ml}
    return Run(best, idx, lat.cost(idx) + time.process_time() - t0,
               {"min_surface": float(quadratic_eval(coef, u[None])[0] * scale + y.min())})


def run_gp(lat: Lattice, budget: int, seed: int) -> Run:
    t0 = time.process_time()
    units = lat.unit(lat.points)
    n_init = min(budget, max(2, math.ceil(budget / 2)))
    idx, vals, gp = gp_search(units, lambda i: lat.results[i].chi2_min, budget, n_init, seed)
    g = np.linspace(0, 1, 41)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    u = grid[int(np.argmin(gp.predict(grid)))]
    ml_gp = fit_gp(units[idx], [lat.results[i].ml_best for i in idx], seed=seed)
    raw = lat.raw(u)
    best = {"log_f": float(raw[0]), "q": float(raw[1]), "ml": float(ml_gp.predict(u[None])[0])}
    return Run(best, idx, lat.cost(idx) + time.process_time() - t0, {"n_init": n_init})


def subgrid(lat: Lattice, budget: int) -> list[int]:
    """A regular n_a × n_b sub-lattice with n_a n_b = budget, spread evenly over the lattice
    (the design a multilinear interpolation needs); aspect closest to the lattice's."""
    na, nb = lat.log_f.size, lat.q.size
    shapes = [(a, budget // a) for a in range(2, na + 1)
              if budget % a == 0 and 2 <= budget // a <= nb]
    if not shapes:
        raise ValueError(f"no regular sub-lattice of {budget} libraries fits {na} × {nb}")
    a, b = min(shapes, key=lambda s: (abs(math.log(s[0] / s[1]) - math.log(na / nb)), s))
    ia = np.unique(np.round(np.linspace(0, na - 1, a)).astype(int))
    ib = np.unique(np.round(np.linspace(0, nb - 1, b)).astype(int))
    return [int(i * nb + j) for i in ia for j in ib]


def held_out(lat: Lattice, train: Sequence[int]) -> list[int]:
    """Lattice nodes not in the training set (where held-out residuals are measured)."""
    return sorted(set(range(lat.n)) - set(int(i) for i in train))


def _emulator(kind: str, err: np.ndarray, seed: int, dcnn: dict[str, Any]):
    from orbitnet.emulators.param_cube import ConditionedDCNN, CubePCAGP, Multilinear

    if kind == "multilinear":
        return Multilinear()
    if kind == "pca_gp":
        return CubePCAGP(err, seed=seed)
    return ConditionedDCNN(err, seed=seed, **dcnn)


def run_cube(lat: Lattice, galaxy: Galaxy, kind: str, budget: int, seed: int,
             ml_stride: int = 2, dcnn: dict[str, Any] | None = None) -> Run:
    """Train on a sub-lattice, predict every node's cube, solve weights, pick the minimum."""
    from orbitnet.emulators.param_cube import interpolate_rows
    from orbitnet.fit.sweep import solve_many

    train = subgrid(lat, budget)
    test = held_out(lat, train)
    ml_c = lat.results[0].ml_cube
    ml_e = ml_c[::ml_stride]
    r0 = lat.results[train[0]]
    problem0 = point_problem(galaxy, r0.intrinsic_mass, r0.aperture_mass, r0.intrinsic_target,
                             r0.aperture_target)
    err = gh_errors(problem0)
    t0 = time.process_time()
    x = np.array([[lat.results[i].point.log_f, lat.results[i].point.q, m]
                  for i in train for m in ml_c])
    y = np.concatenate([lat.results[i].gh for i in train])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        em = _emulator(kind, err, seed, dcnn or {}).fit(x, y)
    train_cpu = time.process_time() - t0
    t1 = time.process_time()
    pts = lat.points
    intr = interpolate_rows(pts[train], np.stack([lat.results[i].intrinsic_mass
                                                  for i in train]), pts)
    aper = interpolate_rows(pts[train], np.stack([lat.results[i].aperture_mass
                                                  for i in train]), pts)
    chi2 = np.empty((lat.n, ml_e.size))
    resid = []
    for n, r in enumerate(lat.results):
        xq = np.column_stack([np.full(ml_e.size, r.point.log_f), np.full(ml_e.size, r.point.q),
                              ml_e])
        pred = em.predict(xq)
        prob = point_problem(galaxy, intr[n], aper[n], r.intrinsic_target, r.aperture_target)
        _, kin, _ = solve_many(prob, pred, n_jobs=1, progress=False)
        chi2[n] = kin
        if n in test:
            resid.append((pred, r.gh[::ml_stride]))
    pred_cpu = time.process_time() - t1
    n_best = int(np.argmin(chi2.min(axis=1)))
    rb = lat.results[n_best]
    best = {"log_f": rb.point.log_f, "q": rb.point.q, "ml": best_fit(ml_e, chi2[n_best])[1]}
    heldout = None
    if resid:
        heldout = median_abs_residual_over_err(np.concatenate([p for p, _ in resid]),
                                               np.concatenate([t for _, t in resid]), err)
    return Run(best, train, lat.cost(train) + train_cpu + pred_cpu,
               {"heldout": heldout, "train_cpu": train_cpu, "predict_cpu": pred_cpu,
                "held_out": test, "chi2_surface": chi2.min(axis=1).tolist()})


def run_strategy(name: str, lat: Lattice, galaxy: Galaxy, budget: int, seed: int, n_kin: int,
                 dcnn: dict[str, Any] | None = None,
                 grid_start: Sequence[float] | None = None) -> Run:
    if name == "dynamite_grid":
        return run_dynamite(lat, budget, n_kin, grid_start)
    if name == "quadratic":
        return run_quadratic(lat, budget, seed)
    if name == "gp_chi2":
        return run_gp(lat, budget, seed)
    if name in CUBE_KINDS:
        return run_cube(lat, galaxy, CUBE_KINDS[name], budget, seed, dcnn=dcnn)
    raise ValueError(f"unknown strategy {name!r}; choose from {STRATEGIES}")


# --- the study ---------------------------------------------------------------


def summarise_runs(runs: list[Run], truth: TruthSurface) -> dict[str, Any]:
    judged = [truth.judge(r.best) for r in runs]
    out = {
        "frac_inside_1sigma": float(np.mean([j["inside"] for j in judged])),
        "best_median": {n: float(np.median([r.best[n] for r in runs])) for n in NAMES},
        "libraries_used": float(np.median([len(set(r.libraries)) for r in runs])),
        "cpu_seconds": float(np.median([r.cpu_seconds for r in runs])),
        "distance_median": float(np.median([j["distance"] for j in judged])),
        "n_runs": len(runs),
    }
    held = [r.extra.get("heldout") for r in runs if "heldout" in r.extra]
    if held:
        vals = [h for h in held if h is not None]
        out["median_abs_heldout_residual_over_err"] = float(np.median(vals)) if vals else None
    return out


def min_libraries(per_budget: dict[str, dict[str, Any]], frac: float = 0.9) -> float | None:
    """The smallest budget whose runs reach the truth's region in >= ``frac`` of seeds, and
    keep doing so at every larger budget; None if no budget does."""
    budgets = sorted(per_budget, key=int)
    ok = [per_budget[b]["frac_inside_1sigma"] >= frac for b in budgets]
    for k, b in enumerate(budgets):
        if all(ok[k:]):
            return per_budget[b]["libraries_used"]
    return None


def run_study(lat: Lattice, galaxy: Galaxy, budgets: Sequence[int], seeds: Sequence[int],
              strategies: Sequence[str], floor: float,
              dcnn: dict[str, Any] | None = None, dcnn_budgets: Sequence[int] | None = None,
              dcnn_seeds: Sequence[int] | None = None, progress: bool = True,
              grid_start: Sequence[float] | None = None
              ) -> tuple[dict[str, Any], dict[str, dict[str, list[Run]]]]:
    """Every strategy at every budget (and seed, for the randomised ones), judged;
    ``grid_start`` = (log_f, q) starts DYNAMITE's grid search elsewhere than its config."""
    from tqdm.auto import tqdm

    n_kin = 4 * galaxy.n_bins
    truth = lat.truth(n_kin, floor)
    runs: dict[str, dict[str, list[Run]]] = {}
    jobs = []
    for name in strategies:
        for b in budgets:
            if b > lat.n or (name == "cube_dcnn" and dcnn_budgets is not None
                             and b not in dcnn_budgets):
                continue
            if name in CUBE_KINDS:
                try:
                    subgrid(lat, b)
                except ValueError:
                    continue
            run_seeds = seeds if name in SEEDED else seeds[:1]
            if name == "cube_dcnn" and dcnn_seeds is not None:
                run_seeds = dcnn_seeds
            for s in run_seeds:
                jobs.append((name, b, s))
    for name, b, s in tqdm(jobs, desc="strategies", disable=not progress):
        run = run_strategy(name, lat, galaxy, b, s, n_kin, dcnn=dcnn, grid_start=grid_start)
        runs.setdefault(name, {}).setdefault(str(b), []).append(run)
    summary = {name: {b: summarise_runs(rs, truth) for b, rs in per.items()}
               for name, per in runs.items()}
    converged = run_dynamite(lat, None, n_kin, grid_start)
    results = {
        "truth": truth_summary(lat, truth),
        "strategies": summary,
        "min_libraries_90pct_1sigma": {n: min_libraries(per) for n, per in summary.items()},
        "dynamite_grid_converged": {"libraries": len(set(converged.libraries)),
                                    "best": converged.best,
                                    "cpu_seconds": converged.cpu_seconds,
                                    **converged.extra},
    }
    results["verdict"] = verdict(results)
    return results, runs


def truth_summary(lat: Lattice, truth: TruthSurface) -> dict[str, Any]:
    cpu = [r.library_seconds for r in lat.results]
    sweep = [r.sweep_seconds for r in lat.results]
    return {
        "best": truth.best,
        "n_libraries": lat.n,
        "region_1sigma": truth.extents(),
        "region_strict_1sigma": truth.extents(truth.sigma1),
        "level": truth.level,
        "level_kind": truth.level_kind,
        "sigma1": truth.sigma1,
        "floor": float(truth.floor),
        "chi2_min": float(truth.chi2.min()),
        "lattice": {"log_f": lat.log_f.tolist(), "q": lat.q.tolist()},
        "library_cpu_seconds_median": float(np.median(cpu)),
        "sweep_cpu_seconds_median": float(np.median(sweep)),
        "cpu_seconds_total": float(sum(cpu) + sum(sweep)),
        "jitter": jitter(lat),
    }


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    """Winner and the goal's answer, chosen from the numbers."""
    mins = results["min_libraries_90pct_1sigma"]
    strat = results["strategies"]

    def cost(name: str) -> float:
        n = mins.get(name)
        if n is None:
            return math.inf
        per = strat[name]
        b = min((k for k in per if per[k]["libraries_used"] >= n), key=int)
        return per[b]["cpu_seconds"]

    reached = {n: (mins[n], cost(n)) for n in mins if mins[n] is not None}
    winner = min(reached, key=lambda n: (reached[n][1], reached[n][0])) if reached else None
    grid = mins.get("dynamite_grid")
    nets = [n for n in ("cube_dcnn",) if n in reached]
    goal = False
    if grid is not None and nets:
        goal = any(reached[n][0] <= grid / 3 and reached[n][1] < cost("dynamite_grid")
                   for n in nets)
    no_network = [n for n in reached if n != "cube_dcnn"]
    best_plain = min(no_network, key=lambda n: (reached[n][1], reached[n][0])) if (
        no_network) else None
    return {"winner": winner, "winner_cpu_seconds": reached[winner][1] if winner else None,
            "winner_libraries": reached[winner][0] if winner else None,
            "network_meets_goal": goal, "best_without_network": best_plain,
            "network_reaches_region": "cube_dcnn" in reached}


# --- library convergence (item 0) -------------------------------------------------


def convergence(galaxy: Galaxy, lat: Lattice, ml: Sequence[float], ml_cube: Sequence[float],
                engine: dict | None, seeds: Sequence[int], large: Sequence[int],
                dithering: int,
                n_workers: int | None = None, scheduler: str | None = None
                ) -> dict[str, Any]:
    """Best fit and χ² against library size, seed and dithering at the lattice node nearest
    DYNAMITE's start (``ref``) and its lower neighbour in log f (``nbr``).

    ``large`` = (n_e, n_i2, n_i3) of a larger library (empty: skip), ``dithering`` > 1 a
    dithered build at ``ref`` (0: skip). The extra libraries are built together on one Dask
    grid (cached like the lattice's).
    """
    engine = dict(engine or {})
    i_ref = nearest_index(lat.log_f, DYNAMITE_START["log_f"][0])
    j_ref = nearest_index(lat.q, DYNAMITE_START["q"][0])
    ref = lat.results[i_ref * lat.q.size + j_ref]
    i_nbr = i_ref - 1 if i_ref > 0 else i_ref + 1
    nbr = lat.results[i_nbr * lat.q.size + j_ref]
    n_lib = 3 * engine.get("n_e", 6) * engine.get("n_i2", 5) * engine.get("n_i3", 4)

    def row(label: str, r: PointResult, n_orbits: int, seed: int | str) -> dict[str, Any]:
        return {"label": label, "n_orbits": n_orbits, "log_f": r.point.log_f, "q": r.point.q,
                "seed": seed, "chi2_min": r.chi2_min, "ml_best": r.ml_best,
                "cpu_seconds": r.cpu_seconds}

    jobs: list[tuple[Point, dict]] = [(ref.point, {"seed": int(s)}) for s in seeds]
    if large:
        n_e, n_i2, n_i3 = (int(v) for v in large)
        over = {"n_e": n_e, "n_i2": n_i2, "n_i3": n_i3}
        jobs += [(ref.point, over), (nbr.point, over)]
    if dithering and dithering > 1:
        jobs.append((ref.point, {"dithering": int(dithering)}))
    built: list[PointResult] = []
    if jobs:
        built, _ = point_results(galaxy, [p for p, _ in jobs], ml, ml_cube,
                                 [{**engine, **o} for _, o in jobs], n_workers=n_workers,
                                 scheduler=scheduler, desc="convergence libraries")
    extra = iter(built)

    base_seed = engine.get("seed", "default")
    rows = [row("chapter", ref, n_lib, base_seed), row("chapter", nbr, n_lib, base_seed)]
    for s in seeds:
        rows.append(row("chapter, other seed", next(extra), n_lib, int(s)))
    out: dict[str, Any] = {}
    if large:
        big = [next(extra), next(extra)]
        rows += [row("larger", r, 3 * n_e * n_i2 * n_i3, base_seed) for r in big]
        out["large"] = {"n_orbits": 3 * n_e * n_i2 * n_i3,
                        "ml_best_ref": big[0].ml_best, "ml_best_nbr": big[1].ml_best,
                        "neighbour_jump": abs(big[0].chi2_min - big[1].chi2_min),
                        "cpu_seconds_per_library": float(np.mean([b.cpu_seconds
                                                                  for b in big]))}
    if dithering and dithering > 1:
        d = next(extra)
        rows.append(row(f"dithering {dithering}", d, n_lib, base_seed))
        out["dithered"] = {"dithering": int(dithering), "chi2_min": d.chi2_min,
                           "ml_best": d.ml_best, "cpu_seconds": d.cpu_seconds}
    at_ref = [r["chi2_min"] for r in rows if r["log_f"] == ref.point.log_f
              and r["label"].startswith("chapter")]
    ml_ref = [r["ml_best"] for r in rows if r["log_f"] == ref.point.log_f
              and r["label"].startswith("chapter")]
    out.update({
        "rows": rows,
        "n_orbits": n_lib,
        "ref": {"log_f": ref.point.log_f, "q": ref.point.q},
        "nbr": {"log_f": nbr.point.log_f, "q": nbr.point.q},
        "ml_best_ref": ref.ml_best,
        "seed_scatter": float(np.std(at_ref, ddof=1)) if len(at_ref) > 1 else None,
        "seed_ml_scatter": float(np.std(ml_ref, ddof=1)) if len(ml_ref) > 1 else None,
        "neighbour_jump": abs(ref.chi2_min - nbr.chi2_min),
        "jitter": jitter(lat),
        "sigma1": sigma_levels(4 * galaxy.n_bins)[0],
    })
    return out


def library_floor(conv: dict[str, Any]) -> float:
    """The χ² noise of the chapter's libraries: the larger of the seed-to-seed scatter and
    the lattice's neighbour jitter (median along log f and q)."""
    parts = [conv.get("seed_scatter") or 0.0, *conv["jitter"].values()]
    return float(max(parts))


# --- the chapter's numbers and sentences --------------------------------------------


def engine_overrides(galaxy: Galaxy, **settings: Any) -> dict[str, Any]:
    """The engine settings that differ from the galaxy's defaults (so that the default
    library keeps its cache key)."""
    from orbitnet.orblib.engine.build import EngineConfig

    c = galaxy.constants
    default = {"n_e": c.n_e, "n_i2": c.n_i2, "n_i3": c.n_i3,
               "n_periods": float(c.orbital_periods), "n_samples": EngineConfig().n_samples}
    return {k: v for k, v in settings.items()
            if v is not None and (k not in default or v != default[k])}


def sentences(res: dict[str, Any]) -> dict[str, str]:
    """Verdict sentences chosen from the numbers."""
    v, conv, truth = res["verdict"], res["convergence"], res["truth"]
    mins = res["min_libraries_90pct_1sigma"]
    grid = mins.get("dynamite_grid")
    out = {}
    if v["winner"] is None:
        out["winner"] = ("No strategy put its best fit inside the truth's region in at least "
                         "90 % of its runs at every budget from some size on.")
    else:
        out["winner"] = (f"The cheapest strategy that reaches the truth's region in at least "
                         f"90 % of its runs is {v['winner']}, with {v['winner_libraries']:.0f} "
                         f"libraries and {v['winner_cpu_seconds']:.0f} CPU seconds.")
    if v["network_meets_goal"]:
        out["goal"] = ("The conditioned network meets the goal: it reaches the region with at "
                       "most a third of the libraries DYNAMITE's grid search needs, at lower "
                       "CPU cost.")
    elif not v["network_reaches_region"]:
        out["goal"] = ("The conditioned network does not meet the goal: at no budget tried "
                       "did it reach the truth's region in 90 % of its runs.")
    else:
        out["goal"] = ("The conditioned network reaches the region, but not with a third of "
                       "the libraries DYNAMITE's grid search needs at lower cost: the goal "
                       "is not met.")
    out["grid"] = (f"DYNAMITE's grid search, run to its own stopping rule, used "
                   f"{res['dynamite_grid_converged']['libraries']} libraries and stopped by "
                   f"{res['dynamite_grid_converged']['stopped_by']}" + (
                       f"; it needs {grid:.0f} libraries to land inside the region."
                       if grid is not None else "; within the budgets it never landed inside "
                       "the region."))
    if truth["level_kind"] == "library_floor":
        out["level"] = (f"The libraries' own χ² noise ({truth['floor']:.0f}) exceeds the 1σ "
                        f"level sqrt(2 N_kin) = {truth['sigma1']:.1f}, so strategies are "
                        f"judged against that floor, not against 1σ.")
    else:
        out["level"] = (f"The libraries' χ² noise ({truth['floor']:.0f}) is below the 1σ level "
                        f"sqrt(2 N_kin) = {truth['sigma1']:.1f}; strategies are judged at 1σ.")
    large = conv.get("large")
    if large:
        shift = large["ml_best_ref"] - conv["ml_best_ref"]
        out["thesis_ml"] = (
            f"With {large['n_orbits']} orbits the best M/L at DYNAMITE's start point is "
            f"{large['ml_best_ref']:.2f} instead of {conv['ml_best_ref']:.2f} with "
            f"{conv['n_orbits']}: " + (
                "the M/L of a 360-orbit library is a property of that small library, not a "
                "converged answer." if abs(shift) > 0.1 else
                "the best M/L barely moves with the library size."))
    else:
        out["thesis_ml"] = ("No larger library was built in this run, so the convergence of "
                            "the best M/L with library size is not measured here.")
    return out


def chapter_results(results: dict[str, Any], conv: dict[str, Any],
                    engine: dict[str, Any], profile: dict[str, Any],
                    grid: dict[str, Any] | None = None) -> dict[str, Any]:
    """The results JSON of Chapter 9; ``grid`` says how the truth lattice was built (Dask
    workers, wall seconds, libraries built in this run)."""
    out = {**results, "convergence": conv, "engine": engine, "configuration": profile}
    if grid is not None:
        out["truth"] = {**out["truth"], "grid": grid}
    out["sentences"] = sentences(out)
    return out
