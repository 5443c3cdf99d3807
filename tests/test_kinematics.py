"""Model kinematics from weights: GH fit, first-order route, DYNAMITE's nn_kinem.out."""

from __future__ import annotations

import numpy as np
import pytest
import refdata

from orbitnet.data import paths
from orbitnet.figures.galaxy import gh_losvd
from orbitnet.fit.gh import gh_basis, gh_per_orbit
from orbitnet.fit.kinematics import (
    KINEMATIC_NAMES,
    ModelKinematics,
    first_order_kinematics,
    fit_gh,
    model_kinematics,
    model_losvd,
    read_nn_kinem,
    residual_stats,
)
from orbitnet.orblib.library import LibraryError

DV = 5.2228344569288385  # the library's velocity bin (km/s)
VEL = np.arange(-250, 251) * DV  # wider than the library's +-133 bins: no truncated tails
GAMMA4 = np.sqrt(6) / 4  # int phi H4 dw


@pytest.fixture(scope="session")
def lib():
    return refdata.library()


@pytest.fixture(scope="session")
def nn_kinem():
    return read_nn_kinem(paths.dynamite_run_dir() / "ml5.00" / "nn_kinem.out")


@pytest.fixture(scope="session")
def legacy_ml5(lib):
    return model_kinematics(lib, refdata.ref("weights_ml5"), 5.0)


CASES = [(30.0, 150.0, 0.05, -0.03), (-120.0, 80.0, -0.10, 0.06), (0.0, 200.0, 0.0, 0.0),
         (250.0, 40.0, 0.02, 0.04)]


def _hist(v0, s0, h3, h4):
    return gh_losvd(VEL, v0, s0, (h3, h4)) * DV


def test_fit_gh_recovers_synthetic_losvd():
    hists = np.array([_hist(*c) for c in CASES])
    v, s, h3, h4 = fit_gh(VEL, 7.0 * hists)  # any overall scale
    full = np.column_stack(fit_gh(VEL, hists, method="full"))
    for i, (v0, s0, h3_0, h4_0) in enumerate(CASES):
        # legacy: V, sigma of the GH series exactly; h_l normalised by the total light
        assert v[i] == pytest.approx(v0, abs=1e-7)
        assert s[i] == pytest.approx(s0, rel=1e-9)
        norm = 1.0 + GAMMA4 * h4_0
        assert h3[i] == pytest.approx(h3_0 / norm, abs=1e-9)
        assert h4[i] == pytest.approx(h4_0 / norm, abs=1e-9)
        # full simultaneous fit: the series' own coefficients
        np.testing.assert_allclose(full[i], [v0, s0, h3_0, h4_0], rtol=1e-7, atol=1e-7)
    one = fit_gh(VEL, hists[1])  # a single LOSVD gives 0-d arrays
    assert np.shape(one[0]) == () and float(one[0]) == pytest.approx(CASES[1][0], abs=1e-7)


def test_fit_gh_overflow_and_empty_bins():
    h = _hist(10.0, 120.0, 0.03, 0.02)
    base = np.array(fit_gh(VEL, h))
    # light in the overflow bins is left out of the fit but counts in the total
    h_over = h.copy()
    h_over[0] += 0.3
    h_over[-1] += 0.2
    got = np.array(fit_gh(VEL, h_over))
    np.testing.assert_allclose(got[:2], base[:2], rtol=1e-12)
    np.testing.assert_allclose(got[2:], base[2:] * h.sum() / h_over.sum(), rtol=1e-10)
    only_overflow = np.zeros_like(h)
    only_overflow[[0, -1]] = 1.0
    res = np.array(fit_gh(VEL, np.array([h, np.zeros_like(h), only_overflow])))
    assert np.all(np.isfinite(res[:, 0])) and np.all(np.isnan(res[:, 1:]))
    with pytest.raises(ValueError, match="last axis"):
        fit_gh(VEL[:-1], h)
    with pytest.raises(ValueError, match="method"):
        fit_gh(VEL, h, method="moments")


def test_first_order_equals_fit_for_small_offsets():
    """A Gaussian at (V_a + d sigma_a, sigma_a (1 + d)): the first-order route's error is
    second order in d (it would be first order with a wrong factor)."""
    v_obs = np.array([-60.0, 0.0, 90.0])
    s_obs = np.array([180.0, 120.0, 70.0])
    errs = []
    for d in (0.02, 0.01):
        v_true, s_true = v_obs + d * s_obs, s_obs * (1 + d * np.array([1.0, -1.0, 0.5]))
        hists = np.array([_hist(v, s, 0.0, 0.0) for v, s in zip(v_true, s_true, strict=True)])
        gh = np.einsum("av,avl->al", hists, gh_basis(VEL, v_obs, s_obs))[None]
        fo = first_order_kinematics(gh, np.ones(1), v_obs, s_obs, hists.sum(axis=1))
        fit = fit_gh(VEL, hists)
        np.testing.assert_allclose(fit[0], v_true, atol=1e-7)
        np.testing.assert_allclose(fit[1], s_true, rtol=1e-9)
        ev = np.abs(fo.v - v_true) / s_obs
        es = np.abs(fo.sigma - s_true) / s_obs
        assert ev.max() < 2 * d**2 and es.max() < 2 * d**2
        assert np.abs(fo.h3).max() < 1.5 * d**2 and np.abs(fo.h4).max() < 1.5 * d**2
        errs.append(max(ev.max(), es.max()))
    assert 3.0 < errs[0] / errs[1] < 5.0  # quadratic convergence


def _half_ulp(x):
    """Half a unit in the last place of DYNAMITE's es13.5 output (6 significant digits)."""
    x = np.abs(x)
    return 0.5 * 10.0 ** (np.floor(np.log10(np.where(x > 0, x, 1.0))) - 5)


def test_read_nn_kinem_layout(nn_kinem, lib):
    kin = refdata.kinematics()
    assert nn_kinem.model.v.shape == (152,)
    np.testing.assert_allclose(nn_kinem.p_obs, lib.aperture_mass_target, rtol=5e-6)
    for name, err in (("v", "dv"), ("sigma", "dsigma"), ("h3", "dh3"), ("h4", "dh4")):
        np.testing.assert_allclose(nn_kinem.observed[name], kin[name], rtol=5e-6, atol=0)
        np.testing.assert_allclose(nn_kinem.error[name], kin[err], rtol=5e-6, atol=0)


def test_read_nn_kinem_rejects_bad_files(tmp_path):
    p = tmp_path / "nn_kinem.out"
    p.write_text("2 4\n1 " + " ".join(["1.0"] * 14) + "\n")
    with pytest.raises(ValueError, match="rows"):
        read_nn_kinem(p)


def test_model_kinematics_matches_nn_kinem(lib, nn_kinem, legacy_ml5):
    """Every model V, sigma, h3, h4 agrees with nn_kinem.out to its 6 printed digits
    (measured max |diff| / half-ulp: 0.997; in units of the observational error
    <= 2.1e-4, 1.4e-4, 9.8e-5, 9.7e-6 for sigma, V, h3, h4)."""
    for name in KINEMATIC_NAMES:
        got, want = legacy_ml5[name], nn_kinem.model[name]
        assert np.all(np.abs(got - want) <= 1.001 * _half_ulp(want) + 1e-12), name
        assert residual_stats(got, want, nn_kinem.error[name])["max_abs_over_err"] < 3e-4
    light = model_losvd(lib, refdata.ref("weights_ml5")).sum(axis=1)
    np.testing.assert_allclose(light, nn_kinem.p_model, rtol=5e-6)


def test_model_kinematics_from_nn_orb_weights(lib, nn_kinem):
    """nn_orb.out's weights have 6 digits: h3/h4 then agree to ~1e-7 absolute
    (measured max |diff|/err 2.1e-4 for sigma, 2.3e-5 for h4)."""
    run = paths.dynamite_run_dir() / "ml5.00" / "nn_orb.out"
    w = np.loadtxt(run, skiprows=1, usecols=6)
    mk = model_kinematics(lib, w, 5.0)
    for name in KINEMATIC_NAMES:
        stats = residual_stats(mk[name], nn_kinem.model[name], nn_kinem.error[name])
        assert stats["max_abs_over_err"] < 5e-4, name
    np.testing.assert_allclose(mk.v, nn_kinem.model.v, rtol=1e-5)
    np.testing.assert_allclose(mk.sigma, nn_kinem.model.sigma, rtol=1e-5)


def test_model_kinematics_scales_with_ml(lib, legacy_ml5):
    mk = model_kinematics(lib, refdata.ref("weights_ml5"), 2.0)
    s = np.sqrt(2.0 / 5.0)
    np.testing.assert_allclose(mk.v, legacy_ml5.v * s, rtol=1e-8, atol=1e-7)
    np.testing.assert_allclose(mk.sigma, legacy_ml5.sigma * s, rtol=1e-8)
    np.testing.assert_allclose(mk.h4, legacy_ml5.h4, atol=1e-9)
    with pytest.raises(LibraryError, match="weights"):
        model_kinematics(lib, np.ones(3), 5.0)


def test_first_order_route_on_the_orbit_model(lib, nn_kinem, legacy_ml5):
    """First-order route vs the legacy fit for the DYNAMITE model at ml = 5, in units of the
    observational errors. Measured (median, p90): V 0.36, 1.50; sigma 0.47, 1.46;
    h3 1.46, 7.3; h4 1.27, 4.0. Where |H1|, |H2| < 0.05 (27 bins) V and sigma agree to
    < 0.6 err and h3, h4 to < 1.4 err."""
    kin = refdata.kinematics()
    gh = gh_per_orbit(lib, kin["v"], kin["sigma"], 5.0)
    w = refdata.ref("weights_ml5")
    fo = first_order_kinematics(gh, w, kin["v"], kin["sigma"], lib.aperture_mass_target)
    limits = {"v": (0.4, 1.7), "sigma": (0.5, 1.6), "h3": (1.6, 8.0), "h4": (1.4, 4.5)}
    for name, (med, p90) in limits.items():
        st = residual_stats(fo[name], legacy_ml5[name], nn_kinem.error[name])
        assert st["median_abs_over_err"] < med and st["p90_abs_over_err"] < p90, (name, st)
    coeff = np.einsum("o,oal->al", w, gh) / lib.aperture_mass_target[:, None]
    small = np.abs(coeff[:, :2]).max(axis=1) < 0.05
    assert small.sum() == 27
    for name, lim in (("v", 0.6), ("sigma", 0.6), ("h3", 1.4), ("h4", 1.4)):
        st = residual_stats(fo[name][small], legacy_ml5[name][small],
                            nn_kinem.error[name][small])
        assert st["max_abs_over_err"] < lim, (name, st)
    with pytest.raises(ValueError, match="weights"):
        first_order_kinematics(gh, w[:-1], kin["v"], kin["sigma"], lib.aperture_mass_target)


def test_residual_stats_hand_example():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    st = residual_stats(a, np.zeros(6), 0.5)
    assert st["median_abs_over_err"] == pytest.approx(6.0)
    assert st["p90_abs_over_err"] == pytest.approx(9.2)  # linear interpolation: 8 + 0.6 * 2
    assert st["max_abs_over_err"] == pytest.approx(10.0)
    assert st["median_abs"] == pytest.approx(3.0) and st["max_abs"] == pytest.approx(5.0)
    st = residual_stats([1.0, -1.0], [0.0, 1.0], [1.0, 4.0])
    assert st["median_abs_over_err"] == pytest.approx(0.75)
    assert np.isnan(residual_stats([np.nan], [0.0], [1.0])["median_abs_over_err"])


def test_model_kinematics_container():
    mk = ModelKinematics(*(np.arange(3.0) + i for i in range(4)))
    assert mk.stack().shape == (3, 4) and list(mk.as_dict()) == list(KINEMATIC_NAMES)
    np.testing.assert_array_equal(mk["h3"], mk.h3)
    with pytest.raises(KeyError):
        mk["h5"]
