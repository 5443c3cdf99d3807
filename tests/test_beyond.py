"""Chapter 9: cube emulators, the study's plan, charging and judging answers, the level,
the verdict sentences, and a cold rebuild of lattice libraries that is bit-identical."""

import numpy as np
import pytest
from test_strategies import fake_lattice

from orbitnet.emulators.dcnn import THESIS_PARAMS, build_dcnn
from orbitnet.emulators.param_cube import (
    ConditionedDCNN,
    CubePCAGP,
    Multilinear,
    interpolate_rows,
    regular_axes,
)
from orbitnet.fit.lattice import Point
from orbitnet.fit.strategies import Run, run_random
from orbitnet.judge.intervals import fraction
from orbitnet.studies.beyond_ml import (
    STRATEGIES,
    held_out,
    judge_run,
    judging_level,
    noise_nodes,
    plan,
    reach,
    sentences,
    summarise,
    truth_of,
    verdict,
)


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
    from orbitnet.fit.strategies import subgrid

    lat = fake_lattice()
    train = subgrid(lat, budget, seed=budget)
    test = held_out(lat, train)
    assert not set(train) & set(test)
    assert sorted(set(train) | set(test)) == list(range(lat.n))


def test_registry_strategies_match_the_study():
    from orbitnet.book.registry import BEYOND_STRATEGIES

    assert BEYOND_STRATEGIES == STRATEGIES


def test_plan_replicates_every_strategy():
    lat = fake_lattice()  # 6 x 4 = 24 nodes
    jobs = plan(lat, [4, 6, 30], ["dynamite_grid", "gp_chi2", "cube_multilinear",
                                  "cube_dcnn"], n_seeds=20, random_draws=100,
                dcnn_seeds=[0, 1, 2])
    count = {}
    for name, b, _ in jobs:
        count[(name, b)] = count.get((name, b), 0) + 1
    assert count[("random", 4)] == count[("random", 6)] == 100  # the baseline always runs
    assert count[("dynamite_grid", 4)] == lat.n  # from every node
    assert count[("gp_chi2", 6)] == count[("cube_multilinear", 4)] == 20
    assert count[("cube_dcnn", 4)] == count[("cube_dcnn", 6)] == 3  # at every budget
    assert not any(b == 30 for _, b, _ in jobs)  # more than the lattice: skipped
    assert len({s for n, b, s in jobs if n == "dynamite_grid" and b == 4}) == lat.n
    with pytest.raises(ValueError, match="unknown strategies"):
        plan(lat, [4], ["simplex"], 1, 1, [0])


def test_answers_are_charged_their_library_and_judged_by_it():
    lat = fake_lattice()
    best = float(lat.chi2_min.min())  # at (0.0, 0.46)
    node = lat.index((0.0, 0.46))
    answers = {(0.0, 0.46): lat.results[node], (1.5, 0.54): lat.results[lat.n - 1]}
    off = lat.results[lat.index((0.5, 0.46))]
    answers[(0.2, 0.46)] = off  # an off-lattice answer's (stand-in) library
    paid = Run((0.0, 0.46), [node, 1], 30.0)
    j = judge_run(lat, paid, answers, best, 34.9)
    assert j["inside"] and j["cpu_seconds"] == 30.0 and j["libraries"] == 2  # already built
    unpaid = Run((0.01, 0.461), [1, 2], 30.0)  # snaps to the minimum's node, not built
    j = judge_run(lat, unpaid, answers, best, 34.9)
    assert j["inside"] and j["cpu_seconds"] == 41.0 and j["libraries"] == 3
    far = judge_run(lat, Run((1.5, 0.54), [0], 11.0), answers, best, 34.9)
    assert not far["inside"] and far["delta_chi2"] > 34.9
    new = judge_run(lat, Run((0.21, 0.46), [0], 11.0), answers, best, 34.9)
    assert new["answer_built"] and new["cpu_seconds"] == 22.0
    assert new["delta_chi2"] == pytest.approx(off.chi2_min - best)
    assert new["answer"]["ml"] == pytest.approx(5.6, abs=1e-6)


def test_level_is_one_sigma_unless_the_noise_or_a_floor_is_larger():
    assert judging_level(34.9, 20.0, None) == (34.9, "1sigma")
    assert judging_level(34.9, 80.0, None) == (80.0, "library_noise")
    assert judging_level(34.9, 80.0, 0) == (34.9, "1sigma")
    assert judging_level(34.9, 10.0, 100.0) == (100.0, "floor")


def test_noise_refuses_draws_that_are_not_new_before_building(galaxy):
    from orbitnet.studies.beyond_ml import measure_noise

    lat = fake_lattice()
    with pytest.raises(ValueError, match="differ from the lattice's seed 4242"):
        measure_noise(galaxy, lat, [5.0, 6.0], [5.0], {}, [1, 4242], 3)
    with pytest.raises(ValueError, match="distinct"):
        measure_noise(galaxy, lat, [5.0, 6.0], [5.0], {}, [1, 1], 3)
    with pytest.raises(ValueError, match="needs noise seeds or twins"):
        measure_noise(galaxy, lat, [5.0, 6.0], [5.0], {}, [], 3, n_twins=0)


def test_noise_nodes_are_distinct_and_start_at_the_minimum():
    lat = fake_lattice()
    nodes = noise_nodes(lat, 3)
    assert len(set(nodes)) == 3 and nodes[0] == lat.index((0.0, 0.46))
    assert lat.index((1.0, 0.54)) in nodes  # DYNAMITE's start
    assert len(set(noise_nodes(lat, 6))) == 6


def _table(frac_by_budget):
    return {b: {"frac_inside_1sigma": k / n, **fraction([True] * k + [False] * (n - k)),
                "budget_fraction": int(b) / 24, "cpu_seconds_median": 100.0}
            for b, (k, n) in frac_by_budget.items()}


def _results(gp, rnd, dcnn=(0, 3)):
    strat = {"random": _table(rnd), "gp_chi2": _table(gp),
             "cube_dcnn": _table({"4": (0, 3), "9": dcnn})}
    for per in strat.values():
        for row in per.values():
            row["inside"], row["runs"] = row.pop("inside"), row.pop("runs")
    res = {"strategies": strat, "reach_90pct": reach(strat),
           "dynamite_grid_config": {"start": {"log_f": 1.0, "q": 0.54}, "converged": {
               "libraries": 7, "stopped_by": "min_delta_chi2_abs", "inside": False}}}
    res.update(verdict(res, 24))
    lat = fake_lattice()
    truth = truth_of(lat, type("G", (), {"n_bins": 152})(), 34.9)
    res["truth"] = {"noise": {"value": 12.0, "nodes": [{}] * 3}, "sigma1": 34.9,
                    "level": truth.level, "level_kind": "1sigma",
                    "jitter": {"log_f": 20.0, "q": 10.0}, "jitter_over_level": 20 / 34.9}
    return res


def test_verdict_sentences_follow_the_numbers():
    good = _results(gp={"4": (5, 20), "9": (20, 20)}, rnd={"4": (10, 100), "9": (50, 100)})
    assert good["winner"] == "gp_chi2" and good["winner_budget"] == 9
    assert good["reach_90pct"]["gp_chi2"] == 9 and good["reach_90pct"]["random"] is None
    s = sentences(good)
    assert s["winner"].startswith("gp_chi2 is the winner at 9 libraries (38% of the lattice)")
    assert "20 of 20 runs inside" in s["winner"]
    assert "never within the budgets tried: cube_dcnn, random" in s["reach"]
    assert "smooth" in s["roughness"] and "judged at 1σ" in s["level"]
    assert "does not clear the random baseline" in s["goal"]
    assert "lands outside" in s["grid"]
    # the same strategy no better than luck: no winner, and the sentence says why
    bad = _results(gp={"4": (5, 20), "9": (18, 20)}, rnd={"4": (10, 100), "9": (85, 100)})
    assert bad["winner"] is None
    s = sentences(bad)
    assert s["winner"].startswith("No strategy is named the winner")
    assert "cannot separate them from luck" in s["winner"]
    # three runs of the network at 1 of 3 leave an interval up to 0.91: 20 of 20 (from 0.83)
    # cannot be named better than it
    wide = _results(gp={"4": (5, 20), "9": (20, 20)}, rnd={"4": (10, 100), "9": (50, 100)},
                    dcnn=(1, 3))
    assert wide["winner"] is None and "gp_chi2 clear the random baseline" in wide[
        "winner_reason"]


def test_random_baseline_matches_the_exact_probability():
    """k random nodes keep the best: inside exactly when a node within the level is drawn."""
    from math import comb

    lat = fake_lattice()
    best = float(lat.chi2_min.min())
    answers = {tuple(map(float, p)): r for p, r in zip(lat.points, lat.results, strict=True)}
    level = 400.0
    n_in = int(np.sum(lat.chi2_min - best < level))
    k = 4
    runs = [run_random(lat, k, s) for s in range(400)]
    row = summarise(lat, k, [judge_run(lat, r, answers, best, level) for r in runs], runs)
    p = 1 - comb(lat.n - n_in, k) / comb(lat.n, k)
    assert row["ci95"][0] < p < row["ci95"][1]
    assert row["runs"] == 400 and row["budget_fraction"] == pytest.approx(4 / 24)


@pytest.mark.slow
def test_cold_rebuild_of_lattice_libraries_and_sweeps_is_bit_identical(galaxy, tmp_path):
    """The same lattice libraries and χ²(M/L) sweeps, cold, on a real 2-worker Dask
    LocalCluster, on one worker, and in this process with two numba threads."""
    from orbitnet.fit.grids import LibrarySweep
    from orbitnet.fit.lattice import point_config, point_results
    from orbitnet.fit.sweep import ml_grid
    from orbitnet.orblib.engine import build_library
    from orbitnet.orblib.engine.inputs import from_galaxy
    from orbitnet.orblib.grid import library_content_digest

    eng = {"n_e": 3, "n_i2": 2, "n_i3": 2, "n_periods": 20.0, "n_samples": 2000}
    pts = [Point(0.5, 0.5), Point(1.0, 0.46), Point(1.0, 0.54)]
    ml, ml_cube = ml_grid(4.0, 7.0, 0.5), [4.0, 6.0]
    two, grid = point_results(galaxy, pts, ml, ml_cube, [eng] * 3, n_workers=2,
                              out_dir=tmp_path / "two", progress=False)
    assert grid.workers == 2 and grid.n_built == 3
    assert len({s["worker_pid"] for s in grid.summaries}) >= 1
    one, grid1 = point_results(galaxy, pts, ml, ml_cube, [eng] * 3, n_workers=1,
                               out_dir=tmp_path / "one", progress=False)
    assert grid1.workers == 1 and grid1.n_built == 3
    sweep = LibrarySweep.for_galaxy(galaxy, ml, ml_cube, solver="scipy")
    for p, a, b in zip(pts, two, one, strict=True):
        lib = build_library(point_config(galaxy, p, eng), inputs=from_galaxy(galaxy),
                            n_threads=2, progress=False)
        data, _ = sweep(lib)
        assert a.meta["content_sha256"] == b.meta["content_sha256"] == \
            library_content_digest(lib)
        for name in ("kinchi2", "chi2", "gh", "intrinsic_mass", "aperture_mass"):
            np.testing.assert_array_equal(getattr(a, name), data[name])
            np.testing.assert_array_equal(getattr(b, name), data[name])
        assert a.library_seconds > 0 and a.sweep_seconds > 0 and a.cube_seconds > 0
    assert len({r.chi2_min for r in two}) == 3  # three different libraries


@pytest.mark.slow
def test_a_sweep_made_by_other_analysis_code_is_not_reused(galaxy, tmp_path, monkeypatch):
    """The analysis artifact's key includes the analysis code's version: χ² computed by an
    older sweep is recomputed, never quoted (the library itself is reused)."""
    import orbitnet.fit.grids as grids
    from orbitnet.fit.cube import galaxy_input_files
    from orbitnet.fit.lattice import point_config
    from orbitnet.fit.sweep import ml_grid
    from orbitnet.orblib.engine.inputs import from_galaxy
    from orbitnet.orblib.grid import PointTask, build_point
    from orbitnet.store.fingerprint import input_hashes

    eng = {"n_e": 3, "n_i2": 2, "n_i3": 2, "n_periods": 20.0, "n_samples": 2000}
    sweep = grids.LibrarySweep.for_galaxy(galaxy, ml_grid(4.0, 7.0, 0.5), [4.0, 6.0],
                                          solver="scipy")

    def task() -> PointTask:
        return PointTask(0, {"log_f": 0.5, "q": 0.5}, point_config(galaxy, Point(0.5, 0.5), eng),
                         from_galaxy(galaxy), input_hashes(galaxy_input_files(galaxy)),
                         str(tmp_path), sweep)

    first, again = build_point(task()), build_point(task())
    assert first["analysis_built"] and not again["analysis_built"]
    monkeypatch.setattr(grids, "code_version", lambda *m: "another analysis code")
    other = build_point(task())
    assert other["analysis_built"] and not other["library_built"]
    assert other["analysis_file"] != first["analysis_file"]


def test_truth_on_refined_sweeps_keeps_every_librarys_solved_values(galaxy):
    """Refined sweeps solve each library on its own M/L values: the surface lies on their
    union and equals each library's χ² wherever that library solved it."""
    from dataclasses import replace

    lat = fake_lattice()
    coarse = np.round(np.arange(4.0, 7.01, 0.5), 10)
    for k, r in enumerate(lat.results):
        fine = np.round(5.0 + 0.1 * (k % 7) + np.array([-0.1, 0.1]), 10)
        ml = np.union1d(coarse, fine)
        lat.results[k] = replace(r, ml=ml, kinchi2=np.interp(ml, r.ml, r.kinchi2))
    truth = truth_of(lat, galaxy, 34.9)
    assert truth.ml.size > coarse.size
    flat = truth.chi2.reshape(lat.n, -1)
    for k, r in enumerate(lat.results):
        at = np.searchsorted(truth.ml, r.ml)
        np.testing.assert_allclose(flat[k, at], r.kinchi2)
    assert truth.chi2.min() == pytest.approx(min(r.chi2_min for r in lat.results))


def test_cube_strategies_refuse_a_refined_sweep_before_building():
    from orbitnet.book.runner import ChapterError, resolve_parameters
    from orbitnet.studies.beyond_ml import sweep_plan

    assert sweep_plan(["random", "gp_chi2"], [4.0, 5.0], 0.1, 0.3) == (None, (0.1, 0.3))
    assert sweep_plan(["cube_pca_gp"], [4.0, 5.0], None, 0.3) == ([4.0, 5.0], None)
    with pytest.raises(ValueError, match=r"\['cube_dcnn'\] learn GH cubes"):
        sweep_plan(["random", "cube_dcnn"], [4.0], 0.1, 0.3)
    with pytest.raises(ChapterError, match=r"\['cube_multilinear'\] learn GH cubes, which "
                                           r"the refined sweep \(ml_fine_step = 0.1\)"):
        resolve_parameters("09_beyond_ml", "full", {"strategies": ["random",
                                                                   "cube_multilinear"]})
    assert resolve_parameters("09_beyond_ml", "quick")["ml_fine_step"] is None


def test_family_sentence_says_whether_the_truth_is_converged():
    from orbitnet.studies.beyond_ml import chapter8_family, family_sentence

    res08 = {"lattice": {"rung": "14x10x7/smooth", "bracketed": {"log_f": True, "q": True},
                         "lattice": {"log_f": [0.0, 0.5], "q": [0.5, 0.54]}},
             "converged": {"label": None}}
    none = family_sentence(chapter8_family(None, "6x5x4/dynamite", [0, 1], [0.5, 0.54]))
    assert none.startswith("Chapter 8 has not run")
    same = chapter8_family(res08, "14x10x7/smooth", [0.0, 0.5], [0.5, 0.54])
    assert same["same_rung"] and same["same_box"]
    assert "found no rung converged" in family_sentence(same)
    assert "on the same box" in family_sentence(same)
    res08["converged"]["label"] = "14x10x7/smooth"
    assert "converged by that chapter's test" in family_sentence(same | {"converged":
                                                                         "14x10x7/smooth"})
    other = chapter8_family(res08, "6x5x4/dynamite", [0.0, 0.5, 1.0], [0.5, 0.54])
    assert not other["same_rung"] and not other["same_box"]
    assert "are not Chapter 8's lattice" in family_sentence(other)
