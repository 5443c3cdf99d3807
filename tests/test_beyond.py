"""Chapter 9: cube emulators over (log f, q, M/L), the truth region, designs and strategies."""

import numpy as np
import pytest

from orbitnet.emulators.dcnn import THESIS_PARAMS, build_dcnn
from orbitnet.emulators.param_cube import (
    ConditionedDCNN,
    CubePCAGP,
    Multilinear,
    interpolate_rows,
    regular_axes,
)
from orbitnet.fit.lattice import Point, PointResult
from orbitnet.judge.region import TruthSurface
from orbitnet.studies.beyond_ml import (
    Lattice,
    held_out,
    min_libraries,
    run_dynamite,
    run_gp,
    run_quadratic,
    subgrid,
)

LOGF = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
Q = np.array([0.42, 0.46, 0.50, 0.54])
ML = np.round(np.arange(4.0, 7.01, 0.1), 10)


def bowl(log_f, q, ml):
    return 1000 + 400 * (log_f - 0.2) ** 2 + 3e4 * (q - 0.47) ** 2 + 300 * (ml - 5.6) ** 2


def fake_lattice() -> Lattice:
    res = []
    for a in LOGF:
        for b in Q:
            res.append(PointResult(
                point=Point(a, b), ml=ML, kinchi2=bowl(a, b, ML), chi2=bowl(a, b, ML),
                ml_cube=ML[::10], gh=np.zeros((4, 3, 2, 4), np.float32),
                intrinsic_mass=np.zeros((3, 5)), aperture_mass=np.zeros((3, 2)),
                intrinsic_target=np.ones(5), aperture_target=np.ones(2),
                library_seconds=10.0, sweep_seconds=1.0))
    return Lattice(LOGF, Q, res)


@pytest.mark.slow
def test_conditioned_network_shape_and_parameter_count():
    net = build_dcnn(360, 152, n_inputs=3, fused=True)
    # Table B.1 with a 3-parameter input: Dense(3->6) + Dense(6->6) + mask Dense(3->2)
    # replace Dense(1->2) + Dense(2->6) + mask Dense(1->2): +48 parameters
    assert net.count_params() == THESIS_PARAMS + (24 + 42 + 8) - (4 + 18 + 4) == 695_067
    out = net(np.random.default_rng(0).random((2, 3)).astype("float32"))
    assert tuple(out.shape) == (2, 360, 152)
    assert build_dcnn(360, 152).count_params() == THESIS_PARAMS


@pytest.mark.slow
def test_conditioned_dcnn_trains_and_predicts_cubes():
    rng = np.random.default_rng(1)
    x = np.array([[a, b, m] for a in (0.0, 1.0) for b in (0.4, 0.5) for m in (5.0, 6.0)])
    gh = (rng.normal(size=(1, 12, 8, 4)) + x[:, :1, None, None]).astype(np.float32)
    err = np.full((8, 4), 0.1)
    em = ConditionedDCNN(err, epochs=2, batch_size=4).fit(x, gh)
    pred = em.predict(x[:3])
    assert pred.shape == (3, 12, 8, 4) and np.all(np.isfinite(pred))
    assert len(em.fits_) == 4 and em.train_seconds > 0


def test_multilinear_is_exact_for_multilinear_functions():
    axes = [np.array([0.0, 1.0, 3.0]), np.array([0.4, 0.5]), np.array([4.0, 5.0, 6.0])]
    x = np.array([[a, b, c] for a in axes[0] for b in axes[1] for c in axes[2]])

    def f(p):
        return (1 + 2 * p[:, 0] - p[:, 1] + 0.5 * p[:, 0] * p[:, 2] + p[:, 0] * p[:, 1] * p[:, 2])

    gh = np.broadcast_to(f(x)[:, None, None, None], (len(x), 2, 3, 4)).copy()
    em = Multilinear().fit(x[::-1], gh[::-1])  # order does not matter
    q = np.array([[0.3, 0.47, 4.2], [2.5, 0.41, 5.9]])
    assert em.predict(q)[:, 0, 0, 0] == pytest.approx(f(q), rel=1e-5)
    assert interpolate_rows(x, f(x), q) == pytest.approx(f(q), rel=1e-12)
    with pytest.raises(ValueError, match="full regular grid"):
        regular_axes(x[:-1])


@pytest.mark.slow
def test_pca_gp_reproduces_a_smooth_low_rank_family():
    base = np.random.default_rng(2).normal(size=(2, 6, 5, 4))
    x = np.array([[a, b, m] for a in (0.0, 0.5, 1.0) for b in (0.4, 0.5) for m in (4.5, 5.5)])
    gh = (np.sin(x[:, 0])[:, None, None, None] * base[0]
          + x[:, 2, None, None, None] * base[1]).astype(np.float32)
    em = CubePCAGP(np.ones((5, 4)), n_components=4).fit(x, gh)
    assert np.max(np.abs(em.predict(x) - gh)) < 0.05 * np.max(np.abs(gh))


@pytest.mark.parametrize("budget", [4, 6, 9, 12, 16])
def test_cube_training_and_held_out_sets_never_overlap(budget):
    lat = fake_lattice()
    train = subgrid(lat, budget)
    test = held_out(lat, train)
    assert len(set(train)) == budget
    assert not set(train) & set(test)
    assert sorted(set(train) | set(test)) == list(range(lat.n))
    regular_axes(lat.points[train])  # a full regular grid, as multilinear interpolation needs


def test_truth_region_and_judging():
    lat = fake_lattice()
    truth = lat.truth(n_kin=608)
    assert truth.best["log_f"] == 0.0 and truth.best["q"] == 0.46
    assert truth.best["ml"] == pytest.approx(5.6, abs=1e-6)
    ext = truth.extents()
    assert ext["ml"][0] < 5.6 < ext["ml"][1]
    assert truth.judge(truth.best)["inside"]
    assert not truth.judge({"log_f": 1.5, "q": 0.54, "ml": 4.0})["inside"]
    assert TruthSurface(LOGF, Q, ML, truth.chi2, 608, floor=500).level == 500


@pytest.mark.slow
def test_strategies_on_an_analytic_lattice():
    lat = fake_lattice()
    truth = lat.truth(n_kin=608)
    grid = run_dynamite(lat, None, 608)
    assert grid.best["log_f"] == 0.0 and grid.best["q"] == 0.46
    assert grid.libraries[0] == lat.index((1.0, 0.54))
    assert grid.cpu_seconds == pytest.approx(11.0 * len(set(grid.libraries)))
    for seed in (0, 1):
        quad = run_quadratic(lat, 9, seed)
        assert len(set(quad.libraries)) == 9
        assert truth.judge(quad.best)["inside"]  # an exact quadratic in (log f, q)
        gp = run_gp(lat, 9, seed)
        assert len(set(gp.libraries)) == 9
        assert truth.judge(gp.best)["distance"] < 3


def test_registry_strategies_match_the_study():
    from orbitnet.book.registry import BEYOND_STRATEGIES
    from orbitnet.studies.beyond_ml import STRATEGIES

    assert BEYOND_STRATEGIES == STRATEGIES


def test_min_libraries_needs_every_larger_budget():
    per = {"4": {"frac_inside_1sigma": 1.0, "libraries_used": 4},
           "6": {"frac_inside_1sigma": 0.5, "libraries_used": 6},
           "9": {"frac_inside_1sigma": 0.9, "libraries_used": 9}}
    assert min_libraries(per) == 9
    per["9"]["frac_inside_1sigma"] = 0.8
    assert min_libraries(per) is None


def test_grid_search_starts_where_asked_and_walks_to_the_bowl():
    from orbitnet.studies.beyond_ml import grid_start

    assert grid_start(None, None) is None
    assert grid_start(-1.0, None) == (-1.0, 0.54)
    lat = fake_lattice()
    run = run_dynamite(lat, None, 608, grid_start(-1.0, 0.42))
    assert run.extra["start"] == {"log_f": -1.0, "q": 0.42}
    default = run_dynamite(lat, None, 608)
    assert default.extra["start"] == {"log_f": 1.0, "q": 0.54}
    # both walk to the bowl's lattice minimum (log f 0.0 or 0.5, q 0.46)
    for r in (run, default):
        assert r.best["q"] == 0.46 and r.best["log_f"] in (0.0, 0.5)
