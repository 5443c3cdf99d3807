import numpy as np
import pytest
import refdata

from orbitnet.emulators.baselines import LinearInterpolation
from orbitnet.fit import solver
from orbitnet.judge import compare, subsets


@pytest.fixture(scope="module")
def truth(small_cube):
    out, problem = small_cube(5.5, 6.25)
    return refdata.library(), out, problem


def test_gh_errors_are_the_solver_rows(truth):
    lib, _, problem = truth
    err = solver.gh_errors(problem)
    assert err.shape == (152, 4)
    np.testing.assert_allclose(err, refdata.ref("obs_errors") * lib.aperture_mass_target[:, None])


def test_residual_metric_by_hand():
    truth = np.zeros((2, 3, 2, 4))
    pred = np.zeros_like(truth)
    pred[0, 0, 0, 0] = 3.0
    err = np.full((2, 4), 2.0)
    assert compare.median_abs_residual_over_err(pred, truth, err) == 0.0
    pred[:] = 1.0
    assert compare.median_abs_residual_over_err(pred, truth, err) == 0.5


def test_truth_judges_itself_perfectly(truth):
    _, out, problem = truth
    res = compare.judge(out, out, solver.gh_errors(problem))
    assert res["ml_best"] == out.fit.ml_best
    assert res["inside_model_1sigma"] and res["median_abs_residual_over_err"] == 0.0


def test_evaluate_linear_interpolation_and_cache(truth, tmp_path):
    _, out, problem = truth
    idx = np.arange(0, out.ml.size, 5)  # 5.50, 5.75, 6.00, 6.25
    calls = []

    def fit_predict():
        calls.append(1)
        em = LinearInterpolation().fit(out.ml[idx], out.gh[idx])
        return em.predict(out.ml), em.train_seconds

    pred, res = compare.evaluate(fit_predict, out, problem, tmp_path / "lin.h5",
                                    {"k": 5}, {}, ml_show=5.0, n_jobs=1, progress=False)
    again, res2 = compare.evaluate(fit_predict, out, problem, tmp_path / "lin.h5",
                                      {"k": 5}, {}, ml_show=5.0, n_jobs=1, progress=False)
    assert len(calls) == 1 and res == res2
    assert 0 < res["median_abs_residual_over_err"] < 0.05
    # at the training models the prediction is exact, so chi2 agrees there
    np.testing.assert_allclose(pred.kinchi2[idx], out.kinchi2[idx], rtol=1e-5)
    assert abs(res["ml_best"] - out.fit.ml_best) <= 0.1
    assert pred.attrs["gh_show"].shape == (360, 152, 4)


def test_residual_metric_one_coefficient_matches_the_full_cube():
    rng = np.random.default_rng(1)
    truth, pred = rng.normal(size=(2, 3, 5, 7, 4)).astype(np.float32)
    err = rng.uniform(0.5, 2.0, size=(7, 4))
    for k in range(4):
        one = compare.median_abs_residual_over_err(pred[..., k], truth[..., k], err[:, k])
        by_hand = np.median(np.abs(pred[..., k].astype(np.float64) - truth[..., k]) / err[:, k])
        assert one == pytest.approx(by_hand, rel=1e-6)


def test_nearest_index():
    from orbitnet.fit.sweep import nearest_index

    ml = np.array([4.0, 4.5, 5.0])
    assert [nearest_index(ml, v) for v in (3.0, 4.7, 4.8, 9.0)] == [0, 1, 2, 2]
    with pytest.raises(ValueError, match="empty"):
        nearest_index([], 1.0)


def test_evaluate_per_coefficient_and_spread(truth, tmp_path):
    _, out, problem = truth
    err = solver.gh_errors(problem)
    pred_gh = out.gh.copy()
    pred_gh[..., 2] += 0.5 * err[None, None, :, 2].astype(np.float32)
    spread = np.broadcast_to(err.astype(np.float32), out.gh.shape)
    _, res = compare.evaluate(lambda: (pred_gh, 1.5, spread), out, problem, tmp_path / "s.h5",
                              {}, {}, ml_show=5.0, n_jobs=1, progress=False,
                              per_coefficient=True)
    assert res["h1"]["median_abs_residual_over_err"] == 0.0
    assert res["h3"]["median_abs_residual_over_err"] == pytest.approx(0.5, rel=1e-5)
    assert res["h4"]["spread_over_err"] == pytest.approx(1.0)
    assert res["train_seconds"] == 1.5


def test_evaluate_redraws_the_image_when_ml_show_changes(truth, tmp_path):
    _, out, problem = truth
    path = tmp_path / "show.h5"
    a, _ = compare.evaluate(lambda: (out.gh, 0.0), out, problem, path, {}, {}, ml_show=5.5,
                            n_jobs=1, progress=False)
    b, _ = compare.evaluate(lambda: (out.gh, 0.0), out, problem, path, {}, {}, ml_show=6.0,
                            n_jobs=1, progress=False)
    np.testing.assert_array_equal(a.attrs["gh_show"], out.gh[0])
    np.testing.assert_array_equal(b.attrs["gh_show"], out.gh[10])


def test_evaluate_on_a_training_range_with_heldout_residual(truth, tmp_path):
    _, out, problem = truth
    train = subsets.every_kth(out.ml.size, 4, 1)  # 5.55, 5.75, 5.95, 6.15
    judged, held = subsets.judged_range(train), subsets.heldout(train)

    def fit_predict():
        em = LinearInterpolation().fit(out.ml[train], out.gh[train])
        return em.predict(out.ml[judged]), em.train_seconds

    pred, res = compare.evaluate(fit_predict, out, problem, tmp_path / "lin.h5", {"k": 4}, {},
                                 ml_show=5.0, n_jobs=1, progress=False, judged=judged,
                                 heldout=held,
                                 residual_all=False)
    assert pred.ml.tolist() == out.ml[judged].tolist()
    # training models are not solved again: their chi2 is the orbit models' own
    assert pred.attrs["n_solved"] == held.size
    np.testing.assert_array_equal(pred.kinchi2[train - judged[0]], out.kinchi2[train])
    assert res["median_abs_residual_over_err"] is None
    assert res["median_abs_heldout_residual_over_err"] > 0
    # the held-out residual is over held-out models only: the same number by hand
    gh = LinearInterpolation().fit(out.ml[train], out.gh[train]).predict(out.ml[held])
    err = solver.gh_errors(problem)
    assert res["median_abs_heldout_residual_over_err"] == pytest.approx(
        compare.median_abs_residual_over_err(gh, out.gh[held], err), rel=1e-6)
    with pytest.raises(ValueError, match="contiguous"):
        compare.evaluate(fit_predict, out, problem, tmp_path / "x.h5", {}, {}, ml_show=5.0,
                         judged=train)


def test_stored_cube_solves_to_the_orbit_models_chi2(truth):
    """Reusing the orbit models' chi2 for exact predictions is what solving would give."""
    from orbitnet.fit.sweep import solve_many

    _, out, problem = truth
    _, kinchi2, _ = solve_many(problem, out.gh[:3], n_jobs=1, progress=False)
    np.testing.assert_allclose(kinchi2, out.kinchi2[:3], atol=1e-2)
