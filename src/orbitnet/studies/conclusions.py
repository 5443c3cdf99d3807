"""The Conclusions page: the thesis' three questions answered from every chapter's results.

Every claim on the page is a sentence chosen here from the chapters' results JSON (see
:data:`CLAIMS`: glued key → the results it is chosen from); none is typed in the notebook.
A chapter that was not run gives a sentence saying so; a results file that lacks a key the
page needs is an error naming the file and the key (:class:`orbitnet.book.results.Results`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orbitnet.data import paths
from orbitnet.data.dynamite_run import dynamite_run, timings
from orbitnet.fit.chi2 import inside
from orbitnet.store.fingerprint import record_use

CHAPTER_RESULTS = ("01_galaxy", "02_orbit_libraries", "03_dcnn", "04_losses", "05_gan",
                   "06_sparse", "07_maps", "08_convergence", "09_beyond_ml")
OPTIONAL = ("05_gan", "08_convergence", "09_beyond_ml")

#: Chapters whose numbers come from the orbit-model cube (Chapter 2 makes it).
CUBE_CHAPTERS = ("02_orbit_libraries", "03_dcnn", "04_losses", "05_gan", "06_sparse", "07_maps")

#: Chapter 9's strategies that search with a network
NETWORK_STRATEGIES = ("cube_dcnn",)

#: Each claim of the page (a glued key) and the results it is chosen from.
CLAIMS: dict[str, tuple[str, ...]] = {
    "verdict.predict": ("04_losses: best.ml_best", "02_orbit_libraries: ml_1sigma, ml_2sigma"),
    "verdict.claim": ("04_losses: best.ml_best", "02_orbit_libraries: ml_1sigma, ml_2sigma"),
    "predict_verdict": ("04_losses: best.inside_model_1sigma, "
                        "engine_cube.main.inside_engine_1sigma",),
    "engine_check_text": ("04_losses: engine_cube.main_loss, engine_cube.main.ml_best, "
                          "engine_cube.main.inside_engine_1sigma, engine_cube.truth.ml_1sigma",),
    "verdict.time_ml": ("04_losses: best.train_seconds_total", "02_orbit_libraries: "
                        "sweep_seconds, n_models"),
    "verdict.time_beyond": ("09_beyond_ml: winner, winner_reason",),
    "verdict.network_vs_random": ("09_beyond_ml: strategies.cube_dcnn.*.ci95, "
                                  "random_baseline",),
    "verdict.beyond": ("09_beyond_ml: winner, winner_reason",),
    "verdict.beyond_truth": ("09_beyond_ml: truth.family (08_convergence: lattice.rung, "
                             "converged)",),
    "verdict.next_step": ("09_beyond_ml: (run or not), winner",),
    "verdict.convergence": ("08_convergence: converged, ladder, best",
                            "02_orbit_libraries: n_orbits, ml_best, ml_1sigma"),
    "verdict.less_data": ("06_sparse: verdict.comparison, verdict.control, budget_read",),
    "verdict.profiles": ("<every chapter>: provenance.parameters.profile",),
}


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


def gather(load: Callable[[str], dict[str, Any]], optional: tuple[str, ...] = OPTIONAL
           ) -> dict[str, dict[str, Any]]:
    """All chapters' results, read by ``load`` (:func:`orbitnet.book.results.load_results`:
    a file that is not JSON, or lacks a key asked for, is an error naming it); a missing
    required chapter is an error naming it, and so are results computed from another
    orbit-model cube than Chapter 2's. Optional chapters not run give ``{}``."""
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
    """The numbers the Conclusions quote and the sentences chosen from them."""
    n_models = res["02_orbit_libraries"]["n_models"]
    sweep = res["02_orbit_libraries"]["sweep_seconds"]
    best = res["04_losses"]["best"]
    train = res["04_losses"]["best"]["train_seconds_total"]
    recipe, loss = best["recipe"], best["loss"]
    out = {
        "truth_ml_best": res["02_orbit_libraries"]["ml_best"],
        "truth_ml_1sigma": res["02_orbit_libraries"]["ml_1sigma"],
        "truth_ml_2sigma": res["02_orbit_libraries"]["ml_2sigma"],
        "n_models": n_models, "n_orbits": res["02_orbit_libraries"].get("n_orbits"),
        "best_recipe": recipe, "best_loss": loss,
        "best_ml_best": res["04_losses"]["best"]["ml_best"],
        "best_ml_1sigma": best.get("ml_1sigma"),
        "best_median_residual": res["04_losses"][recipe][loss]["median_abs_residual_over_err"],
        "seconds_per_orbit_model": sweep / n_models,
        "seconds_sweep": sweep,
        "seconds_solve": res["02_orbit_libraries"]["solve_seconds_per_model"],
        "dynamite_seconds_per_solve": timings()["solve_seconds_mean"],
        "dynamite_library_seconds": timings()["library_seconds"],
        "dynamite_ml_best": dynamite_run()["best_fit"]["ml_best"],
        "train_seconds": train,
        "train_over_sweep": train / sweep,
        "best_inside_phrase": "inside" if best.get("inside_model_1sigma") else "outside",
        "smallest_label": res["06_sparse"].get("smallest_label", {}),
        "maps_model_pred_v": res["07_maps"]["model_pred"]["v"]["median_abs_over_err"],
        "maps_model_pred_sigma": res["07_maps"]["model_pred"]["sigma"]["median_abs_over_err"],
        "maps_obs_model_v": res["07_maps"]["obs_model"]["v"]["median_abs_over_err"],
    }
    engine = res["02_orbit_libraries"].get("engine") or {}
    out["engine_library_seconds"] = engine.get("library_seconds")
    out.update(engine_check(res["04_losses"]))
    out["predict_verdict"] = predict_verdict(bool(best.get("inside_model_1sigma")),
                                             out.pop("_inside_engine"))
    out["engine_text"] = (
        f"its best fit is M/L = {engine['ml_best']:.4g}, against "
        f"{out['dynamite_ml_best']:.4g} for DYNAMITE's own run"
        if engine.get("ml_best") is not None else
        "this book was built without running it; see Chapter 2")
    out["verdict"] = {**verdicts(out), **time_verdict(out), **sparse_verdict(res),
                      **beyond_verdict(res.get("09_beyond_ml") or {}),
                      "convergence": convergence_verdict(res),
                      "profiles": profiles_verdict(res)}
    return out


def engine_check(ch4: Mapping[str, Any]) -> dict[str, Any]:
    """Chapter 4's out-of-sample check on the engine's cube, in a sentence."""
    eng = ch4.get("engine_cube") or {}
    check, truth = eng.get("main") or {}, eng.get("truth") or {}
    out = {"engine_check_loss": eng.get("main_loss"), "engine_check_ml_best": check.get("ml_best"),
           "engine_check_inside_phrase": ("inside" if check.get("inside_engine_1sigma")
                                          else "outside"),
           "engine_cube_ml_1sigma": truth.get("ml_1sigma"),
           "_inside_engine": check.get("inside_engine_1sigma")}
    if check.get("ml_best") is not None and truth.get("ml_1sigma"):
        lo, hi = truth["ml_1sigma"]
        out["engine_check_text"] = (
            f"run unchanged on the embedded engine's cube with the {out['engine_check_loss']} "
            f"loss, it finds M/L = {check['ml_best']:.3g}, "
            f"{out['engine_check_inside_phrase']} that cube's own 1σ interval "
            f"({lo:.3f}–{hi:.3f}).")
    else:
        out["engine_check_text"] = ("its out-of-sample check on the embedded engine's cube was "
                                    "not run for this build.")
    return out


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    """"Can we predict orbits?" (``predict``) and the thesis' central claim (``claim``): yes
    when the best emulator's best fit lies inside the orbit models' 1σ interval, partly
    inside 2σ, no otherwise."""
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


def time_verdict(summary: Mapping[str, Any]) -> dict[str, str]:
    """Do we save time for M/L? Training the best network against computing the whole grid."""
    ratio = summary["train_over_sweep"]
    if ratio >= 1:
        short = "Not for M/L"
        text = (f"Not for M/L: training the best network took {ratio:.3g} times as long as "
                f"computing all {summary['n_models']} orbit models of the grid it replaces.")
    else:
        short = "Not for M/L in practice"
        text = (f"Training the best network took {ratio:.3g} of the time to compute the "
                f"{summary['n_models']} orbit models of the grid, but it must be trained on "
                "models computed first, and for M/L one library serves the whole grid exactly: "
                "not for M/L in practice.")
    return {"time_ml": text, "time_ml_short": short}


def sparse_verdict(res: Mapping[str, Any]) -> dict[str, str]:
    """Can we use less data? Chapter 6's own sentences (they name the network's budget)."""
    v = res["06_sparse"]["verdict"]
    return {"less_data": v["comparison"], "less_data_control": v["control"],
            "less_data_network": v.get("network", "")}


# --- Chapter 9: beyond M/L -----------------------------------------------------------


def _winner(ch9: Mapping[str, Any]) -> tuple[str | None, str]:
    """Chapter 9's winner (a name or None) and, when None, the reason it gives."""
    name = ch9.get("winner")
    return (None if name is None else str(name)), str(ch9.get("winner_reason") or "")


def _random_rows(ch9: Mapping[str, Any]) -> Mapping[str, Any]:
    """The random baseline's budget → numbers (``random_baseline``)."""
    return ch9.get("random_baseline") or {}


def network_vs_random(ch9: Mapping[str, Any]) -> str:
    """Does the network's search beat picking libraries at random at some budget (its 95 %
    lower bound above random's upper bound at the same budget)?"""
    rand = _random_rows(ch9)
    nets = {n: r for n, r in (ch9.get("strategies") or {}).items() if n in NETWORK_STRATEGIES}
    if not nets:
        return "Chapter 9 did not run a network-based search."
    if not rand:
        return "Chapter 9's results hold no random baseline to judge its network against."
    better = sorted({int(b) for rows in nets.values() for b, r in rows.items()
                     if b in rand and r["ci95"][0] > rand[b]["ci95"][1]})
    if not better:
        common = sorted({int(b) for rows in nets.values() for b in rows if b in rand})
        return (f"At no budget ({', '.join(map(str, common))} libraries) does the network's "
                "search land inside the truth's region more often than picking libraries at "
                "random, beyond the 95 % intervals.")
    return (f"With {', '.join(map(str, better))} libraries the network's search lands inside "
            "the truth's region more often than picking libraries at random, beyond the 95 % "
            "intervals.")


def beyond_truth(ch9: Mapping[str, Any]) -> str:
    """Whether Chapter 9 judged against Chapter 8's converged libraries (its truth's
    ``family``)."""
    from orbitnet.studies.beyond_ml import family_sentence

    fam = (ch9.get("truth") or {}).get("family")
    if not fam:
        return ("Chapter 9's results do not say which libraries its truth is made of: re-run "
                "`orbitnet chapter 09_beyond_ml` to check them against Chapter 8.")
    return "In Chapter 9: " + family_sentence(fam)


def beyond_verdict(ch9: Mapping[str, Any]) -> dict[str, str]:
    """Chapter 9's verdict for the Conclusions: its winner or why there is none, whether a
    network saves libraries there, and the next step (which Chapter 9 took)."""
    if not ch9:
        missing = "Chapter 9 (Beyond M/L) was not run in this build"
        return {"beyond": missing + ".", "beyond_truth": missing + ".",
                "time_beyond": (missing + ", so whether emulation saves time for parameters "
                                "that need a new orbit library per model is not measured here."),
                "network_vs_random": missing + ".",
                "next_step": ("The natural next step, a parameter that changes the orbits "
                              "themselves, is Chapter 9's: " + missing + ".")}
    strategies = ch9.get("strategies")
    rows = [r for s in (strategies or {}).values() if isinstance(s, Mapping)
            for r in s.values()]
    if not rows or not all(isinstance(r, Mapping) and "ci95" in r for r in rows):
        old = ("Chapter 9's results were written by an older orbitnet (no intervals per "
               "strategy): re-run `orbitnet chapter 09_beyond_ml` for its verdict.")
        return {"beyond": old, "time_beyond": old, "network_vs_random": old,
                "beyond_truth": beyond_truth(ch9),
                "next_step": "Chapter 9 took the next step, a parameter that changes the "
                             "orbits themselves. " + old}
    name, reason = _winner(ch9)
    vs_random = network_vs_random(ch9)
    if name is None:
        beyond = ("Chapter 9 names no strategy better than the others"
                  + (f": {reason.rstrip('.')}." if reason else "."))
        time = ("Not shown for the dark halo and the shape, where each model needs a new orbit "
                "library: Chapter 9's budgets cannot separate the search strategies.")
    elif name in NETWORK_STRATEGIES:
        beyond = (f"Chapter 9 names {name}, a search through a network emulator, the best "
                  "strategy: its fraction inside the truth's region clears the others' and the "
                  "random baseline's beyond the 95 % intervals.")
        time = ("Yes for the dark halo and the shape, where each model needs a new orbit "
                f"library: Chapter 9's best strategy, {name}, searches with a network.")
    else:
        beyond = (f"Chapter 9 names {name} the best strategy, beyond the 95 % intervals of "
                  "the others and of the random baseline; it uses no network.")
        time = ("Not on Chapter 9's evidence for the dark halo and the shape, where each model "
                f"needs a new orbit library: the strategy it names, {name}, uses no network.")
    return {"beyond": beyond, "time_beyond": time, "network_vs_random": vs_random,
            "beyond_truth": beyond_truth(ch9),
            "next_step": ("Chapter 9 took the next step the thesis pointed to, parameters "
                          "that change the orbits themselves (the dark halo and the shape). "
                          + beyond)}


# --- Chapter 8: how many orbits? -------------------------------------------------------


def rung_row(conv: Mapping[str, Any], rows: list[Mapping[str, Any]]
             ) -> Mapping[str, Any] | None:
    """The ladder row of Chapter 8's converged rung ``conv`` (its label, or its size and
    dithering); when none converged, the largest rung's. Rows hold the values at DYNAMITE's
    start point, the potential of Chapter 2's library."""
    if conv.get("n_orbits") is None:
        return max(rows, key=lambda r: (r["n_orbits"], r.get("dithering") or 1), default=None)
    if conv.get("label"):
        return next((r for r in rows if r.get("label") == conv["label"]), None)
    return next((r for r in rows if r["n_orbits"] == conv["n_orbits"]
                 and (r.get("dithering") or 1) == (conv.get("dithering") or 1)), None)


def convergence_verdict(res: Mapping[str, Any]) -> str:
    """Whether the 1σ bands of Chapters 2–6 (one library of Chapter 2's size) hold for a
    converged library, chosen from Chapter 8's ladder."""
    ch8 = res.get("08_convergence") or {}
    n = res["02_orbit_libraries"].get("n_orbits")
    lo, hi = res["02_orbit_libraries"]["ml_1sigma"]
    band = f"the 1σ band of Chapters 2–6 (M/L {lo:.2f}–{hi:.2f}, from a {n}-orbit library)"
    if not ch8:
        return ("Chapter 8 (How many orbits?) was not run in this build, so whether "
                f"{band} holds for a converged library is not measured here.")
    conv = ch8["converged"] or {}
    row = rung_row(conv, list(ch8["ladder"]))
    if row is None:
        raise ValueError(f"{paths.results_path('08_convergence')}: no ladder row matches its "
                         "converged rung: re-run `orbitnet chapter 08_convergence`")
    ml = float(row["ml_best"])
    where = "inside" if inside((lo, hi), ml) else "outside"
    if conv.get("n_orbits") is None:
        return (f"No rung of Chapter 8's ladder converged; its largest libraries "
                f"({row['n_orbits']} orbits) put the best M/L at DYNAMITE's start point at "
                f"{ml:.2f}, {where} {band}: that band is the small library's, and the M/L a "
                "converged library gives is not known.")
    size = f"{conv['n_orbits']} orbits" + (f", dithering {conv['dithering']}"
                                           if (conv.get("dithering") or 1) > 1 else "")
    head = (f"A converged library ({size}) puts the best M/L at DYNAMITE's start point at "
            f"{ml:.2f}, ")
    best, reg = ch8.get("best") or {}, ch8.get("region") or {}
    tail = ""
    if best:
        tail = (f" NGC 6278's best fit on a lattice of such libraries is log f = "
                f"{best['log_f']:.2f}, q = {best['q']:.2f}, M/L = {best['ml']:.2f}"
                + (f" (1σ region: M/L {reg['ml'][0]:.2f}–{reg['ml'][1]:.2f})."
                   if reg.get("ml") else "."))
    if where == "inside":
        return head + f"inside {band}: for M/L that band holds." + tail
    return (head + f"outside {band}: those bands belong to the small library and measure its "
            "fit, not NGC 6278's M/L." + tail)


def profiles_verdict(res: Mapping[str, Any]) -> str:
    """Which chapters' results come from the quick profile (numbers that conclude nothing)."""
    quick = [ch for ch, r in res.items() if r and ((r.get("provenance") or {}).get(
        "parameters") or {}).get("profile") == "quick"]
    if not quick:
        return "Every chapter quoted here was run with its full profile."
    return (f"{', '.join(quick)} {'was' if len(quick) == 1 else 'were'} run with the quick "
            "profile: their numbers, and the sentences chosen from them, support no "
            "conclusion.")
