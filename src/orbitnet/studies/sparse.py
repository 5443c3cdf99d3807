"""How few orbit models does a method need to find the best fit? (Chapter 6.)

Protocol (:mod:`orbitnet.judge.subsets`): for each step ``k`` every method is trained on the
phase-shifted sets ``o, o + k, o + 2k, ...`` for offsets ``o`` -- all ``k`` of them for the
cheap methods, a stated number of evenly spread ones for the networks (:data:`OFFSETS`), each
network with every seed of ``seeds``. Each prediction is judged only on its
training set's own M/L range (no best fit decided by extrapolation), through the same weight
solver as the orbit models (:func:`orbitnet.judge.compare.evaluate`); its residual is taken
over the held-out models of that range only.

Methods: ``grid_parabola`` (no emulator: the vertex of the parabola through the three lowest
χ² of the training models themselves), ``linear`` (per-pixel linear interpolation),
``pca_gp`` (PCA + Gaussian processes), ``dcnn`` and ``dcnn_thesis`` (the DCNN with the
L1/err loss and the fast or thesis recipe, trained on every model of the set for a fixed
budget of gradient steps, with no validation pass). DYNAMITE's exact rescaling of one
library is the orbit models themselves: it is the truth line, not a row of the comparison.

The networks run a training-budget control (:mod:`orbitnet.judge.budgets`): each
set is trained with every budget of gradient steps (the same at every set size), every seed on
the full grid (``k = 1``, a single set) and the first seed on each offset of the larger steps.
A budget's sparse rows are read only when it reaches the threshold on the full grid.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.emulators.cache import (
    TrainJob,
    cube_fingerprint,
    emulator_dir,
    train_in_processes,
    train_or_load,
)
from orbitnet.fit.chi2 import inside
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.solver import WeightProblem, gh_errors
from orbitnet.judge import budgets as control
from orbitnet.judge import subsets
from orbitnet.judge.budgets import THRESHOLD, sparsest_k
from orbitnet.judge.compare import evaluate

METHODS = ("grid_parabola", "linear", "pca_gp", "dcnn", "dcnn_thesis")
DCNN_RECIPES = {"dcnn": "fast", "dcnn_thesis": "thesis"}
LOSS = "l1_err"


@dataclass
class SparseStudy:
    """Every run (one per method, step, offset and seed) and the predictions behind them.

    Attributes
    ----------
    runs : one dict per run: ``method, k, offset, seed, n_train, judged_ml`` and the judged
        numbers (``ml_best``, ``inside_1sigma``, ``inside_2sigma``, ``delta_over_halfwidth``,
        ``heldout_residual``, ``train_seconds``).
    preds : the solved predictions keyed ``(method, k, offset, seed)`` (not for
        ``grid_parabola``, which predicts nothing).
    settings : the protocol as run (steps, offsets per method and step, seeds, budget).
    """

    orbit_models: OrbitModels
    runs: list[dict[str, Any]] = field(default_factory=list)
    preds: dict[tuple[str, int, int, int], OrbitModels] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


#: at most this many offsets per step (evenly spread; ``None``: all ``k``)
OFFSETS: dict[str, int | None] = {"grid_parabola": None, "linear": None, "pca_gp": None,
                                  "dcnn": 8, "dcnn_thesis": 8}


def offset_limits(offsets: int | None, pca_offsets: int | None,
                  network_offsets: int) -> dict[str, int | None]:
    """Offsets per step and method: ``offsets`` for grid_parabola and linear,
    ``pca_offsets`` for pca_gp, ``network_offsets`` for the networks."""
    return {"grid_parabola": offsets, "linear": offsets, "pca_gp": pca_offsets,
            **dict.fromkeys(DCNN_RECIPES, network_offsets)}


def method_offsets(method: str, k: int, limits: Mapping[str, int | None] | None = None
                   ) -> np.ndarray:
    """Offsets run for ``method`` at step ``k``: all of them, or at most ``limits[method]``
    evenly spread ones (default :data:`OFFSETS`)."""
    limit = {**OFFSETS, **(limits or {})}.get(method)
    return subsets.offsets(k, limit)


def method_seeds(method: str, seeds: Sequence[int], k: int = 1) -> list[int]:
    """Seeds run at step ``k``: for the networks every one on the full grid (``k = 1``, one
    set) and the first on each offset of a larger step; the first for PCA+GP (it only seeds
    the GP optimiser's restarts); none (0) for the deterministic methods."""
    if method in DCNN_RECIPES:
        return [int(s) for s in (seeds if k == 1 else seeds[:1])]
    return [int(seeds[0])] if method == "pca_gp" else [0]


def method_budgets(method: str, budgets: Sequence[int]) -> list[int | None]:
    """Gradient-step budgets run: every one for the networks, none for the other methods."""
    return [int(b) for b in budgets] if method in DCNN_RECIPES else [None]


def plan(n_models: int, steps: Sequence[int], methods: Sequence[str],
         seeds: Sequence[int], limits: Mapping[str, int | None] | None,
         method_steps: Mapping[str, Sequence[int]] | None,
         budgets: Sequence[int]) -> dict[str, dict[str, Any]]:
    """What a study will run, per method: steps, runs, weight solves and gradient steps.

    Solves count the judged models a method must solve (interpolation reproduces its
    training models exactly, so ``linear`` solves only the held-out ones; ``grid_parabola``
    none); ``gradient_steps`` sums the steps the networks take over their runs (every budget
    at every step: an upper bound where a budget stops early). Used to size a profile before
    running it.
    """
    from orbitnet.emulators.recipes import epochs_for_steps, get_recipe

    out = {}
    for method in methods:
        ks = sorted(int(k) for k in (method_steps or {}).get(method, steps))
        recipe = get_recipe(DCNN_RECIPES[method]) if method in DCNN_RECIPES else None
        runs = solves = grad = 0
        for budget in method_budgets(method, budgets):
            for k in ks:
                for o in method_offsets(method, k, limits):
                    train = subsets.every_kth(n_models, k, int(o))
                    judged = subsets.judged_range(train).size
                    n_seeds = len(method_seeds(method, seeds, k))
                    runs += n_seeds
                    if recipe is not None:
                        grad += n_seeds * epochs_for_steps(recipe, train.size, budget) * (
                            -(-train.size // recipe.batch_size))
                    if method != "grid_parabola":
                        solves += n_seeds * (judged - (train.size if method == "linear" else 0))
        out[method] = {"steps": ks, "runs": runs, "solves": solves, "gradient_steps": grad}
    return out


def network_job(method: str, n_models: int, k: int, offset: int, seed: int,
                gradient_steps: int, galaxy: str = paths.GALAXY) -> TrainJob:
    """The network ``method`` trains on the set (``k``, ``offset``): every model of the set,
    ``gradient_steps`` steps, with no validation pass (the budget is fixed, so nothing would
    read one; it cost as much as the steps on small sets: 66 ms per epoch and network, measured
    on 10 models). Its held-out residual is the judge's, on the models of its range."""
    from orbitnet.emulators.recipes import epochs_for_steps, get_recipe

    recipe = get_recipe(DCNN_RECIPES[method])
    train = subsets.every_kth(n_models, k, offset)
    tag = f"sparse_k{k}_o{offset}_seed{seed}_steps{gradient_steps}"
    return TrainJob(
        out_dir=emulator_dir(galaxy, recipe.name, LOSS, tag),
        recipe=recipe.name, loss=LOSS, train_idx=tuple(int(i) for i in train),
        epochs=epochs_for_steps(recipe, train.size, gradient_steps), galaxy=galaxy,
        overrides=(("seed", int(seed)), ("validation_split", 0.0)))


def steps_used(job: TrainJob) -> int:
    """The gradient steps a network of ``job`` takes: whole epochs of its recipe's batches
    over every model of its set (:func:`orbitnet.emulators.recipes.epochs_for_steps`)."""
    from orbitnet.emulators.recipes import get_recipe

    batch = get_recipe(job.recipe).batch_size
    return int(job.epochs) * -(-len(job.train_idx) // batch)


def _predictor(method: str, orbit_models: OrbitModels, problem: WeightProblem, k: int, offset: int,
               seed: int, gradient_steps: int, galaxy: str, progress: bool):
    """``fit_predict()`` for :func:`orbitnet.judge.compare.evaluate`: the prediction on the
    judged range and the training seconds."""
    from orbitnet.emulators.baselines import LinearInterpolation, PCAGaussianProcess

    train = subsets.every_kth(orbit_models.ml.size, k, offset)
    judged = subsets.judged_range(train)

    def run():
        if method in DCNN_RECIPES:
            job = network_job(method, orbit_models.ml.size, k, offset, seed, gradient_steps, galaxy)
            emu = train_or_load(orbit_models, problem, progress=progress, **job.kwargs())
            if not np.allclose(emu.meta["train_ml"], orbit_models.ml[train]):
                raise RuntimeError(f"{job.out_dir}: the network did not train on the "
                                   "requested set")
            return (emu.predict(orbit_models.ml[judged]),
                    float(sum(emu.meta["train_seconds"].values())))
        em = (LinearInterpolation() if method == "linear"
              else PCAGaussianProcess(err=gh_errors(problem), seed=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GP convergence chatter on tiny sets
            em.fit(orbit_models.ml[train], orbit_models.gh[train])
        return em.predict(orbit_models.ml[judged]), em.train_seconds

    return run


def _recipe_dict(method: str) -> dict | None:
    from orbitnet.emulators.recipes import get_recipe

    return get_recipe(DCNN_RECIPES[method]).to_dict() if method in DCNN_RECIPES else None


def _record(orbit_models: OrbitModels, method: str, k: int, offset: int, seed: int,
            train: np.ndarray,
            ml_best: float, heldout_residual: float | None, train_seconds: float,
            ml_1sigma: Sequence[float] | None = None, gradient_steps: int | None = None,
            steps_used: int | None = None) -> dict[str, Any]:
    ref = orbit_models.fit
    lo, hi = ref.ml_1sigma
    judged = subsets.judged_range(train)
    return {
        "method": method, "k": int(k), "offset": int(offset), "seed": int(seed),
        "gradient_steps": gradient_steps, "steps_used": steps_used,
        "n_train": int(train.size),
        "judged_ml": [float(orbit_models.ml[judged[0]]), float(orbit_models.ml[judged[-1]])],
        "ml_best": float(ml_best),
        "ml_1sigma": None if ml_1sigma is None else [float(v) for v in ml_1sigma],
        "inside_1sigma": inside(ref.ml_1sigma, ml_best),
        "inside_2sigma": inside(ref.ml_2sigma, ml_best),
        "delta_over_halfwidth": float((ml_best - ref.ml_best) / (0.5 * (hi - lo))),
        "heldout_residual": heldout_residual,
        "train_seconds": float(train_seconds),
    }


def run_one(orbit_models: OrbitModels, problem: WeightProblem, method: str, k: int, offset: int,
            seed: int, gradient_steps: int | None, ml_show: float,
            galaxy: str = paths.GALAXY, progress: bool = True, n_jobs: int | None = None
            ) -> tuple[dict[str, Any], OrbitModels | None]:
    """Train ``method`` on the set (``k``, ``offset``), judge it on the set's range
    (``gradient_steps``: the network's budget; ignored by the other methods)."""
    from orbitnet.emulators.baselines import grid_parabola

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    train = subsets.every_kth(orbit_models.ml.size, k, offset)
    if method == "grid_parabola":
        t0 = time.perf_counter()
        best = grid_parabola(orbit_models.ml[train], orbit_models.kinchi2[train])
        return _record(orbit_models, method, k, offset, seed, train, best, None,
                       time.perf_counter() - t0), None
    net = method in DCNN_RECIPES
    if net and (gradient_steps is None or int(gradient_steps) < 1):
        raise ValueError(f"gradient_steps must be a positive budget, got {gradient_steps}")
    budget = int(gradient_steps) if net else None
    path = paths.sparse_prediction(galaxy, method, k, offset, seed, budget)
    params = {"method": method, "train_ml": orbit_models.ml[train], "seed": int(seed),
              "cube": cube_fingerprint(orbit_models), "recipe": _recipe_dict(method),
              "gradient_steps": budget}
    pred, res = evaluate(
        _predictor(method, orbit_models, problem, k, offset, seed, budget, galaxy, progress),
        orbit_models, problem, path, params, {}, ml_show=ml_show, progress=progress, n_jobs=n_jobs,
        desc=f"{method} k={k} o={offset}", judged=subsets.judged_range(train),
        heldout=subsets.heldout(train), residual_all=False, keep_weights=False,
        keep_show=net)
    used = (steps_used(network_job(method, orbit_models.ml.size, k, offset, seed, budget, galaxy))
            if net else None)
    rec = _record(orbit_models, method, k, offset, seed, train, res["ml_best"],
                  res["median_abs_heldout_residual_over_err"], res["train_seconds"],
                  res["ml_1sigma"], budget, used)
    return rec, pred


def run_study(orbit_models: OrbitModels, problem: WeightProblem, steps: Sequence[int], *,
              methods: Sequence[str], seeds: Sequence[int], offsets: int | None,
              pca_offsets: int | None, network_offsets: int,
              network_steps: Sequence[int] | None, budgets: Sequence[int], ml_show: float,
              prune: bool = True, galaxy: str = paths.GALAXY, progress: bool = True,
              n_jobs: int | None = None) -> SparseStudy:
    """Train and judge every method on its phase-shifted sets of every step.

    ``offsets``, ``pca_offsets``, ``network_offsets``: at most this many offsets per step
    (:func:`offset_limits`); ``network_steps``: the steps at which the networks run (default
    ``steps``); ``budgets``: the networks' gradient steps per coefficient, each the same at
    every set size (the training-budget control); ``seeds``: every one for the networks on
    the full grid, the first on the offsets of larger steps (:func:`method_seeds`);
    ``prune``: a budget stops at its first step below the threshold, whose sparser rows could
    not be read (:func:`orbitnet.judge.budgets.sparsest_k`). The predictions kept
    for the figures are the networks' at the budget whose rows are read
    (:func:`orbitnet.judge.budgets.shown_budget`).
    """
    limits = offset_limits(offsets, pca_offsets, network_offsets)
    method_steps = {m: network_steps for m in DCNN_RECIPES} if network_steps else None
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {METHODS}")
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if not budgets or min(int(b) for b in budgets) < 1:
        raise ValueError(f"budgets must name at least one positive number of gradient steps, "
                         f"got {list(budgets)}")
    budgets = sorted({int(b) for b in budgets})
    todo = plan(orbit_models.ml.size, steps, methods, seeds, limits, method_steps, budgets)
    study = SparseStudy(orbit_models=orbit_models)
    study.settings = {"steps": sorted({int(k) for k in steps}), "seeds": [int(s) for s in seeds],
                      "budgets": budgets, "prune": bool(prune), "loss": LOSS,
                      "recipes": {m: r for m, r in DCNN_RECIPES.items() if m in methods},
                      "plan": todo, "offsets": {}, "seconds": {}}
    run_kw = {"ml_show": ml_show, "galaxy": galaxy, "progress": progress, "n_jobs": n_jobs}
    preds: dict[tuple, OrbitModels] = {}
    for method in methods:
        t0 = time.perf_counter()
        if method in DCNN_RECIPES:
            _run_network(study, problem, method, todo[method]["steps"], budgets, seeds, limits,
                         prune, preds, **run_kw)
        else:
            for k in todo[method]["steps"]:
                offs = method_offsets(method, k, limits)
                study.settings["offsets"].setdefault(method, {})[str(k)] = offs.tolist()
                for o in offs:
                    for s in method_seeds(method, seeds, k):
                        rec, pred = run_one(orbit_models, problem, method, k, int(o), s, None,
                                            **run_kw)
                        study.runs.append(rec)
                        if pred is not None:
                            preds[(method, k, int(o), s, None)] = pred
        study.settings["seconds"][method] = time.perf_counter() - t0
    study.settings["runs_done"] = {m: sum(r["method"] == m for r in study.runs)
                                   for m in methods}
    shown = {m: control.shown_budget(study.runs, m) for m in DCNN_RECIPES}
    study.settings["shown_budget"] = {m: b for m, b in shown.items() if m in methods}
    study.preds = {key[:4]: p for key, p in preds.items()
                   if key[0] not in DCNN_RECIPES or key[4] == shown[key[0]]}
    return study


def _run_network(study: SparseStudy, problem: WeightProblem, method: str, ks: Sequence[int],
                 budgets: Sequence[int], seeds: Sequence[int],
                 limits: Mapping[str, int | None], prune: bool,
                 preds: dict[tuple, OrbitModels], galaxy: str, n_jobs: int | None,
                 progress: bool, ml_show: float) -> None:
    """The network's control, one step at a time from the full grid down: each step's
    networks of every budget still running are trained together in worker processes, then
    judged; with ``prune`` a budget below the threshold at a step stops there."""
    orbit_models = study.orbit_models
    alive, stopped, trained = list(budgets), {}, 0
    for k in ks:
        offs = method_offsets(method, k, limits)
        study.settings["offsets"].setdefault(method, {})[str(k)] = offs.tolist()
        pairs = [(int(o), s) for o in offs for s in method_seeds(method, seeds, k)]
        jobs = [network_job(method, orbit_models.ml.size, k, o, s, b, galaxy)
                for b in alive for o, s in pairs]
        trained += train_in_processes(orbit_models, problem, jobs, n_jobs, progress=progress,
                                      desc=f"{method} networks, k = {k}")
        for b in list(alive):
            recs = []
            for o, s in pairs:
                rec, pred = run_one(orbit_models, problem, method, k, o, s, b, ml_show, galaxy,
                                    progress, n_jobs)
                recs.append(rec)
                preds[(method, k, o, s, b)] = pred
            study.runs += recs
            if prune and np.mean([r["inside_1sigma"] for r in recs]) < THRESHOLD:
                alive.remove(b)
                stopped[str(b)] = int(k)
    study.settings.setdefault("networks_trained_in_processes", {})[method] = trained
    study.settings.setdefault("budget_stopped", {})[method] = stopped
    study.settings.setdefault("network_steps", {})[method] = [int(k) for k in ks]


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The numbers of one method and step, over its runs (offsets × seeds)."""
    best = np.array([r["ml_best"] for r in runs])
    delta = np.abs([r["delta_over_halfwidth"] for r in runs])
    res = [r["heldout_residual"] for r in runs if r["heldout_residual"] is not None]
    n_train = [r["n_train"] for r in runs]
    return {
        "n_train": int(min(n_train)), "n_train_max": int(max(n_train)),
        "n_offsets": len({r["offset"] for r in runs}), "n_seeds": len({r["seed"] for r in runs}),
        "n_runs": len(runs),
        "frac_inside_1sigma": float(np.mean([r["inside_1sigma"] for r in runs])),
        "frac_inside_2sigma": float(np.mean([r["inside_2sigma"] for r in runs])),
        "ml_best_median": float(np.median(best)), "ml_best_min": float(best.min()),
        "ml_best_max": float(best.max()),
        "abs_delta_over_halfwidth_median": float(np.median(delta)),
        "abs_delta_over_halfwidth_max": float(delta.max()),
        "median_abs_heldout_residual_over_err": float(np.median(res)) if res else None,
        "train_seconds_median": float(np.median([r["train_seconds"] for r in runs])),
    }


def by_method(study: SparseStudy, budgets: Mapping[str, int | None] | None = None
              ) -> dict[str, dict[str, dict[str, Any]]]:
    """method → k (string) → :func:`aggregate` of its runs, in the order run; a network
    only with the runs of its read budget (``budgets[method]``; left out when ``None``)."""
    budgets = budgets or {}
    groups: dict[str, dict[str, list]] = {}
    for r in study.runs:
        if r["method"] in DCNN_RECIPES and r.get("gradient_steps") != budgets.get(r["method"]):
            continue
        groups.setdefault(r["method"], {}).setdefault(str(r["k"]), []).append(r)
    return {m: {k: aggregate(rs) for k, rs in sorted(by.items(), key=lambda kv: int(kv[0]))}
            for m, by in groups.items()}


def summary(study: SparseStudy, profile: str = "full") -> dict[str, Any]:
    """``06_sparse.json``: method → k → numbers (a network at its read budget); the
    training-budget control of each network (``<method>_budget_control``: budget → k →
    fraction inside 1σ with its interval, offsets, seeds, steps taken); the sparsest
    sufficient step per method; verdict sentences (``profile`` "quick": they say that such
    numbers support no conclusion)."""
    ctrl = {m: control.control(study.runs, m) for m in DCNN_RECIPES}
    ctrl = {m: c for m, c in ctrl.items() if c}
    stopped = study.settings.get("budget_stopped", {})
    rows = {m: control.budget_rows(c, stopped.get(m)) for m, c in ctrl.items()}
    read = {m: control.read_budget(r) for m, r in rows.items()}
    per = by_method(study, {m: None if b is None else int(b) for m, b in read.items()})
    out: dict[str, Any] = dict(per)
    for m, c in ctrl.items():
        out[f"{m}_budget_control"] = c
        out[f"{m}_budget_sparsest"] = rows[m]
    out["budget_read"] = {m: None if b is None else int(b) for m, b in read.items()}
    smallest = dict.fromkeys(METHODS)
    smallest.update({m: sparsest_k(by) for m, by in per.items()})
    out["smallest_k_90pct_1sigma"] = smallest
    out["smallest_k_90pct_2sigma"] = {m: sparsest_k(by, "frac_inside_2sigma") if by else None
                                      for m, by in ((m, per.get(m)) for m in METHODS)}
    out["smallest_n_90pct_1sigma"] = {
        m: (per[m][str(k)]["n_train"] if k is not None else None) for m, k in smallest.items()}
    out["smallest_label"] = {m: smallest_label(per.get(m), smallest[m]) for m in METHODS}
    for m, c in ctrl.items():
        if read[m] is None:
            out["smallest_label"][m] = (f"none: not read at any budget ({', '.join(c)} "
                                        "gradient steps; each below 90 % on the full grid)")
        else:
            out["smallest_label"][m] += f" with {read[m]} gradient steps"
    for m in per:
        if control.open_ended(per[m], smallest[m]):
            out["smallest_label"][m] += " (the sparsest step run: a lower bound)"
    fit = study.orbit_models.fit
    lo, hi = fit.ml_1sigma
    out["truth"] = {**fit.to_dict(), "halfwidth_1sigma": 0.5 * (hi - lo),
                    "method": "rescale (the orbit models themselves)"}
    out["protocol"] = {**study.settings,
                       "offsets_dcnn_label": _offsets_label(study.settings)}
    out["profile"] = profile
    out["n_models"] = int(study.orbit_models.ml.size)
    out["threshold"] = THRESHOLD
    out["n_runs"] = len(study.runs)
    out["verdict"] = verdicts(out)
    return out


def _offsets_label(settings: dict[str, Any]) -> str:
    """How many offsets and seeds the networks ran, in words."""
    nets = [m for m in DCNN_RECIPES if m in settings.get("offsets", {})]
    if not nets:
        return "no offsets (not run)"
    parts = []
    for m in nets:
        offs = settings["offsets"][m]
        ks = sorted(offs, key=int)
        counts = sorted({len(offs[k]) for k in ks})
        n = "–".join(str(c) for c in (counts[0], counts[-1])) if len(counts) > 1 else counts[0]
        parts.append(f"{m}: {n} offsets per step at k = {', '.join(ks)}")
    seeds = settings.get("seeds", [])
    budgets = ", ".join(str(b) for b in settings.get("budgets", []))
    return "; ".join(parts) + (f", {len(seeds)} seed{'s' if len(seeds) != 1 else ''} on the "
                               f"full grid and the first on each offset, {budgets} gradient "
                               "steps each")


def smallest_label(per_k: dict[str, dict[str, Any]] | None, k: int | None) -> str:
    """The headline of one method in words: ``"k = 16 (10–11 models)"``, or why there is none."""
    if not per_k:
        return "not run"
    if k is None:
        ks = sorted(int(q) for q in per_k)
        return f"none (already below 90 % at k = {ks[0]})"
    r = per_k[str(k)]
    size = (str(r["n_train"]) if r["n_train"] == r["n_train_max"]
            else f"{r['n_train']}–{r['n_train_max']}")
    return f"k = {k} ({size} models)"


def _fewer(a: int | None, b: int | None, a_open: bool = False, b_open: bool = False
           ) -> str:
    """How method a's sparsest sufficient step compares with b's (a larger step is a
    smaller set; ``None``: not even the densest step run reached the threshold). An *open*
    step is a lower bound (:func:`orbitnet.judge.budgets.open_ended`): the method was not run
    sparser, so only what the bounds imply is said, and :data:`UNRANKED` when they imply
    nothing."""
    a_, b_ = (0 if a is None else a), (0 if b is None else b)
    a_hi = float("inf") if a_open and a is not None else a_
    b_hi = float("inf") if b_open and b is not None else b_
    if a_ > b_hi:
        return "fewer models than"
    if a_hi < b_:
        return "more models than"
    if a_ == b_ and a_hi == a_ and b_hi == b_:
        return "as many models as"
    if a_ >= b_ and b_hi == b_:
        return "no more models than"
    if b_ >= a_ and a_hi == a_:
        return "no fewer models than"
    return UNRANKED


#: the comparison when a step that is only a lower bound leaves the order open
UNRANKED = "a number of models this run cannot rank against"


BASELINES = ("grid_parabola", "linear")
BASELINE_NAMES = {"grid_parabola": "a parabola through the models' own χ²",
                  "linear": "linear interpolation"}
#: verdict keys that hold whole sentences (the quick profile's say they conclude nothing)
SENTENCES = ("control", "comparison", "network", "sparsest")


def quick_note(summary: Mapping[str, Any]) -> str:
    """The sentence every verdict of a quick-profile page ends with."""
    budgets = ", ".join(str(b) for b in summary.get("protocol", {}).get("budgets", []))
    return (f" These are the quick profile's numbers ({budgets} gradient steps, "
            f"{summary.get('n_runs', 0)} runs), which support no conclusion.")


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """The chapter's judging phrases and sentences, chosen from ``06_sparse.json``'s numbers.

    ``<method>_vs_<baseline>``: how a baseline's sparsest sufficient grid (≥ 90 % of sets
    inside 1σ) compares with another's ("fewer models than", ...); ``sparsest_k`` and
    ``sparsest_methods``: the sparsest grid reached and who reaches it; ``control``: what
    each of the network's budgets shows; ``comparison``: the network against the baselines,
    at its read budget (it "needs more models" only when some budget reached the threshold
    on the full grid); ``network``: does it earn its place? On a quick-profile page each
    sentence says that its numbers support no conclusion.
    """
    per = {m: summary[m] for m in METHODS if isinstance(summary.get(m), dict) and summary[m]}
    smallest_k = summary["smallest_k_90pct_1sigma"]
    opens = {m: control.open_ended(per[m], smallest_k.get(m)) for m in per}
    out = {}
    for method, base in (("linear", "grid_parabola"), ("pca_gp", "grid_parabola"),
                         ("pca_gp", "linear")):
        out[f"{method}_vs_{base}"] = (_fewer(smallest_k.get(method), smallest_k.get(base),
                                             opens[method], opens[base])
                                      if method in per and base in per
                                      else "was not compared with")
    reached = {m: smallest_k[m] for m in per if smallest_k.get(m) is not None}
    if reached:
        k_max = max(reached.values())
        out["sparsest_methods"] = ", ".join(m for m in METHODS if reached.get(m) == k_max)
        out["sparsest_k"] = str(k_max)
        out["sparsest"] = (f"The sparsest sufficient grid, every {k_max}-th model, belongs to: "
                           f"{out['sparsest_methods']}.")
    else:
        out["sparsest_methods"], out["sparsest_k"] = "none", "none"
        out["sparsest"] = ("No method puts the best fit inside 1σ in 90 % of the sets on any "
                           "grid run.")
    ctrl = summary.get("dcnn_budget_control") or {}
    rows = summary.get("dcnn_budget_sparsest") or {}
    budget = (summary.get("budget_read") or {}).get("dcnn")
    out["control"] = control_sentence(ctrl, rows)
    out["comparison"] = _comparison(per, smallest_k, summary.get("smallest_label", {}),
                                    ctrl, budget, opens)
    out["network"] = _network_sentence(per, smallest_k, summary.get("smallest_label", {}),
                                       ctrl, budget, opens)
    if summary.get("profile") == "quick":
        for key in SENTENCES:
            out[key] += quick_note(summary)
    return out


def _comparison(per: dict[str, Any], smallest_k: Mapping[str, int | None],
                labels: Mapping[str, str], ctrl: Mapping[str, Any], budget: int | None,
                opens: Mapping[str, bool]) -> str:
    """The network against the baselines, naming its budget; where the network was not run
    as sparse as a baseline reaches, the sentence says that this is not measured."""
    bases = [b for b in BASELINES if b in per]
    if not ctrl:
        return "The network was not run in this build, so it is not compared with the baselines."
    if budget is None:
        names = ", ".join(control.ordered(ctrl))
        return (f"At none of its budgets ({names} gradient steps) does the network "
                "put the best fit inside 1σ in at least 90 % of the runs on the full grid, so "
                "this run cannot say whether it needs more or fewer models than the baselines.")
    if not bases:
        return (f"With {budget} gradient steps the network's sparsest sufficient grid is "
                f"{labels.get('dcnn')}; no baseline ran to compare it with.")
    net = smallest_k["dcnn"]
    rel = {b: _fewer(net, smallest_k.get(b), opens.get("dcnn", False), opens.get(b, False))
           for b in bases}
    own = control.k_label(per["dcnn"][str(net)], net)
    ranked = [b for b in bases if rel[b] != UNRANKED]
    parts = []
    if ranked:
        phrases = " and ".join(f"{rel[b]} {BASELINE_NAMES[b]} ({labels.get(b)})"
                               for b in ranked)
        parts.append(f"With {budget} gradient steps per network the network needs {phrases} "
                     f"to put the best fit inside 1σ in at least 90 % of the sets (the "
                     f"network: {own}" + ("; it was not run sparser)." if opens.get("dcnn")
                                          else ")."))
    unranked = [b for b in bases if b not in ranked]
    if unranked:
        names = " and ".join(f"{BASELINE_NAMES[b]} ({labels.get(b)})" for b in unranked)
        parts.append(f"With {budget} gradient steps the network still puts the best fit "
                     f"inside 1σ in at least 90 % of the sets at {own}, the sparsest step it "
                     f"was run at; {names} reach{'es' if len(unranked) == 1 else ''} a "
                     "sparser grid, where the network was not run, so this run cannot say "
                     "whether the network needs more models (the parameter network_steps "
                     "runs it there).")
    return " ".join(parts)


def _network_sentence(per: dict[str, dict[str, Any]], smallest_k: Mapping[str, int | None],
                      labels: Mapping[str, str], ctrl: Mapping[str, Any], budget: int | None,
                      opens: Mapping[str, bool]) -> str:
    """Does the network, at its read budget, reach a sparser sufficient grid than every
    baseline that ran? (Not measured where it was not run as sparse as the best baseline.)"""
    bases = [b for b in BASELINES if b in per]
    if not ctrl or not bases:
        return ("This run did not compare the network with the baselines (grid_parabola, "
                "linear), so it cannot say whether the network earns its place.")
    best = max(bases, key=lambda b: smallest_k.get(b) or 0)
    base = smallest_k.get(best) or 0
    if budget is None:
        return (f"The network does not keep the best fit inside 1σ in 90 % of the runs even "
                f"on the full grid at any budget ({', '.join(control.ordered(ctrl))} gradient "
                "steps), while "
                f"{best} reaches {labels.get(best)} with no training: as trained here, the "
                "network does not earn its place for M/L, and whether more training would "
                "change that is not measured.")
    net = smallest_k.get("dcnn") or 0
    against = (f"{labels.get('dcnn')} against {labels.get(best)} for {best}")
    if opens.get("dcnn") and net <= base:
        return (f"With {budget} gradient steps the network still keeps the best fit inside 1σ "
                f"in at least 90 % of the sets at the sparsest step it was run at ({against}), "
                f"so whether it earns its place for M/L is not measured here: it would need "
                f"to be run sparser than k = {base}.")
    if net > base:
        return (f"With {budget} gradient steps the network keeps the best fit inside 1σ in at "
                f"least 90 % of the sets on a sparser grid than every baseline run "
                f"({against}): here it earns its place.")
    if net == base:
        return (f"With {budget} gradient steps the network reaches the same sparsest grid as "
                f"the best baseline ({against}), with training and seeds the baseline does "
                "not need: it does not earn its place for M/L.")
    return (f"With {budget} gradient steps the best baseline keeps the best fit inside 1σ in "
            f"at least 90 % of the sets on a sparser grid than the network does ({against}), "
            "with no training: for M/L the network does not earn its place.")


# --- the training-budget control in words ---------------------------------


def _runs_text(full: Mapping[str, Any]) -> str:
    lo, hi = full["ci95"]
    return (f"{full['inside']} of {full['n_runs']} runs inside 1σ on the full grid "
            f"({full['n_seeds']} seed{'s' if full['n_seeds'] != 1 else ''}; 95 % interval "
            f"{lo:.2f}–{hi:.2f})")


def budget_sentence(budget: str, per_k: Mapping[str, Any], row: Mapping[str, Any],
                    threshold: float = control.THRESHOLD) -> str:
    """What one budget shows, in a sentence that names it and the steps taken."""
    full = per_k.get("1")
    pct = f"{threshold:.0%}".replace("%", " %")
    if full is None:
        return (f"With {budget} gradient steps the network was not run on the full grid, so "
                "its sparse rows are not read.")
    used = (f"{full['steps_used']} steps taken" if full["steps_used"] == full["steps_used_max"]
            else f"{full['steps_used']}–{full['steps_used_max']} steps taken")
    head = (f"With {budget} gradient steps ({used} on the full grid) the network puts "
            f"{_runs_text(full)}")
    if not row["read"]:
        return head + f": below {pct}, so its sparse rows are not read."
    if row.get("stopped_at") not in (None, 1):
        stop = f" (it stops at k = {row['stopped_at']}, below {pct})"
    elif control.open_ended(per_k, row.get("sparsest_k")):
        stop = " (the sparsest step it ran: a lower bound)"
    else:
        stop = ""
    return head + f"; its sparsest grid with at least {pct} inside 1σ is {row['label']}{stop}."


def control_sentence(ctrl: Mapping[str, Mapping[str, Any]],
                     rows: Mapping[str, Mapping[str, Any]]) -> str:
    """Every budget's sentence, then which budget stands for the network and why."""
    if not ctrl:
        return "The network was not run, so there is no training-budget control."
    parts = [budget_sentence(b, ctrl[b], rows[b]) for b in control.ordered(ctrl)]
    best = control.read_budget(rows)
    names = ", ".join(control.ordered(ctrl))
    if best is None:
        parts.append(f"No budget ({names} gradient steps) reaches the threshold on the full "
                     "grid: the network's failures on sparse sets measure its training, not "
                     "how many models it needs.")
    elif len(rows) > 1:
        parts.append(f"The comparison with the baselines below uses {best} gradient steps, "
                     f"the most favourable of the budgets {names}.")
    return " ".join(parts)
