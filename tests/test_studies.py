"""Chapter study modules: the summaries each chapter computes from its artifacts."""

import numpy as np
import pytest
import refdata

from orbitnet.fit import cube
from orbitnet.studies import dcnn, orbit_libraries


def test_twin_correlation_sees_flipped_velocities():
    lib = refdata.library()
    rng = np.random.default_rng(0)
    gh = rng.normal(size=(lib.n_orbits, lib.n_bins, 4))
    parents = np.flatnonzero(~lib.is_box & ~lib.is_flipped)
    # a velocity flip changes the sign of the odd coefficients (h1, h3) only
    gh[lib.twin_index[parents]] = gh[parents] * np.array([-1.0, 1.0, -1.0, 1.0])
    np.testing.assert_allclose(orbit_libraries.twin_correlation(lib, gh), [-1, 1, -1, 1], atol=1e-12)


def test_family_counts_of_the_reference_library():
    counts = cube.family_counts(refdata.library())
    assert counts["total"] == 360
    assert counts["tube orbits (launched from the x-z plane)"] == 120
    assert counts["box orbits (dropped from rest)"] == 120
    assert len(orbit_libraries.family_table(refdata.library())) == len(counts)


def test_ablation_stats_by_hand():
    truth = np.zeros((3, 4))
    truth[0] = 1.0
    image = truth + 0.5
    res = dcnn.ablation_stats({"image": image, "truth": truth, "seconds": np.float64(2.0)},
                              err=np.full(4, 0.25))
    assert res["median_abs_over_err"] == pytest.approx(2.0)
    assert res["empty"] == pytest.approx(2.0)
    assert res["train_seconds"] == 2.0
