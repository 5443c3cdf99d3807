"""A start space that moves continuously with the potential (``start_space="smooth"``).

DYNAMITE's ``orbitstart`` (:mod:`orbitnet.orblib.engine.orbitstart`) finds each thin-tube
radius by a golden-section minimisation of a tube width measured by integration, chained from
one energy and angle to the next, and takes each energy's time scale from one of those radii;
neighbouring potentials can land in different local minima, so the launch points and
integration times jump (docs/start_space.md). Here every quantity is a root of a smooth
function of the exact potential, found to machine precision, in the spirit of FORSTAND's fixed
initial conditions (Vasiliev & Valluri 2020, agama ``py/example_forstand.py``):

* energies E_i = Phi(R_i, 0, 0) and the equipotential radii b_out, as in DYNAMITE;
* the inner tube radius b_in(E, theta) is r_c(E), the radius of the circular orbit of energy
  E on the major axis, Phi(r_c) - r_c |a_x(r_c)| / 2 = E (the thin tube of a round potential,
  the same at every launch angle; no orbit is integrated), but at most 0.89 b_out (the upper
  end of DYNAMITE's thin-tube bracket);
* the time scale of an energy is the period of that circular orbit,
  t_circ = 2 pi r_c / v_c(r_c) with the exact force (DYNAMITE: r_t = b_in at the equatorial
  angle, tabulated force);
* launch points on the same fractions of (b_in, b_out) and the same box directions as
  DYNAMITE, each moved by a random relative offset of ``START_OFFSET`` (1e-6: tube launch
  radii, box directions in radians; the energy stays exact).

Every random draw of a library (these offsets, start phases, PSF) depends on the seed and the
orbit index only, so every library of a grid shares them. The offsets make a seed a new
realisation of the chaotic (box) orbits, whose 200-period averages a change of 1e-7 in the
potential already changes (docs/start_space.md): with them, seed-to-seed scatter measures the
library's noise; without them a seed only moves the sampling phase and the PSF draws.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from orbitnet.orblib.engine.orbitstart import StartSpace, tube_launch
from orbitnet.orblib.engine.potential import Potential, accel_exact, potential_exact

_XTOL = 1e-13  # root tolerance relative to the bracket's radius
THIN_MAX = 0.89  # b_in <= THIN_MAX * b_out (DYNAMITE's equatorial thin-tube bracket)
START_OFFSET = 1e-6  # relative random offset of every launch point (seeded)


def _direction(theta: float, phi: float) -> np.ndarray:
    return np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])


def _root(f, r_ref: float, what: str) -> float:
    """Root of f on (0, ~r_ref] (f > 0 inside, < 0 outside), widening the bracket outwards."""
    lo, hi = 1e-4 * r_ref, 1.1 * r_ref
    for _ in range(40):
        if f(hi) < 0:
            break
        lo, hi = hi, 2.0 * hi
    else:
        raise ValueError(f"smooth start space: no {what} found out to {hi:.3e} km")
    if f(lo) <= 0:
        raise ValueError(f"smooth start space: {what} lies inside {lo:.3e} km")
    return float(brentq(f, lo, hi, xtol=_XTOL * r_ref, rtol=4 * np.finfo(float).eps,
                        maxiter=500))


def equipotential_radius(pot: Potential, energy: float, u: np.ndarray, r_ref: float) -> float:
    """Radius along the unit vector u where the exact potential equals ``energy``."""
    return _root(lambda r: potential_exact(r * u[0], r * u[1], r * u[2], pot.sc, pot.mge)
                 - energy, r_ref, f"equipotential of E = {energy:.6e}")


def circular_radius(pot: Potential, energy: float, u: np.ndarray, r_ref: float) -> float:
    """Radius along u where a circular orbit (v^2 = R |a . u|) has ``energy``."""
    acc = np.empty(3)

    def excess(r: float) -> float:
        x = r * u
        accel_exact(x[0], x[1], x[2], pot.sc, pot.mge, acc)
        return (potential_exact(x[0], x[1], x[2], pot.sc, pot.mge) - energy
                - 0.5 * r * abs(acc @ u))

    return _root(excess, r_ref, f"circular orbit of E = {energy:.6e}")


def circular_period(pot: Potential, r: float) -> tuple[float, float]:
    """(v_c, 2 pi r / v_c) of the circular orbit at radius r on the major (x) axis."""
    acc = np.empty(3)
    accel_exact(r, 0.0, 0.0, pot.sc, pot.mge, acc)
    v_c = float(np.sqrt(r * abs(acc[0])))
    return v_c, 2 * np.pi * r / v_c


def start_offsets(seed: int, n: int) -> np.ndarray:
    """(n, 3) standard normal draws of a library's launch offsets: tube radius, box theta and
    phi of each of its n start points (from the seed alone)."""
    rng = np.random.Generator(np.random.PCG64([int(seed), 0x5157A27]))
    return rng.standard_normal((n, 3))


def smooth_start_space(pot: Potential, arcsec_km: float, n_e: int = 6, n_i2: int = 5,
                       n_i3: int = 4, logrmin: float = -0.101275, logrmax: float = 1.99123,
                       dithering: int = 1, seed: int = 4242,
                       offset: float = START_OFFSET) -> StartSpace:
    """The (dithered) start space on DYNAMITE's grid of (E, I2, I3), each point a smooth
    function of the potential plus a seeded relative ``offset``; counts are per library orbit,
    multiplied by dithering."""
    ne, ni2, ni3 = n_e * dithering, n_i2 * dithering, n_i3 * dithering
    g = offset * start_offsets(seed, ne * ni2 * ni3)
    lmin, lmax = logrmin + np.log10(arcsec_km), logrmax + np.log10(arcsec_km)
    radii = 10.0 ** (lmin + (lmax - lmin) * np.arange(ne) / max(ne - 1, 1))
    energies = np.array([potential_exact(r, 0.0, 0.0, pot.sc, pot.mge) for r in radii])
    thetas = 0.5 * np.pi * (np.arange(ni2) + 0.5) / ni2
    phis = 0.5 * np.pi * (np.arange(ni3) + 0.5) / ni3
    b_out = np.array([[equipotential_radius(pot, e, _direction(th, 0.0), r) for th in thetas]
                      for e, r in zip(energies, radii, strict=True)])
    x_axis = _direction(0.5 * np.pi, 0.0)
    r_t = np.array([circular_radius(pot, e, x_axis, r) for e, r in zip(energies, radii,
                                                                          strict=True)])
    b_in = np.minimum(r_t[:, None], THIN_MAX * b_out)
    v_c, t_circ = np.array([circular_period(pot, r) for r in r_t]).T
    t_idx, t_start, b_idx, b_start = [], [], [], []
    for i in range(ne):
        for j in range(ni2):
            for k in range(ni3):
                n = (i * ni2 + j) * ni3 + k
                r = b_in[i, j] + (b_out[i, j] - b_in[i, j]) * (k + 1 - 0.9) / (ni3 - 0.8)
                t_idx.append((i + 1, j + 1, k + 1))
                t_start.append(tube_launch(pot, energies[i], r * (1 + g[n, 0]), thetas[j]))
                u = _direction(thetas[j] + g[n, 1], phis[k] + g[n, 2])
                rb = equipotential_radius(pot, energies[i], u, radii[i])
                b_idx.append((i + 1, j + 1, k + 1))
                b_start.append([*(rb * u), 0.0, 0.0, 0.0])
    return StartSpace(
        n_e=ne, n_i2=ni2, n_i3=ni3, radii=radii, energies=energies, b_out=b_out, b_in=b_in,
        r_t=r_t, v_c=v_c, t_circ=t_circ,
        tube_index=np.array(t_idx, int), tube_start=np.array(t_start),
        box_index=np.array(b_idx, int), box_start=np.array(b_start),
    )
