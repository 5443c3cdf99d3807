"""The Conclusions page: the thesis' three questions answered from every chapter's results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orbitnet.data.dynamite_run import dynamite_run, timings
from orbitnet.fit.chi2 import inside
from orbitnet.store.fingerprint import record_use

CHAPTER_RESULTS = ("01_galaxy", "02_orbit_libraries", "03_dcnn", "04_losses", "05_gan",
                   "06_sparse", "07_maps", "09_beyond_ml")


#: Chapters whose numbers come from the orbit-model cube (Chapter 2 makes it).
CUBE_CHAPTERS = ("02_orbit_libraries", "03_dcnn", "04_losses", "05_gan", "06_sparse", "07_maps")


def cube_of(results: dict[str, Any]) -> str | None:
    """The fingerprint of the cube a chapter's results were computed from (None if unknown)."""
    return (results.get("provenance") or {}).get("fingerprints", {}).get("cube")


def check_same_cube(res: dict[str, dict[str, Any]]) -> str:
    """The cube every chapter used; an error naming the chapters to re-run when they differ."""
    ref = cube_of(res["02_orbit_libraries"])
    if ref is None:
        raise ValueError("02_orbit_libraries' results do not record their orbit-model cube: "
                         "re-run `orbitnet chapter 02_orbit_libraries`")
    stale = [ch for ch in CUBE_CHAPTERS[1:] if res.get(ch) and cube_of(res[ch]) != ref]
    if stale:
        raise ValueError(
            "the Conclusions will not mix results from different orbit-model cubes: "
            + ", ".join(stale) + " were computed from another cube than "
            "02_orbit_libraries' (a re-run of Chapter 2 with other data, grid or code "
            "replaced it); re-run " + "; ".join(f"`orbitnet chapter {c}`" for c in stale))
    return ref


def gather(load: Callable[[str], dict[str, Any]],
           optional: tuple[str, ...] = ("05_gan", "09_beyond_ml")) -> dict[str, dict[str, Any]]:
    """All chapters' results, read by ``load`` (:func:`orbitnet.book.results.load_results`);
    a missing required chapter is an error naming it, and so are results computed from another
    orbit-model cube than Chapter 2's."""
    out = {}
    for ch in CHAPTER_RESULTS:
        try:
            out[ch] = load(ch)
        except FileNotFoundError:
            if ch not in optional:
                raise
            out[ch] = {}
    record_use("cube", check_same_cube(out))
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
        "truth_ml_2sigma": ch2["ml_2sigma"],
        "n_models": n_models,
        "best_recipe": best["recipe"], "best_loss": best["loss"],
        "best_ml_best": best["ml_best"], "best_ml_1sigma": best["ml_1sigma"],
        "best_median_residual": ch4[best["recipe"]][best["loss"]][
            "median_abs_residual_over_err"],
        "seconds_per_orbit_model": per_model,
        "seconds_sweep": ch2["sweep_seconds"],
        "seconds_solve": ch2["solve_seconds_per_model"],
        "dynamite_seconds_per_solve": timings()["solve_seconds_mean"],
        "dynamite_library_seconds": timings()["library_seconds"],
        "dynamite_ml_best": dynamite_run()["best_fit"]["ml_best"],
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
    if check.get("ml_best") is not None and truth_engine.get("ml_1sigma"):
        lo, hi = truth_engine["ml_1sigma"]
        out["engine_check_text"] = (
            f"run unchanged on the embedded engine's cube with the {out['engine_check_loss']} "
            f"loss, it finds M/L = {check['ml_best']:.3g}, "
            f"{out['engine_check_inside_phrase']} that cube's own 1σ interval "
            f"({lo:.3f}–{hi:.3f}).")
    else:
        out["engine_check_text"] = ("its out-of-sample check on the embedded engine's cube was "
                                    "not run for this build.")
    out["predict_verdict"] = predict_verdict(bool(best.get("inside_model_1sigma")),
                                             check.get("inside_engine_1sigma"))
    gan = res.get("05_gan") or {}
    cgan = gan.get("cgan") or {}
    out["cgan_ml_best"] = cgan.get("ml_best")
    out["beyond"] = beyond_summary(res.get("09_beyond_ml") or {})
    out["engine_text"] = (
        f"its best fit is M/L = {engine['ml_best']:.4g}, against "
        f"{out['dynamite_ml_best']:.4g} for DYNAMITE's own run"
        if engine.get("ml_best") is not None else
        "this book was built without running it; see Chapter 2")
    out["verdict"] = verdicts(out)
    return out


def beyond_summary(ch9: dict[str, Any]) -> dict[str, Any]:
    """Chapter 9's verdict for the Conclusions (sentences say so when it was not run)."""
    if not ch9:
        missing = "Chapter 9 (Beyond M/L) was not run in this build."
        return {"winner": missing, "goal": "", "grid": "", "thesis_ml": "", "level": ""}
    s = ch9["sentences"]
    return {"winner": s["winner"], "goal": s["goal"], "grid": s["grid"],
            "thesis_ml": s["thesis_ml"], "level": s["level"],
            "n_libraries": ch9["truth"]["n_libraries"]}


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """The Conclusions' judging sentences, chosen from the numbers of :func:`summary`.

    ``predict`` answers "Can we predict orbits?" and ``claim`` states whether the thesis'
    central claim holds up: yes when the best emulator's best fit lies inside the orbit
    models' 1σ interval, partly inside 2σ, no otherwise.
    """
    best = summary["best_ml_best"]
    if inside(tuple(summary["truth_ml_1sigma"]), best):
        return {"predict": "Yes, in the sense the thesis meant.",
                "claim": "The thesis' central claim holds up: a small deconvolutional network "
                         "with a learned mask can represent orbit libraries well enough for "
                         "Schwarzschild weight fits."}
    two = summary.get("truth_ml_2sigma")
    if two is not None and inside(tuple(two), best):
        return {"predict": "Only in part: the best fit of the best network lies outside the "
                           "orbit models' 1σ interval, though inside 2σ.",
                "claim": "The thesis' central claim holds up only in part here: the network's "
                         "images are close, but its best fit misses the orbit models' 1σ "
                         "interval."}
    return {"predict": "Not with the runs this page was built from: the best fit of the best "
                       "network lies outside even the orbit models' 2σ interval.",
            "claim": "The runs behind this page do not support the thesis' central claim: no "
                     "network put the best fit within 2σ of the orbit models'."}


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
