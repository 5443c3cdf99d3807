"""Build an orbit library with the embedded engine: ``build_library(...) -> OrbitLibrary``.

Orbits are integrated and observed in parallel over all cores (numba threads), in batches
so that a tqdm bar can follow. The same configuration and seed give the same library.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace

import numba as nb
import numpy as np

from orbitnet.data.galaxy import ModelConstants
from orbitnet.orblib.engine.inputs import EngineInputs, load_inputs
from orbitnet.orblib.engine.integrate import integrate_orbit
from orbitnet.orblib.engine.mass import mass_model
from orbitnet.orblib.engine.observe import (
    Observation,
    aperture_target,
    intrinsic_target,
    observation,
    observe_orbit,
    orbit_class,
    orbit_seed,
    uniform,
    vel_centres,
)
from orbitnet.orblib.engine.orbitstart import StartSpace, start_space
from orbitnet.orblib.engine.potential import Potential, make_potential, potential_exact
from orbitnet.orblib.engine.smoothstart import smooth_start_space
from orbitnet.orblib.library import OrbitLibrary

_C = ModelConstants()  # the galaxy's model constants are the one source of these defaults
#: "dynamite": DYNAMITE's orbitstart (thin tubes by golden-section search); "smooth": every
#: launch point and time scale a smooth function of the potential (docs/start_space.md)
START_SPACES = ("dynamite", "smooth")


@dataclass(frozen=True)
class EngineConfig:
    """Every setting of a library build; model defaults come from :class:`ModelConstants`."""

    ml: float = _C.ml_library
    p: float = _C.p
    q: float = _C.q
    u: float = _C.u
    distance_mpc: float = _C.distance_mpc
    bh_mass: float = _C.bh_mass
    bh_soft_arcsec: float = _C.bh_softening_arcsec
    nfw_c: float = _C.nfw_concentration
    nfw_f: float = _C.nfw_m200_over_mstar
    n_e: int = _C.n_e
    n_i2: int = _C.n_i2
    n_i3: int = _C.n_i3
    dithering: int = _C.dithering
    logrmin: float = _C.logrmin
    logrmax: float = _C.logrmax
    n_periods: float = float(_C.orbital_periods)
    n_samples: int = 50000
    rtol: float = 1e-9  # DOP853 tolerance (rtol = atol, km and km/s); DYNAMITE uses 1e-5
    energy_tol: float = 1e-5  # an orbit above this |dE/E| is retried (FAILURE_POLICY)
    accept_tol: float = 1e-3  # after every retry, an orbit below this |dE/E| is kept, counted
    max_steps: int = 10_000_000
    max_failed_fraction: float = 0.02  # more excluded integrations than this is an error
    n_cross: int = 400  # y = 0 crossings per thin-tube width
    vel_width: float = _C.vel_hist_width
    n_vel: int = _C.vel_hist_bins
    seed: int = 4242
    grid_per_dex: int = 116
    grid_n_c: int = 33
    grid_n_v: int = 17
    start_space: str = "dynamite"  # "dynamite" (DYNAMITE's orbitstart) or "smooth"

    def __post_init__(self) -> None:
        if self.start_space not in START_SPACES:
            raise ValueError(f"EngineConfig.start_space must be one of {START_SPACES}, got "
                             f"{self.start_space!r}")

    @classmethod
    def from_constants(cls, c: ModelConstants, **overrides) -> EngineConfig:
        """The settings of a galaxy's model constants ``c`` (then ``overrides``)."""
        return replace(cls(ml=c.ml_library, p=c.p, q=c.q, u=c.u, distance_mpc=c.distance_mpc,
                           bh_mass=c.bh_mass, bh_soft_arcsec=c.bh_softening_arcsec,
                           nfw_c=c.nfw_concentration, nfw_f=c.nfw_m200_over_mstar, n_e=c.n_e,
                           n_i2=c.n_i2, n_i3=c.n_i3, dithering=c.dithering, logrmin=c.logrmin,
                           logrmax=c.logrmax, n_periods=float(c.orbital_periods),
                           vel_width=c.vel_hist_width, n_vel=c.vel_hist_bins), **overrides)


FAILURE_POLICY = ("an orbit is integrated at rtol, retried at rtol/10, then (the fallback) at "
                  "rtol/100 with 10x max_steps until |dE/E| < energy_tol; after the fallback "
                  "an orbit with energy_tol <= |dE/E| < accept_tol is kept and counted as "
                  "degraded (DYNAMITE retries only above 1e-2); one that still fails "
                  "(integrator stopped or |dE/E| >= accept_tol) is excluded: its observables "
                  "are zero (with "
                  "dithering the surviving sub-orbits are pooled to full weight); more than "
                  "max_failed_fraction of the integrations excluded is an error")


@nb.njit(cache=True)
def _energy_error(samples, e0, sc, mge):
    """max |E/E0 - 1| over 51 samples spread over the orbit; inf when a sample is not finite."""
    n_samp = samples.shape[0]
    de = 0.0
    step = max(n_samp // 50, 1)
    for i in range(0, n_samp + step, step):
        s = samples[min(i, n_samp - 1)]
        e = potential_exact(s[0], s[1], s[2], sc, mge) - 0.5 * (
            s[3] ** 2 + s[4] ** 2 + s[5] ** 2)
        err = abs(e / e0 - 1.0)
        if not np.isfinite(err):
            return np.inf
        de = max(de, err)
    return de


@nb.njit(cache=True, parallel=True)
def _run_batch(starts, t_end, kinds, jobs, seed, n_samp, rtol, energy_tol, accept_tol,
               max_steps,
               grid, sc, mge, proj, ap, bins, psf_sig, psf_cw, vel, r_edges, n_th, n_ph,
               weight, losvd, intr, info):
    """Integrate and observe orbits in parallel; info = (type, |dE/E|, steps, status, rtol,
    attempts).

    Each orbit is tried at rtol, then rtol / 10, then (the fallback) rtol / 100 with ten
    times ``max_steps``; it is accepted when the integrator finished and |dE/E| <
    ``energy_tol``. After the fallback an orbit that finished with |dE/E| < ``accept_tol``
    is kept (the caller counts it as degraded); one that fails all three otherwise is not
    observed (its losvd and intrinsic masses stay zero) and keeps a nonzero status.
    """
    for b in nb.prange(starts.shape[0]):
        state = orbit_seed(seed, jobs[b])
        u = uniform(state)
        dt = t_end[b] / (n_samp + 4)
        ts = dt * (1.0 + u) + np.arange(n_samp) * dt
        samples = np.empty((n_samp, 6))
        y0 = starts[b]
        e0 = potential_exact(y0[0], y0[1], y0[2], sc, mge) - 0.5 * (
            y0[3] ** 2 + y0[4] ** 2 + y0[5] ** 2)
        tol = rtol
        status = -1
        n = 0
        de = np.inf
        n_try = 0
        for attempt in range(3):
            tol = rtol * (1.0 if attempt == 0 else (0.1 if attempt == 1 else 0.01))
            steps = max_steps * (10 if attempt == 2 else 1)
            n_try = attempt + 1
            status, n, _ = integrate_orbit(y0, t_end[b], ts, tol, tol, t_end[b] / 2e4,
                                           steps, grid, sc, mge, samples)
            de = _energy_error(samples, e0, sc, mge) if status == 0 else np.inf
            if status == 0 and de < energy_tol:
                break
            if status == 0:
                status = 3  # ENERGY: finished, but |dE/E| too large
        if status == 3 and de < accept_tol:
            status = 0  # degraded: kept after the fallback, counted by the caller
        otype = 0
        if status == 0:
            otype = orbit_class(samples)
            observe_orbit(samples, otype, state, proj, ap, bins, psf_sig, psf_cw, vel,
                          r_edges, n_th, n_ph, weight, losvd[b], intr[b])
        info[b, 0] = otype
        info[b, 1] = de
        info[b, 2] = n
        info[b, 3] = status
        info[b, 4] = tol
        info[b, 5] = n_try


class OrbitFailureError(RuntimeError):
    """More orbit integrations failed than a library may exclude."""


def _legacy_type(codes: np.ndarray) -> int:
    """DYNAMITE's solver type from the sub-orbit classes: 3, else 1, else 4 (failed
    sub-orbits, class 0, do not vote)."""
    codes = codes[codes > 0]
    n1, n3 = np.count_nonzero(codes == 1), np.count_nonzero(codes == 3)
    return 3 if n3 > n1 else (1 if n1 > 0 else 4)


def _integrate_all(ss: StartSpace, pot: Potential, obs: Observation, cfg: EngineConfig,
                   n_threads: int, progress: bool):
    """Observables of all tube then box sub-orbits, pooled to library orbits."""
    d = cfg.dithering
    starts = np.vstack([ss.tube_start, ss.box_start])
    index = np.vstack([ss.tube_index, ss.box_index])
    kinds = np.r_[np.ones(len(ss.tube_start), np.int64), np.zeros(len(ss.box_start), np.int64)]
    t_end = cfg.n_periods * ss.t_circ[index[:, 0] - 1]
    # library orbit of each sub-orbit: tubes first, (E, I2, I3) with I3 fastest
    lib_i = (index - 1) // d
    n_lib = cfg.n_e * cfg.n_i2 * cfg.n_i3
    lib = (lib_i[:, 0] * cfg.n_i2 + lib_i[:, 1]) * cfg.n_i3 + lib_i[:, 2] + n_lib * (1 - kinds)
    n_cells = obs.n_cells
    losvd = np.zeros((2 * n_lib, obs.n_vel, obs.n_bins))
    intr = np.zeros((2 * n_lib, n_cells))
    info = np.zeros((len(starts), 6))
    weight = 1.0 / (8.0 * cfg.n_samples * d**3)
    # boxes (about twice the steps of tubes) first, then tubes; within a batch the threads
    # take orbits one at a time (dynamic schedule), so no thread idles behind a long orbit.
    # Each orbit's random numbers depend on its index only: any order gives the same library.
    order = np.r_[np.flatnonzero(kinds == 0), np.flatnonzero(kinds == 1)]
    # small batches only for the bar (each batch ends with threads idle behind its last
    # orbits); otherwise 256 sub-orbits bound the batch's LOSVD buffer (83 MB)
    batch = max(16 * n_threads, 32) if progress else 256
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(starts), desc="orbits", unit="orbit")
    old_threads = nb.get_num_threads()
    nb.set_num_threads(n_threads)
    try:
        for lo in range(0, len(order), batch):
            sel = order[lo:lo + batch]
            lb = np.zeros((sel.size, obs.n_vel, obs.n_bins))
            ib = np.zeros((sel.size, n_cells))
            ibat = np.zeros((sel.size, info.shape[1]))
            with nb.parallel_chunksize(1):
                _run_batch(np.ascontiguousarray(starts[sel]), t_end[sel], kinds[sel],
                           sel.astype(np.int64), cfg.seed, cfg.n_samples, cfg.rtol,
                           cfg.energy_tol, cfg.accept_tol, cfg.max_steps, *pot.args,
                           obs.proj, obs.aperture, obs.bins, obs.psf_sigma,
                           obs.psf_cumweight, obs.vel, obs.r_edges, obs.n_theta, obs.n_phi,
                           weight, lb, ib, ibat)
            info[sel] = ibat
            np.add.at(losvd, lib[sel], lb)
            np.add.at(intr, lib[sel], ib)
            if bar is not None:
                bar.update(sel.size)
    finally:
        nb.set_num_threads(old_threads)
        if bar is not None:
            bar.close()
    failed = info[:, 3] != 0
    check_failures(failed, cfg.max_failed_fraction)
    if failed.any():  # pool the surviving sub-orbits to full weight; none left: a zero column
        n_ok = np.bincount(lib[~failed], minlength=2 * n_lib)
        part = (n_ok > 0) & (n_ok < d**3)
        losvd[part] *= (d**3 / n_ok[part])[:, None, None]
        intr[part] *= (d**3 / n_ok[part])[:, None]
    types = np.array([_legacy_type(info[lib == i, 0]) for i in range(2 * n_lib)])
    return losvd, intr, info, types


def check_failures(failed: np.ndarray, max_fraction: float) -> None:
    """Raise :class:`OrbitFailureError` when more than ``max_fraction`` of the integrations
    failed (every attempt, the fallback included)."""
    n, total = int(np.count_nonzero(failed)), int(failed.size)
    if n > max_fraction * total:
        raise OrbitFailureError(
            f"{n} of {total} orbit integrations failed (integrator stopped or |dE/E| >= "
            f"accept_tol) after the retry at rtol/10 and the fallback at rtol/100 with 10x "
            f"max_steps (orbits {np.flatnonzero(failed)[:20].tolist()}"
            f"{' ...' if n > 20 else ''}); at most max_failed_fraction={max_fraction} "
            f"({int(max_fraction * total)}) may be excluded")


def build_library(config: EngineConfig | None = None, inputs: EngineInputs | None = None,
                  n_threads: int | None = None, progress: bool = True,
                  **overrides) -> OrbitLibrary:
    """Build an orbit library (tube j -> orbits 2j and its flipped twin 2j+1, then boxes).

    Parameters
    ----------
    config : settings (default :class:`EngineConfig`); keyword ``overrides`` replace fields,
        e.g. ``build_library(n_e=10, n_i2=7, n_i3=5)``.
    inputs : galaxy inputs (default :func:`load_inputs`).
    n_threads : worker threads (default: all usable cores).
    progress : show a tqdm bar over orbits.
    """
    cfg = replace(config or EngineConfig(), **overrides)
    if inputs is None:
        inputs = load_inputs()
    if n_threads is None:
        n_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    n_threads = max(1, min(int(n_threads), nb.config.NUMBA_NUM_THREADS))
    timings = {}
    t0 = time.perf_counter()
    model = mass_model(inputs, ml=cfg.ml, p=cfg.p, q=cfg.q, u=cfg.u,
                       distance_mpc=cfg.distance_mpc, bh_mass=cfg.bh_mass,
                       bh_soft_arcsec=cfg.bh_soft_arcsec, nfw_c=cfg.nfw_c, nfw_f=cfg.nfw_f)
    r_hi = 2.0 * 10.0**cfg.logrmax * model.arcsec_km
    pot = make_potential(model, r_hi=max(r_hi, 6 * np.sqrt(2) * model.sigma.max()),
                         n_per_dex=cfg.grid_per_dex, n_c=cfg.grid_n_c, n_v=cfg.grid_n_v)
    timings["potential_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    if cfg.start_space == "smooth":
        ss = smooth_start_space(pot, model.arcsec_km, cfg.n_e, cfg.n_i2, cfg.n_i3, cfg.logrmin,
                                cfg.logrmax, cfg.dithering, cfg.seed)
    else:
        ss = start_space(pot, model.arcsec_km, cfg.n_e, cfg.n_i2, cfg.n_i3, cfg.logrmin,
                         cfg.logrmax, cfg.dithering, cfg.n_cross, n_threads)
    timings["start_space_s"] = time.perf_counter() - t1
    obs = observation(model, inputs, cfg.logrmin, cfg.logrmax, cfg.vel_width, cfg.n_vel)
    t2 = time.perf_counter()
    losvd_l, intr_l, info, types = _integrate_all(ss, pot, obs, cfg, n_threads, progress)
    timings["orbits_s"] = time.perf_counter() - t2
    n_lib = cfg.n_e * cfg.n_i2 * cfg.n_i3
    tube, box = slice(0, n_lib), slice(n_lib, 2 * n_lib)
    n_orb = 3 * n_lib
    losvd = np.empty((n_orb, obs.n_vel, obs.n_bins))
    losvd[0:2 * n_lib:2] = losvd_l[tube]
    losvd[1:2 * n_lib:2] = losvd_l[tube, ::-1]
    losvd[2 * n_lib:] = losvd_l[box]
    intr = np.concatenate([np.repeat(intr_l[tube], 2, axis=0), intr_l[box]])
    otype = np.concatenate([np.repeat(types[tube], 2), types[box]])
    grid_ids = np.array([(i, j, k) for i in range(1, cfg.n_e + 1)
                         for j in range(1, cfg.n_i2 + 1) for k in range(1, cfg.n_i3 + 1)])
    ids = np.zeros((n_orb, 5), np.int32)
    ids[:, 0] = np.arange(1, n_orb + 1)
    ids[0:2 * n_lib:2, 1:4] = grid_ids
    ids[1:2 * n_lib:2, 1:4] = grid_ids * [1, -1, 1]
    ids[2 * n_lib:, 1:4] = grid_ids * [-1, 1, 1]
    is_box = np.r_[np.zeros(2 * n_lib, bool), np.ones(n_lib, bool)]
    is_flipped = np.r_[np.tile([False, True], n_lib), np.zeros(n_lib, bool)]
    twin = np.r_[np.arange(2 * n_lib) ^ 1, -np.ones(n_lib, int)]
    timings["total_s"] = time.perf_counter() - t0
    from orbitnet import __version__


    meta = {
        "engine": "orbitnet.orblib.engine",
        "orbitnet_version": __version__,
        "numba_version": nb.__version__,
        "numpy_version": np.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": asdict(cfg),
        "seed": cfg.seed,
        "n_threads": n_threads,
        "viewing_angles_deg": model.viewing_angles_deg,
        "mstar_msun": model.mstar,
        "nfw_rho_s_msun_km3": model.nfw_rho_s,
        "nfw_r_s_km": model.nfw_r_s,
        "energies_km2_s2": ss.energies.tolist(),
        "t_circ_s": ss.t_circ.tolist(),
        "v_c_km_s": ss.v_c.tolist(),
        "tube_start": ss.tube_start.tolist(),
        "box_start": ss.box_start.tolist(),
        "b_in_km": ss.b_in.tolist(),
        "b_out_km": ss.b_out.tolist(),
        "max_abs_dE_over_E": float(info[:, 1].max()),
        "orbit_dE_over_E": info[:, 1].tolist(),
        "orbit_steps": info[:, 2].astype(int).tolist(),
        "orbit_class_raw": info[:, 0].astype(int).tolist(),
        "n_retries": int(np.count_nonzero(info[:, 5] > 1)),
        "n_fallback": int(np.count_nonzero(info[:, 5] > 2)),
        "n_degraded": int(np.count_nonzero((info[:, 3] == 0) & (info[:, 1] >= cfg.energy_tol))),
        "n_failed": int(np.count_nonzero(info[:, 3] != 0)),
        "failed_orbits": np.flatnonzero(info[:, 3] != 0).tolist(),
        "orbit_status": info[:, 3].astype(int).tolist(),
        "failure_policy": FAILURE_POLICY,
        "timings": timings,
    }
    return OrbitLibrary(
        losvd=losvd, vel_centres=vel_centres(cfg.vel_width, cfg.n_vel), ml_library=cfg.ml,
        intrinsic_mass=intr, aperture_mass=losvd.sum(axis=1),
        intrinsic_mass_target=intrinsic_target(model, obs.r_edges, obs.n_theta, obs.n_phi),
        aperture_mass_target=aperture_target(model, inputs), orbit_ids=ids, orbit_type=otype,
        is_box=is_box, is_flipped=is_flipped, source="engine", meta=meta, twin_index=twin,
    )
