"""The embedded orbit-library engine against ENGINE.md's numbers, galpy and DYNAMITE's files."""

from __future__ import annotations

import numpy as np
import pytest
import refdata

from orbitnet.data import paths

refdata.require(paths.inputs_dir())  # fail loudly, never skip: the data are part of the tests


@pytest.fixture(scope="module")
def model():
    from orbitnet.orblib.engine.inputs import load_inputs
    from orbitnet.orblib.engine.mass import mass_model

    return mass_model(load_inputs())


@pytest.fixture(scope="module")
def pot(model):
    from orbitnet.orblib.engine.potential import make_potential

    return make_potential(model)


def _begin(name: str) -> np.ndarray:
    path = paths.dynamite_run_dir() / "datfil" / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make data`")
    return np.loadtxt(path, skiprows=1)


def test_units_and_viewing_angles(model):
    from orbitnet.orblib.engine import mass

    assert float(mass.G) == pytest.approx(1.32746089776e11, rel=1e-11)
    assert float(mass.PC_KM) == pytest.approx(3.0856775810788e13, rel=1e-13)
    assert model.arcsec_km == pytest.approx(5.977930912419636e15, rel=1e-14)
    assert float(mass.RHO_CRIT) == pytest.approx(5.03274e-48, rel=1e-5)
    theta, phi, psi = mass.viewing_angles(0.99, 0.54, 0.9999, 0.55097)
    assert (theta, phi, psi) == pytest.approx((82.444308859, 84.245110877, 90.021481540),
                                              abs=1e-9)


def test_deprojection_masses_nfw(model):
    np.testing.assert_allclose(model.p, [.99716, .99464, .999997, .99, .999997, .99], atol=6e-6)
    np.testing.assert_allclose(model.q, [.89349, .78683, .99990, .54, .99990, .54], atol=6e-6)
    np.testing.assert_allclose(model.sigma_obs / model.sigma,
                               [.99997, .99995, 1.0, .9999, 1.0, .9999], atol=6e-6)
    np.testing.assert_allclose(model.mass, [6.914e9, 9.561e9, 3.215e9, 1.788e10, 5.267e9,
                                            3.840e10], rtol=1e-3)
    assert model.mstar == pytest.approx(8.12437582e10, rel=1e-9)
    assert model.nfw_rho_s == pytest.approx(1.3129972e-43, rel=1e-7)
    assert model.nfw_r_s == pytest.approx(7.21992e17, rel=1e-6)
    assert model.nfw_r_s / model.arcsec_km == pytest.approx(120.776, abs=1e-3)
    assert model.bh_soft == pytest.approx(5.978e12, rel=1e-4)


def test_energies_on_major_axis(model, pot):
    from orbitnet.orblib.engine.potential import potential_at

    radii = 10 ** np.linspace(-0.101275, 1.99123, 6) * model.arcsec_km
    np.testing.assert_allclose(radii / model.arcsec_km,
                               [0.79200, 2.07599, 5.44160, 14.26356, 37.38772, 98.00089],
                               atol=6e-6)
    energies = potential_at(pot, np.stack([radii, 0 * radii, 0 * radii], -1))
    np.testing.assert_allclose(energies, [501432.81039591, 383055.03908465, 285447.76132997,
                                          207152.16346976, 148226.77147696, 102183.19017132],
                               rtol=2e-12)


def _galpy_accel(model, xyz_arcsec):
    """Cartesian acceleration [km/s^2] of the same mass model summed from galpy potentials."""
    import galpy.potential as gp

    from orbitnet.orblib.engine.mass import G

    f = model.arcsec_km
    pots = [gp.TriaxialGaussianPotential(amp=G * m / f, sigma=s / f, b=p, c=q, glorder=100)
            for m, s, p, q in zip(model.mass, model.sigma, model.p, model.q, strict=True)]
    pots.append(gp.PlummerPotential(amp=G * model.bh_mass / f, b=model.bh_soft / f))
    pots.append(gp.NFWPotential(amp=4 * np.pi * G * model.nfw_rho_s * model.nfw_r_s**3 / f,
                                a=model.nfw_r_s / f))
    total = pots[0]
    for extra in pots[1:]:
        total = total + extra
    x, y, z = xyz_arcsec.T
    rr, ph = np.hypot(x, y), np.arctan2(y, x)
    fr = gp.evaluateRforces(total, rr, z, phi=ph)
    fz = gp.evaluatezforces(total, rr, z, phi=ph)
    fphi = gp.evaluatephitorques(total, rr, z, phi=ph) / rr
    acc = np.stack([fr * np.cos(ph) - fphi * np.sin(ph), fr * np.sin(ph) + fphi * np.cos(ph),
                    fz], -1)
    return acc / f  # (km/s)^2 / arcsec -> km/s^2


def test_forces_match_galpy(model, pot):
    from orbitnet.orblib.engine.potential import accel_at

    rng = np.random.default_rng(7)
    n = 300
    r = 10 ** rng.uniform(-2.5, 2.2, n)
    xyz = rng.normal(size=(n, 3))
    xyz *= (r / np.linalg.norm(xyz, axis=1))[:, None]
    ref = _galpy_accel(model, xyz)
    norm = np.linalg.norm(ref, axis=1)
    for exact in (True, False):
        acc = accel_at(pot, xyz * model.arcsec_km, exact=exact)
        err = np.linalg.norm(acc - ref, axis=1) / norm
        assert err.max() < 1e-3, (exact, err.max())
        assert np.median(err) < 1e-5, (exact, np.median(err))


def test_tabulated_force_accuracy(model, pot):
    from orbitnet.orblib.engine.potential import accel_at

    rng = np.random.default_rng(3)
    n = 3000
    r = 10 ** rng.uniform(-3.5, 2.25, n) * model.arcsec_km
    xyz = rng.normal(size=(n, 3))
    xyz *= (r / np.linalg.norm(xyz, axis=1))[:, None]
    a, ae = accel_at(pot, xyz), accel_at(pot, xyz, exact=True)
    err = np.linalg.norm(a - ae, axis=1) / np.linalg.norm(ae, axis=1)
    assert err.mean() < 1e-6 and err.max() < 2e-5


def test_box_starts_and_equipotentials(model, pot):
    from orbitnet.orblib.engine.orbitstart import find_req

    box = _begin("beginbox.dat")
    f = model.arcsec_km
    radii = 10 ** np.linspace(-0.101275, 1.99123, 6) * f
    rows = box[[0, 33, 77, 119]]
    for row in rows:
        i, j, k = row[:3].astype(int)
        e = float(pot_energy(pot, radii[i - 1]))
        th, ph = np.pi / 2 * (j - 0.5) / 5, np.pi / 2 * (k - 0.5) / 4
        rb = find_req(pot, e, th, ph, radii[i - 1])
        pos = rb * np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)])
        np.testing.assert_allclose(pos, row[3:6], rtol=1e-7, atol=1e-7 * rb)


def pot_energy(pot, radius: float) -> float:
    from orbitnet.orblib.engine.potential import potential_exact

    return potential_exact(radius, 0.0, 0.0, pot.sc, pot.mge)


def test_thin_tube_and_first_launch(model, pot):
    """The thin-tube search at E1, theta = 81 deg, and the launch of tube (1,1,1)."""
    from orbitnet.orblib.engine.orbitstart import find_req, golden_min, tube_launch, tube_width

    tubes = _begin("begin.dat")
    f = model.arcsec_km
    r1 = 10 ** -0.101275 * f
    e1 = pot_energy(pot, r1)
    th5 = np.pi / 2 * 4.5 / 5
    b_out = find_req(pot, e1, th5, 0.0, r1)
    assert b_out / r1 == pytest.approx(0.9984, abs=1e-4)
    b_in = golden_min(lambda r: tube_width(pot, e1, r, th5, n_cross=100),
                      0.11 * b_out, 0.5 * b_out, 0.89 * b_out)
    assert b_in / r1 == pytest.approx(0.6721, rel=3e-3)
    # tube (1,1,1): DYNAMITE's b_in (0.7418 R1) gives its launch point and v_y
    th1 = np.pi / 2 * 0.5 / 5
    bo1 = find_req(pot, e1, th1, 0.0, r1)
    r = 0.7418 * r1 + (bo1 - 0.7418 * r1) * 0.1 / 3.2
    start = tube_launch(pot, e1, r, th1)
    np.testing.assert_allclose(start[[0, 2]], tubes[0, [3, 5]], rtol=2e-4)
    # v_y at DYNAMITE's own launch point matches to 1e-10
    exact = tube_launch(pot, e1, np.hypot(tubes[0, 3], tubes[0, 5]), th1)
    assert exact[4] == pytest.approx(219.29859839, rel=1e-9)


def test_energy_conservation_200_periods(pot):
    """Four of DYNAMITE's start points (inner/outer tube and box) over 200 periods."""
    from orbitnet.orblib.engine.build import EngineConfig
    from orbitnet.orblib.engine.integrate import integrate_orbit
    from orbitnet.orblib.engine.potential import potential_exact

    rows = np.vstack([_begin("begin.dat")[[0, 119]], _begin("beginbox.dat")[[50, 119]]])
    n = 2000
    for row in rows:
        y0, t_end = row[3:9].copy(), 200 * row[10]
        ts = np.linspace(t_end / n, t_end, n)
        out = np.empty((n, 6))
        status, _, _ = integrate_orbit(y0, t_end, ts, EngineConfig.rtol, EngineConfig.rtol,
                                       t_end / 2e4, 10**7, *pot.args, out)
        assert status == 0
        e0 = potential_exact(*y0[:3], pot.sc, pot.mge) - 0.5 * np.sum(y0[3:] ** 2)
        sel = out[:: n // 40]
        e = np.array([potential_exact(*s[:3], pot.sc, pot.mge) for s in sel])
        e -= 0.5 * np.sum(sel[:, 3:] ** 2, axis=1)
        assert np.abs(e / e0 - 1).max() < 1e-5


def test_mge_targets_match_dynamite(model):
    from orbitnet.orblib.engine.inputs import load_inputs
    from orbitnet.orblib.engine.observe import aperture_target, intrinsic_target, observation

    run = paths.dynamite_run_dir() / "datfil"
    if not (run / "mass_qgrid.dat").is_file():
        pytest.fail("no DYNAMITE run in data/: run `make data`")
    inputs = load_inputs()
    obs = observation(model, inputs)
    np.testing.assert_allclose(obs.r_edges[1:] / model.arcsec_km,
                               [1.19639, 1.80726, 2.73003, 4.12397, 6.22963, 9.41044, 14.21535,
                                21.47361, 32.43788, 9800.09], rtol=5e-6)
    alpha = np.degrees(np.arctan2(obs.aperture[1], obs.aperture[0]))
    assert alpha == pytest.approx(35.97852, abs=1e-5)
    qgrid = np.loadtxt(run / "mass_qgrid.dat", skiprows=1).ravel()
    np.testing.assert_allclose(intrinsic_target(model, obs.r_edges), qgrid, rtol=1e-6,
                               atol=1e-12)
    aper = np.loadtxt(run / "mass_aper.dat", skiprows=1)[:, 1]
    np.testing.assert_allclose(aperture_target(model, inputs), aper, rtol=1e-9)


def test_projected_light_of_mge_points_matches_mass_aper(model):
    """Points drawn from the deprojected MGE, observed like orbit samples (8 images, PSF,
    aperture, bins), give the MGE's aperture light (mass_aper) within 2 %."""
    from orbitnet.orblib.engine.inputs import load_inputs
    from orbitnet.orblib.engine.observe import (
        aperture_target,
        intrinsic_target,
        observation,
        observe_orbit,
        orbit_seed,
    )

    inputs = load_inputs()
    obs = observation(model, inputs)
    rng = np.random.default_rng(5)
    n = 600_000
    j = rng.choice(len(model.mass), n, p=model.mass / model.mstar)
    pts = np.zeros((n, 6))
    pts[:, :3] = rng.normal(size=(n, 3)) * (model.sigma[j, None]
                                           * np.c_[np.ones(6), model.p, model.q][j])
    losvd, intr = np.zeros((obs.n_vel, obs.n_bins)), np.zeros(obs.n_cells)
    observe_orbit(pts, 4, orbit_seed(1, 0), obs.proj, obs.aperture, obs.bins, obs.psf_sigma,
                  obs.psf_cumweight, obs.vel, obs.r_edges, obs.n_theta, obs.n_phi,
                  1.0 / (8 * n), losvd, intr)
    light, target = losvd.sum(axis=0), aperture_target(model, inputs)
    rel = light / target - 1
    assert abs(light.sum() / target.sum() - 1) < 0.005
    assert np.sqrt(np.mean(rel**2)) < 0.02
    big = target > 5e-3
    assert np.abs(rel[big]).max() < 0.02
    qt = intrinsic_target(model, obs.r_edges)
    assert intr.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.abs(intr[qt > 0.01] / qt[qt > 0.01] - 1).max() < 0.05


SMALL = {"n_e": 2, "n_i2": 2, "n_i3": 2, "n_periods": 20, "n_samples": 4000, "n_cross": 40}


@pytest.fixture(scope="module")
def small_library():
    from orbitnet.orblib.engine import build_library

    return build_library(progress=False, n_threads=1, **SMALL)


def test_small_library_structure(small_library):
    lib = small_library
    assert lib.n_orbits == 24 and lib.n_vel == 267 and lib.n_bins == 152
    assert lib.source == "engine" and lib.ml_library == 5.0
    np.testing.assert_array_equal(lib.losvd[1:16:2], lib.losvd[0:16:2, ::-1])
    np.testing.assert_array_equal(lib.intrinsic_mass[1:16:2], lib.intrinsic_mass[0:16:2])
    np.testing.assert_allclose(lib.intrinsic_mass.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(lib.aperture_mass, lib.losvd.sum(axis=1))
    fov = lib.aperture_mass.sum(axis=1)
    assert np.all(fov <= 1 + 1e-12) and np.all(fov[:8] > 0.999)  # inner energy: all in FoV
    assert list(lib.orbit_ids[:3, 1:4].tolist()) == [[1, 1, 1], [1, -1, 1], [1, 1, 2]]
    assert lib.orbit_ids[16, 1] == -1 and lib.is_box[16:].all() and lib.is_flipped[1]
    assert lib.meta["max_abs_dE_over_E"] < 1e-5 and lib.meta["n_failed"] == 0
    assert lib.meta["seed"] == 4242 and lib.meta["config"]["n_e"] == 2


@pytest.mark.slow
def test_same_seed_same_library(small_library, tmp_path):
    from orbitnet.orblib.engine import build_library, load_library, save_library

    again = build_library(progress=False, n_threads=2, **SMALL)  # other thread count
    np.testing.assert_array_equal(again.losvd, small_library.losvd)
    np.testing.assert_array_equal(again.intrinsic_mass, small_library.intrinsic_mass)
    other = build_library(progress=False, seed=7, **SMALL)
    assert not np.array_equal(other.losvd, small_library.losvd)
    path = save_library(small_library, tmp_path / "lib.h5")
    back = load_library(path)
    for name in ("losvd", "intrinsic_mass", "aperture_mass", "orbit_ids", "is_box",
                 "is_flipped", "twin_index", "aperture_mass_target"):
        np.testing.assert_array_equal(getattr(back, name), getattr(small_library, name))
    assert back.meta["config"] == small_library.meta["config"]
    assert not list(tmp_path.glob("*.tmp"))


def test_cached_library_reuses_matching_file(small_library, tmp_path, monkeypatch):
    from orbitnet.orblib.engine import cached_library, save_library, store

    path = save_library(small_library, tmp_path / "lib.h5")
    monkeypatch.setattr(store, "build_library", lambda *a, **k: pytest.fail("rebuilt"))
    lib = cached_library(path, progress=False, **SMALL)
    np.testing.assert_array_equal(lib.losvd, small_library.losvd)
