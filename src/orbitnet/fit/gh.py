"""Per-orbit Gauss-Hermite projection of an orbit library (METHOD §3.2)."""

from __future__ import annotations

import numpy as np

from orbitnet.orblib.library import LibraryError, OrbitLibrary

__all__ = ["gh_basis", "gh_per_orbit", "hermite_normalised", "losvd_by_bin"]

_SQRT2 = np.sqrt(2.0)


def hermite_normalised(w: np.ndarray, l_max: int = 4) -> np.ndarray:
    """Normalised Hermite polynomials ``H_0..H_lmax`` (Cappellari 2016, eq. 14).

    ``H_l = P_l / sqrt(2^l l!)`` with the physicists' ``P_l``, from the recurrence
    ``H_{l+1} = (sqrt(2) w H_l - sqrt(l) H_{l-1}) / sqrt(l+1)``.

    Returns
    -------
    ndarray, shape ``w.shape + (l_max + 1,)``
    """
    w = np.asarray(w, dtype=float)
    out = np.empty((*w.shape, l_max + 1))
    out[..., 0] = 1.0
    if l_max >= 1:
        out[..., 1] = _SQRT2 * w
    for el in range(1, l_max):
        out[..., el + 1] = (_SQRT2 * w * out[..., el] - np.sqrt(el) * out[..., el - 1]) / np.sqrt(
            el + 1
        )
    return out


def gh_basis(
    vel: np.ndarray, v_obs: np.ndarray, sigma_obs: np.ndarray, orders: int = 4
) -> np.ndarray:
    """Projection kernel ``2 sqrt(pi) phi(w) H_l(w)`` for l = 1..orders, per spatial bin.

    Parameters
    ----------
    vel : (n_vel,) velocity-bin centres at the model's M/L.
    v_obs, sigma_obs : (n_bins,) observed mean velocity and dispersion per bin.

    Returns
    -------
    ndarray, shape (n_bins, n_vel, orders); the first and last (overflow) velocity bins are 0.
    """
    w = (vel[None, :] - v_obs[:, None]) / sigma_obs[:, None]
    phi = np.exp(-0.5 * w * w) / np.sqrt(2.0 * np.pi)
    basis = (2.0 * np.sqrt(np.pi)) * phi[..., None] * hermite_normalised(w, orders)[..., 1:]
    basis[:, 0, :] = 0.0
    basis[:, -1, :] = 0.0
    return basis


_BY_BIN_CACHE: dict[int, tuple[object, np.ndarray]] = {}


def losvd_by_bin(library: OrbitLibrary) -> np.ndarray:
    """``losvd`` as a C-contiguous (n_bins, n_orbits, n_vel) array, cached per library."""
    key = id(library)
    hit = _BY_BIN_CACHE.get(key)
    if hit is not None and hit[0] is library.losvd:
        return hit[1]
    arr = np.ascontiguousarray(library.losvd.transpose(2, 0, 1))
    _BY_BIN_CACHE.clear()  # keep at most one library's copy
    _BY_BIN_CACHE[key] = (library.losvd, arr)
    return arr


def gh_per_orbit(
    library: OrbitLibrary, v_obs: np.ndarray, sigma_obs: np.ndarray, ml: float
) -> np.ndarray:
    """Per-orbit GH coefficients h1..h4 about the observed V, sigma (DYNAMITE normalisation).

    ``h_l(o, a) = 2 sqrt(pi) sum_v y[o, v, a] phi(w_v) H_l(w_v)`` with
    ``w_v = (x_v sqrt(ml / ml_library) - V_a) / S_a`` and the overflow bins set to 0.
    The values are weighted by the orbit's aperture mass (not normalised). Matches
    ``gh_per_orbit_ml2/_ml5/_ml8`` of ``reference.h5``.

    Parameters
    ----------
    library : orbit library (velocities at ``library.ml_library``).
    v_obs, sigma_obs : (n_bins,) observed V and sigma in km/s.
    ml : mass-to-light ratio of the model (> 0).

    Returns
    -------
    ndarray, shape (n_orbits, n_bins, 4)
    """
    v_obs = np.asarray(v_obs, dtype=float)
    sigma_obs = np.asarray(sigma_obs, dtype=float)
    nb = library.n_bins
    for name, arr in (("v_obs", v_obs), ("sigma_obs", sigma_obs)):
        if arr.shape != (nb,):
            raise LibraryError(
                f"library has {nb} bins but {name} has shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise LibraryError(f"{name} contains non-finite values")
    if np.any(sigma_obs <= 0):
        raise LibraryError("sigma_obs must be positive in every bin")
    vel = library.vel_centres_at(ml)
    basis = gh_basis(vel, v_obs, sigma_obs)  # (nb, nvel, 4)
    gh = np.matmul(losvd_by_bin(library), basis)  # (nb, norb, 4)
    return np.ascontiguousarray(gh.transpose(1, 0, 2))


GH_NAMES = ("h1", "h2", "h3", "h4")

