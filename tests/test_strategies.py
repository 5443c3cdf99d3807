"""Chapter 9's search strategies on an analytic lattice: designs, answers, costs."""

import numpy as np
import pytest

from orbitnet.fit.lattice import Lattice, Point, PointResult, jitter
from orbitnet.fit.strategies import (
    answer_point,
    run_dynamite,
    run_gp,
    run_quadratic,
    run_random,
    subgrid,
)

LOGF = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
Q = np.array([0.42, 0.46, 0.50, 0.54])
ML = np.round(np.arange(4.0, 7.01, 0.1), 10)
SIGMA1 = float(np.sqrt(2 * 608))


def bowl(log_f, q, ml):
    return 1000 + 400 * (log_f - 0.2) ** 2 + 3e4 * (q - 0.47) ** 2 + 300 * (ml - 5.6) ** 2


def fake_lattice(fn=bowl) -> Lattice:
    res = []
    for a in LOGF:
        for b in Q:
            res.append(PointResult(
                point=Point(a, b), ml=ML, kinchi2=fn(a, b, ML), chi2=fn(a, b, ML),
                ml_cube=ML[::10], gh=np.zeros((4, 3, 2, 4), np.float32),
                intrinsic_mass=np.zeros((3, 5)), aperture_mass=np.zeros((3, 2)),
                intrinsic_target=np.ones(5), aperture_target=np.ones(2),
                library_seconds=10.0, sweep_seconds=1.0, cube_seconds=2.0))
    return Lattice(LOGF, Q, res)


def test_lattice_costs_are_cpu_seconds_of_each_library_once():
    lat = fake_lattice()
    assert lat.cost([0, 1, 1]) == 22.0
    assert lat.cost([0, 1], cube=True) == 26.0
    assert lat.find((0.5, 0.46)) == 3 * 4 + 1 and lat.find((0.6, 0.46)) is None
    with pytest.raises(ValueError, match="not a lattice node"):
        lat.index((0.6, 0.46))
    assert jitter(lat)["q"] == pytest.approx(3e4 * 0.04 ** 2, rel=1e-9)  # a parabola's d2/2


def test_random_draws_distinct_nodes_and_keeps_the_best():
    lat = fake_lattice()
    runs = [run_random(lat, 5, s) for s in range(50)]
    for r in runs:
        assert len(set(r.libraries)) == 5
        best = min(r.libraries, key=lambda i: lat.chi2_min[i])
        assert r.answer == tuple(lat.points[best])
        assert r.cpu_seconds == pytest.approx(55.0, abs=0.5)
    assert len({tuple(r.libraries) for r in runs}) > 40  # the seeds draw different nodes
    assert run_random(lat, 5, 3).libraries == runs[3].libraries  # and repeat
    full = run_random(lat, lat.n, 0)
    assert full.answer == (0.0, 0.46)  # the whole lattice finds the lattice minimum


def test_grid_search_from_every_start_walks_to_the_bowl():
    lat = fake_lattice()
    for i in range(lat.n):
        run = run_dynamite(lat, None, SIGMA1, lat.results[i].point.key())
        assert run.libraries[0] == i
        assert run.answer[1] == 0.46 and run.answer[0] in (0.0, 0.5)
    capped = run_dynamite(lat, 3, SIGMA1)
    assert len(capped.libraries) == 3 and capped.extra["stopped_by"] == "n_max_mods"
    assert capped.libraries[0] == lat.index((1.0, 0.54))  # the configuration's start


@pytest.mark.slow
def test_surface_strategies_find_the_bowl():
    lat = fake_lattice()
    for seed in (0, 1):
        quad = run_quadratic(lat, 9, seed)
        assert len(set(quad.libraries)) == 9
        assert quad.answer == pytest.approx((0.2, 0.47), abs=1e-2)  # an exact quadratic
        gp = run_gp(lat, 9, seed)
        assert len(set(gp.libraries)) == 9
        assert abs(gp.answer[0] - 0.2) < 0.5 and abs(gp.answer[1] - 0.47) < 0.04


def test_answers_are_built_on_the_lattice_refined_to_dynamite_minstep():
    lat = fake_lattice()  # spacing 0.5 in log f -> steps of 0.1; 0.04 in q -> 0.02
    assert answer_point(lat, (0.2, 0.47)) == (0.2, 0.48)
    assert answer_point(lat, (0.26, 0.459)) == (0.3, 0.46)
    assert answer_point(lat, (5.0, 0.1)) == (1.5, 0.42)  # clipped into the box
    assert lat.find(answer_point(lat, (0.49, 0.461))) is not None  # a node stays a node


@pytest.mark.parametrize("budget", [4, 6, 9, 12, 16])
def test_training_subgrids_span_the_box_and_vary_with_the_seed(budget):
    from orbitnet.emulators.param_cube import regular_axes

    lat = fake_lattice()
    even = subgrid(lat, budget)
    designs = {tuple(subgrid(lat, budget, s)) for s in range(30)}
    for idx in (even, *designs):
        assert len(set(idx)) == budget
        pts = lat.points[list(idx)]
        axes = regular_axes(pts)  # a full regular grid, as multilinear interpolation needs
        assert axes[0][[0, -1]].tolist() == [LOGF[0], LOGF[-1]]
        assert axes[1][[0, -1]].tolist() == [Q[0], Q[-1]]
    if budget > 4:  # inner lines exist: random placement gives several designs
        assert len(designs) > 1
    with pytest.raises(ValueError, match="no regular sub-lattice"):
        subgrid(lat, 7)
