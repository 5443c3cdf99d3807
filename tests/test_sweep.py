"""M/L sweep: grid helpers and a short parallel sweep against chi2_check."""

from __future__ import annotations

import numpy as np
import pytest
import refdata

from orbitnet.fit.sweep import check_ml_grid, ml_grid, run_sweep


def test_default_grid():
    g = ml_grid()
    assert g.size == 161 and g[0] == 1.0 and g[-1] == 9.0
    assert g[80] == 5.0 and g[97] == 5.85
    np.testing.assert_array_equal(g, np.round(g, 2))
    assert ml_grid(2.0, 2.0).tolist() == [2.0]


@pytest.mark.parametrize(
    ("grid", "msg"),
    [([], "ml_grid is empty"), ([1.0, 3.0, 2.0], "strictly increasing"),
     ([0.0, 1.0], "ml_grid must be positive"), ([-1.0, 2.0], "ml_grid must be positive"),
     ([1.0, 1.0], "strictly increasing"), ([1.0, np.nan], "non-finite")],
)
def test_bad_grid(grid, msg):
    with pytest.raises(ValueError, match=msg):
        check_ml_grid(grid)
    with pytest.raises(ValueError, match=msg):
        run_sweep(None, None, grid)  # the grid is checked first


def test_bad_grid_arguments():
    with pytest.raises(ValueError, match="step"):
        ml_grid(1.0, 2.0, 0.0)
    with pytest.raises(ValueError, match="start"):
        ml_grid(-1.0, 2.0)
    with pytest.raises(ValueError, match="stop"):
        ml_grid(3.0, 2.0)


def test_sweep_matches_chi2_check():
    lib, kin = refdata.library(), refdata.kinematics()
    check = refdata.ref("chi2_check")[:3]  # ml 1, 3, 5
    res = run_sweep(lib, kin, check[:, 0], n_jobs=2, progress=False)
    assert res.n_jobs == 2
    assert res.gh.shape == (3, 360, 152, 4) and res.gh.dtype == np.float32
    assert res.weights.shape == (3, 360)
    np.testing.assert_allclose(res.chi2, check[:, 5], rtol=1e-6)
    np.testing.assert_allclose(res.kinchi2, check[:, 6], rtol=1e-6)
    np.testing.assert_allclose(res.gh[2], refdata.ref("gh_per_orbit_ml5"), rtol=1e-6,
                               atol=1e-8)
    serial = run_sweep(lib, kin, [5.0], n_jobs=1, progress=False)
    np.testing.assert_array_equal(serial.weights[0], res.weights[2])
    assert serial.kinchi2[0] == res.kinchi2[2]


def test_warm_started_nnls_is_start_independent_and_equals_scipy():
    from scipy.optimize import nnls

    from orbitnet.fit.solver import nnls_warm

    rng = np.random.default_rng(11)
    a = rng.normal(size=(300, 80))
    b = a @ np.where(rng.random(80) < 0.4, rng.random(80), 0.0) + 0.3 * rng.normal(size=300)
    ref, _ = nnls(a, b)
    sols = [nnls_warm(a, b, start) for start in
            (None, [], np.arange(80), rng.choice(80, 30, replace=False),
             np.flatnonzero(ref > 0))]
    for w, passive in sols:
        np.testing.assert_array_equal(w, sols[0][0])  # the same bits from any start
        np.testing.assert_array_equal(passive, np.flatnonzero(ref > 0))
        np.testing.assert_allclose(w, ref, rtol=1e-10, atol=1e-13)


def test_warm_sweep_equals_cold_scipy_sweep_and_keeps_the_fit():
    """The warm-started sweep (2 processes) against scipy.optimize.nnls per model: chi2 to
    1e-9, the same positive sets, and the same best fit and 1σ ends (DYNAMITE's 5.85)."""
    from orbitnet.fit.chi2 import summarise
    from orbitnet.fit.gh import gh_per_orbit
    from orbitnet.fit.solver import WeightProblem, observed_targets

    lib, kin = refdata.library(), refdata.kinematics()
    grid = ml_grid(5.5, 6.2, 0.05)
    res = run_sweep(lib, kin, grid, n_jobs=2, progress=False, keep_gh=False)
    assert res.gh is None
    problem = WeightProblem(lib, *observed_targets(kin))
    cold = [problem.solve(gh_per_orbit(lib, kin["v"], kin["sigma"], m)) for m in grid]
    np.testing.assert_allclose(res.chi2, [c.chi2 for c in cold], rtol=1e-9)
    np.testing.assert_allclose(res.kinchi2, [c.kinchi2 for c in cold], rtol=1e-9)
    for w, c in zip(res.weights, cold, strict=True):
        np.testing.assert_array_equal(np.flatnonzero(w > 0), np.flatnonzero(c.weights > 0))
    warm_fit = summarise(grid, res.kinchi2, 608)
    cold_fit = summarise(grid, np.array([c.kinchi2 for c in cold]), 608)
    assert warm_fit.ml_best == cold_fit.ml_best == 5.85
    np.testing.assert_allclose(warm_fit.ml_1sigma, cold_fit.ml_1sigma, rtol=1e-9)
    np.testing.assert_allclose(warm_fit.ml_1sigma, [5.739, 5.945], atol=1e-3)
    one = run_sweep(lib, kin, grid, n_jobs=1, progress=False, keep_gh=False)
    np.testing.assert_array_equal(one.weights, res.weights)  # chunking never changes bits
