"""Judge a prediction the way a modeller would: solve weights, compare χ² curves and images.

Every emulator (network, interpolation, PCA+GP) is scored with the same numbers: best-fit
M/L and its 1σ/2σ intervals from the kinchi2 curve of weights solved on its predicted
coefficients, whether that best fit lies inside the orbit models' own 1σ/2σ band, and the
median |prediction − model| in units of the error with which the solver weighs each
coefficient.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.emulators.cache import cube_fingerprint
from orbitnet.fit.chi2 import inside
from orbitnet.fit.cube import Models
from orbitnet.fit.gh import GH_NAMES
from orbitnet.fit.solver import WeightProblem, gh_errors
from orbitnet.fit.sweep import nearest_index

SPARSE_STEPS = (1, 2, 4, 8, 16, 32, 64)


def sparse_indices(n_models: int, step: int) -> np.ndarray:
    """Every ``step``-th model of a grid of ``n_models``, starting with the first."""
    if int(step) != step or step < 1:
        raise ValueError(f"step must be a positive integer, got {step}")
    if n_models < 1:
        raise ValueError(f"the grid is empty (n_models={n_models})")
    return np.arange(0, n_models, int(step))


def sparse_sets(n_models: int, steps: Sequence[int] = SPARSE_STEPS) -> dict[str, np.ndarray]:
    """Training sets keyed by their size as a string (``"161"``, ``"81"``, ...)."""
    out = {}
    for k in steps:
        idx = sparse_indices(n_models, k)
        out[str(idx.size)] = idx
    return out


def median_abs_residual_over_err(pred: np.ndarray, truth: np.ndarray, err: np.ndarray,
                                 chunk: int = 16) -> float:
    """Median over models, orbits, bins (and coefficients) of |pred − truth| / err.

    The one residual metric of the book. ``pred`` and ``truth`` are (models, orbits, bins,
    coefficients) with ``err`` (bins, coefficients), or one coefficient's (models, orbits,
    bins) with ``err`` (bins,).
    """
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from the models' {truth.shape}")
    parts = [
        (np.abs(pred[i:i + chunk].astype(np.float64) - truth[i:i + chunk]) / err[None, None])
        .astype(np.float32).ravel()
        for i in range(0, pred.shape[0], chunk)
    ]
    return float(np.median(np.concatenate(parts)))


def judge(pred: Models, truth: Models, err: np.ndarray | None = None,
          residual: float | None = None) -> dict[str, Any]:
    """Best fit, intervals, agreement with the orbit models' bands, and residual size."""
    if not np.allclose(pred.ml, truth.ml):
        raise ValueError("prediction and orbit models are on different M/L grids")
    fit, ref = pred.fit, truth.fit
    if residual is None and err is not None and pred.gh is not None:
        residual = median_abs_residual_over_err(pred.gh, truth.gh, err)
    return {
        "ml_best": fit.ml_best,
        "ml_best_refined": fit.ml_best_refined,
        "ml_1sigma": list(fit.ml_1sigma),
        "ml_2sigma": list(fit.ml_2sigma),
        "kinchi2_min": fit.chi2_min,
        "inside_model_1sigma": inside(ref.ml_1sigma, fit.ml_best),
        "inside_model_2sigma": inside(ref.ml_2sigma, fit.ml_best),
        "median_abs_residual_over_err": residual,
    }


def evaluate(fit_predict, truth: Models, problem: WeightProblem, path, params: dict[str, Any],
             inputs: dict[str, str], ml_show: float = 5.0, store_gh: bool = False,
             n_jobs: int | None = None, progress: bool = True, desc: str = "weights",
             per_coefficient: bool = False) -> tuple[Models, dict[str, Any]]:
    """Train/predict (only when the cached artifact at ``path`` is stale), solve, judge.

    The one path by which every prediction is judged. ``fit_predict()`` returns
    ``(gh, train_seconds)`` or ``(gh, train_seconds, spread)`` with ``gh`` the prediction on
    ``truth.ml`` and ``spread`` a per-pixel scatter (e.g. over a generator's draws). The
    artifact keeps χ² curves, weights, the judged numbers and the predicted images at
    ``ml_show`` (the whole cube only with ``store_gh``). With ``per_coefficient`` the result
    also holds ``h1``..``h4`` entries with each coefficient's residual (and spread) over err.
    """
    from orbitnet import store
    from orbitnet.fit.sweep import solve_many

    err = gh_errors(problem)
    i_show = nearest_index(truth.ml, ml_show)
    stats: dict[str, Any] = {}

    def compute() -> dict[str, np.ndarray]:
        gh, seconds, *rest = fit_predict()
        spread = rest[0] if rest else None
        gh = np.asarray(gh, dtype=np.float32)
        if gh.shape != truth.gh.shape:
            raise ValueError(f"prediction has shape {gh.shape}, the orbit models "
                             f"{truth.gh.shape}")
        chi2, kinchi2, weights = solve_many(problem, gh, n_jobs=n_jobs, progress=progress,
                                            desc=desc)
        stats["train_seconds"] = float(seconds)
        stats["median_abs_residual_over_err"] = median_abs_residual_over_err(gh, truth.gh, err)
        out = {"ml": truth.ml, "chi2": chi2, "kinchi2": kinchi2, "weights": weights,
               "gh_show": gh[i_show],
               "residual": np.asarray([median_abs_residual_over_err(gh[..., k], truth.gh[..., k],
                                                                    err[:, k])
                                       for k in range(gh.shape[-1])])}
        if store_gh:
            out["gh"] = gh
        if spread is not None:
            out["spread_show"] = spread[i_show]
            out["spread_over_err"] = np.asarray([float(np.median(spread[..., k] / err[:, k]))
                                                 for k in range(gh.shape[-1])])
        return out

    # what the artifact holds depends on these too: a change must not reuse a stale image
    params = {**params, "ml_show": float(truth.ml[i_show]), "store_gh": bool(store_gh)}
    data = store.cached(path, params, inputs, compute, attrs=stats)
    attrs = store.read_attrs(path)
    pred = Models(ml=data["ml"], gh=data.get("gh"), chi2=data["chi2"], kinchi2=data["kinchi2"],
                  weights=data["weights"], n_kin=truth.n_kin, path=path, attrs=attrs)
    pred.attrs["gh_show"] = data["gh_show"]
    pred.attrs["spread_show"] = data.get("spread_show")
    result = judge(pred, truth, residual=float(attrs["median_abs_residual_over_err"]))
    result["train_seconds"] = float(attrs["train_seconds"])
    if per_coefficient:
        for k, name in enumerate(GH_NAMES[:truth.gh.shape[-1]]):
            result[name] = {"median_abs_residual_over_err": float(data["residual"][k])}
            if "spread_over_err" in data:
                result[name]["spread_over_err"] = float(data["spread_over_err"][k])
    return pred, result


def predict_and_judge(emulator, truth: Models, problem: WeightProblem, path: Path,
                      store_gh: bool = True, ml_show: float = 5.0, progress: bool = True,
                      allow_extrapolation: bool = False, n_jobs: int | None = None
                      ) -> tuple[Models, dict[str, Any]]:
    """Predict every M/L of ``truth``, solve the weights, judge against the orbit models."""
    meta = emulator.meta
    train_seconds = [float(v) for v in meta.get("train_seconds", {}).values()]
    params = {"emulator": meta.get("recipe"), "loss": meta.get("loss"),
              "ml_range": list(emulator.ml_range), "cube": cube_fingerprint(truth),
              "train_seconds": train_seconds, "extrapolate": allow_extrapolation}

    def fit_predict():
        return (emulator.predict(truth.ml, allow_extrapolation=allow_extrapolation),
                float(sum(train_seconds)))

    pred, res = evaluate(fit_predict, truth, problem, path, params, {}, ml_show=ml_show,
                         store_gh=store_gh, n_jobs=n_jobs, progress=progress,
                         desc=f"weights ({meta.get('loss')})")
    res["train_seconds"] = train_seconds
    return pred, res

