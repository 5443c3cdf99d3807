"""Per-orbit Gauss-Hermite projection against reference.h5."""

from __future__ import annotations

import math

import numpy as np
import pytest
import refdata
from numpy.polynomial import hermite

from orbitnet.fit.gh import gh_basis, gh_per_orbit, hermite_normalised
from orbitnet.orblib.library import LibraryError


@pytest.fixture(scope="session")
def lib():
    return refdata.library()


def test_hermite_normalised_matches_physicists_polynomials():
    w = np.linspace(-4, 4, 41)
    got = hermite_normalised(w, 6)
    for el in range(7):
        coef = np.zeros(el + 1)
        coef[el] = 1.0
        want = hermite.hermval(w, coef) / math.sqrt(2.0**el * math.factorial(el))
        np.testing.assert_allclose(got[:, el], want, rtol=1e-12, atol=1e-12)
    # explicit forms of METHOD §3.2
    np.testing.assert_allclose(got[:, 3], (2 * w**3 - 3 * w) / np.sqrt(3), atol=1e-12)
    np.testing.assert_allclose(got[:, 4], (4 * w**4 - 12 * w**2 + 3) / (2 * np.sqrt(6)),
                               atol=1e-11)


def test_basis_zeroes_overflow_bins():
    b = gh_basis(np.linspace(-100, 100, 11), np.zeros(2), np.full(2, 30.0))
    assert b.shape == (2, 11, 4)
    assert np.all(b[:, [0, -1]] == 0) and np.all(b[:, 5, [0, 2]] == 0) and b[0, 5, 1] < 0


@pytest.mark.parametrize("ml", [2, 5, 8])
def test_gh_matches_reference(lib, ml):
    kin = refdata.kinematics()
    got = gh_per_orbit(lib, kin["v"], kin["sigma"], float(ml))
    want = refdata.ref(f"gh_per_orbit_ml{ml}")
    assert got.shape == (360, 152, 4)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_gh_bad_input(lib):
    kin = refdata.kinematics()
    for ml in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="M/L must be a positive"):
            gh_per_orbit(lib, kin["v"], kin["sigma"], ml)
    with pytest.raises(LibraryError, match="library has 152 bins but v_obs has shape"):
        gh_per_orbit(lib, kin["v"][:150], kin["sigma"], 5.0)
    with pytest.raises(LibraryError, match="sigma_obs must be positive"):
        gh_per_orbit(lib, kin["v"], -kin["sigma"], 5.0)
