"""Search strategies of Chapter 9 on analytic objectives with known answers."""

import numpy as np
import pytest

from orbitnet.fit.search import (
    SearchParam,
    expected_improvement,
    gp_search,
    legacy_grid_search,
    quadratic_fit,
    quadratic_minimum,
    snap,
    sobol_design,
)


def bowl_1d(p):
    return (p[0] - 1.3) ** 2


def test_grid_search_documented_moves_1d():
    """Start, ±step, move to the best, halve when nothing is new, stop at minstep."""
    par = SearchParam("x", value=0.0, lo=-3.0, hi=3.0, step=1.0, minstep=0.25)
    tr = legacy_grid_search([par], bowl_1d, threshold=0.0, min_delta_chi2_abs=None)
    assert [p[0] for p in tr.points] == [0.0, -1.0, 1.0, 2.0, 0.5, 1.5, 1.25, 1.75]
    assert tr.iteration == [0, 1, 1, 2, 3, 3, 4, 4]
    assert [s[0] for s in tr.steps] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert tr.best[0] == (1.25,)
    assert tr.stopped_by == "no new models at minstep"


def test_grid_search_stops_without_improvement():
    """DYNAMITE's min_delta_chi2_abs: an iteration that does not improve the minimum ends it."""
    par = SearchParam("x", value=0.0, lo=-3.0, hi=3.0, step=1.0, minstep=0.25)
    tr = legacy_grid_search([par], bowl_1d, threshold=0.0, min_delta_chi2_abs=0.5)
    assert [p[0] for p in tr.points] == [0.0, -1.0, 1.0, 2.0]
    assert tr.stopped_by == "min_delta_chi2_abs"
    capped = legacy_grid_search([par], bowl_1d, threshold=0.0, min_delta_chi2_abs=None,
                                n_max_mods=5)
    assert capped.n == 5 and capped.stopped_by == "n_max_mods"


def test_grid_search_2d_order_clipping_and_threshold():
    """One parameter at a time around every model within the threshold; clipped moves
    shorter than minstep are dropped."""
    pars = [SearchParam("a", 1.0, -1.5, 1.5, 0.5, 0.5), SearchParam("q", 0.54, 0.38, 0.54, 0.04,
                                                                     0.04)]

    def bowl(p):
        return 100 * ((p[0] - 0.0) / 0.5) ** 2 + 100 * ((p[1] - 0.46) / 0.04) ** 2

    tr = legacy_grid_search(pars, bowl, threshold=1.0, min_delta_chi2_abs=0.5)
    pts = [tuple(round(v, 6) for v in p) for p in tr.points]
    # iteration 1: a-step down and up, q-step down (q + 0.04 clips to 0.54: dropped)
    assert pts[:4] == [(1.0, 0.54), (0.5, 0.54), (1.5, 0.54), (1.0, 0.5)]
    assert tr.best[0] == pytest.approx((0.0, 0.46))
    assert len(set(pts)) == len(pts)


def test_quadratic_recovers_exact_minimum():
    def f(x):
        return 7 + 3 * (x[:, 0] - 0.3) ** 2 + 2 * (x[:, 1] - 0.6) ** 2 + (
            (x[:, 0] - 0.3) * (x[:, 1] - 0.6))

    x = sobol_design(9, 2, seed=1)
    coef = quadratic_fit(x, f(x))
    assert quadratic_minimum(coef, [0, 0], [1, 1]) == pytest.approx([0.3, 0.6], abs=1e-9)
    # a vertex outside the box: the minimum sits on the boundary
    x2 = x * 0.5
    coef2 = quadratic_fit(x2, f(x2 + 0.0))
    assert quadratic_minimum(coef2, [0, 0], [0.2, 0.2]) == pytest.approx([0.2, 0.2], abs=0.01)
    with pytest.raises(ValueError, match="needs 6 points"):
        quadratic_fit(x[:5], f(x[:5]))


def test_expected_improvement_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu, sd, best = 1.0, 0.5, 0.8
    y = rng.normal(mu, sd, 400_000)
    mc = np.mean(np.maximum(best - y, 0))
    assert expected_improvement(np.array([mu]), np.array([sd]), best)[0] == pytest.approx(
        mc, rel=0.01)
    assert expected_improvement(np.array([0.5]), np.array([0.0]), best)[0] == pytest.approx(0.3)


@pytest.mark.slow
def test_gp_acquisition_finds_known_minimum_1d():
    cands = np.linspace(0, 1, 101)[:, None]
    calls = []

    def f(i):
        calls.append(i)
        return float((cands[i, 0] - 0.37) ** 2 + 0.2 * cands[i, 0] ** 3)

    truth = int(np.argmin([(c - 0.37) ** 2 + 0.2 * c**3 for c in cands[:, 0]]))
    idx, vals, gp = gp_search(cands, f, budget=9, n_init=3, seed=0)
    assert len(set(idx)) == 9 and calls == idx
    assert idx[int(np.argmin(vals))] == pytest.approx(truth, abs=1)
    mean = gp.predict(cands)
    assert int(np.argmin(mean)) == pytest.approx(truth, abs=2)


def test_snap_uses_each_candidate_once():
    cands = np.array([[0.0], [0.5], [1.0]])
    assert snap(np.array([[0.1], [0.05], [0.9]]), cands) == [0, 1, 2]
    with pytest.raises(ValueError, match="free candidates"):
        snap(np.zeros((4, 1)), cands)
