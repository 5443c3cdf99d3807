"""The mass model in DYNAMITE's conventions: deprojected MGE stars, Plummer BH, NFW halo.

Units are km, s, Msun (ENGINE.md §1-2). The potential is positive: E = Phi - v^2/2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitnet.orblib.engine.inputs import EngineInputs

G = 6.67428e-11 * 1.98892e30 / 1e9  # km^3 s^-2 Msun^-1
PC_KM = 1.4959787068e8 * 648000.0 / np.pi  # km
ARCSEC_RAD = np.pi / 648000.0
H0_PER_S = 7.3e-5 / PC_KM  # H0 = 73 km/s/Mpc in 1/s
RHO_CRIT = 3.0 * H0_PER_S**2 / (8.0 * np.pi * G)  # Msun/km^3


def arcsec_km(distance_mpc: float) -> float:
    """Kilometres per arcsec at ``distance_mpc``."""
    return distance_mpc * 1e6 * np.tan(ARCSEC_RAD) * PC_KM


def viewing_angles(p: float, q: float, u: float, qmin: float) -> tuple[float, float, float]:
    """DYNAMITE's viewing angles (theta, phi, psi) in degrees from (p, q, u) and min q'."""
    if u == 1.0:
        u = 1.0 - np.finfo(float).eps
    p2, q2, u2, Q2 = p * p, q * q, u * u, qmin * qmin
    w1 = (u2 - q2) * (Q2 * u2 - q2) / ((1 - q2) * (p2 - q2))
    w2 = (u2 - p2) * (p2 - Q2 * u2) * (1 - q2) / ((1 - u2) * (1 - Q2 * u2) * (p2 - q2))
    w3 = (1 - Q2 * u2) * (p2 - Q2 * u2) * (u2 - q2) / ((1 - u2) * (u2 - p2) * (Q2 * u2 - q2))
    theta = np.degrees(np.arccos(np.sqrt(w1)))
    phi = np.degrees(np.arctan(np.sqrt(w2)))
    psi = 180.0 - np.degrees(np.arctan(np.sqrt(w3)))
    return float(theta), float(phi), float(psi)


def deproject(qobs: np.ndarray, theta: float, phi: float, psi: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intrinsic (p_j, q_j) and sigma'_j/sigma_j of each Gaussian; angles in radians."""
    delta = 1.0 - qobs**2
    s2p, c2p = np.sin(2 * psi), np.cos(2 * psi)
    sec, cot = 1.0 / np.cos(theta), 1.0 / np.tan(phi)
    n1 = delta * (2 * c2p + s2p * (sec * cot - np.cos(theta) * np.tan(phi)))
    n2 = delta * (2 * c2p + s2p * (np.cos(theta) * cot - sec * np.tan(phi)))
    d = 2 * np.sin(theta) ** 2 * (delta * np.cos(psi) * (np.cos(psi) + sec * cot * np.sin(psi))
                                   - 1.0)
    q2 = 1.0 - n1 / d
    p2 = q2 + n2 / d
    if np.any(q2 <= 0) or np.any(p2 <= 0):
        raise ValueError("MGE cannot be deprojected at these viewing angles")
    pj, qj = np.sqrt(p2), np.sqrt(q2)
    tj = (1 - p2) / np.where(1 - q2 > 0, 1 - q2, 1.0)
    if np.any(tj < 0) or np.any(tj > 1) or np.any(qj > pj + 1e-12) or np.any(pj > 1 + 1e-12):
        raise ValueError(f"deprojection gives invalid shapes: p={pj}, q={qj}")
    root = np.sqrt((pj * np.cos(theta)) ** 2
                   + (qj * np.sin(theta)) ** 2 * ((pj * np.cos(phi)) ** 2 + np.sin(phi) ** 2))
    ratio = np.sqrt(root / qobs)  # sigma'_j / sigma_j
    return pj, qj, ratio


def nfw_parameters(mstar: float, c: float, f: float) -> tuple[float, float]:
    """NFW (rho_s [Msun/km^3], r_s [km]) with M200 = f*M* and concentration c."""
    rho_s = 200.0 / 3.0 * RHO_CRIT * c**3 / (np.log(1 + c) - c / (1 + c))
    r_s = (3.0 * f * mstar / (800.0 * np.pi * RHO_CRIT * c**3)) ** (1.0 / 3.0)
    return float(rho_s), float(r_s)


@dataclass(frozen=True)
class MassModel:
    """Every number the potential and the observables need (km, Msun, radians)."""

    ml: float
    distance_mpc: float
    arcsec_km: float
    theta: float  # viewing angles [rad]
    phi: float
    psi: float
    sigma_obs: np.ndarray  # projected sigma'_j [km]
    q_obs: np.ndarray  # projected q'_j
    psi_off: np.ndarray  # [rad]
    surf: np.ndarray  # Sigma_j [Msun/km^2] at ml
    sigma: np.ndarray  # intrinsic sigma_j [km]
    p: np.ndarray  # intrinsic b/a
    q: np.ndarray  # intrinsic c/a
    rho0: np.ndarray  # central density [Msun/km^3]
    mass: np.ndarray  # M_j [Msun]
    bh_mass: float
    bh_soft: float  # [km]
    nfw_rho_s: float  # [Msun/km^3]
    nfw_r_s: float  # [km]

    @property
    def mstar(self) -> float:
        return float(self.mass.sum())

    @property
    def v0(self) -> np.ndarray:
        """Potential normalisation V0_j = 4 pi G sigma_j^2 p_j q_j rho0_j."""
        return 4 * np.pi * G * self.sigma**2 * self.p * self.q * self.rho0

    @property
    def viewing_angles_deg(self) -> tuple[float, float, float]:
        return tuple(float(np.degrees(a)) for a in (self.theta, self.phi, self.psi))


def mass_model(inputs: EngineInputs, ml: float = 5.0, p: float = 0.99, q: float = 0.54,
               u: float = 0.9999, distance_mpc: float = 39.96, bh_mass: float = 1e5,
               bh_soft_arcsec: float = 0.001, nfw_c: float = 8.0, nfw_f: float = 10.0,
               angle_decimals: int | None = 9) -> MassModel:
    """Build the mass model; angles are rounded to ``angle_decimals`` deg as DYNAMITE writes them."""
    f = arcsec_km(distance_mpc)
    angles = viewing_angles(p, q, u, float(inputs.mge_q.min()))
    if angle_decimals is not None:
        angles = tuple(round(a, angle_decimals) for a in angles)
    theta, phi, psi = np.radians(angles)
    psi_j = psi + np.radians(inputs.mge_pa_twist)
    pj, qj, ratio = deproject(inputs.mge_q, theta, phi, psi_j)
    sig_obs = inputs.mge_sigma * f
    surf = ml * inputs.mge_surf / PC_KM**2
    sig = sig_obs / ratio
    rho0 = surf * inputs.mge_q * sig_obs**2 / (np.sqrt(2 * np.pi) * pj * qj * sig**3)
    mass = 2 * np.pi * surf * inputs.mge_q * sig_obs**2
    rho_s, r_s = nfw_parameters(float(mass.sum()), nfw_c, nfw_f)
    return MassModel(
        ml=float(ml), distance_mpc=float(distance_mpc), arcsec_km=float(f),
        theta=float(theta), phi=float(phi), psi=float(psi),
        sigma_obs=sig_obs, q_obs=np.asarray(inputs.mge_q, float),
        psi_off=np.radians(inputs.mge_pa_twist), surf=surf, sigma=sig, p=pj, q=qj,
        rho0=rho0, mass=mass, bh_mass=float(bh_mass), bh_soft=float(bh_soft_arcsec * f),
        nfw_rho_s=rho_s, nfw_r_s=r_s,
    )
