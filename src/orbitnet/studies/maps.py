"""Kinematic maps of the orbit model and of a prediction, compared with the observations.

Three kinds of V, σ, h3, h4 per bin (Chapter 7):

* ``model``: the orbit model's LOSVD per bin fitted as DYNAMITE does
  (:func:`orbitnet.fit.kinematics.model_kinematics`, legacy method);
* ``model_first_order`` and ``prediction``: from per-orbit GH coefficients and the weights
  solved on them, to first order (:func:`orbitnet.fit.kinematics.first_order_kinematics`). A
  prediction has no LOSVDs, so the model–prediction comparison uses this route for both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.kinematics import (
    KINEMATIC_NAMES,
    ModelKinematics,
    first_order_kinematics,
    model_kinematics,
    read_nn_kinem,
    residual_stats,
)
from orbitnet.fit.solver import WeightProblem
from orbitnet.fit.sweep import nearest_index
from orbitnet.orblib.library import OrbitLibrary

COMPARISONS = ("obs_model", "obs_pred", "model_pred")


def observed(galaxy: Galaxy) -> tuple[ModelKinematics, ModelKinematics]:
    """Observed V, σ, h3, h4 and their errors."""
    k = galaxy.kinematics
    return (ModelKinematics(k.v, k.sigma, k.h3, k.h4),
            ModelKinematics(k.dv, k.dsigma, k.dh3, k.dh4))


def dynamite_check(galaxy: Galaxy, library: OrbitLibrary, problem: WeightProblem,
                   run_dir: Path, ml: float = 5.0) -> dict[str, dict[str, float]] | None:
    """Our model kinematics at ``ml`` against DYNAMITE's ``ml<ml>/nn_kinem.out``.

    Returns per quantity the residual statistics in units of the observational errors, or
    ``None`` when the run has no ``nn_kinem.out``.
    """
    path = paths.dynamite_model_kinematics(run_dir, ml)
    if not path.is_file():
        return None
    k = galaxy.kinematics
    w = problem.solve(gh_per_orbit(library, k.v, k.sigma, ml)).weights
    ours = model_kinematics(library, w, ml)
    theirs = read_nn_kinem(path).model
    _, err = observed(galaxy)
    return {q: residual_stats(ours[q], theirs[q], err[q]) for q in KINEMATIC_NAMES}


def kinematics_at(galaxy: Galaxy, library: OrbitLibrary, problem: WeightProblem,
                  gh: np.ndarray, ml: float, with_fit: bool = True) -> dict[str, Any]:
    """Weights solved on ``gh`` (n_orbits, n_bins, 4) at ``ml`` and the kinematics they give."""
    k = galaxy.kinematics
    res = problem.solve(gh)
    out = {"weights": res.weights, "kinchi2": res.kinchi2,
           "first_order": first_order_kinematics(gh, res.weights, k.v, k.sigma,
                                                 library.aperture_mass_target)}
    if with_fit:
        out["fit"] = model_kinematics(library, res.weights, ml)
    return out


def compare(obs: ModelKinematics, err: ModelKinematics, model: ModelKinematics,
            model_fo: ModelKinematics, pred: ModelKinematics) -> dict[str, dict[str, dict]]:
    """Residual statistics per comparison and quantity (``07_maps.json``)."""
    pairs = {"obs_model": (obs, model), "obs_pred": (obs, pred), "model_pred": (model_fo, pred),
             "route_check": (model, model_fo)}
    return {name: {q: {k: v for k, v in residual_stats(a[q], b[q], err[q]).items()
                       if k in ("median_abs_over_err", "p90_abs_over_err")}
                   for q in KINEMATIC_NAMES} for name, (a, b) in pairs.items()}


def residual_table(stats: dict[str, dict[str, dict]]):
    """Median and 90th percentile of |residual|/err per comparison and quantity."""
    from astropy.table import Table

    rows = []
    for name, by_q in stats.items():
        row = [name]
        for q in KINEMATIC_NAMES:
            row += [by_q[q]["median_abs_over_err"], by_q[q]["p90_abs_over_err"]]
        rows.append(row)
    names = ["comparison"] + [f"{q} {s}" for q in KINEMATIC_NAMES for s in ("median", "p90")]
    t = Table(rows=rows, names=names)
    for n in names[1:]:
        t[n].format = ".2f"
    return t


def map_study(galaxy: Galaxy, library: OrbitLibrary, problem: WeightProblem, orbit_models,
              train_step: int, recipe: str, epochs: int | None, seed: int,
              ml_map: float | None, run_dir: Path | None = None
              ) -> dict[str, Any]:
    """Everything Chapter 7 shows: kinematics of model and prediction, and the statistics.

    The network (L1/err loss) is trained on every ``train_step``-th model (or reloaded when
    a run with the same settings is stored); ``run_dir`` is the DYNAMITE run whose
    ``nn_kinem.out`` is checked (default: the reference run).
    """
    from orbitnet.data import paths
    from orbitnet.emulators.cache import emulator_dir, train_or_load
    from orbitnet.fit.cube import run_name
    from orbitnet.judge.subsets import every_kth

    name = run_name(galaxy)  # the run's artifacts folder (never another data's)
    idx = every_kth(orbit_models.ml.size, train_step)
    out_dir = emulator_dir(name, recipe, "l1_err", f"set{idx.size}_seed{seed}")
    emu = train_or_load(orbit_models, problem, recipe, "l1_err", out_dir=out_dir, train_idx=idx,
                        epochs=epochs, seed=seed, galaxy=name)
    ml = orbit_models.fit.ml_best if ml_map is None else float(ml_map)
    i = nearest_index(orbit_models.ml, ml)
    ml = float(orbit_models.ml[i])
    model = kinematics_at(galaxy, library, problem, orbit_models.gh[i].astype(float), ml)
    pred_gh = emu.predict([ml], allow_extrapolation=True)[0].astype(float)
    pred = kinematics_at(galaxy, library, problem, pred_gh, ml, with_fit=False)
    obs, err = observed(galaxy)
    comparisons = compare(obs, err, model["fit"], model["first_order"], pred["first_order"])
    check = dynamite_check(galaxy, library, problem, run_dir or paths.dynamite_run_dir(name))
    summary = {
        **{k: comparisons[k] for k in COMPARISONS},
        "comparisons": comparisons,
        "dynamite_check": check if check is not None else {
            q: dict.fromkeys(("median_abs_over_err", "p90_abs_over_err", "max_abs_over_err"))
            for q in KINEMATIC_NAMES},
        "ml_map_value": ml, "n_train": int(idx.size), "train_step": int(train_step),
        "recipe": recipe, "kinchi2_model": float(model["kinchi2"]),
        "kinchi2_prediction": float(pred["kinchi2"]),
    }
    summary["verdict"] = verdicts(summary)
    return {"model": model["fit"], "model_first_order": model["first_order"],
            "prediction": pred["first_order"], "summary": summary}


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """``verdict.emulator``: is the emulator's error (model − prediction) small next to the
    orbit model's own misfit (observed − model), in V and σ? Chosen from the medians."""
    comp = summary["comparisons"]
    rows = []
    for q, name in (("v", "V"), ("sigma", "σ")):
        em = comp["model_pred"][q]["median_abs_over_err"]
        fit = comp["obs_model"][q]["median_abs_over_err"]
        rows.append((name, em, fit, em < 0.5 * fit))
    if all(r[3] for r in rows):
        text = ("In V and σ the emulator's error is less than half the orbit model's own misfit, "
                "so a map of the prediction tells the same story as a map of the model.")
    else:
        worse = " and ".join(f"{n} ({em:.3g} against {fit:.3g})" for n, em, fit, ok in rows
                             if not ok)
        text = (f"In {worse} the emulator's error is not small next to the orbit model's own "
                "misfit, so a map of the prediction does not stand in for a map of the model.")
    return {"emulator": text}
