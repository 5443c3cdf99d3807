import numpy as np
import pytest
import refdata

from orbitnet.fit import cube
from orbitnet.fit.kinematics import ModelKinematics
from orbitnet.studies import kinmaps, sparse


@pytest.fixture(scope="module")
def small(galaxy, tmp_path_factory):
    lib = refdata.library()
    ml = np.round(np.arange(5.5, 6.21, 0.05), 2)  # 15 models
    path = tmp_path_factory.mktemp("sparse") / "orbit_models.h5"
    truth = cube.orbit_models(galaxy, lib, {"lib": "x"}, ml=ml, n_jobs=2, progress=False,
                                path=path)
    return truth, cube.weight_problem(galaxy, lib)


def test_study_with_baselines(small, tmp_path, monkeypatch):
    truth, problem = small
    monkeypatch.setattr(sparse.paths, "ARTIFACTS", tmp_path)
    study = sparse.run_study(truth, problem, steps=[1, 7], methods=["linear", "rescale"],
                             progress=False)
    assert list(study.sets) == ["15", "3"]
    assert study.results["rescale"]["3"]["ml_best"] == truth.fit.ml_best
    assert study.results["linear"]["15"]["median_abs_residual_over_err"] == 0.0
    out = sparse.summary(study)
    assert out["smallest"]["rescale"]["inside_1sigma"] == 3
    assert out["largest_set"] == 15 and out["smallest_set"] == 3
    assert len(sparse.table(study)) == 4
    with pytest.raises(ValueError, match="unknown method"):
        sparse.run_study(truth, problem, steps=[1], methods=["magic"])


def test_smallest_inside_needs_every_larger_set_and_seed():
    res = {"161": {"inside_model_1sigma": True}, "81": {"inside_model_1sigma": True},
           "41": {"inside_model_1sigma": False}, "21": {"inside_model_1sigma": True}}
    assert sparse.smallest_inside(res, "inside_model_1sigma") == 81
    res = {"161": {"inside_model_1sigma": True},
           "21": {"inside_model_1sigma": True, "inside_model_1sigma_runs": [True, False]}}
    assert sparse.smallest_inside(res, "inside_model_1sigma") == 161
    assert sparse.smallest_inside({"5": {"inside_model_1sigma": False}},
                                  "inside_model_1sigma") is None


def test_combine_seeded_runs():
    runs = [{"ml_best": 5.8, "inside_model_1sigma": True, "train_seconds": 1.0},
            {"ml_best": 6.0, "inside_model_1sigma": False, "train_seconds": 3.0}]
    out = sparse._combine(runs)
    assert out["ml_best"] == 5.8 and out["seeds"] == 2
    assert out["ml_best_mean"] == pytest.approx(5.9)
    assert out["inside_model_1sigma_runs"] == [True, False]
    assert out["train_seconds"] == 2.0


def test_map_comparisons_by_hand(galaxy):
    obs, err = kinmaps.observed(galaxy)
    shifted = ModelKinematics(obs.v + 2 * err.v, obs.sigma, obs.h3, obs.h4)
    stats = kinmaps.compare(obs, err, shifted, shifted, shifted)
    assert stats["obs_model"]["v"]["median_abs_over_err"] == pytest.approx(2.0)
    assert stats["obs_model"]["sigma"]["p90_abs_over_err"] == 0.0
    assert stats["model_pred"]["v"]["median_abs_over_err"] == 0.0
    assert len(kinmaps.residual_table(stats)) == 4
