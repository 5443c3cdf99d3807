"""Δχ² evaluation on analytic curves."""

from __future__ import annotations

import numpy as np
import pytest

from orbitnet.fit.chi2 import best_fit, delta_chi2, inside, interval, sigma_levels, summarise

ML = np.round(np.arange(1.0, 9.0001, 0.05), 10)


def test_sigma_levels():
    l1, l2 = sigma_levels(152 * 4)
    assert l1 == pytest.approx(34.87, abs=5e-3) and l2 == pytest.approx(69.74, abs=5e-3)
    with pytest.raises(ValueError):
        sigma_levels(0)


def test_delta_chi2():
    np.testing.assert_array_equal(delta_chi2([5.0, 3.0, 4.0]), [2.0, 0.0, 1.0])


def test_v_shape_exact_ends():
    # piecewise linear: linear interpolation recovers the crossing exactly
    chi2 = 1000.0 + 200.0 * np.abs(ML - 5.85)
    lo, hi = interval(ML, chi2, 34.87)
    assert lo == pytest.approx(5.85 - 34.87 / 200, abs=1e-12)
    assert hi == pytest.approx(5.85 + 34.87 / 200, abs=1e-12)
    assert best_fit(ML, chi2)[0] == 5.85


def test_parabola():
    m0, c = 5.8437, 4000.0
    chi2 = 14000.0 + c * (ML - m0) ** 2
    best, refined = best_fit(ML, chi2)
    assert best == 5.85
    assert refined == pytest.approx(m0, abs=1e-12)  # the parabola is exact
    fit = summarise(ML, chi2, 608)
    for band, level in ((fit.ml_1sigma, fit.levels[0]), (fit.ml_2sigma, fit.levels[1])):
        half = np.sqrt(level / c + (5.85 - m0) ** 2)  # Δχ² is taken from the grid minimum
        # a chord over [x_i, x_i + h] lies c (x - x_i)(x_i + h - x) <= c h^2 / 4 above the
        # parabola, whose slope there is >= 2 c (half - h): ends move inward by less than
        tol = 0.05**2 / (8 * (half - 0.05))
        assert band[0] == pytest.approx(m0 - half, abs=tol)
        assert band[1] == pytest.approx(m0 + half, abs=tol)
        assert m0 - half < band[0] < band[1] < m0 + half
    assert fit.chi2_min == pytest.approx(14000.0 + c * (5.85 - m0) ** 2)
    assert inside(fit.ml_1sigma, m0) and not inside(fit.ml_1sigma, 7.0)
    assert fit.to_dict()["ml_1sigma"] == list(fit.ml_1sigma)


def test_open_ends_are_nan():
    chi2 = 10.0 * (ML - 1.2) ** 2  # never reaches 34.87 on the left, crosses on the right
    lo, hi = interval(ML, chi2, 34.87)
    assert np.isnan(lo) and hi == pytest.approx(1.2 + np.sqrt(3.487), abs=1e-2)
    assert inside((lo, hi), 1.0) and not inside((lo, hi), 4.0)
    flat = np.zeros_like(ML)
    assert all(np.isnan(interval(ML, flat, 1.0)))
    assert best_fit(ML, 3.0 * ML) == (1.0, 1.0)  # minimum at the edge: no refinement


def test_rough_curve_contiguous_range():
    # a second, deeper-than-level dip far away must not join the interval
    chi2 = np.full(ML.size, 200.0)
    i0 = 60
    chi2[i0 - 2:i0 + 3] = [50.0, 10.0, 0.0, 20.0, 60.0]
    chi2[120] = 5.0
    lo, hi = interval(ML, chi2, 34.87)
    assert lo == pytest.approx(ML[i0 - 1] - (34.87 - 10) / (50 - 10) * 0.05, abs=1e-9)
    assert hi == pytest.approx(ML[i0 + 1] + (34.87 - 20) / (60 - 20) * 0.05, abs=1e-9)
    assert hi < ML[120]


def test_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        interval(ML, ML[:-1], 1.0)
    with pytest.raises(ValueError, match="increasing"):
        best_fit(ML[::-1], ML)
    with pytest.raises(ValueError, match="finite"):
        summarise(ML, np.full(ML.size, np.nan), 608)
