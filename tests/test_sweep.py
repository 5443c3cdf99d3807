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
