"""Chapter 7's study module: model and predicted kinematic maps against the observations."""

import numpy as np
import pytest
import refdata

from orbitnet.data import paths
from orbitnet.fit import cube
from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.kinematics import KINEMATIC_NAMES
from orbitnet.studies import maps


@pytest.fixture(scope="module")
def setup(galaxy):
    lib = refdata.library()
    problem = cube.weight_problem(galaxy, lib)
    k = galaxy.kinematics
    return lib, problem, gh_per_orbit(lib, k.v, k.sigma, 5.0)


def test_dynamite_check_reproduces_nn_kinem(galaxy, setup):
    lib, problem, _ = setup
    check = maps.dynamite_check(galaxy, lib, problem, paths.dynamite_run_dir(), ml=5.0)
    assert set(check) == set(KINEMATIC_NAMES)
    for q in KINEMATIC_NAMES:  # DYNAMITE's own model kinematics, to round-off of its output
        assert check[q]["max_abs_over_err"] < 1e-3, q


def test_dynamite_check_without_nn_kinem_is_none(galaxy, setup, tmp_path):
    lib, problem, _ = setup
    assert maps.dynamite_check(galaxy, lib, problem, tmp_path, ml=5.0) is None


def test_kinematics_at_solves_the_weight_problem(galaxy, setup):
    lib, problem, gh = setup
    at = maps.kinematics_at(galaxy, lib, problem, gh, 5.0)
    assert at["kinchi2"] == pytest.approx(problem.solve(gh).kinchi2)
    assert set(at) == {"weights", "kinchi2", "first_order", "fit"}
    assert "fit" not in maps.kinematics_at(galaxy, lib, problem, gh, 5.0, with_fit=False)


def test_comparisons_and_table(galaxy, setup):
    lib, problem, gh = setup
    at = maps.kinematics_at(galaxy, lib, problem, gh, 5.0)
    obs, err = maps.observed(galaxy)
    stats = maps.compare(obs, err, at["fit"], at["first_order"], at["first_order"])
    assert set(stats) == {*maps.COMPARISONS, "route_check"}
    for q in KINEMATIC_NAMES:
        assert stats["model_pred"][q]["median_abs_over_err"] == 0.0  # same kinematics
        assert stats["obs_model"][q]["median_abs_over_err"] > 1.0  # a 360-orbit model misses
    # the first-order route follows the fitted LOSVDs to well inside the errors for V, sigma
    assert stats["route_check"]["v"]["median_abs_over_err"] < 1.0
    assert stats["route_check"]["sigma"]["median_abs_over_err"] < 1.0
    table = maps.residual_table(stats)
    assert len(table) == 4 and len(table.colnames) == 1 + 2 * len(KINEMATIC_NAMES)
    np.testing.assert_allclose(table["v median"][list(stats).index("obs_model")],
                               stats["obs_model"]["v"]["median_abs_over_err"])
