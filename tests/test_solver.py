"""NNLS system and weights against reference.h5 (A_ml5, b_ml5, weights_ml5, chi2_check)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import refdata

from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.solver import WeightProblem, observed_targets


@pytest.fixture(scope="session")
def lib():
    return refdata.library()


@pytest.fixture(scope="session")
def problem(lib):
    return WeightProblem(lib, *observed_targets(refdata.kinematics()))


def test_observed_targets():
    kin = SimpleNamespace(**refdata.kinematics())  # attribute access works too
    targets, errors = observed_targets(kin)
    np.testing.assert_allclose(targets, refdata.ref("obs_targets"), rtol=1e-14, atol=0)
    np.testing.assert_allclose(errors, refdata.ref("obs_errors"), rtol=1e-14, atol=0)
    _, with_sys = observed_targets(kin, sys_err=[0, 0, 0.3, 0.6])
    np.testing.assert_allclose(with_sys[:, 3], np.hypot(kin.dh4, 0.6))


def test_system_matches_reference(problem):
    a, b = problem.system(refdata.ref("gh_per_orbit_ml5"))
    assert a.shape == (1121, 360)
    np.testing.assert_allclose(a, refdata.ref("A_ml5"), rtol=1e-12, atol=0)
    np.testing.assert_allclose(b, refdata.ref("b_ml5"), rtol=1e-12, atol=0)
    np.testing.assert_allclose(problem.con, refdata.ref("con_ml5"), rtol=1e-12, atol=0)
    np.testing.assert_allclose(problem.err, refdata.ref("err_ml5"), rtol=1e-12, atol=0)


def test_weights_ml5(problem):
    res = problem.solve(refdata.ref("gh_per_orbit_ml5"))
    for name in ("weights_ml5", "weights_ml5_pyscipy"):
        want = refdata.ref(name)
        np.testing.assert_allclose(res.weights, want, rtol=0, atol=1e-6 * want.max())
    assert res.n_nonzero == 141
    assert res.chi2 == pytest.approx(38000.887214833, rel=1e-9)
    assert res.kinchi2 == pytest.approx(16827.963688052, rel=1e-9)


def test_chi2_check(lib, problem):
    kin = refdata.kinematics()
    for ml, _, _, c_py, k_py, c_full, k_full in refdata.ref("chi2_check"):
        res = problem.solve(gh_per_orbit(lib, kin["v"], kin["sigma"], ml))
        assert res.chi2 == pytest.approx(c_full, rel=1e-6), ml
        assert res.kinchi2 == pytest.approx(k_full, rel=1e-6), ml
        assert res.chi2 == pytest.approx(c_py, rel=1e-6), ml
        assert res.kinchi2 == pytest.approx(k_py, rel=1e-6), ml


def test_float32_gh_is_accepted(problem):
    gh = refdata.ref("gh_per_orbit_ml5").astype(np.float32)
    res = problem.solve(gh)
    assert res.chi2 == pytest.approx(38000.887, rel=1e-3)


def test_bad_shapes(lib, problem):
    targets, errors = observed_targets(refdata.kinematics())
    with pytest.raises(ValueError, match="library has 152 bins but kinematics have 150"):
        WeightProblem(lib, targets[:150], errors[:150])
    with pytest.raises(ValueError, match="non-finite"):
        WeightProblem(lib, targets, np.where(np.arange(152)[:, None] == 3, np.nan, errors))
    gh = refdata.ref("gh_per_orbit_ml5")
    with pytest.raises(ValueError, match="library has 152 bins but the GH array has 150"):
        problem.solve(gh[:, :150])
    with pytest.raises(ValueError, match="expected"):
        problem.solve(gh[:300])
    bad = gh.copy()
    bad[5, 5, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        problem.solve(bad)
    kin = dict(refdata.kinematics())
    del kin["dh4"]
    with pytest.raises(ValueError, match="'dh4'"):
        observed_targets(kin)
