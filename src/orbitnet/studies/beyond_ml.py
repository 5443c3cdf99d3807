"""Chapter 9, "Beyond M/L": how few orbit libraries does each strategy need over (log f, q)?

A lattice of engine libraries over (log10 f, q) (M/L by rescaling each) is the truth, used
only for judging. Its own noise is measured by rebuilding a few nodes with other engine
seeds; the judging level is the 1σ level sqrt(2 N_kin) unless that noise exceeds it.
Every strategy (:mod:`orbitnet.fit.strategies`, and the cube emulators below)
chooses libraries among the nodes, pays their measured CPU seconds, and names an answer
(log f, q); the library a modeller builds at the answer (an off-lattice answer is charged a
new library, built through the same cached engine grid) judges it: inside when its χ²
minimum over M/L lies within the level of the truth's minimum. Each strategy runs many
times (seeds, random designs, every start node for the grid search); the fraction inside
comes with its Clopper–Pearson interval, and a strategy is named better than another only
when its interval clears the other's (:mod:`orbitnet.judge.intervals`), against ``random``
(k random nodes, keep the best) first.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.chi2 import sigma_levels
from orbitnet.fit.lattice import (
    Lattice,
    Point,
    PointResult,
    jitter,
    point_config,
    point_problem,
    point_results,
)
from orbitnet.fit.solver import gh_errors
from orbitnet.fit.strategies import (
    DYNAMITE_START,
    Run,
    answer_point,
    run_dynamite,
    run_gp,
    run_quadratic,
    run_random,
    subgrid,
)
from orbitnet.judge.compare import median_abs_residual_over_err
from orbitnet.judge.intervals import fraction, name_winner
from orbitnet.judge.region import TruthSurface

STRATEGIES = ("random", "dynamite_grid", "quadratic", "gp_chi2", "cube_multilinear",
              "cube_pca_gp", "cube_dcnn")
#: the fraction inside at which a strategy is said to reach the region
REACH = 0.9


# --- the truth and its noise --------------------------------------------------------


def engine_overrides(galaxy: Galaxy, **settings: Any) -> dict[str, Any]:
    """The engine settings that differ from the galaxy's defaults (so that a default library
    keeps its cache key, shared with every chapter that builds it)."""
    from dataclasses import fields

    from orbitnet.orblib.engine.build import EngineConfig

    c = galaxy.constants
    known = {f.name for f in fields(EngineConfig)}
    default = {"n_e": c.n_e, "n_i2": c.n_i2, "n_i3": c.n_i3, "dithering": c.dithering,
               "n_periods": float(c.orbital_periods), "n_samples": EngineConfig().n_samples,
               "start_space": "dynamite"}
    out = {k: v for k, v in settings.items()
           if v is not None and (k not in default or v != default[k])}
    unknown = sorted(set(out) - known)
    if unknown:
        raise ValueError(f"this engine has no setting {', '.join(unknown)} (EngineConfig)")
    return out


def noise_nodes(lat: Lattice, n: int = 3) -> list[int]:
    """``n`` distinct nodes where the truth's noise is measured: its minimum, the node
    nearest DYNAMITE's start, the lattice's centre, then the next-best nodes."""
    order = [int(np.argmin(lat.chi2_min))]
    start = np.array([DYNAMITE_START["log_f"][0], DYNAMITE_START["q"][0]])
    span = np.where(lat.hi > lat.lo, lat.hi - lat.lo, 1.0)
    for target in (start, 0.5 * (lat.lo + lat.hi)):
        dist = (np.abs(lat.points - target) / span).sum(axis=1)
        order.append(int(np.argmin(dist)))
    order += [int(i) for i in np.argsort(lat.chi2_min, kind="stable")]
    out: list[int] = []
    for i in order:
        if i not in out:
            out.append(i)
    return out[:min(n, lat.n)]


#: log10 f offset of a "twin" library: the same physics, other floating-point bits
TWIN_STEP = 1e-9


def measure_noise(galaxy: Galaxy, lat: Lattice, ml: Sequence[float],
                  ml_cube: Sequence[float] | None, engine: Mapping[str, Any],
                  seeds: Sequence[int], n_nodes: int = 3, n_twins: int = 0,
                  n_workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True, fine: tuple[float, float] | None = None
                  ) -> dict[str, Any]:
    """The truth's own χ² noise at the nodes of :func:`noise_nodes`: each rebuilt with every
    engine ``seed`` (other random draws) and as ``n_twins`` twins, log10 f moved by
    k × :data:`TWIN_STEP` (the same potential to 1e-8, other rounding). The lattice's library
    is one more draw; ``value`` is the pooled standard deviation of the minimum χ² over all
    draws at each node, ``seed`` and ``twin`` those of either kind alone."""
    nodes = noise_nodes(lat, n_nodes)
    seeds = [int(s) for s in seeds]
    base = point_config(galaxy, lat.results[nodes[0]].point, engine).seed
    if base in seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"noise seeds must be distinct and differ from the lattice's seed "
                         f"{base}, got {seeds}")
    if not seeds and n_twins < 1:
        raise ValueError("the truth's noise needs noise seeds or twins")
    kinds = [("seed", {"seed": s}, 0.0) for s in seeds] + [
        ("twin", {}, k * TWIN_STEP) for k in range(1, n_twins + 1)]
    jobs = [(Point(lat.results[i].point.log_f + d, lat.results[i].point.q), {**engine, **o})
            for i in nodes for _, o, d in kinds]
    built, _ = point_results(galaxy, [p for p, _ in jobs], ml, ml_cube, [e for _, e in jobs],
                             n_workers=n_workers, scheduler=scheduler, progress=progress,
                             desc="noise libraries", fine=fine)
    rows, var = [], {"all": [], "seed": [], "twin": []}
    for k, i in enumerate(nodes):
        draws = built[k * len(kinds):(k + 1) * len(kinds)]
        chi2 = [lat.results[i].chi2_min, *(r.chi2_min for r in draws)]
        var["all"].append(np.var(chi2, ddof=1))
        for kind in ("seed", "twin"):
            sub = [chi2[0], *(c for (n, _, _), c in zip(kinds, chi2[1:], strict=True)
                              if n == kind)]
            if len(sub) > 1:
                var[kind].append(np.var(sub, ddof=1))
        rows.append({"log_f": lat.results[i].point.log_f, "q": lat.results[i].point.q,
                     "draws": ["lattice", *(f"{n} {o.get('seed', d)}" for n, o, d in kinds)],
                     "chi2_min": chi2, "ml_best": [lat.results[i].ml_best,
                                                   *(r.ml_best for r in draws)],
                     "std": float(np.sqrt(var["all"][-1]))})

    def pooled(v: list[float]) -> float | None:
        return float(np.sqrt(np.mean(v))) if v else None

    return {"value": pooled(var["all"]), "seed": pooled(var["seed"]),
            "twin": pooled(var["twin"]), "nodes": rows, "seeds": seeds, "twins": n_twins,
            "twin_step_log_f": TWIN_STEP, "dof": len(nodes) * len(kinds),
            "cpu_seconds": float(sum(r.cpu_seconds for r in built))}


def sigma1(galaxy: Galaxy) -> float:
    """The 1σ level sqrt(2 N_kin) of the galaxy's kinematics (DYNAMITE's convention)."""
    return sigma_levels(4 * galaxy.n_bins)[0]


def truth_of(lat: Lattice, galaxy: Galaxy, level: float) -> TruthSurface:
    """The lattice's kinchi2 over (log f, q, M/L) judged at ``level`` (>= the 1σ level).
    Refined sweeps solve each library on its own M/L values (a coarse grid and a fine window
    at its minimum): the surface then lies on the union of those values, each library's
    curve interpolated linearly between the M/L it solved (exact at each of them)."""
    mls = [np.asarray(r.ml, float) for r in lat.results]
    if all(m.shape == mls[0].shape and np.array_equal(m, mls[0]) for m in mls):
        ml, curves = mls[0], [r.kinchi2 for r in lat.results]
    else:
        ml = np.unique(np.round(np.concatenate(mls), 9))
        curves = [np.interp(ml, m, r.kinchi2) for m, r in zip(mls, lat.results, strict=True)]
    chi2 = np.stack(curves).reshape(lat.log_f.size, lat.q.size, -1)
    return TruthSurface(lat.log_f, lat.q, ml, chi2, 4 * galaxy.n_bins, level)


def sweep_plan(strategies: Sequence[str], ml_cube: Sequence[float],
               fine_step: float | None, fine_half_width: float
               ) -> tuple[Sequence[float] | None, tuple[float, float] | None]:
    """(ml_cube, fine) of every library's analysis: a plain sweep with the GH cube the cube
    strategies learn (``fine_step`` None), or Chapter 8's refined sweep, which keeps no cube
    (none of the strategies may then need one)."""
    if fine_step is None:
        return ml_cube, None
    cube = [s for s in strategies if s in CUBE_KINDS]
    if cube:
        raise ValueError(f"strategies {cube} learn GH cubes, which the refined sweep "
                         f"(ml_fine_step = {fine_step}) does not keep: set ml_fine_step None "
                         "or leave them out")
    return None, (float(fine_step), float(fine_half_width))


def chapter8_family(res08: Mapping[str, Any] | None, label: str, log_f: Sequence[float],
                    q: Sequence[float]) -> dict[str, Any]:
    """Whether this truth is Chapter 8's lattice: the same library size (``label``,
    :attr:`orbitnet.orblib.rungs.Rung.label`) and the same box; ``converged`` the rung
    Chapter 8 found converged (None: none was)."""
    if not res08:
        return {"label": label, "chapter8_run": False, "rung": None, "same_rung": False,
                "same_box": False, "converged": None}
    lat = res08["lattice"]
    box = lat["lattice"]
    same_box = (np.allclose(box["log_f"], log_f) if len(box["log_f"]) == len(log_f) else False
                ) and (np.allclose(box["q"], q) if len(box["q"]) == len(q) else False)
    return {"label": label, "chapter8_run": True, "rung": lat["rung"],
            "same_rung": lat["rung"] == label,
            "same_box": bool(same_box), "converged": res08["converged"].get("label"),
            "bracketed": dict(lat["bracketed"]), "log_f": list(box["log_f"]),
            "q": list(box["q"])}


def grid_start(log_f: float | None, q: float | None) -> tuple[float, float] | None:
    """(log_f, q) where DYNAMITE's grid search reported apart starts; None: the
    configuration's start values."""
    if log_f is None and q is None:
        return None
    return (DYNAMITE_START["log_f"][0] if log_f is None else float(log_f),
            DYNAMITE_START["q"][0] if q is None else float(q))


def judging_level(sigma1: float, noise: float, floor: float | None) -> tuple[float, str]:
    """The level and its kind: the 1σ level, raised to the measured noise when that is
    larger (``floor`` None), or to a given ``floor`` (0: the strict 1σ level)."""
    raise_to = noise if floor is None else float(floor)
    if raise_to > sigma1:
        return float(raise_to), "library_noise" if floor is None else "floor"
    return float(sigma1), "1sigma"


# --- the cube strategies -------------------------------------------------------------
# An emulator learns the per-orbit GH cubes of a regular training sub-lattice (both ends of
# each axis, inner lines drawn at random per seed), predicts the cube of every node on every
# other M/L of the cube grid, weights are solved on the predictions, and the answer is the
# node of least predicted χ². The orbit mass rows are interpolated multilinearly between
# training libraries for all three, so the comparison isolates the emulation of the GH cube.

CUBE_KINDS = {"cube_multilinear": "multilinear", "cube_pca_gp": "pca_gp", "cube_dcnn": "dcnn"}
#: random restarts of each PCA component's GP optimiser (beyond its initial kernel)
PCA_GP_RESTARTS = 0


def held_out(lat: Lattice, train: list[int]) -> list[int]:
    """Lattice nodes not in the training set (where held-out residuals are measured)."""
    return sorted(set(range(lat.n)) - {int(i) for i in train})


def _emulator(kind: str, err: np.ndarray, seed: int, dcnn: dict[str, Any]):
    from orbitnet.emulators.param_cube import ConditionedDCNN, CubePCAGP, Multilinear

    if kind == "multilinear":
        return Multilinear()
    if kind == "pca_gp":
        return CubePCAGP(err, seed=seed, n_restarts=PCA_GP_RESTARTS)
    return ConditionedDCNN(err, seed=seed, **dcnn)


#: emulators whose fit is a function of the training design alone (their random states are
#: fixed): runs with the same design share one computation
BY_DESIGN = ("cube_multilinear", "cube_pca_gp")


def design_key(lat: Lattice, name: str, budget: int, seed: int) -> tuple:
    """What a run of ``name`` computes from: its training design (and, for the network,
    its seed)."""
    key = (name, budget, tuple(subgrid(lat, budget, seed)))
    return key if name in BY_DESIGN else (*key, seed)


def run_cube(lat: Lattice, galaxy: Galaxy, name: str, budget: int, seed: int,
             ml_stride: int = 2, dcnn: dict[str, Any] | None = None) -> Run:
    """Train emulator ``name`` on a sub-lattice of ``budget`` libraries placed by ``seed``,
    predict every node's cube, solve weights, answer the node of least predicted χ². The
    network is also initialised by ``seed``; the other two depend on the design alone."""
    from orbitnet.emulators.param_cube import interpolate_rows
    from orbitnet.fit.sweep import solve_many

    if name not in CUBE_KINDS:
        raise ValueError(f"unknown cube strategy {name!r}; choose from {tuple(CUBE_KINDS)}")
    train = subgrid(lat, budget, seed)
    test = held_out(lat, train)
    ml_c = lat.results[0].ml_cube
    ml_e = ml_c[::ml_stride]
    r0 = lat.results[train[0]]
    err = gh_errors(point_problem(galaxy, r0.intrinsic_mass, r0.aperture_mass,
                                  r0.intrinsic_target, r0.aperture_target))
    t0 = time.process_time()
    x = np.array([[lat.results[i].point.log_f, lat.results[i].point.q, m]
                  for i in train for m in ml_c])
    y = np.concatenate([lat.results[i].gh for i in train])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        em = _emulator(CUBE_KINDS[name], err, 0 if name in BY_DESIGN else seed,
                       dcnn or {}).fit(x, y)
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
        chi2[n] = solve_many(prob, pred, n_jobs=1, progress=False)[1]
        if n in test:
            resid.append((pred, r.gh[::ml_stride]))
    pred_cpu = time.process_time() - t1
    best = int(np.argmin(chi2.min(axis=1)))
    heldout = None
    if resid:
        heldout = median_abs_residual_over_err(np.concatenate([p for p, _ in resid]),
                                               np.concatenate([t for _, t in resid]), err)
    p = lat.results[best].point
    return Run((float(p.log_f), float(p.q)), train,
               lat.cost(train, cube=True) + train_cpu + pred_cpu,
               {"heldout": heldout, "train_cpu": train_cpu, "predict_cpu": pred_cpu,
                "chi2_surface": chi2.min(axis=1).tolist()})


# --- running the strategies -----------------------------------------------------------


def plan(lat: Lattice, budgets: Sequence[int], strategies: Sequence[str], n_seeds: int,
         random_draws: int, dcnn_seeds: Sequence[int]) -> list[tuple[str, int, int]]:
    """(strategy, budget, seed) of every run: ``random_draws`` draws of ``random``; the grid
    search from every node (seed = start node); ``n_seeds`` seeds of every other randomised
    strategy, ``dcnn_seeds`` of the network; cube strategies where a sub-lattice fits."""
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {STRATEGIES}")
    jobs = []
    for name in ("random", *[s for s in strategies if s != "random"]):
        for b in budgets:
            if b > lat.n:
                continue
            if name in CUBE_KINDS:
                try:
                    subgrid(lat, b)
                except ValueError:
                    continue
            seeds = {"random": range(random_draws), "dynamite_grid": range(lat.n),
                     "cube_dcnn": dcnn_seeds}.get(name, range(n_seeds))
            jobs += [(name, int(b), int(s)) for s in seeds]
    return jobs


def run_one(name: str, lat: Lattice, galaxy: Galaxy, budget: int, seed: int, sigma1: float,
            dcnn: Mapping[str, Any] | None = None) -> Run:
    if name == "random":
        return run_random(lat, budget, seed)
    if name == "dynamite_grid":
        return run_dynamite(lat, budget, sigma1, lat.results[seed].point.key())
    if name == "quadratic":
        return run_quadratic(lat, budget, seed)
    if name == "gp_chi2":
        return run_gp(lat, budget, seed)
    if name in CUBE_KINDS:
        return run_cube(lat, galaxy, name, budget, seed, dcnn=dict(dcnn or {}))
    raise ValueError(f"unknown strategy {name!r}; choose from {STRATEGIES}")


def answer_libraries(galaxy: Galaxy, lat: Lattice, runs: Sequence[Run], ml: Sequence[float],
                     ml_cube: Sequence[float] | None, engine: Mapping[str, Any],
                     n_workers: int | None = None, scheduler: str | None = None,
                     progress: bool = True, fine: tuple[float, float] | None = None
                     ) -> dict[tuple[float, float], PointResult]:
    """The library at every answer (:func:`orbitnet.fit.strategies.answer_point`): a lattice
    node's own, or one built (once, cached) through the engine grid with the lattice's
    settings."""
    where = {answer_point(lat, r.answer) for r in runs}
    out = {p: lat.results[i] for p in where if (i := lat.find(p)) is not None}
    new = sorted(p for p in where if p not in out)
    if new:
        built, _ = point_results(galaxy, [Point(*p) for p in new], ml, ml_cube,
                                 [dict(engine)] * len(new), n_workers=n_workers,
                                 scheduler=scheduler, progress=progress,
                                 desc="answer libraries", fine=fine)
        out.update(zip(new, built, strict=True))
    return out


def judge_run(lat: Lattice, run: Run, answers: Mapping[tuple[float, float], PointResult],
              chi2_truth: float, level: float) -> dict[str, Any]:
    """Charge the answer's library (unless the strategy built it) and judge by it."""
    p = answer_point(lat, run.answer)
    lib = answers[p]
    i = lat.find(p)
    paid = i is not None and i in run.libraries
    cpu = run.cpu_seconds + (0.0 if paid else lib.cpu_seconds)
    delta = lib.chi2_min - chi2_truth
    return {"inside": bool(delta < level), "delta_chi2": float(delta), "cpu_seconds": cpu,
            "libraries": len(set(run.libraries)) + (0 if paid else 1),
            "answer": {"log_f": p[0], "q": p[1], "ml": lib.ml_best},
            "answer_built": i is None}


def summarise(lat: Lattice, budget: int, judged: Sequence[Mapping[str, Any]],
              runs: Sequence[Run]) -> dict[str, Any]:
    """One row of the table: runs, inside, fraction with its 95 % interval, median CPU."""
    f = fraction([j["inside"] for j in judged])
    out = {"runs": f["runs"], "inside": f["inside"], "frac_inside_1sigma": f["frac"],
           "ci95": f["ci95"], "budget_fraction": budget / lat.n,
           "cpu_seconds_median": float(np.median([j["cpu_seconds"] for j in judged])),
           "libraries_median": float(np.median([j["libraries"] for j in judged])),
           "answer_median": {k: float(np.median([j["answer"][k] for j in judged]))
                             for k in ("log_f", "q", "ml")},
           "answers_off_lattice": int(sum(j["answer_built"] for j in judged))}
    held = [r.extra.get("heldout") for r in runs if r.extra.get("heldout") is not None]
    if held:
        out["median_abs_heldout_residual_over_err"] = float(np.median(held))
    return out


def reach(table: Mapping[str, Mapping[str, Mapping[str, Any]]], frac: float = REACH
          ) -> dict[str, int | None]:
    """Per strategy the smallest budget from which every larger budget tried lands inside in
    at least ``frac`` of its runs (None: no such budget)."""
    out: dict[str, int | None] = {}
    for name, per in table.items():
        bs = sorted(per, key=int)
        ok = [per[b]["frac_inside_1sigma"] >= frac for b in bs]
        out[name] = next((int(b) for k, b in enumerate(bs) if all(ok[k:])), None)
    return out


def run_study(lat: Lattice, galaxy: Galaxy, budgets: Sequence[int], level: float,
              strategies: Sequence[str], n_seeds: int, random_draws: int,
              dcnn_seeds: Sequence[int], dcnn: Mapping[str, Any],
              grid_start: Sequence[float] | None, answer_engine: Mapping[str, Any],
              ml: Sequence[float], ml_cube: Sequence[float] | None,
              n_workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, fine: tuple[float, float] | None = None
              ) -> tuple[dict[str, Any], dict[str, dict[str, list[Run]]]]:
    """Every strategy at every budget and seed, its answers charged and judged at
    ``level``; the table, the random baseline, DYNAMITE's grid search from the configuration's
    start (apart), where each strategy reaches the region, and the winner. ``fine``: the
    lattice's refined sweep (answers are swept alike)."""
    from tqdm.auto import tqdm

    sigma1 = sigma_levels(4 * galaxy.n_bins)[0]
    runs: dict[str, dict[str, list[Run]]] = {}
    done: dict[tuple, Run] = {}  # cube runs computed once per design (and network seed)
    for name, b, s in tqdm(plan(lat, budgets, strategies, n_seeds, random_draws, dcnn_seeds),
                           desc="strategies", disable=not progress):
        key = design_key(lat, name, b, s) if name in CUBE_KINDS else None
        if key is not None and key in done:
            run = done[key]
        else:
            run = run_one(name, lat, galaxy, b, s, sigma1, dcnn)
            if key is not None:
                done[key] = run
        runs.setdefault(name, {}).setdefault(str(b), []).append(run)
    config = {str(b): [run_dynamite(lat, b, sigma1, grid_start)] for b in budgets if b <= lat.n}
    converged = run_dynamite(lat, None, sigma1, grid_start)
    every = [r for per in (*runs.values(), config) for rs in per.values() for r in rs]
    answers = answer_libraries(galaxy, lat, [*every, converged], ml, ml_cube, answer_engine,
                               n_workers, scheduler, progress, fine)
    chi2_truth = float(lat.chi2_min.min())

    def table(per: Mapping[str, list[Run]]) -> dict[str, Any]:
        return {b: summarise(lat, int(b), [judge_run(lat, r, answers, chi2_truth, level)
                                           for r in rs], rs) for b, rs in per.items()}

    strat = {name: table(per) for name, per in runs.items()}
    conv = judge_run(lat, converged, answers, chi2_truth, level)
    built = [p for p in answers if lat.find(p) is None]
    results = {
        "strategies": strat,
        "random_baseline": strat.get("random", {}),
        "dynamite_grid_config": {
            "start": converged.extra["start"], "budgets": table(config),
            "converged": {"libraries": len(set(converged.libraries)),
                          "stopped_by": converged.extra["stopped_by"], **conv}},
        "reach_90pct": reach(strat),
        "answer_libraries": {"built": len(built),
                             "cpu_seconds": float(sum(answers[p].cpu_seconds
                                                      for p in built))},
    }
    results.update(verdict(results, lat.n))
    return results, runs


def verdict(results: Mapping[str, Any], n_lattice: int) -> dict[str, Any]:
    """Winner by the intervals (:func:`orbitnet.judge.intervals.name_winner`) and where
    every strategy that reaches the region has reached it."""
    win = name_winner(results["strategies"])
    reached = {n: b for n, b in results["reach_90pct"].items() if b is not None}
    all_by = max(reached.values()) if reached else None
    return {"winner": win["winner"], "winner_budget": None if win["budget"] is None
            else int(win["budget"]), "winner_reason": win["reason"],
            "beats_random": win["beats_baseline"],
            "all_reach_by": all_by,
            "all_reach_by_fraction": None if all_by is None else all_by / n_lattice}


# --- the chapter's numbers and sentences ----------------------------------------------


def lattice_digest(lat: Lattice) -> str:
    """SHA-256 over the content digests of every lattice library (equal: the same truth)."""
    h = hashlib.sha256()
    for r in lat.results:
        h.update(str(r.meta.get("content_sha256")).encode())
    return h.hexdigest()


def truth_summary(lat: Lattice, truth: TruthSurface, noise: Mapping[str, Any],
                  engine: Mapping[str, Any], level_kind: str,
                  family: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The truth's numbers: best fit, region, level and noise, roughness, library, costs,
    and ``family`` (:func:`chapter8_family`)."""
    cpu = [r.library_seconds for r in lat.results]
    sweep = [r.sweep_seconds for r in lat.results]
    jit = jitter(lat)
    return {
        "best": truth.best, "chi2_min": float(truth.chi2.min()), "n_libraries": lat.n,
        "lattice": {"log_f": lat.log_f.tolist(), "q": lat.q.tolist()},
        "library": {"n_orbits": int(lat.results[0].meta["n_orbits"]), **engine},
        "region": truth.extents(), "region_strict_1sigma": truth.extents(truth.sigma1),
        "level": truth.level, "level_kind": level_kind, "sigma1": truth.sigma1,
        "noise": dict(noise),
        "jitter": jit, "jitter_over_level": max(jit.values()) / truth.level,
        "library_cpu_seconds_median": float(np.median(cpu)),
        "sweep_cpu_seconds_median": float(np.median(sweep)),
        "cpu_seconds_total": float(sum(cpu) + sum(sweep)),
        "content_sha256": lattice_digest(lat), "grid": dict(lat.grid),
        "family": dict(family or {}),
    }


def family_sentence(fam: Mapping[str, Any]) -> str:
    """Whether the truth is made of converged libraries, from :func:`chapter8_family`."""
    if not fam.get("chapter8_run"):
        return ("Chapter 8 has not run here, so nothing checks whether libraries of this size "
                "are converged: the verdict below holds for these libraries only.")
    box = ("on the same box" if fam["same_box"] else "on another box than Chapter 8's lattice")
    if fam["same_rung"] and fam["converged"] == fam["rung"]:
        return (f"These are Chapter 8's converged libraries ({fam['rung']}), {box}: the truth "
                "is converged by that chapter's test.")
    if fam["same_rung"]:
        conv = ("found no rung converged" if fam["converged"] is None
                else f"found {fam['converged']} converged")
        return (f"These are the libraries of Chapter 8's lattice ({fam['rung']}), {box}; "
                f"Chapter 8 {conv}, so the truth is the best-sampled one built, not a "
                "converged one.")
    conv = ("no rung converged" if fam["converged"] is None
            else f"{fam['converged']} converged")
    return (f"These {fam['label']} libraries are not Chapter 8's lattice ({fam['rung']}; "
            f"{conv} there): the truth is not the converged one, and the verdict holds for "
            "libraries of this size only.")


def _row_text(row: Mapping[str, Any]) -> str:
    lo, hi = row["ci95"]
    return (f"{row['inside']} of {row['runs']} runs inside (95 % interval "
            f"{lo:.2f}–{hi:.2f})")


def sentences(res: Mapping[str, Any]) -> dict[str, str]:
    """Verdict sentences chosen from the numbers."""
    truth, strat = res["truth"], res["strategies"]
    out: dict[str, str] = {}
    noise, s1, lvl = truth["noise"]["value"], truth["sigma1"], truth["level"]
    nz = truth["noise"]
    parts = [f"{len(nz['nodes'])} nodes rebuilt"]
    if nz.get("seed") is not None:
        parts.append(f"with other engine seeds move their minimum χ² by {nz['seed']:.1f}")
    if nz.get("twin") is not None:
        parts.append(f"as twins (log f moved by {nz['twin_step_log_f']:.0e}) by "
                     f"{nz['twin']:.1f}")
    head = (" and ".join(parts[1:]) if len(parts) > 1 else "")
    out["level"] = (f"The truth's own noise: {parts[0]} {head} (pooled standard deviations; "
                    f"{noise:.1f} over all draws), " + (
                        f"below the 1σ level sqrt(2 N_kin) = {s1:.1f}: answers are judged "
                        f"at 1σ." if truth["level_kind"] == "1sigma" else
                        f"against the 1σ level sqrt(2 N_kin) = {s1:.1f}: answers are judged "
                        f"at {lvl:.1f}, not at 1σ."))
    ratio = truth["jitter_over_level"]
    out["roughness"] = (
        f"Between neighbouring libraries the χ² jumps by a median of "
        f"{max(truth['jitter'].values()):.0f}, {ratio:.1f} × the judging level: " + (
            "the truth is smooth on the scale the strategies must resolve."
            if ratio <= 1 else "the truth is rough on that scale, so a verdict here judges "
            "how strategies cope with these libraries' jumps as much as their search."))
    out["family"] = family_sentence(truth.get("family") or {})
    rnd = strat.get("random", {})
    if rnd:
        b = max(rnd, key=int)
        out["random"] = (f"Keeping the best of {b} nodes drawn at random "
                         f"({rnd[b]['budget_fraction']:.0%} of the lattice): "
                         f"{_row_text(rnd[b])}.")
    if res["winner"] is None:
        out["winner"] = f"No strategy is named the winner: {res['winner_reason']}."
    else:
        b = str(res["winner_budget"])
        row = strat[res["winner"]][b]
        out["winner"] = (f"{res['winner']} is the winner at {b} libraries "
                         f"({row['budget_fraction']:.0%} of the lattice): {_row_text(row)}, "
                         f"median {row['cpu_seconds_median']:.0f} CPU seconds; "
                         f"{res['winner_reason']}.")
    reach_ = res["reach_90pct"]
    never = sorted(n for n, b in reach_.items() if b is None)
    got = sorted((b, n) for n, b in reach_.items() if b is not None)
    out["reach"] = (("Strategies land inside in at least 90 % of their runs from "
                     + ", ".join(f"{b} libraries ({n})" for b, n in got) + "; ")
                    if got else "No strategy lands inside in 90 % of its runs; ") + (
        f"never within the budgets tried: {', '.join(never)}." if never else
        f"every strategy has reached the region by {res['all_reach_by']} libraries "
        f"({res['all_reach_by_fraction']:.0%} of the lattice).")
    cfg = res["dynamite_grid_config"]
    c = cfg["converged"]
    out["grid"] = (f"DYNAMITE's grid search from the configuration's start (log f "
                   f"{cfg['start']['log_f']:g}, q {cfg['start']['q']:g}), run to its own "
                   f"stopping rule, builds {c['libraries']} libraries, stops by "
                   f"{c['stopped_by']} and lands " + ("inside" if c["inside"] else "outside")
                   + " the region.")
    dc = strat.get("cube_dcnn")
    beats = [b for b, ns in res["beats_random"].items() if "cube_dcnn" in ns]
    if not dc:
        out["goal"] = "The conditioned network was not run in this build."
    elif res["winner"] == "cube_dcnn":
        out["goal"] = "The conditioned network is the winner: it meets the goal."
    elif beats:
        out["goal"] = (f"The conditioned network clears the random baseline at "
                       f"{', '.join(beats)} libraries but is not named better than every "
                       f"other strategy: the goal is not met.")
    else:
        out["goal"] = ("The conditioned network does not clear the random baseline at any "
                       "budget: the goal is not met.")
    return out


def chapter_results(results: Mapping[str, Any], truth: Mapping[str, Any],
                    profile: Mapping[str, Any]) -> dict[str, Any]:
    """The results JSON of Chapter 9."""
    out = {**results, "truth": dict(truth), "configuration": dict(profile)}
    out["sentences"] = sentences(out)
    return out
