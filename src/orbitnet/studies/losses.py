"""Train (or reload) DCNN emulators on the orbit-model cube and judge their predictions.

Chapters 3, 4, 6 and 7 share these steps. A trained emulator lives in
``build/artifacts/<galaxy>/dcnn/<recipe>/<loss>[/<tag>]/`` with a ``fingerprint.json`` that
records the recipe, loss, training models and the cube's provenance; a run whose fingerprint
matches is loaded instead of retrained.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.emulators.cache import train_or_load
from orbitnet.fit.cube import Models
from orbitnet.fit.solver import WeightProblem
from orbitnet.fit.sweep import nearest_index
from orbitnet.judge.compare import predict_and_judge


def loss_study(truth: Models, problem: WeightProblem, recipes: Sequence[str],
               losses: Sequence[str], epochs: int | None = None, progress: bool = True,
               galaxy: str = paths.GALAXY, store_gh: bool = False, ml_show: float = 5.0
               ) -> tuple[dict[str, dict[str, dict]], dict[str, dict[str, Models]]]:
    """Train (or reload) one emulator per recipe and loss; predict, solve and judge each.

    Returns ``results[recipe][loss]`` (numbers for ``04_losses.json``) and the predictions
    ``preds[recipe][loss]`` (stored as ``predictions_<recipe>_<loss>.h5``): χ² curves,
    weights and the image at ``ml_show`` (``attrs["gh_show"]``). The predicted cube itself
    (141 MB for 161 models) is kept only with ``store_gh``: holding all eight of the full
    profile at once cost 1.1 GB of memory and disk for one figure's single image.
    """
    results: dict[str, dict[str, dict]] = {}
    preds: dict[str, dict[str, Models]] = {}
    for rec in recipes:
        for loss in losses:
            emu = train_or_load(truth, problem, rec, loss, progress=progress, galaxy=galaxy,
                                epochs=epochs)
            path = paths.artifacts_dir(galaxy) / "dcnn" / f"predictions_{rec}_{loss}.h5"
            # the thesis recipe holds out the last 10 % of the grid: predicting there is an
            # extrapolation, which the thesis did silently and the book states
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                pred, res = predict_and_judge(emu, truth, problem, path, store_gh=store_gh,
                                              ml_show=ml_show, progress=progress,
                                              allow_extrapolation=True)
            res["trained_ml_range"] = list(emu.ml_range)
            res["epochs_run"] = [len(h["loss"]) for h in emu.meta["history"].values()]
            results.setdefault(rec, {})[loss] = res
            preds.setdefault(rec, {})[loss] = pred
    return results, preds


def results_table(results: dict[str, dict[str, dict]]):
    """One row per recipe and loss: best fit, 1σ interval, residuals, training time."""
    from astropy.table import Table

    rows = []
    for rec, by_loss in results.items():
        for loss, r in by_loss.items():
            lo, hi = r["ml_1sigma"]
            rows.append((rec, loss, r["ml_best"], f"{lo:.3f}–{hi:.3f}",
                         "yes" if r["inside_model_1sigma"] else "no",
                         r["median_abs_residual_over_err"], sum(r["train_seconds"])))
    names = ("recipe", "loss", "best M/L", "1σ interval", "inside model 1σ",
             "median |pred−model|/err", "training s (4 nets)")
    tab = Table(rows=rows, names=names)
    tab["median |pred−model|/err"].format = ".3g"
    tab["training s (4 nets)"].format = ".0f"
    return tab


def chapter4_summary(results: dict[str, dict[str, dict]], truth: Models, ml_show: float,
                     show_recipe: str, show_loss: str) -> dict[str, Any]:
    """``04_losses.json``: recipe → loss → numbers, plus the orbit models and the best run.

    The best run is the one whose best-fit M/L is closest to the orbit models' (ties broken
    by the smaller median residual).
    """
    fit = truth.fit
    out: dict[str, Any] = {rec: {loss: {
        "train_seconds": r["train_seconds"], "ml_best": r["ml_best"],
        "ml_best_refined": r["ml_best_refined"], "ml_1sigma": r["ml_1sigma"],
        "ml_2sigma": r["ml_2sigma"],
        "median_abs_residual_over_err": r["median_abs_residual_over_err"],
        "inside_model_1sigma": r["inside_model_1sigma"],
        "inside_model_2sigma": r["inside_model_2sigma"],
        "epochs_run": r.get("epochs_run"),
        "trained_ml_range": r.get("trained_ml_range")} for loss, r in by.items()}
        for rec, by in results.items()}
    ranked = sorted(((abs(r["ml_best_refined"] - fit.ml_best_refined),
                      r["median_abs_residual_over_err"], rec, loss)
                     for rec, by in results.items() for loss, r in by.items()))
    _, _, rec, loss = ranked[0]
    best = results[rec][loss]
    out["best"] = {"recipe": rec, "loss": loss, "ml_best": best["ml_best"],
                   "ml_1sigma": best["ml_1sigma"],
                   "train_seconds_total": float(sum(best["train_seconds"]))}
    out["truth"] = {"ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                    "ml_1sigma": list(fit.ml_1sigma), "ml_2sigma": list(fit.ml_2sigma),
                    "level_1sigma": fit.levels[0], "kinchi2_min": fit.chi2_min,
                    "sweep_seconds": float(truth.attrs.get("sweep_seconds", np.nan))}
    i_show = nearest_index(truth.ml, ml_show)
    out["ml_show_value"] = float(truth.ml[i_show])
    out["show_recipe"], out["show_loss"] = show_recipe, show_loss
    shown = results.get(show_recipe, {}).get(show_loss)
    out["show_median_residual"] = shown["median_abs_residual_over_err"] if shown else None
    out["n_models"] = int(truth.ml.size)
    out["verdict"] = verdicts(out)
    return out


def _median(x: float) -> str:
    return f"{x:.3g}"


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """The chapter's judging sentences, chosen from its numbers (``04_losses.json``).

    ``losses``: do the error-weighted losses put their accuracy where the fit needs it (a
    smaller median residual in units of the solver's errors than the unweighted ones)?
    ``thesis``: does the Δχ² test pick the thesis' L1/err? ``fit``: does the best run's best
    fit land inside the orbit models' 1σ (2σ) interval, and are its residuals small?
    """
    runs = [(rec, loss, r) for rec, by in summary.items() if isinstance(by, dict)
            for loss, r in by.items() if isinstance(r, dict) and "ml_best" in r]
    weighted = [r["median_abs_residual_over_err"] for _, loss, r in runs if loss.endswith("_err")]
    plain = [r["median_abs_residual_over_err"] for _, loss, r in runs if not loss.endswith("_err")]
    if not weighted or not plain:
        losses = ("This run did not train both error-weighted and unweighted losses, so it "
                  "cannot say whether weighting by the errors helps.")
    elif min(weighted) < min(plain):
        losses = ("The median residuals agree: the best error-weighted loss reaches "
                  f"{_median(min(weighted))} solver errors against {_median(min(plain))} for "
                  "the best unweighted one, so weighting by the errors does put the accuracy "
                  "where the fit needs it.")
    else:
        losses = ("The median residuals of this run do not bear it out: the best unweighted "
                  f"loss reaches {_median(min(plain))} solver errors, the best error-weighted "
                  f"one {_median(min(weighted))}.")
    best = summary["best"]
    thesis = ("The Δχ² test agrees with the thesis, which found the l1_err loss best."
              if best["loss"] == "l1_err" else
              f"The thesis found the l1_err loss best; here the Δχ² test prefers {best['loss']}.")
    r = summary[best["recipe"]][best["loss"]]
    resid = r["median_abs_residual_over_err"]
    size = ("a small fraction of the solver's errors" if resid < 0.5 else
            "comparable to the solver's errors" if resid < 2 else
            "several times the solver's errors")
    if r["inside_model_1sigma"]:
        where = "and its best fit lies inside the orbit models' 1σ interval"
    elif r["inside_model_2sigma"]:
        where = ("yet its best fit lies outside the orbit models' 1σ interval (inside 2σ): a "
                 "smooth bias in M/L is enough to shift the minimum of Δχ²")
    else:
        where = ("and its best fit lies outside even the orbit models' 2σ interval: this run "
                 "does not reproduce the orbit models' answer")
    fit = f"The best run's median residual ({_median(resid)}) is {size}, {where}."
    return {"losses": losses, "thesis": thesis, "fit": fit}
