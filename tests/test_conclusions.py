"""The Conclusions are chosen from the chapters' results: fabricated results that reverse
each verdict reverse its sentence; a results file that is broken is named in the error."""

import copy
import json

import pytest

from orbitnet.book.results import ResultsError, load_results
from orbitnet.studies import conclusions


def _strategy(fracs: dict[int, tuple[int, int]]) -> dict:
    from orbitnet.judge.intervals import clopper_pearson

    return {str(b): {"runs": n, "inside": k, "frac_inside_1sigma": k / n,
                     "ci95": list(clopper_pearson(k, n)), "cpu_seconds_median": 100.0 * b}
            for b, (k, n) in fracs.items()}


def _full() -> dict:
    return {"provenance": {"parameters": {"profile": "full"}}}


def _results() -> dict:
    """Every chapter's results as the Conclusions read them; the verdicts: yes, no, ..."""
    return {
        "01_galaxy": {**_full()},
        "02_orbit_libraries": {**_full(), "n_models": 161, "n_orbits": 360, "sweep_seconds": 100.0,
                               "ml_best": 5.85, "ml_1sigma": [5.74, 5.95],
                               "ml_2sigma": [5.6, 6.1], "solve_seconds_per_model": 0.05,
                               "engine": {"ml_best": 5.8, "library_seconds": 8.5}},
        "03_dcnn": {**_full()},
        "04_losses": {**_full(), "best": {"recipe": "fast", "loss": "l1_err", "ml_best": 5.8,
                                       "ml_1sigma": [5.7, 5.9], "train_seconds_total": 400.0,
                                       "inside_model_1sigma": True},
                      "fast": {"l1_err": {"median_abs_residual_over_err": 0.2}},
                      "engine_cube": {"main_loss": "l1_err", "truth": {"ml_1sigma": [5.7, 5.9]},
                                      "main": {"ml_best": 5.8, "inside_engine_1sigma": True}}},
        "05_gan": {},
        "06_sparse": {**_full(), "smallest_label": {"dcnn": "k = 4 (40–41 models)"},
                      "verdict": {"comparison": "With 760 gradient steps per network the "
                                                "network needs more models than ...",
                                  "control": "With 150 gradient steps ...",
                                  "network": "... does not earn its place."}},
        "07_maps": {**_full(), "model_pred": {"v": {"median_abs_over_err": 0.1},
                                           "sigma": {"median_abs_over_err": 0.1}},
                    "obs_model": {"v": {"median_abs_over_err": 1.2}}},
        "08_convergence": {**_full(), "converged": {"n_orbits": 2940, "dithering": 1,
                                                    "label": "14x10x7", "checks": []},
                           "best": {"log_f": 0.25, "q": 0.5, "ml": 5.3},
                           "region": {"log_f": [0.0, 0.5], "q": [0.46, 0.54],
                                      "ml": [5.1, 5.5]},
                           "ladder": [{"label": "6x5x4", "n_orbits": 360, "dithering": 1,
                                       "ml_best": 5.8},
                                      {"label": "14x10x7", "n_orbits": 2940, "dithering": 1,
                                       "ml_best": 5.3}]},
        "09_beyond_ml": {**_full(), "winner": None,
                         "winner_reason": "no strategy's 95 % lower bound clears random's "
                                          "upper bound",
                         "strategies": {"random": _strategy({4: (80, 100), 8: (90, 100)}),
                                        "cube_dcnn": _strategy({4: (15, 20), 8: (19, 20)}),
                                        "gp_chi2": _strategy({4: (10, 20), 8: (17, 20)})},
                         "random_baseline": _strategy({4: (80, 100), 8: (90, 100)})},
    }


def _verdict(res: dict) -> dict:
    return conclusions.summary(res)["verdict"]


def test_every_sentence_reverses_with_its_numbers():
    res = _results()
    v = _verdict(res)
    assert v["predict"].startswith("Yes")

    bad = copy.deepcopy(res)
    bad["04_losses"]["best"]["ml_best"] = 7.5
    assert _verdict(bad)["predict"].startswith("Not with the runs")
    assert "do not support the thesis' central claim" in _verdict(bad)["claim"]

    assert v["time_ml"].startswith("Not for M/L: training the best network took 4 times")
    cheap = copy.deepcopy(res)
    cheap["04_losses"]["best"]["train_seconds_total"] = 50.0
    assert _verdict(cheap)["time_ml"].startswith("Training the best network took 0.5 of")

    # Chapter 9: no winner -> a network winner -> a winner without a network
    assert v["beyond"].startswith("Chapter 9 names no strategy better than the others: no "
                                  "strategy's 95 % lower bound")
    assert v["time_beyond"].startswith("Not shown for the dark halo and the shape")
    assert v["network_vs_random"].startswith("At no budget (4, 8 libraries) does the network")
    assert v["next_step"].startswith("Chapter 9 took the next step")
    net = copy.deepcopy(res)
    net["09_beyond_ml"].update(winner="cube_dcnn", winner_reason="")
    net["09_beyond_ml"]["strategies"]["cube_dcnn"] = _strategy({4: (20, 20), 8: (20, 20)})
    net["09_beyond_ml"]["random_baseline"] = _strategy({4: (30, 100), 8: (50, 100)})
    nv = _verdict(net)
    assert nv["time_beyond"].startswith("Yes for the dark halo and the shape")
    assert "Chapter 9's best strategy, cube_dcnn, searches with a network" in nv["time_beyond"]
    assert nv["network_vs_random"].startswith("With 4, 8 libraries the network's search lands")
    plain = copy.deepcopy(res)
    plain["09_beyond_ml"]["winner"] = "gp_chi2"
    assert "the strategy it names, gp_chi2, uses no network" in _verdict(plain)["time_beyond"]
    none = copy.deepcopy(res)
    none["09_beyond_ml"] = {}
    nov = _verdict(none)
    assert nov["beyond"] == "Chapter 9 (Beyond M/L) was not run in this build."
    assert "is not measured here" in nov["time_beyond"] and "Chapter 9's" in nov["next_step"]
    old = copy.deepcopy(res)
    old["09_beyond_ml"] = {"strategies": {"gp_chi2": {"4": {"cpu_seconds": 3.0}}},
                           "sentences": {"winner": "gp_chi2 wins"}}
    assert "older orbitnet" in _verdict(old)["beyond"]
    assert "do not say which libraries" in _verdict(res)["beyond_truth"]
    fam = copy.deepcopy(res)
    fam["09_beyond_ml"]["truth"] = {"family": {
        "label": "14x10x7/smooth", "chapter8_run": True, "rung": "14x10x7/smooth",
        "same_rung": True, "same_box": True, "converged": None}}
    assert "Chapter 8 found no rung converged" in _verdict(fam)["beyond_truth"]
    fam["09_beyond_ml"]["truth"]["family"]["converged"] = "14x10x7/smooth"
    assert "Chapter 8's converged libraries" in _verdict(fam)["beyond_truth"]
    fam["09_beyond_ml"]["truth"]["family"].update(label="6x5x4/dynamite", same_rung=False)
    assert "are not Chapter 8's lattice" in _verdict(fam)["beyond_truth"]

    # Chapter 8: converged outside the band -> inside it -> no rung converged -> not run
    assert "start point at 5.30, outside the 1σ band of Chapters 2–6 (M/L 5.74–5.95, " \
           "from a 360-orbit library)" in v["convergence"]
    assert v["convergence"].endswith("log f = 0.25, q = 0.50, M/L = 5.30 (1σ region: M/L "
                                     "5.10–5.50).")
    near = copy.deepcopy(res)
    near["08_convergence"]["ladder"][1]["ml_best"] = 5.8
    assert "inside the 1σ band of Chapters 2–6" in _verdict(near)["convergence"]
    assert "that band holds" in _verdict(near)["convergence"]
    unconv = copy.deepcopy(res)
    unconv["08_convergence"]["converged"].update(n_orbits=None, dithering=None, label=None)
    uv = _verdict(unconv)["convergence"]
    assert uv.startswith("No rung of Chapter 8's ladder converged; its largest libraries "
                         "(2940 orbits) put the best M/L at DYNAMITE's start point at 5.30, "
                         "outside the 1σ band")
    assert "the M/L a converged library gives is not known" in uv
    unconv["08_convergence"] = {}
    assert _verdict(unconv)["convergence"].startswith("Chapter 8 (How many orbits?) was not "
                                                      "run in this build")

    # Chapter 6: its own sentence, whatever it says; the profile of every chapter
    assert v["less_data"] == res["06_sparse"]["verdict"]["comparison"]
    assert v["profiles"] == "Every chapter quoted here was run with its full profile."
    quick = copy.deepcopy(res)
    quick["06_sparse"]["provenance"]["parameters"]["profile"] = "quick"
    quick["06_sparse"]["verdict"]["comparison"] = "At none of its budgets ..."
    qv = _verdict(quick)
    assert qv["less_data"] == "At none of its budgets ..."
    assert qv["profiles"].startswith("06_sparse was run with the quick profile")
    assert "None" not in " ".join(str(s) for s in (*v.values(), *nv.values(), *nov.values()))


def test_every_claim_is_listed_with_its_source():
    v = _verdict(_results())
    listed = {k.split(".", 1)[1] for k in conclusions.CLAIMS if k.startswith("verdict.")}
    assert listed <= set(v)
    assert {"predict", "claim", "time_ml", "time_beyond", "beyond", "next_step", "convergence",
            "less_data", "network_vs_random", "profiles"} <= listed


def _write(root, res: dict) -> None:
    for ch, data in res.items():
        if data:
            (root / f"{ch}.json").write_text(json.dumps(data))


def test_a_broken_results_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(conclusions.paths, "RESULTS", tmp_path)
    res = _results()
    _write(tmp_path, res)
    monkeypatch.setattr(conclusions, "check_same_cube", lambda res: "cube")
    assert conclusions.summary(conclusions.gather(load_results))["verdict"]["predict"] == (
        "Yes, in the sense the thesis meant.")
    del res["07_maps"]["model_pred"]["sigma"]
    _write(tmp_path, res)
    with pytest.raises(ResultsError, match=r"07_maps\.json: no key 'model_pred\.sigma'"):
        conclusions.summary(conclusions.gather(load_results))
    res = _results()
    res["08_convergence"]["ladder"] = res["08_convergence"]["ladder"][:1]  # no converged row
    _write(tmp_path, res)
    with pytest.raises(ValueError, match="08_convergence.json: no ladder row"):
        conclusions.summary(conclusions.gather(load_results))
    (tmp_path / "06_sparse.json").write_text('{"verdict": {"comparison": "x",')
    with pytest.raises(ValueError, match=r"06_sparse\.json is not valid JSON"):
        conclusions.gather(load_results)
