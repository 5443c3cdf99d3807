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
from orbitnet.data.galaxy import Galaxy
from orbitnet.emulators.cache import TrainJob, train_in_processes, train_or_load
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.solver import WeightProblem
from orbitnet.fit.sweep import nearest_index
from orbitnet.judge.compare import predict_and_judge


def loss_study(orbit_models: OrbitModels, problem: WeightProblem, recipes: Sequence[str],
               losses: Sequence[str], epochs: int | None = None, progress: bool = True,
               galaxy: str = paths.GALAXY, store_gh: bool = False, *, ml_show: float,
               n_jobs: int | None = None
               ) -> tuple[dict[str, dict[str, dict]], dict[str, dict[str, OrbitModels]]]:
    """Train (or reload) one emulator per recipe and loss; predict, solve and judge each.

    Returns ``results[recipe][loss]`` (numbers for ``04_losses.json``) and the predictions
    ``preds[recipe][loss]`` (stored as ``predictions_<recipe>_<loss>.h5``): χ² curves,
    weights and the image at ``ml_show`` (``attrs["gh_show"]``). The predicted cube itself
    (141 MB for 161 models) is kept only with ``store_gh``: holding all eight of the full
    profile at once cost 1.1 GB of memory and disk for one figure's single image.
    The networks are trained first, ``n_jobs`` at a time in worker processes
    (:func:`orbitnet.emulators.cache.train_in_processes`).
    """
    from orbitnet.emulators.recipes import get_recipe
    from orbitnet.emulators.training import split_models

    results: dict[str, dict[str, dict]] = {}
    preds: dict[str, dict[str, OrbitModels]] = {}
    train_in_processes(orbit_models, problem, [TrainJob(recipe=r, loss=loss, epochs=epochs,
                                                        galaxy=galaxy)
                                               for r in recipes for loss in losses],
                       n_jobs=n_jobs, progress=progress, desc="loss networks")
    for rec in recipes:
        _, heldout = split_models(orbit_models.ml.size, get_recipe(rec, epochs=epochs))
        for loss in losses:
            emu = train_or_load(orbit_models, problem, rec, loss, progress=progress, galaxy=galaxy,
                                epochs=epochs)
            path = paths.dcnn_predictions(galaxy, rec, loss)
            # the thesis recipe holds out the last 10 % of the grid: predicting there is an
            # extrapolation, which the thesis did silently and the book states
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                pred, res = predict_and_judge(emu, orbit_models, problem, path, store_gh=store_gh,
                                              ml_show=ml_show, progress=progress,
                                              allow_extrapolation=True, heldout=heldout)
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
            held = r.get("median_abs_heldout_residual_over_err")
            rows.append((rec, loss, r["ml_best"], f"{lo:.3f}–{hi:.3f}",
                         "yes" if r["inside_model_1sigma"] else "no",
                         np.nan if held is None else held,
                         r["median_abs_residual_over_err"], sum(r["train_seconds"])))
    names = ("recipe", "loss", "best M/L", "1σ interval", "inside model 1σ",
             "held-out |pred−model|/err", "all models |pred−model|/err", "training s (4 nets)")
    tab = Table(rows=rows, names=names)
    tab["held-out |pred−model|/err"].format = ".3g"
    tab["all models |pred−model|/err"].format = ".3g"
    tab["training s (4 nets)"].format = ".0f"
    return tab


def inside_phrase(inside: bool) -> str:
    """``"inside"`` or ``"outside"``: the verdict word the prose quotes."""
    return "inside" if inside else "outside"


def headline(results: dict[str, dict[str, dict]]) -> tuple[str, str]:
    """The run the chapter puts first: the lowest median |prediction − model| / err on the
    models it did not train on (its validation models). It does not look at the best fit,
    the number the run is judged by; ties go to the smaller residual over all models."""
    ranked = sorted((np.inf if r.get("median_abs_heldout_residual_over_err") is None
                     else r["median_abs_heldout_residual_over_err"],
                     r["median_abs_residual_over_err"], rec, loss)
                    for rec, by in results.items() for loss, r in by.items())
    _, _, rec, loss = ranked[0]
    return rec, loss


def chapter4_summary(results: dict[str, dict[str, dict]], orbit_models: OrbitModels, ml_show: float,
                     show_recipe: str, show_loss: str,
                     engine: dict[str, Any] | None = None) -> dict[str, Any]:
    """``04_losses.json``: recipe → loss → numbers, the orbit models, the headline run
    (:func:`headline`) and, when given, the fast recipe on the engine's cube
    (:func:`engine_check`)."""
    fit = orbit_models.fit
    out: dict[str, Any] = {rec: {loss: {
        "train_seconds": r["train_seconds"], "ml_best": r["ml_best"],
        "ml_best_refined": r["ml_best_refined"], "ml_1sigma": r["ml_1sigma"],
        "ml_2sigma": r["ml_2sigma"],
        "median_abs_residual_over_err": r["median_abs_residual_over_err"],
        "median_abs_heldout_residual_over_err": r.get("median_abs_heldout_residual_over_err"),
        "inside_model_1sigma": r["inside_model_1sigma"],
        "inside_model_2sigma": r["inside_model_2sigma"],
        "epochs_run": r.get("epochs_run"),
        "trained_ml_range": r.get("trained_ml_range")} for loss, r in by.items()}
        for rec, by in results.items()}
    rec, loss = headline(results)
    best = results[rec][loss]
    out["best"] = {"recipe": rec, "loss": loss, "ml_best": best["ml_best"],
                   "ml_1sigma": best["ml_1sigma"],
                   "inside_model_1sigma": best["inside_model_1sigma"],
                   "median_abs_heldout_residual_over_err":
                       best.get("median_abs_heldout_residual_over_err"),
                   "criterion": "lowest median |prediction - model|/err on its validation "
                                "models",
                   "inside_phrase": inside_phrase(best["inside_model_1sigma"]),
                   "train_seconds_total": float(sum(best["train_seconds"]))}
    out["n_inside_model_1sigma"] = sum(r["inside_model_1sigma"] for by in results.values()
                                       for r in by.values())
    out["n_runs"] = sum(len(by) for by in results.values())
    out["truth"] = {"ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                    "ml_1sigma": list(fit.ml_1sigma), "ml_2sigma": list(fit.ml_2sigma),
                    "level_1sigma": fit.levels[0], "kinchi2_min": fit.chi2_min,
                    "sweep_seconds": float(orbit_models.attrs.get("sweep_seconds", np.nan))}
    out["recipe_chosen_on"] = "the DYNAMITE cube of NGC 6278 (orbit_models.h5)"
    if engine is not None:
        out["engine_cube"] = engine
    i_show = nearest_index(orbit_models.ml, ml_show)
    out["ml_show_value"] = float(orbit_models.ml[i_show])
    out["show_recipe"], out["show_loss"] = show_recipe, show_loss
    shown = results.get(show_recipe, {}).get(show_loss)
    out["show_median_residual"] = shown["median_abs_residual_over_err"] if shown else None
    out["n_models"] = int(orbit_models.ml.size)
    out["verdict"] = verdicts(out)
    return out


def _median(x: float) -> str:
    return f"{x:.3g}"


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """The chapter's judging sentences, chosen from its numbers (``04_losses.json``).

    ``losses``: do the error-weighted losses put their accuracy where the fit needs it (a
    smaller median residual in units of the solver's errors than the unweighted ones; on the
    models the runs did not train on where every run has them)? ``thesis``: does the
    headline run use the thesis' L1/err? ``fit``: does the headline run's best fit land inside
    the orbit models' 1σ (2σ) interval, and are its residuals small? ``engine`` (when the
    summary has ``engine_cube``): where the fast recipe, unchanged, lands on the engine's cube.
    """
    skip = {"best", "truth", "engine_cube"}
    runs = [(loss, r) for rec, by in summary.items() if rec not in skip and isinstance(by, dict)
            for loss, r in by.items() if isinstance(r, dict) and "ml_best" in r]
    held = all(r.get("median_abs_heldout_residual_over_err") is not None for _, r in runs)
    key = "median_abs_heldout_residual_over_err" if held else "median_abs_residual_over_err"
    where_res = "on the models they did not train on" if held else "over all models"
    weighted = [r[key] for loss, r in runs if loss.endswith("_err")]
    plain = [r[key] for loss, r in runs if not loss.endswith("_err")]
    if not weighted or not plain:
        losses = ("This run did not train both error-weighted and unweighted losses, so it "
                  "cannot say whether weighting by the errors helps.")
    elif min(weighted) < min(plain):
        losses = (f"The median residuals {where_res} agree: the best error-weighted loss "
                  f"reaches {_median(min(weighted))} solver errors against "
                  f"{_median(min(plain))} for the best unweighted one, so weighting by the "
                  "errors does put the accuracy where the fit needs it.")
    else:
        losses = (f"The median residuals {where_res} do not bear it out: the best unweighted "
                  f"loss reaches {_median(min(plain))} solver errors, the best error-weighted "
                  f"one {_median(min(weighted))}.")
    best = summary["best"]
    thesis = ("The headline run uses the thesis' l1_err loss."
              if best["loss"] == "l1_err" else
              f"The thesis found the l1_err loss best; here the headline run (lowest residual "
              f"on its validation models) uses {best['loss']}.")
    r = summary[best["recipe"]][best["loss"]]
    resid = r.get("median_abs_heldout_residual_over_err")
    on = "on its validation models"
    if resid is None:
        resid, on = r["median_abs_residual_over_err"], "over all models"
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
    fit = f"The headline run's median residual {on} ({_median(resid)}) is {size}, {where}."
    out = {"losses": losses, "thesis": thesis, "fit": fit}
    eng = summary.get("engine_cube") or {}
    runs_e = {k: v for k, v in eng.items()
              if k != "main" and isinstance(v, dict) and "inside_engine_1sigma" in v}
    if not runs_e:
        out["engine"] = ("The fast recipe was not run on the engine's cube in this build "
                         "(`engine_losses` is empty), so this page has no out-of-sample check "
                         "of the recipe.")
        return out
    n_in = sum(bool(v["inside_engine_1sigma"]) for v in runs_e.values())
    n_in2 = sum(bool(v.get("inside_engine_2sigma")) for v in runs_e.values())
    main_loss = eng.get("main_loss") if eng.get("main_loss") in runs_e else next(iter(runs_e))
    main = runs_e[main_loss]
    truth = eng.get("truth") or {}
    own = ""
    if truth.get("ml_1sigma") and truth.get("ml_best") is not None:
        lo, hi = truth["ml_1sigma"]
        own = f" (its own best fit {truth['ml_best']:.3g}, 1σ {lo:.3f}–{hi:.3f})"
    first = (f"On the engine's cube, which the recipe was not chosen on{own}, the {main_loss} "
             f"loss lands at {main['ml_best']:.3g}, {inside_phrase(main['inside_engine_1sigma'])} "
             "that cube's own 1σ interval")
    if len(runs_e) == 1:
        out["engine"] = first + "."
    elif n_in == len(runs_e):
        out["engine"] = f"{first}; all {len(runs_e)} losses land inside it."
    else:
        out["engine"] = (f"{first}; {n_in} of {len(runs_e)} losses land inside it "
                         f"({n_in2} inside 2σ).")
    if n_in == len(runs_e):
        out["engine"] += " The recipe carries over to orbits it was not tuned on."
    elif n_in == 0:
        out["engine"] += " The recipe does not carry over unchanged."
    else:
        out["engine"] += " The recipe carries over only in part."
    return out


def engine_check(galaxy: Galaxy, losses: Sequence[str], recipe: str = "fast",
                 epochs: int | None = None, progress: bool = True, n_jobs: int | None = None,
                 *, ml_show: float) -> tuple[dict[str, Any], dict[str, OrbitModels], OrbitModels]:
    """The recipe, unchanged, trained and judged on the embedded engine's cube.

    The engine's orbits differ from DYNAMITE's (its own best fit and 1σ band), so this is an
    out-of-sample check of a recipe chosen on DYNAMITE's cube. Returns ``engine_cube`` for
    ``04_losses.json`` (loss → ``ml_best``, ``ml_1sigma``, ``inside_engine_1sigma``, ...,
    plus the cube's own ``truth``), the predictions, and the engine's cube.
    """
    from orbitnet.emulators.cache import emulator_dir
    from orbitnet.fit import cube

    if not losses:  # the check is not run: no engine cube needed
        return {"recipe": recipe, "cube": None}, {}, None
    path = cube.engine_cube_path(cube.run_name(galaxy))
    engine = cube.read_models(path)
    library, _ = cube.engine_library(galaxy, progress=progress)
    problem = cube.weight_problem(galaxy, library)
    fit = engine.fit
    out: dict[str, Any] = {"recipe": recipe, "cube": path.name,
                           "truth": {"ml_best": fit.ml_best,
                                     "ml_best_refined": fit.ml_best_refined,
                                     "ml_1sigma": list(fit.ml_1sigma),
                                     "ml_2sigma": list(fit.ml_2sigma)}}
    preds: dict[str, OrbitModels] = {}
    folder = {loss: emulator_dir(cube.run_name(galaxy), recipe, loss, "engine_cube")
              for loss in losses}
    train_in_processes(engine, problem, [
        TrainJob(out_dir=folder[loss], recipe=recipe, loss=loss, epochs=epochs,
                 galaxy=cube.run_name(galaxy)) for loss in losses],
        n_jobs=n_jobs, progress=progress, desc="engine-cube networks")
    for loss in losses:
        emu = train_or_load(engine, problem, recipe, loss, progress=progress,
                            galaxy=cube.run_name(galaxy), epochs=epochs, out_dir=folder[loss])
        pred_path = paths.dcnn_predictions(cube.run_name(galaxy), f"engine_{recipe}", loss)
        pred, res = predict_and_judge(emu, engine, problem, pred_path, store_gh=False,
                                      ml_show=ml_show, progress=progress)
        out[loss] = {"ml_best": res["ml_best"], "ml_best_refined": res["ml_best_refined"],
                     "ml_1sigma": res["ml_1sigma"],
                     "inside_engine_1sigma": res["inside_model_1sigma"],
                     "inside_phrase": inside_phrase(res["inside_model_1sigma"]),
                     "inside_engine_2sigma": res["inside_model_2sigma"],
                     "median_abs_heldout_residual_over_err":
                         res["median_abs_heldout_residual_over_err"]}
        preds[loss] = pred
    if losses:
        main = "l1_err" if "l1_err" in losses else losses[0]
        out["main_loss"], out["main"] = main, out[main]
    return out, preds, engine


def engine_table(engine: dict[str, Any]):
    """The fast recipe on the engine's cube: one row per loss."""
    from astropy.table import Table

    losses = [k for k, v in engine.items()
              if isinstance(v, dict) and "inside_engine_1sigma" in v and k != "main"]
    rows = []
    for loss in losses:
        r = engine[loss]
        lo, hi = r["ml_1sigma"]
        held = r["median_abs_heldout_residual_over_err"]
        rows.append((loss, r["ml_best"], f"{lo:.3f}–{hi:.3f}",
                     "yes" if r["inside_engine_1sigma"] else "no",
                     "yes" if r["inside_engine_2sigma"] else "no",
                     np.nan if held is None else held))
    tab = Table(rows=rows, names=("loss", "best M/L", "1σ interval", "inside engine 1σ",
                                  "inside engine 2σ", "held-out |pred−model|/err"))
    tab["held-out |pred−model|/err"].format = ".3g"
    return tab
