"""The start space of the orbit library (DYNAMITE's ``orbitstart``, ENGINE.md §3).

Energies from the potential on the major axis at log-spaced radii; tube orbits launched from
the x-z plane between the thin short-axis tube and the equipotential; box orbits dropped from
rest on the equipotential surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitnet.orblib.engine.integrate import plane_crossings
from orbitnet.orblib.engine.potential import Potential, accel_at, potential_exact

GOLDEN = 0.61803399


@dataclass(frozen=True)
class StartSpace:
    """Initial conditions (km, km/s) on the dithered grid; index arrays are 1-based (i, j, k)."""

    n_e: int
    n_i2: int
    n_i3: int
    radii: np.ndarray  # (n_e,) R_i [km]
    energies: np.ndarray  # (n_e,) E_i [km^2/s^2]
    b_out: np.ndarray  # (n_e, n_i2) equipotential radius in the x-z plane [km]
    b_in: np.ndarray  # (n_e, n_i2) thin-tube radius [km]
    r_t: np.ndarray  # (n_e,) time-scale radius b_in[:, -1]
    v_c: np.ndarray  # (n_e,) circular speed at r_t (tabulated force)
    t_circ: np.ndarray  # (n_e,) 2 pi r_t / v_c [s]
    tube_index: np.ndarray  # (n, 3)
    tube_start: np.ndarray  # (n, 6)
    box_index: np.ndarray  # (n, 3)
    box_start: np.ndarray  # (n, 6)


def find_req(pot: Potential, energy: float, theta: float, phi: float, r_ref: float,
             rtol: float = 1e-7) -> float:
    """Radius along (theta, phi) where the exact potential equals ``energy`` (bisection)."""
    lo, hi = 0.01 * r_ref, 1.1 * r_ref
    ux, uy, uz = np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)
    r = 0.5 * (lo + hi)
    for _ in range(200):
        r = 0.5 * (lo + hi)
        val = potential_exact(r * ux, r * uy, r * uz, pot.sc, pot.mge)
        if abs(energy - val) / energy < rtol:
            break
        if val > energy:
            lo = r
        else:
            hi = r
    return r


def tube_launch(pot: Potential, energy: float, r: float, theta: float) -> np.ndarray:
    """State at radius r, angle theta from z in the x-z plane, moving along y with energy E."""
    x, z = r * np.sin(theta), r * np.cos(theta)
    phi = potential_exact(x, 0.0, z, pot.sc, pot.mge)
    return np.array([x, 0.0, z, 0.0, np.sqrt(max(2.0 * (phi - energy), 0.0)), 0.0])


def tube_width(pot: Potential, energy: float, r: float, theta: float, n_cross: int = 400,
               rtol: float = 1e-4) -> float:
    """Spread (max - min) of sqrt(x^2 + z^2) over the first y = 0 crossings of a tube orbit."""
    y0 = tube_launch(pot, energy, r, theta)
    vy = max(y0[4], 1e-3)
    t_orb = 2 * np.pi * r / vy
    radii, n = plane_crossings(y0, n_cross, 1e4 * n_cross * t_orb, rtol, 1e-8, t_orb / 100,
                               1e-4 * r, *pot.args)
    if n < 2:
        return np.inf
    return float(radii[:n].max() - radii[:n].min())


def golden_min(f, a: float, b: float, c: float, tol: float = 1e-4) -> float:
    """Golden-section minimum of f in the bracket (a, c) starting from b (Numerical Recipes)."""
    cg = 1.0 - GOLDEN
    x0, x3 = a, c
    if abs(c - b) > abs(b - a):
        x1, x2 = b, b + cg * (c - b)
    else:
        x2, x1 = b, b - cg * (b - a)
    f1, f2 = f(x1), f(x2)
    while abs(x3 - x0) > tol * (abs(x1) + abs(x2)):
        if f2 < f1:
            x0, x1, x2 = x1, x2, GOLDEN * x2 + cg * x3
            f1, f2 = f2, f(x2)
        else:
            x3, x2, x1 = x2, x1, GOLDEN * x1 + cg * x0
            f2, f1 = f1, f(x1)
    return x1 if f1 < f2 else x2


def thin_tubes(pot: Potential, energies: np.ndarray, thetas: np.ndarray, b_out: np.ndarray,
               n_cross: int = 400, n_threads: int = 1) -> np.ndarray:
    """Thin short-axis tube radii b_in (n_e, n_i2), searched from the equatorial angle inwards.

    The equatorial searches run energy after energy (each starts from the previous energy's
    ratio b_in / b_out); the inner angles of an energy depend only on its equatorial radius,
    so they run on other threads (the numba integration releases the GIL) while the next
    equator is searched. Same numbers as one loop over energies and angles.
    """
    n_e, n_i2 = b_out.shape
    b_in = np.zeros_like(b_out)

    def search(i: int, j: int, frac: float = 0.5) -> float:
        bo, e, th = b_out[i, j], energies[i], thetas[j]
        if j == n_i2 - 1:
            a, g, c = 0.11 * bo, frac * bo, 0.89 * bo
        elif j == n_i2 - 2:
            g = np.clip(b_in[i, j + 1], 0.02 * bo, 0.99 * bo)
            a, c = max(g - 0.1 * bo, 0.01 * bo), min(g + 0.1 * bo, bo)
        else:
            g = np.clip(b_in[i, j + 1], 0.11 * bo, 0.99 * bo)
            span = 0.08 * b_out[i, -1]
            a, c = max(g - span, 0.1 * bo), min(g + span, bo)
        return golden_min(lambda r: tube_width(pot, e, r, th, n_cross), a, g, c)

    def inner(i: int) -> None:
        for j in range(n_i2 - 2, -1, -1):
            b_in[i, j] = search(i, j)

    from concurrent.futures import ThreadPoolExecutor

    frac = 0.5
    with ThreadPoolExecutor(max(1, n_threads)) as pool:
        jobs = []
        for i in range(n_e):  # each energy's inner angles start as soon as its equator is known
            b_in[i, -1] = search(i, n_i2 - 1, frac)
            frac = float(np.clip(b_in[i, -1] / b_out[i, -1], 0.12, 0.88))
            if n_threads > 1:
                jobs.append(pool.submit(inner, i))
            else:
                inner(i)
        for job in jobs:
            job.result()
    return b_in


def start_space(pot: Potential, arcsec_km: float, n_e: int = 6, n_i2: int = 5, n_i3: int = 4,
                logrmin: float = -0.101275, logrmax: float = 1.99123, dithering: int = 1,
                n_cross: int = 400, n_threads: int = 1) -> StartSpace:
    """Build the (dithered) start space; counts are per library orbit, multiplied by dithering."""
    ne, ni2, ni3 = n_e * dithering, n_i2 * dithering, n_i3 * dithering
    lmin, lmax = logrmin + np.log10(arcsec_km), logrmax + np.log10(arcsec_km)
    radii = 10.0 ** (lmin + (lmax - lmin) * np.arange(ne) / max(ne - 1, 1))
    energies = np.array([potential_exact(r, 0.0, 0.0, pot.sc, pot.mge) for r in radii])
    thetas = 0.5 * np.pi * (np.arange(ni2) + 0.5) / ni2
    phis = 0.5 * np.pi * (np.arange(ni3) + 0.5) / ni3
    b_out = np.array([[find_req(pot, e, th, 0.0, r) for th in thetas]
                      for e, r in zip(energies, radii, strict=True)])
    b_in = thin_tubes(pot, energies, thetas, b_out, n_cross, n_threads)
    b_mid = b_out
    r_t = b_in[:, -1].copy()
    ax = accel_at(pot, np.stack([r_t, 0 * r_t, 0 * r_t], -1))[:, 0]
    v_c = np.sqrt(r_t * np.abs(ax))
    t_circ = 2 * np.pi * r_t / v_c
    t_idx, t_start, b_idx, b_start = [], [], [], []
    for i in range(ne):
        for j in range(ni2):
            for k in range(ni3):
                r = b_in[i, j] + (b_mid[i, j] - b_in[i, j]) * (k + 1 - 0.9) / (ni3 - 0.8)
                t_idx.append((i + 1, j + 1, k + 1))
                t_start.append(tube_launch(pot, energies[i], r, thetas[j]))
                rb = find_req(pot, energies[i], thetas[j], phis[k], radii[i])
                th, ph = thetas[j], phis[k]
                b_idx.append((i + 1, j + 1, k + 1))
                b_start.append([rb * np.sin(th) * np.cos(ph), rb * np.sin(th) * np.sin(ph),
                                rb * np.cos(th), 0.0, 0.0, 0.0])
    return StartSpace(
        n_e=ne, n_i2=ni2, n_i3=ni3, radii=radii, energies=energies, b_out=b_out, b_in=b_in,
        r_t=r_t, v_c=v_c, t_circ=t_circ,
        tube_index=np.array(t_idx, int), tube_start=np.array(t_start),
        box_index=np.array(b_idx, int), box_start=np.array(b_start),
    )
