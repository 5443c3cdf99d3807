"""Chapter 8: rungs, the ladder on real tiny libraries, the converged rule, the lattice."""

import json
import math

import numpy as np
import pytest

from orbitnet.fit.chi2 import sigma_levels
from orbitnet.fit.grids import LibrarySweep
from orbitnet.fit.lattice import Point
from orbitnet.fit.refine import RefinedSweep, fine_grid
from orbitnet.fit.sweep import ml_grid, run_sweep
from orbitnet.orblib.params import ParameterError
from orbitnet.orblib.rungs import parse_rung
from orbitnet.studies import convergence as cv

S1 = sigma_levels(608)[0]


def test_rungs_parse_and_count_orbits():
    r = parse_rung("14x10x7")
    assert (r.n_orbits, r.n_integrations, r.start_space) == (2940, 1960, "smooth")
    d = parse_rung("6x5x4/d3", "dynamite")
    assert (d.n_orbits, d.dithering, d.n_integrations, d.label) == (360, 3, 6480,
                                                                     "6x5x4/d3/dynamite")
    assert parse_rung("6×5×4/dynamite").start_space == "dynamite"
    for bad in ("6x5", "6x5x4/d9", "1x5x4", "6x5x4/fancy", "a"):
        with pytest.raises(ValueError, match="rung"):
            parse_rung(bad)


def test_neighbours_stay_inside_the_limits():
    des = cv.Design((Point(1.0, 0.54),), (1,), q_max=0.551)
    nb = des.neighbours(Point(1.0, 0.54))
    assert [p.log_f for p in nb["log_f"]] == [0.75, 1.0, 1.25]
    assert [p.q for p in nb["q"]] == [0.46, 0.5, 0.54]  # 0.58 does not deproject
    assert [p.log_f for p in des.neighbours(Point(1.5, 0.4))["log_f"]] == [1.0, 1.25, 1.5]
    assert [p.log_f for p in des.neighbours(Point(-1.5, 0.4))["log_f"]] == [-1.5, -1.25, -1.0]
    jobs = cv.Design((Point(1.0, 0.54), Point(0.5, 0.54)), (7, 8)).jobs(
        [parse_rung("3x2x2")])
    assert len(jobs) == len(set(jobs)) == 2 * 2 + 4  # the centre is not built twice


def test_points_are_checked_before_anything_is_built():
    with pytest.raises(ParameterError, match="q-stars = 0.56"):
        cv.check_points([Point(1.0, 0.5), Point(1.0, 0.56)])
    with pytest.raises(ParameterError, match="f-dh = 1.75"):
        cv.check_points([Point(1.75, 0.5)])


def row(label, n, d, ml, hw, jit, cpu, space="smooth", n_points=2):
    """A fabricated ladder row (the same best M/L at every ladder point)."""
    pts = [{"ml_best": ml} for _ in range(n_points)]
    return {"label": label, "n_orbits": n, "dithering": d, "start_space": space,
            "ml_best": ml, "ml_1sigma": [ml - hw, ml + hw], "jitter_log_f": jit,
            "jitter_q": jit, "cpu_seconds": cpu, "points": pts}


def test_converged_rule_both_ways():
    rows = [row("6x5x4", 360, 1, 5.80, 0.10, 600.0, 10),
            row("10x7x5", 1050, 1, 5.30, 0.08, 30.0, 30),
            row("14x10x7", 2940, 1, 5.25, 0.07, 10.0, 90),
            row("6x5x4/d2", 360, 2, 5.50, 0.09, 200.0, 80),
            row("6x5x4/dynamite", 360, 1, 5.3, 0.1, 5.0, 10, "dynamite")]
    conv = cv.converged(rows, S1)
    assert (conv["n_orbits"], conv["dithering"], conv["label"]) == (1050, 1, "10x7x5")
    pairs = {(c["from"], c["to"]): c for c in conv["checks"]}
    assert set(pairs) == {("6x5x4", "10x7x5"), ("10x7x5", "14x10x7"), ("6x5x4", "6x5x4/d2")}
    assert not pairs[("6x5x4", "10x7x5")]["agree"]
    assert pairs[("10x7x5", "14x10x7")]["shift_over_half_width"] == pytest.approx(0.05 / 0.07)
    # the same shift with a jitter above 1σ is not converged
    rows[1] = row("10x7x5", 1050, 1, 5.30, 0.08, 1.2 * S1, 30)
    assert cv.converged(rows, S1)["n_orbits"] is None
    # a shift one hair above the larger rung's half width is not converged either
    rows[1] = row("10x7x5", 1050, 1, 5.25 + 0.0701, 0.08, 30.0, 30)
    assert cv.converged(rows, S1)["n_orbits"] is None
    # disagreement at one ladder point is enough to fail
    rows[1] = row("10x7x5", 1050, 1, 5.27, 0.08, 30.0, 30)
    rows[1]["points"][1]["ml_best"] = 5.5
    assert cv.converged(rows, S1)["n_orbits"] is None


def test_extrapolation_follows_the_measured_power_law():
    # shift = 100 / N between successive rungs, jitter = 2e5 / N at each rung
    ns = [360, 1000, 3000]
    mls = [5.0]
    for a in ns[:-1]:
        mls.append(mls[-1] - 100 / a)
    rows = [row(f"r{n}", n, 1, m, 0.01, 2e5 / n, n) for n, m in zip(ns, mls, strict=True)]
    ex = cv.extrapolate(rows, S1)
    assert ex["ml_shift"]["exponent"] == pytest.approx(-1.0)
    assert ex["ml_shift"]["n_orbits"] == pytest.approx(100 / 0.01, rel=1e-6)
    assert ex["jitter"]["n_orbits"] == pytest.approx(2e5 / S1, rel=1e-6)
    assert ex["n_orbits"] == pytest.approx(10000, rel=1e-6)
    rows[2]["jitter_log_f"] = rows[2]["jitter_q"] = 1e4  # jitter grows: no extrapolation
    assert cv.extrapolate(rows, S1)["n_orbits"] is None
    assert cv.extrapolate(rows[:2], S1) is None


def fake_lib(log_f, q, rung=None):
    ml = ml_grid(3.0, 8.0, 0.05)
    chi2 = 1000 + 400 * (log_f - 0.2) ** 2 + 3e4 * (q - 0.47) ** 2 + 300 * (ml - 5.6) ** 2
    return cv.Library(rung or parse_rung("6x5x4"), Point(log_f, q), 1, ml, chi2, 5.6,
                      (5.25, 5.95), 1.0, 0.5)


def test_surface_finds_the_bowl_and_its_region():
    lf, q = [-0.5, 0.0, 0.5, 1.0], [0.42, 0.46, 0.50, 0.54]
    res = cv.surface([fake_lib(a, b) for a in lf for b in q], lf, q, S1)
    assert res["best"] == {"log_f": 0.0, "q": 0.46, "ml": 5.6}
    # inside: Δ(node) < S1 -> log f 0.0 (Δ 16.3) and 0.5 (Δ 36-16... ) checked by hand
    d = {(a, b): 400 * (a - 0.2) ** 2 + 3e4 * (b - 0.47) ** 2 for a in lf for b in q}
    dmin = min(d.values())
    inside = [k for k, v in d.items() if v - dmin < S1]
    assert res["region"]["log_f"] == [min(k[0] for k in inside), max(k[0] for k in inside)]
    assert res["region"]["q"] == [min(k[1] for k in inside), max(k[1] for k in inside)]
    half = math.sqrt(S1 / 300)  # the best node's own M/L interval at the full level
    assert res["region"]["ml"] == pytest.approx([5.6 - half, 5.6 + half], abs=2e-3)
    assert not any(res["touches"].values())


def test_extend_respects_the_limits():
    ax = np.array([0.42, 0.46, 0.50, 0.54])
    assert list(cv.extend(ax, True, True, (0.05, 0.551), exclusive_hi=True)) == pytest.approx(
        [0.38, 0.42, 0.46, 0.50, 0.54])
    lf = np.array([1.0, 1.25, 1.5])
    assert list(cv.extend(lf, False, True, cv.LOG_F_LIMITS)) == [1.0, 1.25, 1.5]
    assert list(cv.extend(lf, True, False, cv.LOG_F_LIMITS)) == [0.75, 1.0, 1.25, 1.5]


def test_fine_grid_is_on_the_step_lattice_and_skips_coarse_points():
    coarse = ml_grid(3.0, 8.0, 0.25)
    fine = fine_grid(coarse, 5.5, 0.05, 0.3)
    assert fine.size == 12 - 2  # 5.2 ... 5.8 without 5.25, 5.5, 5.75
    assert not np.isin(np.round(fine, 6), np.round(coarse, 6)).any()
    assert fine.min() == pytest.approx(5.2) and fine.max() == pytest.approx(5.8)
    assert fine_grid(coarse, 3.0, 0.05, 0.3).min() == pytest.approx(3.05)  # clipped
    off = fine_grid(coarse, 5.737, 0.05, 0.3)  # a vertex between grid values
    assert off.min() == pytest.approx(5.45) and off.max() == pytest.approx(5.95)  # 6.0 is coarse
    assert np.allclose(np.round(off / 0.05), off / 0.05)
    with pytest.raises(ValueError, match="fine_step"):
        fine_grid(coarse, 5.5, 0.0, 0.3)


@pytest.fixture(scope="module")
def tiny_library(galaxy):
    from orbitnet.fit.lattice import point_config
    from orbitnet.orblib.engine import build_library
    from orbitnet.orblib.engine.inputs import from_galaxy

    cfg = point_config(galaxy, Point(1.0, 0.54), {"n_e": 3, "n_i2": 2, "n_i3": 2,
                                                   "n_periods": 10.0, "n_samples": 1000})
    return build_library(cfg, inputs=from_galaxy(galaxy), n_threads=1, progress=False)


def test_refined_sweep_equals_a_direct_sweep_at_its_m_l(galaxy, tiny_library):
    sweep = RefinedSweep.for_galaxy_refined(galaxy, ml_grid(3.0, 8.0, 0.5), 0.1, 0.3)
    data, summary = sweep(tiny_library)
    assert np.all(np.diff(data["ml"]) > 0)
    assert summary["n_solves"] == data["ml"].size > 11
    direct = run_sweep(tiny_library, {"v": sweep.v, "sigma": sweep.sigma}, data["ml"],
                       n_jobs=1, progress=False, problem=sweep.problem(tiny_library),
                       keep_gh=False, solver="warm")
    assert data["kinchi2"] == pytest.approx(direct.kinchi2, rel=1e-9)
    k = int(np.argmin(data["kinchi2"]))
    assert abs(data["ml"][k] - summary["fine_centres"][-1]) <= 0.3 + 1e-9
    assert summary["kinchi2_min"] == pytest.approx(direct.kinchi2.min())
    assert "refine" in sweep.params()
    assert sweep.params()["code"] != LibrarySweep.params(sweep)["code"]  # refine.py counts


@pytest.fixture(scope="module")
def tiny_study(galaxy, tmp_path_factory):
    """The whole chapter on tiny libraries through a 2-worker LocalCluster, run twice, with
    its artifacts in a fresh folder."""
    from orbitnet.data import paths

    args = dict(galaxy=galaxy, rungs=["3x2x2", "4x2x2", "5x2x2", "3x2x2/d2"],
                start_space="dynamite", ladder_log_f=[1.0, 0.5], ladder_q=0.54, seeds=[4242, 1],
                jitter_points=1, sweep=cv.Sweep(tuple(ml_grid(3.0, 8.0, 0.5)), 0.1, 0.3),
                lattice_rung_name="auto", lattice_log_f=[0.5, 1.0], lattice_q=[0.50, 0.54],
                max_rounds=1, engine={"n_periods": 10.0, "n_samples": 1000}, n_workers=2,
                progress=False, chapter2={"thesis_ml": 5.85, "engine_ml": 5.79,
                                          "engine_ml_1sigma": [5.73, 5.85]})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(paths, "ARTIFACTS", tmp_path_factory.mktemp("artifacts"))
        return cv.run_study(**args), cv.run_study(**args)


@pytest.mark.slow
def test_ladder_on_real_tiny_libraries(galaxy, tiny_study, tiny_library):
    (res, libs, lat), (res2, _, _) = tiny_study
    rows = res["ladder"]
    assert [r["label"] for r in rows] == ["3x2x2/dynamite", "4x2x2/dynamite", "5x2x2/dynamite",
                                          "3x2x2/d2/dynamite"]
    assert res["grid"]["libraries_built"] == len(libs) == 4 * (2 * 2 + 4)
    assert res["grid"]["workers"] == 2
    for r in rows:
        assert r["n_libraries"] == 2 * 2 + 4
        assert r["cpu_seconds"] > 0 and r["library_cpu_seconds"] > 0
        assert r["jitter_log_f"] >= 0 and r["jitter_q"] >= 0
        lo, hi = r["ml_1sigma"]  # an end is nan where the curve stays below 1σ to the grid end
        assert (np.isnan(lo) or lo <= r["ml_best"]) and (np.isnan(hi) or r["ml_best"] <= hi)
        assert not (np.isnan(lo) and np.isnan(hi))
        assert r["seed_scatter"] > 0  # two seeds never give the same χ²
    # a library built on a Dask worker equals one built here with the same settings
    mine = next(x for x in libs if x.rung.label == "3x2x2/dynamite" and x.seed == 4242
                and x.point == Point(1.0, 0.54))
    data, _ = RefinedSweep.for_galaxy_refined(galaxy, ml_grid(3.0, 8.0, 0.5), 0.1, 0.3)(
        tiny_library)
    assert mine.kinchi2 == pytest.approx(data["kinchi2"], rel=1e-12)
    assert rows[0]["chi2_min"] == pytest.approx(np.mean(
        [x.chi2_min for x in libs if x.rung == mine.rung and x.point == mine.point]))
    # the second run builds nothing and gives the same numbers
    assert res2["grid"]["libraries_built"] == 0
    assert json.dumps(res2["ladder"]) == json.dumps(rows)
    assert len(lat) >= 4


@pytest.mark.slow
def test_results_schema(tiny_study):
    res = tiny_study[0][0]
    for r in res["ladder"]:
        assert {"n_orbits", "dithering", "seeds", "chi2_min", "ml_best", "ml_1sigma",
                "seed_scatter", "jitter_log_f", "jitter_q", "cpu_seconds"} <= set(r)
    assert set(res["converged"]) >= {"n_orbits", "dithering"}
    assert set(res["best"]) == {"log_f", "q", "ml"}
    assert set(res["region"]) == {"log_f", "q", "ml"}
    for name in ("log_f", "q", "ml"):
        lo, hi = res["region"][name]
        assert lo <= res["best"][name] <= hi
    assert res["lattice"]["rung"] in {r["label"] for r in res["ladder"]}
    assert res["sentences"]["best"].startswith("On the lattice of")
    json.dumps(res)  # JSON-serialisable as written


@pytest.mark.slow
def test_chapter9_reads_chapter8s_lattice_libraries_and_sweeps(galaxy, tmp_path, monkeypatch):
    """Chapter 9's truth with Chapter 8's refined sweep is Chapter 8's lattice: the same
    library and analysis artifacts, nothing rebuilt, the same χ²; its family is recognised."""
    from orbitnet.data import paths
    from orbitnet.fit.lattice import build_lattice
    from orbitnet.studies import beyond_ml

    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path)
    rung = parse_rung("3x2x2", "smooth")
    sweep = cv.Sweep(tuple(ml_grid(3.0, 8.0, 0.5)), 0.1, 0.3)
    eng = {"n_periods": 10.0, "n_samples": 1000}
    pts = [Point(0.5, 0.50), Point(0.5, 0.54), Point(1.0, 0.50), Point(1.0, 0.54)]
    libs, info = cv.build_libraries(galaxy, [(rung, p, 4242) for p in pts], sweep, eng,
                                    n_workers=2, progress=False)
    assert info["libraries_built"] == 4 and info["workers"] == 2
    engine = beyond_ml.engine_overrides(galaxy, **rung.engine(eng, 4242))
    ml_cube, fine = beyond_ml.sweep_plan(["random", "gp_chi2"], [4.0], 0.1, 0.3)
    lat = build_lattice(galaxy, [0.5, 1.0], [0.50, 0.54], sweep.ml, ml_cube, engine=engine,
                        n_workers=1, progress=False, fine=fine)
    assert lat.grid["libraries_built"] == 0
    for lib, r in zip(libs, lat.results, strict=True):
        assert r.meta["key"] == lib.meta["key"] and r.meta["n_orbits"] == rung.n_orbits
        np.testing.assert_array_equal(r.kinchi2, lib.kinchi2)
        assert r.gh is None and r.sweep_seconds > 0
    truth = beyond_ml.truth_of(lat, galaxy, S1)
    assert truth.chi2.min() == pytest.approx(min(lib.chi2_min for lib in libs))
    res08 = {"lattice": {"rung": rung.label, "bracketed": {"log_f": False, "q": False},
                         "lattice": {"log_f": [0.5, 1.0], "q": [0.5, 0.54]}},
             "converged": {"label": None}}
    fam = beyond_ml.chapter8_family(res08, rung.label, [0.5, 1.0], [0.50, 0.54])
    assert fam["same_rung"] and fam["same_box"]
