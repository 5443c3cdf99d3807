"""Observables of an orbit (ENGINE.md §5) and the MGE targets they are fitted to.

Each sampled point is mirrored into the 8 octant images, projected on the sky, shifted by a
random PSF offset, rotated into the aperture grid, and counted in its Voronoi bin and velocity
bin. Intrinsic masses count the unmirrored points folded into the positive octant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
from scipy.special import erf

from orbitnet.orblib.engine.inputs import EngineInputs
from orbitnet.orblib.engine.mass import MassModel

# position signs of the 8 images (ENGINE.md §5)
SIGNS = np.array([[1, 1, 1], [-1, 1, 1], [-1, -1, 1], [1, -1, 1],
                  [1, 1, -1], [-1, 1, -1], [-1, -1, -1], [1, -1, -1]], dtype=np.float64)


@dataclass(frozen=True)
class Observation:
    """Numba-ready observation setup (lengths in km, velocities in km/s)."""

    proj: np.ndarray  # (3, 3) rows: x', y', v_los directions
    aperture: np.ndarray  # cos a, sin a, x0, y0, Lx, Ly, nx, ny
    bins: np.ndarray  # (nx*ny,) int64
    n_bins: int
    psf_sigma: np.ndarray  # km
    psf_cumweight: np.ndarray
    vel: np.ndarray  # width, n_vel
    r_edges: np.ndarray  # (n_r+1,) km
    n_theta: int
    n_phi: int

    @property
    def n_vel(self) -> int:
        return int(self.vel[1])

    @property
    def n_cells(self) -> int:
        return (len(self.r_edges) - 1) * self.n_theta * self.n_phi


def projection(theta: float, phi: float) -> np.ndarray:
    """Rows giving sky x', y' and the line-of-sight velocity from intrinsic coordinates."""
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    return np.array([[-sp, cp, 0.0], [-ct * cp, -ct * sp, st], [st * cp, st * sp, ct]])


def radial_edges(model: MassModel, logrmin: float, logrmax: float, n_r: int = 10) -> np.ndarray:
    """DYNAMITE's intrinsic-grid radii (km): 0, log-spaced, and a far outer edge."""
    lf = np.log10(model.arcsec_km)
    lmin, lmax = logrmin + lf, logrmax + lf
    i = np.arange(1, n_r)
    inner = 10.0 ** (lmin + (lmax - lmin + np.log10(0.5)) * i / n_r)
    outer = max(100.0 * 10.0**lmax, 10.0 * float(model.sigma_obs.max()))
    return np.concatenate([[0.0], inner, [outer]])


def observation(model: MassModel, inputs: EngineInputs, logrmin: float = -0.101275,
                logrmax: float = 1.99123, vel_width: float = 1394.4968, n_vel: int = 267,
                n_r: int = 10, n_theta: int = 6, n_phi: int = 6) -> Observation:
    """Set up projection, aperture, PSF, velocity histogram and intrinsic grid."""
    f = model.arcsec_km
    alpha = -np.radians(inputs.aperture_angle_deg) + np.pi / 2 - model.psi
    nx, ny = inputs.aperture_shape
    ap = np.array([np.cos(alpha), np.sin(alpha), inputs.aperture_origin[0] * f,
                   inputs.aperture_origin[1] * f, inputs.aperture_size[0] * f,
                   inputs.aperture_size[1] * f, nx, ny])
    w = np.asarray(inputs.psf_weight, float)
    return Observation(
        proj=projection(model.theta, model.phi), aperture=ap,
        bins=np.asarray(inputs.bins, np.int64), n_bins=inputs.n_bins,
        psf_sigma=np.asarray(inputs.psf_sigma, float) * f, psf_cumweight=np.cumsum(w) / w.sum(),
        vel=np.array([vel_width, n_vel], float), r_edges=radial_edges(model, logrmin, logrmax, n_r),
        n_theta=n_theta, n_phi=n_phi,
    )


@nb.njit(cache=True, inline="always")
def _splitmix(state):
    """Advance a splitmix64 state (1-element uint64 array); return a uniform in (0, 1)."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True)
def orbit_seed(seed, index):
    """A random-number state for orbit ``index`` of a library with ``seed``."""
    state = np.empty(1, np.uint64)
    state[0] = np.uint64(seed) * np.uint64(0x632BE59BD9B4E019) + np.uint64(index)
    _splitmix(state)
    return state


@nb.njit(cache=True)
def uniform(state):
    return _splitmix(state)


@nb.njit(cache=True)
def orbit_class(samples):
    """DYNAMITE orbit type from the signs of max(L_k) * min(L_k): 1 x-tube, 2 y-tube,
    3 z-tube, 4 box, 5 other."""
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for n in range(samples.shape[0]):
        x, y, z, vx, vy, vz = samples[n]
        lk = (y * vz - z * vy, z * vx - x * vz, x * vy - y * vx)
        for k in range(3):
            lo[k] = min(lo[k], lk[k])
            hi[k] = max(hi[k], lk[k])
    cx, cy, cz = lo[0] * hi[0], lo[1] * hi[1], lo[2] * hi[2]
    if cx > 0 and cy < 0 and cz < 0:
        return 1
    if cx < 0 and cy > 0 and cz < 0:
        return 2
    if cx < 0 and cy < 0 and cz > 0:
        return 3
    if cx < 0 and cy < 0 and cz < 0:
        return 4
    return 5


@nb.njit(cache=True)
def observe_orbit(samples, otype, state, proj, ap, bins, psf_sig, psf_cw, vel, r_edges,
                  n_theta, n_phi, weight, losvd, intr):
    """Add one orbit's samples (weight per sample and image) to losvd (n_vel, n_bins) and its
    folded intrinsic masses (weight * 8 per sample) to intr (n_r * n_theta * n_phi)."""
    n_vel = int(vel[1])
    dv = vel[0] / n_vel
    half = 0.5 * vel[0]
    ca, sa, x0, y0, lx, ly = ap[0], ap[1], ap[2], ap[3], ap[4], ap[5]
    nx, ny = int(ap[6]), int(ap[7])
    n_r = r_edges.shape[0] - 1
    dth = 0.5 * np.pi / n_theta
    dph = 0.5 * np.pi / n_phi
    for n in range(samples.shape[0]):
        x, y, z, vx, vy, vz = samples[n]
        # intrinsic grid: the unmirrored point folded into the positive octant
        r = np.sqrt(x * x + y * y + z * z)
        ir = n_r - 1
        for e in range(1, n_r):
            if r < r_edges[e]:
                ir = e - 1
                break
        ith = min(int(np.arctan2(np.sqrt(x * x + y * y), abs(z)) / dth), n_theta - 1)
        iph = min(int(np.arctan2(abs(y), abs(x)) / dph), n_phi - 1)
        intr[(ir * n_theta + ith) * n_phi + iph] += 8.0 * weight
        for m in range(8):
            sx, sy, sz = SIGNS[m, 0], SIGNS[m, 1], SIGNS[m, 2]
            if otype == 1:
                t = sy * sz
            elif otype == 2:
                t = sx * sz
            elif otype == 3:
                t = sx * sy
            else:
                t = 1.0
            px, py, pz = sx * x, sy * y, sz * z
            qx, qy, qz = t * sx * vx, t * sy * vy, t * sz * vz
            xs = proj[0, 0] * px + proj[0, 1] * py + proj[0, 2] * pz
            ys = proj[1, 0] * px + proj[1, 1] * py + proj[1, 2] * pz
            vlos = proj[2, 0] * qx + proj[2, 1] * qy + proj[2, 2] * qz
            # PSF offset: the component by its weight, then a normal pair
            c = 0
            if psf_sig.shape[0] > 1:
                u = _splitmix(state)
                while c < psf_sig.shape[0] - 1 and u > psf_cw[c]:
                    c += 1
            s = psf_sig[c]
            if s > 1.0:  # polar Box-Muller pair
                while True:
                    g1 = 2.0 * _splitmix(state) - 1.0
                    g2 = 2.0 * _splitmix(state) - 1.0
                    rr = g1 * g1 + g2 * g2
                    if 0.0 < rr < 1.0:
                        break
                fac = s * np.sqrt(-2.0 * np.log(rr) / rr)
                xs += fac * g1
                ys += fac * g2
            xa = xs * ca - ys * sa - x0
            ya = xs * sa + ys * ca - y0
            if not (0.0 < xa < lx and 0.0 < ya < ly):
                continue
            ix = min(int(xa * nx / lx), nx - 1)
            iy = min(int(ya * ny / ly), ny - 1)
            b = bins[ix + iy * nx]
            if b <= 0:
                continue
            iv = int(np.floor((vlos + half) / dv))
            if iv < 0:
                iv = 0
            elif iv > n_vel - 1:
                iv = n_vel - 1
            losvd[iv, b - 1] += weight


def vel_centres(width: float = 1394.4968, n_vel: int = 267) -> np.ndarray:
    """Velocity-bin centres in DYNAMITE's float recipe (METHOD.md §1.1)."""
    dv = width / n_vel
    e = np.arange(n_vel + 1) * dv
    e -= 0.5 * (e[n_vel // 2] + e[n_vel // 2 + 1])
    return 0.5 * (e[:-1] + e[1:])


# ---------------------------------------------------------------- MGE targets


def intrinsic_target(model: MassModel, r_edges: np.ndarray, n_theta: int = 6, n_phi: int = 6,
                     n_quad: int = 16) -> np.ndarray:
    """Fraction of the (luminous) MGE mass in each (r, theta, phi) cell of the positive octant,
    times 8, flattened with phi fastest (DYNAMITE's ``mass_qgrid``)."""
    u, w = np.polynomial.legendre.leggauss(n_quad)
    th_e = np.linspace(0, np.pi / 2, n_theta + 1)
    ph_e = np.linspace(0, np.pi / 2, n_phi + 1)

    def nodes(edges):
        lo, hi = edges[:-1, None], edges[1:, None]
        return (0.5 * (hi - lo) * (u + 1) + lo), 0.5 * (hi - lo) * w

    th, wth = nodes(th_e)  # (n_theta, q)
    ph, wph = nodes(ph_e)
    st, ct = np.sin(th)[:, :, None, None], np.cos(th)[:, :, None, None]
    sp, cp = np.sin(ph)[None, None], np.cos(ph)[None, None]
    out = np.zeros((len(r_edges) - 1, n_theta, n_phi))
    for j in range(len(model.sigma)):
        g = (st * cp) ** 2 + (st * sp / model.p[j]) ** 2 + (ct / model.q[j]) ** 2
        a = g / (2 * model.sigma[j] ** 2)  # (n_theta, q, n_phi, q)

        def radial(r, a=a):
            if np.isinf(r):
                return np.sqrt(np.pi) / (4 * a**1.5)
            return (np.sqrt(np.pi) / (4 * a**1.5) * erf(np.sqrt(a) * r)
                    - r * np.exp(-a * r * r) / (2 * a))

        prev = radial(r_edges[0])
        for i in range(len(r_edges) - 1):
            nxt = radial(r_edges[i + 1] if i < len(r_edges) - 2 else np.inf)
            dens = model.rho0[j] * (nxt - prev) * st * wth[:, :, None, None] * wph[None, None]
            out[i] += dens.sum(axis=(1, 3))
            prev = nxt
    return (8.0 * out / model.mstar).ravel()


def aperture_target(model: MassModel, inputs: EngineInputs, n_quad: int = 6) -> np.ndarray:
    """PSF-convolved fraction of the MGE light in each Voronoi bin (DYNAMITE's ``mass_aper``),
    from the projection of the deprojected Gaussians."""
    f = model.arcsec_km
    proj = projection(model.theta, model.phi)[:2]
    alpha = -np.radians(inputs.aperture_angle_deg) + np.pi / 2 - model.psi
    rot = np.array([[np.cos(alpha), -np.sin(alpha)], [np.sin(alpha), np.cos(alpha)]])
    nx, ny = inputs.aperture_shape
    lx, ly = inputs.aperture_size
    x0, y0 = inputs.aperture_origin
    u, w = np.polynomial.legendre.leggauss(n_quad)
    px, py = lx / nx, ly / ny
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))  # (ny, nx): x fastest
    qx = x0 + (ix.ravel()[:, None, None] + 0.5 * (u[None, :, None] + 1)) * px
    qy = y0 + (iy.ravel()[:, None, None] + 0.5 * (u[None, None, :] + 1)) * py
    wq = 0.25 * px * py * w[:, None] * w[None, :]
    light = np.zeros(nx * ny)
    for j in range(len(model.sigma)):
        cov3 = np.diag((model.sigma[j] / f) ** 2 * np.array([1.0, model.p[j] ** 2,
                                                              model.q[j] ** 2]))
        base = rot @ proj @ cov3 @ proj.T @ rot.T
        for sig, wt in zip(inputs.psf_sigma, inputs.psf_weight / inputs.psf_weight.sum(),
                           strict=True):
            cov = base + sig**2 * np.eye(2)
            inv = np.linalg.inv(cov)
            dens = np.exp(-0.5 * (inv[0, 0] * qx**2 + 2 * inv[0, 1] * qx * qy
                                  + inv[1, 1] * qy**2)) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
            light += wt * model.mass[j] * (dens * wq).sum(axis=(1, 2))
    light /= model.mstar
    out = np.zeros(inputs.n_bins)
    sel = inputs.bins > 0
    np.add.at(out, inputs.bins[sel] - 1, light[sel])
    return out
