"""Chapter 6's training-budget control (judge.budgets): which budgets are read, the sentences."""

import json

import pytest

from orbitnet.figures import sparse as figs
from orbitnet.judge import budgets as control
from orbitnet.studies import sparse


def _runs(budget: int, k: int, inside: list[bool], seeds: bool = False, n_train: int = 161,
          used: int | None = None) -> list[dict]:
    """Network runs of one budget and step: one per offset (or per seed when ``seeds``)."""
    return [{"method": "dcnn", "k": k, "offset": 0 if seeds else i, "seed": i if seeds else 0,
             "gradient_steps": budget, "steps_used": used or budget,
             "n_train": n_train - (i % 2), "inside_1sigma": ok, "train_seconds": 1.0 + i}
            for i, ok in enumerate(inside)]


def _study_runs(k1: dict[int, list[bool]], sparse_rows: dict[int, dict[int, list[bool]]]
                ) -> list[dict]:
    runs = []
    for b, inside in k1.items():
        runs += _runs(b, 1, inside, seeds=True)
        for k, ins in sparse_rows.get(b, {}).items():
            runs += _runs(b, k, ins, n_train=161 // k)
    return runs


def test_control_groups_runs_by_budget_and_step():
    runs = _study_runs({150: [False] * 3, 760: [True] * 3},
                       {150: {4: [False, False]}, 760: {4: [True, False], 2: [True, True]}})
    runs.append({"method": "linear", "k": 4, "offset": 0, "seed": 0, "gradient_steps": None,
                 "inside_1sigma": True})
    ctrl = control.control(runs, "dcnn")
    assert list(ctrl) == ["150", "760"] and list(ctrl["760"]) == ["1", "2", "4"]
    full = ctrl["760"]["1"]
    assert (full["inside"], full["n_runs"], full["n_seeds"], full["n_offsets"]) == (3, 3, 3, 1)
    assert full["ci95"][0] == pytest.approx(0.2924, abs=1e-4) and full["steps_used"] == 760
    half = ctrl["760"]["4"]
    assert half["frac_inside_1sigma"] == 0.5 and (half["n_offsets"], half["n_seeds"]) == (2, 1)
    assert (half["n_train"], half["n_train_max"]) == (39, 40)


def test_sparse_rows_are_read_only_for_a_budget_that_reaches_the_full_grid():
    runs = _study_runs({150: [False, True, True], 760: [True] * 3, 1500: [True] * 3},
                       {150: {2: [True] * 2, 4: [True] * 2},  # good sparse rows, not read
                        760: {2: [True] * 2, 4: [True, False]},
                        1500: {2: [True] * 2, 4: [True] * 2, 8: [False] * 2}})
    rows = control.budget_rows(control.control(runs, "dcnn"))
    assert rows["150"] == {"read": False, "sparsest_k": None, "steps_used_full_grid": 150,
                           "label": "not read (2 of 3 runs inside 1σ on the full grid)",
                           "stopped_at": None}
    assert (rows["760"]["read"], rows["760"]["sparsest_k"]) == (True, 2)
    assert (rows["1500"]["sparsest_k"], rows["1500"]["label"]) == (4, "k = 4 (39–40 models)")
    assert control.read_budget(rows) == "1500"
    rows["1500"]["sparsest_k"] = 2  # a tie goes to the smaller budget
    assert control.read_budget(rows) == "760"
    assert control.read_budget({"150": rows["150"]}) is None
    assert control.shown_budget(runs, "dcnn") == 1500
    assert control.shown_budget(runs, "dcnn_thesis") is None
    assert len(figs.control_table(control.control(runs, "dcnn"), rows)) == 3 + 3 + 4
    rows = control.budget_rows(control.control(runs, "dcnn"), {"760": 4})
    assert rows["760"]["stopped_at"] == 4 and rows["1500"]["stopped_at"] is None
    t = figs.control_table(control.control(runs, "dcnn"), rows, ks=[1, 2, 4, 8, 16])
    assert len(t) == 3 * 5
    assert list(t[t["budget (steps)"] == 760]["read"]) == ["yes", "yes", "yes",
                                                             "not run (below 90 % at k = 4)",
                                                             "not run (below 90 % at k = 4)"]


def _summary(k1: dict[int, list[bool]], sparse_rows: dict, baselines: dict[str, int | None],
             profile: str = "full") -> dict:
    """A ``06_sparse.json`` made by :func:`sparse.summary`'s own steps from fabricated runs."""
    runs = _study_runs(k1, sparse_rows)
    ctrl = control.control(runs, "dcnn")
    rows = control.budget_rows(ctrl)
    read = control.read_budget(rows)
    out = {"dcnn_budget_control": ctrl, "dcnn_budget_sparsest": rows,
           "budget_read": {"dcnn": None if read is None else int(read)}, "profile": profile,
           "protocol": {"budgets": list(k1)}, "n_runs": len(runs)}
    smallest = dict(baselines)
    per = {m: {str(k): {"frac_inside_1sigma": 1.0, "n_train": 161 // k,
                        "n_train_max": 161 // k + (k > 1)} for k in (1, 2, 4, 8, 16, 32, 64)}
           for m in baselines}
    if read is not None:
        per["dcnn"] = {k: {**c, "frac_inside_2sigma": 1.0} for k, c in ctrl[read].items()}
        smallest["dcnn"] = rows[read]["sparsest_k"]
    out.update(per)
    out["smallest_k_90pct_1sigma"] = {m: smallest.get(m) for m in sparse.METHODS}
    out["smallest_label"] = {m: sparse.smallest_label(per.get(m), smallest.get(m))
                             for m in sparse.METHODS}
    return out


def test_needs_more_models_only_when_the_network_reached_the_full_grid():
    never = _summary({150: [False] * 3, 760: [True, False, False]},
                     {150: {4: [False] * 2}, 760: {4: [False] * 2}},
                     {"grid_parabola": 8, "linear": 4})
    v = sparse.verdicts(never)
    assert "needs more models" not in v["comparison"] and "needs fewer" not in v["comparison"]
    assert v["comparison"].startswith("At none of its budgets (150, 760 gradient steps)")
    assert "cannot say whether it needs more or fewer models" in v["comparison"]
    assert "whether more training would change that is not measured" in v["network"]
    assert "With 150 gradient steps (150 steps taken on the full grid)" in v["control"]
    assert "0 of 3 runs inside 1σ" in v["control"] and "No budget (150, 760" in v["control"]
    assert "support no conclusion" not in " ".join(v.values())

    short = _summary({150: [True] * 3}, {150: {2: [True] * 2, 4: [False] * 2}},
                     {"grid_parabola": 8, "linear": 4})
    v = sparse.verdicts(short)
    assert v["comparison"].startswith("With 150 gradient steps per network the network needs "
                                      "more models than a parabola")
    assert "and more models than linear interpolation" in v["comparison"]
    assert "sparser grid than the network does" in v["network"] and "150 gradient" in v["network"]

    good = _summary({150: [False] * 3, 1500: [True] * 3},
                    {150: {2: [False] * 2}, 1500: {2: [True] * 2, 4: [True] * 2,
                                                   8: [True] * 2, 16: [True] * 2}},
                    {"grid_parabola": 8, "linear": 4})
    v = sparse.verdicts(good)
    assert v["comparison"].startswith("With 1500 gradient steps per network the network needs "
                                      "fewer models than a parabola")
    assert "(the network: k = 16 (9–10 models); it was not run sparser)" in v["comparison"]
    assert "here it earns its place" in v["network"] and "With 1500 gradient" in v["network"]
    assert "uses 1500 gradient steps, the most favourable of the budgets 150, 1500" in v["control"]
    for verdict in (sparse.verdicts(s) for s in (never, short, good)):
        assert "None" not in " ".join(verdict.values())
    # read back from the JSON, whose keys are sorted as text ("1500" before "760")
    both = _summary({760: [True] * 3, 1500: [True] * 3},
                    {760: {2: [True] * 2}, 1500: {2: [True] * 2, 4: [True] * 2}},
                    {"grid_parabola": 8, "linear": 4})
    v = sparse.verdicts(json.loads(json.dumps(both, sort_keys=True)))
    assert v == sparse.verdicts(both)
    assert v["control"].startswith("With 760 gradient steps") and "budgets 760, 1500." in (
        v["control"])


def test_quick_profile_sentences_support_no_conclusion():
    s = _summary({5: [True]}, {5: {16: [True]}}, {"grid_parabola": 16, "linear": 16},
                 profile="quick")
    v = sparse.verdicts(s)
    for key in sparse.SENTENCES:
        assert v[key].endswith("These are the quick profile's numbers (5 gradient steps, "
                               "2 runs), which support no conclusion.")
    assert "support no conclusion" not in v["linear_vs_grid_parabola"]


def test_network_sentence_ties_and_baselines_that_never_reach():
    tie = sparse.verdicts(_summary({760: [True] * 3}, {760: {2: [True] * 2, 4: [True] * 2,
                                                            8: [True] * 2, 16: [False] * 2}},
                                   {"grid_parabola": 8, "linear": 4}))
    assert "reaches the same sparsest grid as the best baseline" in tie["network"]
    assert "does not earn its place" in tie["network"]
    assert "as many models as a parabola" in tie["comparison"]
    weak = sparse.verdicts(_summary({760: [True] * 3}, {760: {2: [True] * 2}},
                                    {"grid_parabola": None, "linear": None}))
    assert "here it earns its place" in weak["network"]
    assert "fewer models than a parabola through the models' own χ² (none" in weak["comparison"]


def test_a_network_not_run_as_sparse_as_a_baseline_is_not_ranked_below_it():
    """Still inside at its sparsest step (16) while the parabola reaches 32: not measured."""
    s = _summary({1500: [True] * 3}, {1500: {k: [True] * 2 for k in (2, 4, 8, 16)}},
                 {"grid_parabola": 32, "linear": 16})
    v = sparse.verdicts(s)
    assert "more models than a parabola" not in v["comparison"]
    assert v["comparison"].startswith("With 1500 gradient steps per network the network needs "
                                      "no more models than linear interpolation (k = 16")
    assert "a parabola through the models' own χ² (k = 32 (5–6 models)) reaches a sparser " \
           "grid, where the network was not run, so this run cannot say" in v["comparison"]
    assert "is not measured here" in v["network"] and "here it earns" not in v["network"]
    assert "its sparsest grid with at least 90 % inside 1σ is k = 16 (9–10 models) (the " \
           "sparsest step it ran: a lower bound)." in v["control"]
    assert "does not earn" not in v["network"]
    # once it fails at 32 the order is measured
    v = sparse.verdicts(_summary({1500: [True] * 3},
                                 {1500: {**{k: [True] * 2 for k in (2, 4, 8, 16)},
                                         32: [True, False]}},
                                 {"grid_parabola": 32, "linear": 16}))
    assert "needs more models than a parabola" in v["comparison"]
    assert "as many models as linear interpolation" in v["comparison"]
    assert "does not earn its place" in v["network"]


@pytest.mark.parametrize(("a", "b", "a_open", "b_open", "words"), [
    (16, 8, False, False, "fewer models than"), (8, 16, False, False, "more models than"),
    (8, 8, False, False, "as many models as"), (8, 8, True, False, "no more models than"),
    (8, 8, False, True, "no fewer models than"), (8, 16, True, False, sparse.UNRANKED),
    (16, 8, False, True, sparse.UNRANKED), (16, 8, True, True, sparse.UNRANKED),
    (16, 8, True, False, "fewer models than"), (4, None, True, False, "fewer models than"),
    (None, 4, False, True, "more models than")])
def test_fewer_says_only_what_lower_bounds_imply(a, b, a_open, b_open, words):
    assert sparse._fewer(a, b, a_open, b_open) == words
