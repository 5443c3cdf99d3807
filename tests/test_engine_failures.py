"""No silent orbit failures: retry, fallback, exclusion, threshold and NaN checks."""

from __future__ import annotations

import numpy as np
import pytest

from orbitnet.orblib.engine import OrbitFailureError, build_library
from orbitnet.orblib.library import LibraryError

# a tiny library: 8 tubes + 8 boxes integrated; the boxes of the outer energy need the most
# steps (~440 at rtol 1e-9, ~780 at rtol 1e-11)
TINY = {"n_e": 2, "n_i2": 2, "n_i3": 2, "n_periods": 5, "n_samples": 500, "n_cross": 20,
        "progress": False}


def test_fallback_rescues_orbits_that_run_out_of_steps():
    lib = build_library(max_steps=300, **TINY)
    assert lib.meta["n_failed"] == 0
    assert lib.meta["n_fallback"] == 4  # the outer boxes needed the fallback's 10x steps
    assert lib.meta["n_retries"] >= 4
    assert np.all(lib.aperture_mass.sum(axis=1) > 0)


def test_failed_orbits_are_excluded_and_counted():
    lib = build_library(max_steps=60, max_failed_fraction=0.25, **TINY)
    failed = lib.meta["failed_orbits"]
    assert lib.meta["n_failed"] == len(failed) == 4
    assert all(12 <= i < 16 for i in failed)  # integrations 12..15: boxes of the outer energy
    status = np.array(lib.meta["orbit_status"])
    assert np.all(status[failed] != 0) and np.count_nonzero(status) == 4
    # their library orbits (boxes 4..7, columns 20..23) carry no light and no mass
    cols = 16 + np.array(failed) - 8
    assert np.all(lib.losvd[cols] == 0) and np.all(lib.intrinsic_mass[cols] == 0)
    ok = np.setdiff1d(np.arange(lib.n_orbits), cols)
    np.testing.assert_allclose(lib.intrinsic_mass[ok].sum(axis=1), 1.0, atol=1e-12)
    assert "excluded" in lib.meta["failure_policy"]


def test_failures_beyond_the_threshold_are_an_error():
    with pytest.raises(OrbitFailureError, match=r"4 of 16 orbit integrations failed.*"
                                                 r"max_failed_fraction=0.02"):
        build_library(max_steps=60, **TINY)


def test_nan_in_a_library_is_an_error_at_build_time(monkeypatch):
    from orbitnet.orblib.engine import build

    def nan_target(model, inputs):
        out = np.full(int(inputs.bins.max()), 0.01)
        out[7] = np.nan
        return out

    monkeypatch.setattr(build, "aperture_target", nan_target)
    with pytest.raises(LibraryError, match=r"aperture_mass_target contains a non-finite value "
                                           r"at index \(7,\)"):
        build_library(**TINY)


def test_orbits_between_the_two_tolerances_are_kept_and_counted_as_degraded():
    # energy_tol below what any integration reaches: every orbit takes the retry and the
    # fallback, then is kept because its drift is below accept_tol
    lib = build_library(energy_tol=1e-14, **TINY)
    assert lib.meta["n_failed"] == 0
    assert lib.meta["n_degraded"] == lib.meta["n_fallback"] == 16
    assert min(lib.meta["orbit_dE_over_E"]) >= 1e-14 and max(lib.meta["orbit_dE_over_E"]) < 1e-3
    assert np.all(lib.aperture_mass.sum(axis=1) > 0)
    # the same orbits with accept_tol at the retry level are excluded, which is an error
    with pytest.raises(OrbitFailureError, match=r"16 of 16 orbit integrations failed"):
        build_library(energy_tol=1e-14, accept_tol=1e-14, **TINY)
