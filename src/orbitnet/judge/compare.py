"""Judge a prediction the way a modeller would: solve weights, compare χ² curves and images.

Every emulator (network, interpolation, PCA+GP) is scored with the same numbers: best-fit
M/L and its 1σ/2σ intervals from the kinchi2 curve of weights solved on its predicted
coefficients, whether that best fit lies inside the orbit models' own 1σ/2σ band, and the
median |prediction − model| in units of the error with which the solver weighs each
coefficient. A prediction may cover a contiguous part of the grid (``judged``: a training
set's own M/L range, see :mod:`orbitnet.judge.subsets`), and the residual may be restricted
to models the emulator did not train on (``heldout``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.emulators.cache import cube_fingerprint
from orbitnet.fit.chi2 import inside
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.gh import GH_NAMES
from orbitnet.fit.solver import WeightProblem, gh_errors
from orbitnet.fit.sweep import nearest_index


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


def judge(pred: OrbitModels, orbit_models: OrbitModels, err: np.ndarray | None = None,
          residual: float | None = None) -> dict[str, Any]:
    """Best fit, intervals, agreement with the orbit models' bands, and residual size.

    ``pred`` covers the orbit models' M/L grid or a contiguous part of it; the orbit models'
    bands are always those of their whole grid.
    """
    i0 = _grid_start(pred.ml, orbit_models.ml)
    fit, ref = pred.fit, orbit_models.fit
    if residual is None and err is not None and pred.gh is not None:
        residual = median_abs_residual_over_err(pred.gh, orbit_models.gh[i0:i0 + pred.ml.size],
                                                err)
    if residual is not None and not np.isfinite(residual):
        residual = None
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


def _grid_start(ml: np.ndarray, grid: np.ndarray) -> int:
    """Index in ``grid`` where the contiguous part ``ml`` starts (an error if it is not one)."""
    ml, grid = np.asarray(ml, dtype=float), np.asarray(grid, dtype=float)
    i0 = nearest_index(grid, ml[0])
    if ml.size > grid.size - i0 or not np.allclose(ml, grid[i0:i0 + ml.size]):
        raise ValueError("prediction and orbit models are on different M/L grids")
    return i0


def _contiguous(judged: np.ndarray | None, n: int) -> np.ndarray:
    if judged is None:
        return np.arange(n)
    judged = np.asarray(judged, dtype=int)
    if (judged.ndim != 1 or judged.size == 0 or judged[0] < 0 or judged[-1] >= n
            or np.any(np.diff(judged) != 1)):
        raise ValueError("judged must be a contiguous, increasing run of model indices")
    return judged


def evaluate(fit_predict, orbit_models: OrbitModels, problem: WeightProblem, path,
             params: dict[str, Any], inputs: dict[str, str], ml_show: float,
             store_gh: bool = False, n_jobs: int | None = None, progress: bool = True,
             desc: str = "weights",
             per_coefficient: bool = False, judged: np.ndarray | None = None,
             heldout: np.ndarray | None = None, residual_all: bool = True,
             keep_weights: bool = True, keep_show: bool = True
             ) -> tuple[OrbitModels, dict[str, Any]]:
    """Train/predict (only when the cached artifact at ``path`` is stale), solve, judge.

    The one path by which every prediction is judged. ``fit_predict()`` returns
    ``(gh, train_seconds)`` or ``(gh, train_seconds, spread)`` with ``gh`` the prediction on
    ``truth.ml[judged]`` (default: the whole grid; a training set's own range, see
    :mod:`orbitnet.judge.subsets`) and ``spread`` a per-pixel scatter (e.g. over a
    generator's draws).

    Residuals: over all judged models (``median_abs_residual_over_err``, unless
    ``residual_all`` is false) and over the models ``heldout`` the emulator did not train on
    (``median_abs_heldout_residual_over_err``; ``None`` when none were held out or ``heldout``
    is not given). With ``per_coefficient`` the result also holds ``h1``..``h4`` entries with
    each coefficient's residual (and spread) over err, on all judged models.

    Where a prediction equals the stored orbit model exactly (interpolation at a training
    model), the orbit models' own χ² and weights are used instead of solving again (they were
    solved on the float64 coefficients before storing them as float32; the difference in
    kinchi2 is ~1e-4). The artifact keeps χ² curves, weights (``keep_weights``), the judged
    numbers and the predicted images at ``ml_show`` (``keep_show``; the whole prediction only
    with ``store_gh``).
    """
    from orbitnet.fit.sweep import solve_many
    from orbitnet.store.artifacts import cached, read_attrs

    judged = _contiguous(judged, orbit_models.ml.size)
    held = judged[:0] if heldout is None else np.asarray(heldout, dtype=int)
    if not np.all(np.isin(held, judged)):
        raise ValueError("held-out models must lie in the judged range")
    err = gh_errors(problem)
    i_show = nearest_index(orbit_models.ml, ml_show)
    show = keep_show and judged[0] <= i_show <= judged[-1]
    stats: dict[str, Any] = {}

    def compute() -> dict[str, np.ndarray]:
        gh, seconds, *rest = fit_predict()
        spread = rest[0] if rest else None
        gh = np.asarray(gh, dtype=np.float32)
        want = (judged.size, *orbit_models.gh.shape[1:])
        if gh.shape != want:
            raise ValueError(f"prediction has shape {gh.shape}, expected {want} "
                             "(the judged orbit models)")
        ref = orbit_models.gh[judged]
        same = np.array([np.array_equal(g, r) for g, r in zip(gh, ref, strict=True)])
        chi2, kinchi2 = orbit_models.chi2[judged].copy(), orbit_models.kinchi2[judged].copy()
        weights = orbit_models.weights[judged].copy()
        todo = np.flatnonzero(~same)
        if todo.size:
            c, k, w = solve_many(problem, gh[todo], n_jobs=n_jobs, progress=progress,
                                 desc=desc)
            chi2[todo], kinchi2[todo], weights[todo] = c, k, w
        nan = float("nan")
        stats["train_seconds"] = float(seconds)
        stats["n_solved"] = int(todo.size)
        stats["median_abs_residual_over_err"] = (
            median_abs_residual_over_err(gh, ref, err) if residual_all else nan)
        stats["median_abs_heldout_residual_over_err"] = (
            median_abs_residual_over_err(gh[held - judged[0]], orbit_models.gh[held], err)
            if held.size else nan)
        out = {"ml": orbit_models.ml[judged], "chi2": chi2, "kinchi2": kinchi2,
               "weights": weights if keep_weights else np.zeros((judged.size, 0))}
        if show:
            out["gh_show"] = gh[i_show - judged[0]]
        if store_gh:
            out["gh"] = gh
        if per_coefficient:
            out["residual"] = np.asarray([
                median_abs_residual_over_err(gh[..., k], ref[..., k], err[:, k])
                for k in range(gh.shape[-1])])
        if spread is not None:
            if show:
                out["spread_show"] = spread[i_show - judged[0]]
            out["spread_over_err"] = np.asarray([float(np.median(spread[..., k] / err[:, k]))
                                                 for k in range(gh.shape[-1])])
        return out

    # what the artifact holds depends on these too: a change must not reuse a stale image
    params = {**params, "judged": [int(judged[0]), int(judged[-1])],
              "heldout": held.tolist(), "residual_all": bool(residual_all),
              "per_coefficient": bool(per_coefficient),
              "ml_show": float(orbit_models.ml[i_show]), "store_gh": bool(store_gh),
              "keep": [bool(keep_weights), bool(show), bool(store_gh)]}
    data = cached(path, params, inputs, compute, attrs=stats)
    attrs = read_attrs(path)
    pred = OrbitModels(ml=data["ml"], gh=data.get("gh"), chi2=data["chi2"], kinchi2=data["kinchi2"],
                       weights=data["weights"], n_kin=orbit_models.n_kin, path=path, attrs=attrs)
    pred.attrs["gh_show"] = data.get("gh_show")
    pred.attrs["spread_show"] = data.get("spread_show")
    result = judge(pred, orbit_models, residual=float(attrs["median_abs_residual_over_err"]))
    held_res = float(attrs["median_abs_heldout_residual_over_err"])
    result["median_abs_heldout_residual_over_err"] = held_res if np.isfinite(held_res) else None
    result["train_seconds"] = float(attrs["train_seconds"])
    if per_coefficient:
        for k, name in enumerate(GH_NAMES[:orbit_models.gh.shape[-1]]):
            result[name] = {"median_abs_residual_over_err": float(data["residual"][k])}
            if "spread_over_err" in data:
                result[name]["spread_over_err"] = float(data["spread_over_err"][k])
    return pred, result


def predict_and_judge(emulator, orbit_models: OrbitModels, problem: WeightProblem, path: Path,
                      store_gh: bool = True, *, ml_show: float, progress: bool = True,
                      allow_extrapolation: bool = False, n_jobs: int | None = None,
                      heldout: np.ndarray | None = None) -> tuple[OrbitModels, dict[str, Any]]:
    """Predict every M/L of ``truth``, solve the weights, judge against the orbit models.

    ``heldout``: the models the emulator did not train on (default: every model whose M/L is
    not in the emulator's ``train_ml``, when it records them).
    """
    meta = emulator.meta
    if heldout is None and meta.get("train_ml") is not None:
        trained = np.asarray(meta["train_ml"], dtype=float)
        heldout = np.flatnonzero(~np.isclose(orbit_models.ml[:, None], trained[None]).any(axis=1))
    train_seconds = [float(v) for v in meta.get("train_seconds", {}).values()]
    params = {"emulator": meta.get("recipe"), "loss": meta.get("loss"),
              "ml_range": list(emulator.ml_range), "cube": cube_fingerprint(orbit_models),
              "train_seconds": train_seconds, "extrapolate": allow_extrapolation}

    def fit_predict():
        return (emulator.predict(orbit_models.ml, allow_extrapolation=allow_extrapolation),
                float(sum(train_seconds)))

    pred, res = evaluate(fit_predict, orbit_models, problem, path, params, {}, ml_show=ml_show,
                         store_gh=store_gh, n_jobs=n_jobs, progress=progress,
                         desc=f"weights ({meta.get('loss')})", heldout=heldout)
    res["train_seconds"] = train_seconds
    return pred, res

