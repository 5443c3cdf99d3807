"""How few orbit models does an emulator need? (Chapter 6.)

Every method is trained on every ``step``-th model of the grid and judged on all of it with
:func:`orbitnet.judge.compare.judge`. Methods: ``dcnn`` (the DCNN, L1/err loss, ``fast``
recipe), ``dcnn_thesis`` (the same with the thesis recipe), ``linear`` (per-pixel linear
interpolation), ``pca_gp`` (PCA + Gaussian processes) and ``rescale`` (DYNAMITE's exact
velocity rescaling of one orbit library: the orbit models themselves, whatever the set).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.emulators.cache import cube_fingerprint, emulator_dir, train_or_load
from orbitnet.fit.cube import Models
from orbitnet.fit.solver import WeightProblem, gh_errors
from orbitnet.judge.compare import evaluate, judge, sparse_indices

METHODS = ("dcnn", "dcnn_thesis", "linear", "pca_gp", "rescale")
DCNN_RECIPES = {"dcnn": "fast", "dcnn_thesis": "thesis"}


@dataclass
class SparseStudy:
    """Results and predictions keyed ``[method][set size]`` (set size as a string)."""

    results: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    preds: dict[str, dict[str, list[Models]]] = field(default_factory=dict)
    sets: dict[str, np.ndarray] = field(default_factory=dict)


def _fit_predict(method: str, truth: Models, idx: np.ndarray, problem: WeightProblem,
                 seed: int, epochs: int | None, galaxy: str, progress: bool):
    from orbitnet.emulators.baselines import LinearInterpolation, PCAGaussianProcess

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the smallest set extrapolates past its last model
            if method in DCNN_RECIPES:
                recipe = DCNN_RECIPES[method]
                out = emulator_dir(galaxy, recipe, "l1_err", f"set{idx.size}_seed{seed}")
                emu = train_or_load(truth, problem, recipe, "l1_err", out_dir=out,
                                    train_idx=idx, progress=progress, galaxy=galaxy,
                                    epochs=epochs, seed=seed)
                secs = float(sum(emu.meta["train_seconds"].values()))
                return emu.predict(truth.ml, allow_extrapolation=True), secs
            em = (LinearInterpolation() if method == "linear"
                  else PCAGaussianProcess(err=gh_errors(problem), seed=seed))
            em.fit(truth.ml[idx], truth.gh[idx])
            return em.predict(truth.ml, allow_extrapolation=True), em.train_seconds
    return run


def _recipe_dict(method: str) -> dict | None:
    from orbitnet.emulators.recipes import get_recipe

    return get_recipe(DCNN_RECIPES[method]).to_dict() if method in DCNN_RECIPES else None


def run_study(truth: Models, problem: WeightProblem, steps: Sequence[int],
              methods: Sequence[str] = METHODS, seeds: Sequence[int] = (0, 1, 2),
              seeded_max: int = 21, epochs: int | None = None, ml_show: float = 5.0,
              galaxy: str = paths.GALAXY, progress: bool = True) -> SparseStudy:
    """Train and judge every method on every sparse set.

    Sets with at most ``seeded_max`` models are repeated for every seed of ``seeds`` (for
    the seeded methods, DCNNs and PCA+GP); larger sets use the first seed.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {METHODS}")
    study = SparseStudy()
    for k in steps:
        idx = sparse_indices(truth.ml.size, int(k))
        study.sets[str(idx.size)] = idx
    fp = cube_fingerprint(truth)
    for method in methods:
        for name, idx in study.sets.items():
            if method == "rescale":
                res = judge(truth, truth, residual=0.0)
                res["train_seconds"] = 0.0
                study.results.setdefault(method, {})[name] = res
                study.preds.setdefault(method, {})[name] = [truth]
                continue
            seeded = method != "linear" and idx.size <= seeded_max
            runs, preds = [], []
            for seed in (seeds if seeded else seeds[:1]):
                path = (paths.artifacts_dir(galaxy) / "sparse"
                        / f"{method}_{name}_seed{seed}.h5")
                params = {"method": method, "train_ml": truth.ml[idx], "seed": seed,
                          "epochs": epochs, "cube": fp, "recipe": _recipe_dict(method)}
                pred, res = evaluate(
                    _fit_predict(method, truth, idx, problem, seed, epochs, galaxy, progress),
                    truth, problem, path, params, {}, ml_show=ml_show, progress=progress,
                    desc=f"{method} {name}")
                runs.append(res)
                preds.append(pred)
            study.results.setdefault(method, {})[name] = _combine(runs)
            study.preds.setdefault(method, {})[name] = preds
    return study


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's numbers, plus mean and spread of the best fit over seeded runs."""
    out = dict(runs[0])
    if len(runs) > 1:
        best = np.array([r["ml_best"] for r in runs])
        out["seeds"] = len(runs)
        out["ml_best_mean"] = float(best.mean())
        out["ml_best_std"] = float(best.std(ddof=1))
        out["ml_best_runs"] = best.tolist()
        out["inside_model_1sigma_runs"] = [r["inside_model_1sigma"] for r in runs]
        out["train_seconds"] = float(np.mean([r["train_seconds"] for r in runs]))
    return out


def smallest_inside(results: dict[str, dict[str, Any]], key: str) -> int | None:
    """Smallest set size from which on (all larger sets too) ``key`` holds."""
    sizes = sorted((int(n) for n in results), reverse=True)
    smallest = None
    for n in sizes:
        r = results[str(n)]
        ok = all(r.get(f"{key}_runs", [r[key]])) if f"{key}_runs" in r else r[key]
        if not ok:
            break
        smallest = n
    return smallest


def summary(study: SparseStudy) -> dict[str, Any]:
    """``06_sparse.json``: method → set size → numbers, and the smallest sufficient sets."""
    keep = ("ml_best", "ml_best_refined", "ml_1sigma", "ml_2sigma", "inside_model_1sigma",
            "inside_model_2sigma", "median_abs_residual_over_err", "train_seconds", "seeds",
            "ml_best_mean", "ml_best_std", "ml_best_runs")
    out: dict[str, Any] = {m: {n: {k: r[k] for k in keep if k in r} for n, r in by.items()}
                           for m, by in study.results.items()}
    # every method gets an entry (None when it was not run), so the prose can always quote it
    out["smallest"] = {m: {"inside_1sigma": None, "inside_2sigma": None} for m in METHODS}
    out["smallest"].update({m: {"inside_1sigma": smallest_inside(by, "inside_model_1sigma"),
                                "inside_2sigma": smallest_inside(by, "inside_model_2sigma")}
                            for m, by in study.results.items()})
    out["sets"] = {n: {"n_models": int(idx.size), "step": int(idx[1] - idx[0]) if idx.size > 1
                       else 0} for n, idx in study.sets.items()}
    sizes = sorted((int(n) for n in study.sets), reverse=True)
    out["largest_set"], out["smallest_set"] = sizes[0], sizes[-1]
    return out


def table(study: SparseStudy):
    """Set size × method: best fit, 1σ interval, inside the model's 1σ/2σ, residual, time."""
    from astropy.table import Table

    rows = []
    for method, by in study.results.items():
        for name, r in by.items():
            lo, hi = r["ml_1sigma"]
            best = (f"{r['ml_best_mean']:.2f} ± {r['ml_best_std']:.2f}" if "ml_best_std" in r
                    else f"{r['ml_best']:.2f}")
            inside1 = (f"{sum(r['inside_model_1sigma_runs'])}/{r['seeds']}" if "seeds" in r
                       else ("yes" if r["inside_model_1sigma"] else "no"))
            rows.append((int(name), method, best, f"{lo:.2f}–{hi:.2f}", inside1,
                         "yes" if r["inside_model_2sigma"] else "no",
                         r["median_abs_residual_over_err"], r["train_seconds"]))
    rows.sort(key=lambda r: (-r[0], METHODS.index(r[1])))
    t = Table(rows=rows, names=("models", "method", "best M/L", "1σ interval",
                                "inside model 1σ", "inside model 2σ",
                                "median |pred−model|/err", "training s"))
    t["median |pred−model|/err"].format = ".3g"
    t["training s"].format = ".1f"
    return t


def sets_table(study: SparseStudy, truth: Models):
    """The training sets: step, size and their M/L values."""
    from astropy.table import Table

    rows = []
    for idx in study.sets.values():
        step = int(idx[1] - idx[0]) if idx.size > 1 else 0
        ml = truth.ml[idx]
        shown = ", ".join(f"{m:.2f}" for m in ml) if ml.size <= 11 else (
            f"{ml[0]:.2f}, {ml[1]:.2f}, …, {ml[-1]:.2f} (step {ml[1] - ml[0]:.2f})")
        rows.append((step, int(idx.size), shown))
    return Table(rows=rows, names=("every k-th model", "models", "M/L values"))


def set_ends(study: SparseStudy, truth: Models) -> dict[str, Any]:
    """Where the smallest training set ends in M/L, and the grid's last M/L (for the prose)."""
    smallest = min(study.sets.values(), key=lambda idx: idx.size)
    return {"smallest_set_ml_last": float(truth.ml[smallest[-1]]),
            "grid_ml_last": float(truth.ml[-1]),
            "smallest_set_extrapolates": bool(smallest[-1] < truth.ml.size - 1)}


def sets_phrase(n: int | None, run: bool = True) -> str:
    """A smallest sufficient set in words: "17 models", or why there is none."""
    if not run:
        return "not run"
    return "no set, not even the full grid" if n is None else f"{n} models"


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """The chapter's judging sentence (``verdict.interpolation``), chosen from its numbers:
    does the network need fewer models than linear interpolation to stay inside the orbit
    models' 1σ interval, and does exact rescaling stay inside it with a single library?"""
    smallest = summary["smallest"]
    ran = {m for m in smallest if m in summary}
    parts = []
    if {"dcnn", "linear"} <= ran:
        d, lin = smallest["dcnn"]["inside_1sigma"], smallest["linear"]["inside_1sigma"]
        if d is not None and (lin is None or d < lin):
            parts.append(f"The network needs fewer models than linear interpolation to keep its "
                         f"best fit inside 1σ here ({sets_phrase(d)} against "
                         f"{sets_phrase(lin)}): it earns its place.")
        else:
            parts.append(f"Plain linear interpolation needs no more models than the network to "
                         f"keep its best fit inside 1σ ({sets_phrase(lin)} against "
                         f"{sets_phrase(d)}), with no training and no seed: for M/L the "
                         f"network does not earn its place.")
    else:
        parts.append("This run did not compare the network with linear interpolation.")
    if "rescale" in ran:
        r = smallest["rescale"]["inside_1sigma"]
        parts.append("Exact rescaling of one orbit library stays inside 1σ for every set, "
                     "because it needs no training set at all." if r is not None
                     and r == summary["smallest_set"] else
                     "Exact rescaling does not stay inside 1σ for every set in this run.")
    return {"interpolation": " ".join(parts)}
