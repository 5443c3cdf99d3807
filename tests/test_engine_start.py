"""The engine's start spaces: DYNAMITE's (bit-identical to before the option existed) and the
smooth one (continuous in the potential, deterministic, the same families nearby)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import refdata

from orbitnet.data import paths

refdata.require(paths.inputs_dir())

SMALL = {"n_e": 2, "n_i2": 2, "n_i3": 2, "n_periods": 20, "n_samples": 4000, "n_cross": 40}
# SHA-256 of the start space (tube and box starts, b_in, t_circ) and of the library arrays
# (losvd, intrinsic masses) of SMALL with dithering 1 and 2, seed 4242, computed with the
# engine of main at 021b2a1, before start_space existed
DYNAMITE_SHA = {
    1: ("3ecd04e9c9b13b0580ec0cda091dfe0dce8fff592d9fe7725c7838d0e8082420",
        "87ac813594b204df5c9a139e032c87c5655b00fc4c6b614a5e0dcd4365761d2a"),
    2: ("191999bf12d5bdcbe24c49a821ab42a3c273bba954e8795bc728307422b38e0e",
        "67b8aa722da1917fde5339501e76e37df85f3a8cebfa609fd79ebfefe87b0e43"),
}


def _sha(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a, float)).tobytes())
    return h.hexdigest()


def _start_space(kind: str, n=(3, 3, 2), seed: int = 4242, **model):
    from orbitnet.orblib.engine.inputs import load_inputs
    from orbitnet.orblib.engine.mass import mass_model
    from orbitnet.orblib.engine.orbitstart import start_space
    from orbitnet.orblib.engine.potential import make_potential
    from orbitnet.orblib.engine.smoothstart import smooth_start_space

    m = mass_model(load_inputs(), **model)
    pot = make_potential(m, r_hi=max(2 * 10**1.99123 * m.arcsec_km,
                                     6 * np.sqrt(2) * m.sigma.max()))
    if kind == "smooth":
        return smooth_start_space(pot, m.arcsec_km, *n, seed=seed)
    return start_space(pot, m.arcsec_km, *n, n_cross=100)


def _change(a, b) -> float:
    """Largest relative change of launch positions, launch speeds, b_in and t_circ."""
    t = np.abs(a.tube_start[:, [0, 2, 4]] / b.tube_start[:, [0, 2, 4]] - 1).max()
    nz = np.abs(b.box_start[:, :3]) > 0
    x = np.abs(a.box_start[:, :3][nz] / b.box_start[:, :3][nz] - 1).max()
    return float(max(t, x, np.abs(a.b_in / b.b_in - 1).max(),
                     np.abs(a.t_circ / b.t_circ - 1).max()))


def test_start_space_is_validated_before_any_work(capsys):
    from orbitnet.book.cli import main
    from orbitnet.data.galaxy import ModelConstants
    from orbitnet.orblib.engine import EngineConfig

    assert EngineConfig().start_space == "dynamite"
    assert EngineConfig(start_space="smooth").start_space == "smooth"
    with pytest.raises(ValueError, match=r"start_space must be one of \('dynamite', 'smooth'\)"
                                         r", got 'golden'"):
        EngineConfig(start_space="golden")
    with pytest.raises(ValueError, match="start_space"):
        EngineConfig.from_constants(ModelConstants(), start_space="Smooth")
    assert main(["grid", "--free", "f-dh=0:1", "--set", "start_space=bogus", "--workers", "1",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "start_space must be one of ('dynamite', 'smooth'), got 'bogus'" in err


def test_start_space_is_part_of_every_cache_key():
    from orbitnet.data.galaxy import load_galaxy
    from orbitnet.fit.lattice import Point, point_config
    from orbitnet.orblib.engine import EngineConfig
    from orbitnet.orblib.engine.store import library_fingerprint

    hashes = {"mge": "x"}
    a = library_fingerprint(EngineConfig(), hashes)
    b = library_fingerprint(EngineConfig(start_space="smooth"), hashes)
    assert a != b and a == library_fingerprint(EngineConfig(start_space="dynamite"), hashes)
    gal = load_galaxy()
    cfg = point_config(gal, Point(0.75, 0.46), {"start_space": "smooth"})
    assert cfg.start_space == "smooth" and cfg.q == 0.46
    assert cfg.nfw_f == pytest.approx(10**0.75)


@pytest.mark.parametrize("dithering", [1, 2])
def test_dynamite_start_space_is_bit_identical_to_before(dithering):
    from orbitnet.orblib.engine import build_library

    lib = build_library(progress=False, n_threads=1, dithering=dithering, **SMALL)
    m = lib.meta
    start = _sha(m["tube_start"], m["box_start"], m["b_in_km"], m["t_circ_s"])
    assert (start, _sha(lib.losvd, lib.intrinsic_mass)) == DYNAMITE_SHA[dithering]
    assert m["config"]["start_space"] == "dynamite"


@pytest.mark.parametrize(("key", "value"), [("q", 0.54), ("nfw_f", 10.0)])
def test_smooth_start_space_is_continuous_in_the_potential(key, value):
    """A relative change of 1e-6 in q or f moves every launch point, b_in and t_circ by less
    than 1e-6, and twice the change moves them twice as far (a derivative exists)."""
    base = _start_space("smooth", **{key: value})
    d1 = _change(_start_space("smooth", **{key: value * (1 + 1e-6)}), base)
    d2 = _change(_start_space("smooth", **{key: value * (1 + 2e-6)}), base)
    assert 1e-9 < d1 < 1e-6
    assert d2 / d1 == pytest.approx(2.0, rel=0.01)


def test_smooth_start_offsets_come_from_the_seed_alone():
    """Another seed moves every launch point by ~1e-6 (a new realisation of the chaotic
    orbits); the same seed gives the same start space bit for bit."""
    from orbitnet.orblib.engine.smoothstart import START_OFFSET, start_offsets

    np.testing.assert_array_equal(start_offsets(7, 5), start_offsets(7, 5))
    assert not np.array_equal(start_offsets(7, 5), start_offsets(8, 5))
    a, b = _start_space("smooth"), _start_space("smooth")
    np.testing.assert_array_equal(a.tube_start, b.tube_start)
    np.testing.assert_array_equal(a.box_start, b.box_start)
    other = _start_space("smooth", seed=7)
    np.testing.assert_array_equal(other.t_circ, a.t_circ)
    moved = np.linalg.norm(other.box_start[:, :3] - a.box_start[:, :3], axis=1) / np.linalg.norm(
        a.box_start[:, :3], axis=1)
    assert np.all(moved > 0) and moved.max() < 10 * START_OFFSET
    r = np.hypot(a.tube_start[:, 0], a.tube_start[:, 2])
    r7 = np.hypot(other.tube_start[:, 0], other.tube_start[:, 2])
    assert 0 < np.abs(r7 / r - 1).max() < 10 * START_OFFSET


def test_smooth_start_space_against_dynamite_at_ngc6278():
    """Same energies and equipotentials; the circular-orbit time scale within 0.5 % of
    DYNAMITE's thin-tube one (its begin.dat), b_in within 10 % (median 1 %)."""
    smooth, dyn = _start_space("smooth", n=(6, 5, 4)), _start_space("dynamite", n=(6, 5, 4))
    np.testing.assert_array_equal(smooth.energies, dyn.energies)
    np.testing.assert_allclose(smooth.b_out, dyn.b_out, rtol=1e-6)  # bisection to 1e-7 in E
    begin = np.loadtxt(paths.dynamite_run_dir() / "datfil" / "begin.dat", skiprows=1)
    np.testing.assert_allclose(smooth.t_circ, begin[::20, 10], rtol=5e-3)
    rel = np.abs(smooth.b_in / dyn.b_in - 1)
    assert rel.max() < 0.1 and np.median(rel) < 0.01
    assert np.all(smooth.b_in < 0.9 * smooth.b_out)
    assert np.all(smooth.tube_start[:, 4] > 0)  # every tube launched with some v_y


@pytest.mark.slow
def test_smooth_libraries_deterministic_conserving_and_same_families_nearby():
    from orbitnet.orblib.engine import build_library

    lib = build_library(progress=False, n_threads=1, start_space="smooth", **SMALL)
    again = build_library(progress=False, n_threads=2, start_space="smooth", **SMALL)
    np.testing.assert_array_equal(again.losvd, lib.losvd)
    np.testing.assert_array_equal(again.intrinsic_mass, lib.intrinsic_mass)
    assert lib.meta["max_abs_dE_over_E"] < 1e-5 and lib.meta["n_failed"] == 0
    assert lib.meta["config"]["start_space"] == "smooth"
    near = build_library(progress=False, n_threads=1, start_space="smooth", q=0.54 * (1 + 1e-6),
                         **SMALL)
    assert near.meta["orbit_class_raw"] == lib.meta["orbit_class_raw"]
    assert near.meta["max_abs_dE_over_E"] < 1e-5 and near.meta["n_failed"] == 0
    # neighbouring libraries differ little: aperture patterns of the tube orbits
    tubes = slice(0, 16)
    diff = 0.5 * np.abs(near.aperture_mass[tubes] - lib.aperture_mass[tubes]).sum(1)
    assert np.median(diff) < 0.01


@pytest.mark.slow
def test_orbitnet_grid_builds_smooth_libraries(tmp_path, capsys):
    """`orbitnet grid --set start_space=smooth` reaches every library's configuration (and its
    cache key) through the real Dask grid."""
    import json

    from orbitnet.book.cli import main

    tiny = {"n_e": 2, "n_i2": 2, "n_i3": 2, "n_periods": 5.0, "n_samples": 500, "n_cross": 20}
    args = ["grid", "--design", "list", "--point", "f-dh=1.0", "--ml", "4:7:0.5", "--workers",
            "1", "--out", str(tmp_path), "--no-progress"]
    args += [f"--set={k}={v}" for k, v in tiny.items()]
    assert main([*args, "--set", "start_space=smooth"]) == 0
    assert main(args) == 0  # the default start space: another library, not the cached one
    capsys.readouterr()
    configs = [json.loads(p.read_text())["fingerprint"]["config"]
               for p in sorted(tmp_path.glob("library_*.json"))]
    assert sorted(c["start_space"] for c in configs) == ["dynamite", "smooth"]
