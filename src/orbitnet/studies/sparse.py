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
L1/err loss and the fast or thesis recipe, trained for a fixed number of gradient steps at
every set size, on every model of the set, validated on the models of the offset halfway
between). DYNAMITE's exact rescaling of one library is the orbit models themselves: it is the
truth line, not a row of the comparison.
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
from orbitnet.judge import subsets
from orbitnet.judge.compare import evaluate

METHODS = ("grid_parabola", "linear", "pca_gp", "dcnn", "dcnn_thesis")
DCNN_RECIPES = {"dcnn": "fast", "dcnn_thesis": "thesis"}
LOSS = "l1_err"
THRESHOLD = 0.9  # the headline: the sparsest set with at least this fraction inside 1σ


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


def method_seeds(method: str, seeds: Sequence[int]) -> list[int]:
    """Seeds run: every one for the networks, the first for PCA+GP (it only seeds the GP
    optimiser's restarts), none (0) for the deterministic methods."""
    if method in DCNN_RECIPES:
        return [int(s) for s in seeds]
    return [int(seeds[0])] if method == "pca_gp" else [0]


def plan(n_models: int, steps: Sequence[int], methods: Sequence[str],
         seeds: Sequence[int], limits: Mapping[str, int | None] | None = None,
         method_steps: Mapping[str, Sequence[int]] | None = None
         ) -> dict[str, dict[str, Any]]:
    """What a study will run, per method: steps, runs, weight solves and training sets.

    Solves count the judged models a method must solve (interpolation reproduces its
    training models exactly, so ``linear`` solves only the held-out ones; ``grid_parabola``
    none). Used to size a profile before running it.
    """
    out = {}
    for method in methods:
        ks = sorted(int(k) for k in (method_steps or {}).get(method, steps))
        runs = solves = 0
        for k in ks:
            for o in method_offsets(method, k, limits):
                train = subsets.every_kth(n_models, k, int(o))
                judged = subsets.judged_range(train).size
                n_seeds = len(method_seeds(method, seeds))
                runs += n_seeds
                if method != "grid_parabola":
                    solves += n_seeds * (judged - (train.size if method == "linear" else 0))
        out[method] = {"steps": ks, "runs": runs, "solves": solves}
    return out


def network_job(method: str, n_models: int, k: int, offset: int, seed: int,
                gradient_steps: int, galaxy: str = paths.GALAXY) -> TrainJob:
    """The network ``method`` trains on the set (``k``, ``offset``): every model of the set,
    validated on held-out models of the other offsets, ``gradient_steps`` steps."""
    from orbitnet.emulators.recipes import epochs_for_steps, get_recipe

    recipe = get_recipe(DCNN_RECIPES[method])
    train = subsets.every_kth(n_models, k, offset)
    return TrainJob(
        out_dir=emulator_dir(galaxy, recipe.name, LOSS, f"sparse_k{k}_o{offset}_seed{seed}"),
        recipe=recipe.name, loss=LOSS, train_idx=tuple(int(i) for i in train),
        val_idx=tuple(int(i) for i in subsets.validation(n_models, k, offset)),
        epochs=epochs_for_steps(recipe, train.size, gradient_steps), galaxy=galaxy,
        overrides=(("seed", int(seed)),))


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
            train: np.ndarray, ml_best: float, heldout_residual: float | None, train_seconds: float,
            ml_1sigma: Sequence[float] | None = None) -> dict[str, Any]:
    ref = orbit_models.fit
    lo, hi = ref.ml_1sigma
    judged = subsets.judged_range(train)
    return {
        "method": method, "k": int(k), "offset": int(offset), "seed": int(seed),
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
            seed: int, gradient_steps: int, ml_show: float,
            galaxy: str = paths.GALAXY, progress: bool = True, n_jobs: int | None = None
            ) -> tuple[dict[str, Any], OrbitModels | None]:
    """Train ``method`` on the set (``k``, ``offset``), judge it on the set's range."""
    from orbitnet.emulators.baselines import grid_parabola

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    train = subsets.every_kth(orbit_models.ml.size, k, offset)
    if method == "grid_parabola":
        t0 = time.perf_counter()
        best = grid_parabola(orbit_models.ml[train], orbit_models.kinchi2[train])
        return _record(orbit_models, method, k, offset, seed, train, best, None,
                       time.perf_counter() - t0), None
    path = paths.sparse_prediction(galaxy, method, k, offset, seed)
    params = {"method": method, "train_ml": orbit_models.ml[train], "seed": int(seed),
              "cube": cube_fingerprint(orbit_models), "recipe": _recipe_dict(method),
              "gradient_steps": int(gradient_steps) if method in DCNN_RECIPES else None}
    pred, res = evaluate(
        _predictor(method, orbit_models, problem, k, offset, seed, gradient_steps, galaxy,
                   progress),
        orbit_models, problem, path, params, {}, ml_show=ml_show, progress=progress, n_jobs=n_jobs,
        desc=f"{method} k={k} o={offset}", judged=subsets.judged_range(train),
        heldout=subsets.heldout(train), residual_all=False, keep_weights=False,
        keep_show=method in DCNN_RECIPES)
    rec = _record(orbit_models, method, k, offset, seed, train, res["ml_best"],
                  res["median_abs_heldout_residual_over_err"], res["train_seconds"],
                  res["ml_1sigma"])
    return rec, pred


def run_study(orbit_models: OrbitModels, problem: WeightProblem, steps: Sequence[int], *,
              methods: Sequence[str], seeds: Sequence[int], offsets: int | None,
              pca_offsets: int | None, network_offsets: int,
              network_steps: Sequence[int] | None, gradient_steps: int, ml_show: float,
              galaxy: str = paths.GALAXY,
              progress: bool = True, n_jobs: int | None = None) -> SparseStudy:
    """Train and judge every method on its phase-shifted sets of every step.

    ``offsets``, ``pca_offsets``, ``network_offsets``: at most this many offsets per step
    (:func:`offset_limits`); ``network_steps``: the steps at which the networks run (default
    ``steps``); ``gradient_steps``: the networks' budget per coefficient at every set size.
    """
    limits = offset_limits(offsets, pca_offsets, network_offsets)
    method_steps = {m: network_steps for m in DCNN_RECIPES} if network_steps else None
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {METHODS}")
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if int(gradient_steps) < 1:
        raise ValueError(f"gradient_steps must be positive, got {gradient_steps}")
    todo = plan(orbit_models.ml.size, steps, methods, seeds, limits, method_steps)
    study = SparseStudy(orbit_models=orbit_models)
    study.settings = {"steps": sorted({int(k) for k in steps}), "seeds": [int(s) for s in seeds],
                      "gradient_steps": int(gradient_steps), "loss": LOSS,
                      "recipes": {m: r for m, r in DCNN_RECIPES.items() if m in methods},
                      "plan": todo, "offsets": {}, "seconds": {}}
    pretrain: dict[str, float] = {}
    for m in (m for m in methods if m in DCNN_RECIPES):  # networks first, in worker processes
        t0 = time.perf_counter()
        jobs = [network_job(m, orbit_models.ml.size, k, int(o), s, gradient_steps, galaxy)
                for k in todo[m]["steps"] for o in method_offsets(m, k, limits)
                for s in method_seeds(m, seeds)]
        study.settings.setdefault("networks_trained_in_processes", {})[m] = (
            train_in_processes(orbit_models, problem, jobs, n_jobs, progress=progress,
                               desc=f"{m} networks"))
        pretrain[m] = time.perf_counter() - t0
    for method in methods:
        t0 = time.perf_counter() - pretrain.get(method, 0.0)
        for k in todo[method]["steps"]:
            offs = method_offsets(method, k, limits)
            study.settings["offsets"].setdefault(method, {})[str(k)] = offs.tolist()
            for o in offs:
                for s in method_seeds(method, seeds):
                    rec, pred = run_one(orbit_models, problem, method, k, int(o), s, gradient_steps,
                                        ml_show, galaxy, progress, n_jobs)
                    study.runs.append(rec)
                    if pred is not None:
                        study.preds[(method, k, int(o), s)] = pred
        study.settings["seconds"][method] = time.perf_counter() - t0
    return study


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


def by_method(study: SparseStudy) -> dict[str, dict[str, dict[str, Any]]]:
    """method → k (string) → :func:`aggregate` of its runs, in the order run."""
    groups: dict[str, dict[str, list]] = {}
    for r in study.runs:
        groups.setdefault(r["method"], {}).setdefault(str(r["k"]), []).append(r)
    return {m: {k: aggregate(rs) for k, rs in sorted(by.items(), key=lambda kv: int(kv[0]))}
            for m, by in groups.items()}


def sparsest_k(per_k: dict[str, dict[str, Any]], key: str = "frac_inside_1sigma",
               threshold: float = THRESHOLD) -> int | None:
    """Largest step k (smallest set) at which it and every denser step run reach
    ``threshold``; ``None`` when the densest step run already misses it."""
    found = None
    for k in sorted(int(k) for k in per_k):
        if per_k[str(k)][key] < threshold:
            break
        found = k
    return found


def summary(study: SparseStudy) -> dict[str, Any]:
    """``06_sparse.json``: method → k → numbers; the sparsest sufficient step per method."""
    per = by_method(study)
    out: dict[str, Any] = dict(per)
    smallest = dict.fromkeys(METHODS)
    smallest.update({m: sparsest_k(by) for m, by in per.items()})
    out["smallest_k_90pct_1sigma"] = smallest
    out["smallest_k_90pct_2sigma"] = {m: sparsest_k(by, "frac_inside_2sigma") if by else None
                                      for m, by in ((m, per.get(m)) for m in METHODS)}
    out["smallest_n_90pct_1sigma"] = {
        m: (per[m][str(k)]["n_train"] if k is not None else None) for m, k in smallest.items()}
    out["smallest_label"] = {m: smallest_label(per.get(m), smallest[m]) for m in METHODS}
    fit = study.orbit_models.fit
    lo, hi = fit.ml_1sigma
    out["truth"] = {**fit.to_dict(), "halfwidth_1sigma": 0.5 * (hi - lo),
                    "method": "rescale (the orbit models themselves)"}
    out["protocol"] = {**study.settings,
                       "offsets_dcnn_label": _offsets_label(study.settings)}
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
    return "; ".join(parts) + f", {len(seeds)} seed{'s' if len(seeds) != 1 else ''} each"


def cost_table(summ: dict[str, Any]):
    """What each method ran: steps, offsets per step, runs, weight solves, wall seconds."""
    from astropy.table import Table

    proto = summ["protocol"]
    rows = []
    for method, p in proto["plan"].items():
        offs = proto["offsets"].get(method, {})
        per_k = ", ".join(f"{k}: {len(v)}" for k, v in offs.items())
        rows.append((method, per_k, p["runs"], p["solves"],
                     proto["seconds"].get(method, np.nan)))
    t = Table(rows=rows, names=("method", "offsets per k", "runs", "weight solves",
                                "wall s (this build)"))
    t["wall s (this build)"].format = ".0f"
    return t


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


def _fewer(a: int | None, b: int | None) -> str:
    """How method a's sparsest sufficient step compares with b's (a larger step is a
    smaller set; ``None``: not even the densest step run reached the threshold)."""
    a_, b_ = (0 if a is None else a), (0 if b is None else b)
    if a_ == b_:
        return "as many models as"
    return "fewer models than" if a_ > b_ else "more models than"


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """The chapter's judging phrases and sentence, chosen from ``06_sparse.json``'s numbers.

    ``<method>_vs_<baseline>``: how a method's sparsest sufficient grid (≥ 90 % of sets
    inside 1σ) compares with the no-emulator parabola's and linear interpolation's ("fewer
    models than", ...); ``sparsest_k`` and ``sparsest_methods``: the sparsest grid reached and
    who reaches it; ``network``: does the network earn its place against the baselines?
    """
    per = {m: summary[m] for m in METHODS if isinstance(summary.get(m), dict) and summary[m]}
    smallest_k = summary["smallest_k_90pct_1sigma"]
    labels = summary.get("smallest_label", {})
    out = {}
    for method in ("linear", "pca_gp", "dcnn", "dcnn_thesis"):
        for base in ("grid_parabola", "linear"):
            if method == base:
                continue
            key = f"{method}_vs_{base}"
            if method not in per or base not in per:
                out[key] = "was not compared with"
            else:
                out[key] = _fewer(smallest_k.get(method), smallest_k.get(base))
    reached = {m: smallest_k[m] for m in per if smallest_k.get(m) is not None}
    if reached:
        k_max = max(reached.values())
        out["sparsest_methods"] = ", ".join(m for m in METHODS if reached.get(m) == k_max)
        out["sparsest_k"] = str(k_max)
    else:
        out["sparsest_methods"], out["sparsest_k"] = "none", "none"
    out["network"] = _network_sentence(per, smallest_k, labels)
    return out


def _network_sentence(per: dict[str, dict[str, Any]], smallest_k: dict[str, int | None],
                      labels: dict[str, str]) -> str:
    """Does the network reach a sparser sufficient grid than every baseline that ran?"""
    bases = [b for b in ("grid_parabola", "linear") if b in per]
    if "dcnn" not in per or not bases:
        return ("This run did not compare the network with the baselines (grid_parabola, "
                "linear), so it cannot say whether the network earns its place.")
    net = smallest_k.get("dcnn") or 0
    best = max(bases, key=lambda b: smallest_k.get(b) or 0)
    base = smallest_k.get(best) or 0
    against = f"{labels.get('dcnn', 'none')} against {labels.get(best, 'none')} for {best}"
    if not net and not base:
        return (f"Neither the network nor any baseline keeps the best fit inside 1σ in at least "
                f"90 % of the sets even on the densest grid run ({against}).")
    if net > base:
        return (f"The network keeps the best fit inside 1σ in at least 90 % of the sets on a "
                f"sparser grid than every baseline run ({against}): here it earns its place.")
    if net == base and net:
        return (f"The network reaches the same sparsest grid as the best baseline ({against}), "
                "with training and seeds the baseline does not need: it does not earn its "
                "place for M/L.")
    if not net:
        return (f"The network does not keep the best fit inside 1σ in 90 % of the sets even on "
                f"the densest grid it ran ({labels.get('dcnn', 'none')}), while {best} does "
                f"down to {labels.get(best, 'none')} with no training: for M/L the network "
                "does not earn its place.")
    return (f"The best baseline keeps the best fit inside 1σ in at least 90 % of the sets on "
            f"a sparser grid than the network does ({against}), with no training: for M/L "
            "the network does not earn its place.")


def table(summ: dict[str, Any]):
    """Method × step: set size, runs, fraction inside 1σ/2σ, best fits, residual, time."""
    from astropy.table import Table

    rows = []
    for method in METHODS:
        for k, r in summ.get(method, {}).items():
            size = (str(r["n_train"]) if r["n_train"] == r["n_train_max"]
                    else f"{r['n_train']}–{r['n_train_max']}")
            res = r["median_abs_heldout_residual_over_err"]
            rows.append((method, int(k), size, f"{r['n_offsets']}×{r['n_seeds']}",
                         r["frac_inside_1sigma"], r["frac_inside_2sigma"],
                         f"{r['ml_best_median']:.3f} [{r['ml_best_min']:.2f}, "
                         f"{r['ml_best_max']:.2f}]",
                         r["abs_delta_over_halfwidth_median"],
                         np.nan if res is None else res, r["train_seconds_median"]))
    t = Table(rows=rows, names=("method", "k", "models", "offsets×seeds", "inside 1σ",
                                "inside 2σ", "best M/L: median [min, max]",
                                "median |Δ|/half-width", "held-out |pred−model|/err",
                                "training s"))
    for name, fmt in (("inside 1σ", ".0%"), ("inside 2σ", ".0%"),
                      ("median |Δ|/half-width", ".2f"), ("held-out |pred−model|/err", ".3g"),
                      ("training s", ".2g")):
        t[name].format = fmt
    return t


def sets_table(orbit_models: OrbitModels, steps: Sequence[int]):
    """The training sets of each step: offsets, sizes and the M/L range judged."""
    from astropy.table import Table

    rows = []
    n = orbit_models.ml.size
    for k in sorted(int(k) for k in steps):
        sizes = [subsets.every_kth(n, k, o).size for o in range(k)]
        first = subsets.every_kth(n, k, 0)
        rows.append((k, k, f"{min(sizes)}–{max(sizes)}" if min(sizes) != max(sizes)
                     else str(sizes[0]), f"{orbit_models.ml[k] - orbit_models.ml[0]:.2f}",
                     f"{orbit_models.ml[first[0]]:.2f}–{orbit_models.ml[first[-1]]:.2f}"))
    return Table(rows=rows, names=("k", "offsets", "models per set", "M/L spacing",
                                   "judged range (offset 0)"))
