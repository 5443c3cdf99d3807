"""The Conclusions page: the thesis' three questions answered from every chapter's results."""

from __future__ import annotations

from typing import Any

from orbitnet.store import load_results

CHAPTER_RESULTS = ("01_galaxy", "02_orbit_libraries", "03_dcnn", "04_losses", "05_gan",
                   "06_sparse", "07_maps")


def gather(optional: tuple[str, ...] = ("05_gan",)) -> dict[str, dict[str, Any]]:
    """All chapters' results; a missing required chapter is an error naming it."""
    out = {}
    for ch in CHAPTER_RESULTS:
        try:
            out[ch] = load_results(ch)
        except FileNotFoundError:
            if ch not in optional:
                raise
            out[ch] = {}
    return out


def summary(res: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The numbers the Conclusions quote."""
    ch2, ch4, ch6 = res["02_orbit_libraries"], res["04_losses"], res["06_sparse"]
    n_models = ch2["n_models"]
    best = ch4["best"]
    per_model = ch2["sweep_seconds"] / n_models
    train = best["train_seconds_total"]
    out = {
        "truth_ml_best": ch2["ml_best"], "truth_ml_1sigma": ch2["ml_1sigma"],
        "n_models": n_models,
        "best_recipe": best["recipe"], "best_loss": best["loss"],
        "best_ml_best": best["ml_best"], "best_ml_1sigma": best["ml_1sigma"],
        "best_median_residual": ch4[best["recipe"]][best["loss"]][
            "median_abs_residual_over_err"],
        "seconds_per_orbit_model": per_model,
        "seconds_sweep": ch2["sweep_seconds"],
        "seconds_solve": ch2["solve_seconds_per_model"],
        "dynamite_seconds_per_solve": 3.0,
        "train_seconds": train,
        "train_over_sweep": train / ch2["sweep_seconds"],
        "best_inside_phrase": "inside" if best.get("inside_model_1sigma") else "outside",
        "best_criterion": best.get("criterion", "closest best fit"),
        "smallest_label": ch6.get("smallest_label", {}),
        "smallest_k": ch6.get("smallest_k_90pct_1sigma", {}),
        "sparse_verdict": ch6.get("verdict", {}),
        "maps_model_pred_v": res["07_maps"]["model_pred"]["v"]["median_abs_over_err"],
        "maps_model_pred_sigma": res["07_maps"]["model_pred"]["sigma"]["median_abs_over_err"],
        "maps_obs_model_v": res["07_maps"]["obs_model"]["v"]["median_abs_over_err"],
    }
    engine = ch2.get("engine") or {}
    out["engine_ml_best"] = engine.get("ml_best")
    out["engine_library_seconds"] = engine.get("library_seconds")
    check = (ch4.get("engine_cube") or {}).get("main") or {}
    truth_engine = (ch4.get("engine_cube") or {}).get("truth") or {}
    out["engine_check_loss"] = (ch4.get("engine_cube") or {}).get("main_loss")
    out["engine_check_ml_best"] = check.get("ml_best")
    out["engine_check_inside_phrase"] = ("inside" if check.get("inside_engine_1sigma")
                                         else "outside")
    out["engine_cube_ml_1sigma"] = truth_engine.get("ml_1sigma")
    out["predict_verdict"] = predict_verdict(bool(best.get("inside_model_1sigma")),
                                             check.get("inside_engine_1sigma"))
    gan = res.get("05_gan") or {}
    cgan = gan.get("cgan") or {}
    out["cgan_ml_best"] = cgan.get("ml_best")
    return out


def predict_verdict(inside_own: bool, inside_engine: bool | None) -> str:
    """The answer to "can we predict orbits?", chosen from the Δχ² tests of Chapter 4."""
    if inside_own and inside_engine:
        return ("holds up: the best fit lands inside the orbit models' 1σ both on the cube "
                "the recipe was tuned on and on the engine's cube it never saw")
    if inside_own and inside_engine is None:
        return ("holds up on the cube the recipe was tuned on; the out-of-sample check on the "
                "engine's cube was not run")
    if inside_own:
        return ("holds up only on the cube the recipe was tuned on: on the engine's cube the "
                "same recipe misses that cube's 1σ")
    if inside_engine:
        return ("holds up on the engine's cube but not on the cube the recipe was tuned on")
    return "does not hold up here: the best fit misses the orbit models' 1σ"
