import pytest

from orbitnet.emulators.emulator import Emulator
from orbitnet.figures import sparse as figs
from orbitnet.fit.kinematics import ModelKinematics
from orbitnet.judge import subsets
from orbitnet.studies import maps, sparse


@pytest.fixture(scope="module")
def small(small_cube):
    return small_cube(5.5, 6.2)  # 15 models


def test_study_protocol_with_baselines(small, tmp_path, monkeypatch):
    orbit_models, problem = small
    monkeypatch.setattr(sparse.paths, "ARTIFACTS", tmp_path)
    study = sparse.run_study(orbit_models, problem, steps=[1, 4],
                             methods=["grid_parabola", "linear"], seeds=[0], offsets=3,
                             pca_offsets=None, network_offsets=8, network_steps=None,
                             budgets=[150], ml_show=5.0, progress=False, n_jobs=1)
    # at most 3 evenly spread offsets per step
    assert study.settings["offsets"]["grid_parabola"] == {"1": [0], "4": [0, 1, 2]}
    assert study.settings["offsets"]["linear"] == {"1": [0], "4": [0, 1, 2]}
    assert len(study.runs) == 4 + 4
    for r in study.runs:
        train = subsets.every_kth(orbit_models.ml.size, r["k"], r["offset"])
        assert r["n_train"] == train.size
        assert r["judged_ml"] == [orbit_models.ml[train[0]], orbit_models.ml[train[-1]]]
    full = next(r for r in study.runs if r["method"] == "linear" and r["k"] == 1)
    assert full["ml_best"] == orbit_models.fit.ml_best and full["heldout_residual"] is None
    out = sparse.summary(study)
    assert set(out["linear"]) == {"1", "4"}
    lin4 = out["linear"]["4"]
    assert (lin4["n_offsets"], lin4["n_seeds"], lin4["n_runs"]) == (3, 1, 3)
    assert (lin4["n_train"], lin4["n_train_max"]) == (4, 4)
    assert 0 < lin4["median_abs_heldout_residual_over_err"] < 0.05
    assert lin4["ml_best_min"] <= lin4["ml_best_median"] <= lin4["ml_best_max"]
    for key in ("frac_inside_1sigma", "frac_inside_2sigma", "train_seconds_median"):
        assert key in lin4
    assert out["grid_parabola"]["4"]["median_abs_heldout_residual_over_err"] is None
    assert out["smallest_k_90pct_1sigma"]["dcnn"] is None  # not run
    assert out["truth"]["ml_best"] == orbit_models.fit.ml_best
    assert out["protocol"]["plan"]["linear"]["solves"] == sum(
        subsets.heldout(subsets.every_kth(15, k, o)).size for k, o in [(1, 0), (4, 0), (4, 1),
                                                                          (4, 2)])
    assert len(figs.table(out)) == 4
    assert len(figs.sets_table(orbit_models, [1, 4])) == 2
    with pytest.raises(ValueError, match="unknown method"):
        sparse.run_study(orbit_models, problem, steps=[1], methods=["rescale"], seeds=[0],
                         offsets=None, pca_offsets=None, network_offsets=8, network_steps=None,
                         budgets=[150], ml_show=5.0)


def test_fractions_are_over_offsets_and_seeds():
    runs = [{"offset": o, "seed": s, "n_train": 10, "ml_best": 5.8 + 0.1 * s,
             "inside_1sigma": (o, s) != (1, 1), "inside_2sigma": True,
             "delta_over_halfwidth": -0.5 + s, "heldout_residual": 0.1 * (o + 1),
             "train_seconds": 1.0 + o} for o in (0, 1) for s in (0, 1)]
    out = sparse.aggregate(runs)
    assert (out["n_offsets"], out["n_seeds"], out["n_runs"]) == (2, 2, 4)
    assert out["frac_inside_1sigma"] == 0.75 and out["frac_inside_2sigma"] == 1.0
    assert out["ml_best_min"] == 5.8 and out["ml_best_max"] == pytest.approx(5.9)
    assert out["abs_delta_over_halfwidth_median"] == 0.5
    assert out["median_abs_heldout_residual_over_err"] == pytest.approx(0.15)
    assert out["train_seconds_median"] == 1.5


def test_sparsest_k_needs_every_denser_step():
    per = {"1": {"frac_inside_1sigma": 1.0}, "2": {"frac_inside_1sigma": 0.9},
           "4": {"frac_inside_1sigma": 0.5}, "8": {"frac_inside_1sigma": 1.0}}
    assert sparse.sparsest_k(per) == 2
    assert sparse.sparsest_k({"1": {"frac_inside_1sigma": 0.8}}) is None


@pytest.mark.slow
def test_dcnn_trains_on_exactly_the_requested_set(small, tmp_path, monkeypatch):
    orbit_models, problem = small
    monkeypatch.setattr(sparse.paths, "ARTIFACTS", tmp_path)
    rec, pred = sparse.run_one(orbit_models, problem, "dcnn", k=4, offset=1, seed=0,
                               gradient_steps=2,
                               ml_show=5.0, galaxy="g", progress=False, n_jobs=1)
    train = subsets.every_kth(orbit_models.ml.size, 4, 1)
    emu = Emulator.load(tmp_path / "g" / "dcnn" / "fast" / "l1_err" / "sparse_k4_o1_seed0_steps2")
    assert emu.meta["train_ml"] == orbit_models.ml[train].tolist()  # nothing dropped for validation
    assert emu.meta["val_ml"] == []  # no validation pass: the budget is fixed
    assert emu.meta["gradient_steps"] == 2 and emu.meta["recipe"]["validation_split"] == 0
    assert (rec["gradient_steps"], rec["steps_used"]) == (2, 2)
    assert rec["n_train"] == train.size and rec["heldout_residual"] > 0
    assert pred.ml.tolist() == orbit_models.ml[subsets.judged_range(train)].tolist()


def test_map_comparisons_by_hand(galaxy):
    obs, err = maps.observed(galaxy)
    shifted = ModelKinematics(obs.v + 2 * err.v, obs.sigma, obs.h3, obs.h4)
    stats = maps.compare(obs, err, shifted, shifted, shifted)
    assert stats["obs_model"]["v"]["median_abs_over_err"] == pytest.approx(2.0)
    assert stats["obs_model"]["sigma"]["p90_abs_over_err"] == 0.0
    assert stats["model_pred"]["v"]["median_abs_over_err"] == 0.0
    assert len(maps.residual_table(stats)) == 4


def test_verdicts_compare_sparsest_steps():
    per = {m: {"1": {}} for m in ("grid_parabola", "linear", "pca_gp")}
    out = sparse.verdicts({**per, "smallest_k_90pct_1sigma": {
        "grid_parabola": 32, "linear": 16, "pca_gp": 32, "dcnn": None}})
    assert out["linear_vs_grid_parabola"] == "more models than"
    assert out["pca_gp_vs_grid_parabola"] == "as many models as"
    assert out["pca_gp_vs_linear"] == "fewer models than"
    assert (out["sparsest_methods"], out["sparsest_k"]) == ("grid_parabola, pca_gp", "32")
    assert out["comparison"].startswith("The network was not run in this build")
    assert "did not compare the network" in out["network"]
    del per["grid_parabola"]
    out = sparse.verdicts({**per, "smallest_k_90pct_1sigma": {"linear": None, "pca_gp": None}})
    assert out["linear_vs_grid_parabola"] == "was not compared with"
    assert (out["sparsest_methods"], out["sparsest_k"]) == ("none", "none")


@pytest.mark.slow
def test_networks_train_in_worker_processes_reproducibly(small, tmp_path, monkeypatch):
    """A study's networks are trained first, two worker processes at a time (memory stays
    bounded), then only loaded; a network retrained in another process is identical."""
    import numpy as np

    from orbitnet.emulators.cache import train_in_processes

    orbit_models, problem = small
    monkeypatch.setattr(sparse.paths, "ARTIFACTS", tmp_path)
    kw = dict(steps=[4], methods=["dcnn"], seeds=[0], offsets=None, pca_offsets=None,
              network_offsets=2, network_steps=None, budgets=[3], ml_show=5.0,
              galaxy="g", progress=False, n_jobs=2)
    study = sparse.run_study(orbit_models, problem, **kw)
    assert study.settings["networks_trained_in_processes"] == {"dcnn": 2}
    assert [(r["k"], r["offset"]) for r in study.runs] == [(4, 0), (4, 2)]
    again = sparse.run_study(orbit_models, problem, **kw)
    assert again.settings["networks_trained_in_processes"] == {"dcnn": 0}  # all stored
    jobs = [sparse.network_job("dcnn", orbit_models.ml.size, 4, o, 0, 3, "g") for o in (0, 2)]
    first = [Emulator.load(j.out_dir) for j in jobs]
    assert train_in_processes(orbit_models, problem, jobs[:1], progress=False) == 0  # stored
    for j in jobs:
        (j.out_dir / "fingerprint.json").unlink()
    assert train_in_processes(orbit_models, problem, jobs[:1], n_jobs=1, progress=False) == 0  # one
    # one process per network, one after the other: each retrains exactly as before
    assert train_in_processes(orbit_models, problem, jobs, n_jobs=1, per_process=1,
                              progress=False) == 2
    for j, emu in zip(jobs, first, strict=True):
        ml = orbit_models.ml[list(j.train_idx)]
        np.testing.assert_array_equal(emu.predict(ml), Emulator.load(j.out_dir).predict(ml))
    job = jobs[1]
    assert first[1].meta["train_ml"] == orbit_models.ml[list(job.train_idx)].tolist()


@pytest.mark.slow
def test_budget_control_trains_every_budget_and_reads_one(small, tmp_path, monkeypatch):
    """Each budget trains its own networks (every seed on the full grid, the first on each
    offset of a larger step); the JSON holds budget → k with the steps each network took."""
    orbit_models, problem = small
    monkeypatch.setattr(sparse.paths, "ARTIFACTS", tmp_path)
    kw = dict(steps=[1, 4], methods=["grid_parabola", "dcnn"], seeds=[0, 1], offsets=None,
              pca_offsets=None, network_offsets=1, network_steps=None, budgets=[3, 2],
              ml_show=5.0, galaxy="g", progress=False, n_jobs=2)
    study = sparse.run_study(orbit_models, problem, prune=False, **kw)
    assert study.settings["budgets"] == [2, 3]
    assert study.settings["networks_trained_in_processes"] == {"dcnn": 6}
    nets = [r for r in study.runs if r["method"] == "dcnn"]
    assert sorted((r["gradient_steps"], r["k"], r["seed"]) for r in nets) == [
        (2, 1, 0), (2, 1, 1), (2, 4, 0), (3, 1, 0), (3, 1, 1), (3, 4, 0)]
    for r in nets:
        job = sparse.network_job("dcnn", orbit_models.ml.size, r["k"], r["offset"], r["seed"],
                                 r["gradient_steps"], "g")
        assert Emulator.load(job.out_dir).meta["gradient_steps"] == r["steps_used"]
    # 15 models in 2 batches of 8: 3 steps -> 2 epochs of 2 = 4 steps; 4 models in one batch
    assert {(r["gradient_steps"], r["k"]): r["steps_used"] for r in nets} == {
        (2, 1): 2, (3, 1): 4, (2, 4): 2, (3, 4): 3}
    out = sparse.summary(study)
    ctrl = out["dcnn_budget_control"]
    assert list(ctrl) == ["2", "3"] and list(ctrl["2"]) == ["1", "4"]
    assert (ctrl["3"]["1"]["n_seeds"], ctrl["3"]["4"]["n_seeds"]) == (2, 1)
    assert ctrl["3"]["1"]["steps_used"] == 4 and len(ctrl["3"]["1"]["ci95"]) == 2
    shown = study.settings["shown_budget"]["dcnn"]
    read = out["budget_read"]["dcnn"]
    assert shown == (read if read is not None else 3)
    assert ("dcnn" in out) == (read is not None)
    assert {key for key in study.preds if key[0] == "dcnn"} == {
        ("dcnn", 1, 0, 0), ("dcnn", 1, 0, 1), ("dcnn", 4, 0, 0)}
    assert out["verdict"]["control"].startswith("With 2 gradient steps (2 steps taken")
    assert len(figs.control_table(ctrl, out["dcnn_budget_sparsest"])) == 4
    assert len(figs.cost_table(out)) == 2
    # pruned: a budget below 90 % at a step runs no sparser step (all networks are stored)
    pruned = sparse.run_study(orbit_models, problem, **kw)
    assert pruned.settings["networks_trained_in_processes"] == {"dcnn": 0}
    stopped = pruned.settings["budget_stopped"]["dcnn"]
    for b in ("2", "3"):
        full = ctrl[b]["1"]["frac_inside_1sigma"]
        assert (stopped.get(b) == 1) == (full < 0.9)
        ran = {r["k"] for r in pruned.runs if r["gradient_steps"] == int(b)}
        assert ran == ({1} if full < 0.9 else {1, 4})
