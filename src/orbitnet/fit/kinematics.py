"""Model kinematics (V, sigma, h3, h4) per spatial bin from orbit weights (METHOD §6).

Two routes:

* :func:`model_kinematics` builds each bin's model LOSVD ``L_a(v) = sum_o w_o y[o, v, a]`` and
  fits it with :func:`fit_gh`. The default ``method="legacy"`` is what DYNAMITE's legacy
  ``triaxnnls`` writes to ``nn_kinem.out`` (subroutines ``makekinem``, ``gaussfit``,
  ``getgauher``) and reproduces that file to its print precision.
* :func:`first_order_kinematics` needs only per-orbit GH coefficients about the *observed*
  V, sigma (from :func:`orbitnet.fit.gh.gh_per_orbit` or a network), so it also works for
  predicted libraries.

:func:`read_nn_kinem` parses ``nn_kinem.out``; :func:`residual_stats` summarises a comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.optimize import least_squares

from orbitnet.fit.gh import hermite_normalised
from orbitnet.orblib.library import LibraryError, OrbitLibrary

__all__ = [
    "KINEMATIC_NAMES",
    "LegacyKinematics",
    "ModelKinematics",
    "first_order_kinematics",
    "fit_gh",
    "model_kinematics",
    "model_losvd",
    "read_nn_kinem",
    "residual_stats",
]

KINEMATIC_NAMES = ("v", "sigma", "h3", "h4")
_SQRT2 = np.sqrt(2.0)
_TWO_SQRT_PI = 2.0 * np.sqrt(np.pi)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass
class ModelKinematics:
    """V and sigma (km/s), h3 and h4 per spatial bin; NaN where a bin has no light."""

    v: np.ndarray
    sigma: np.ndarray
    h3: np.ndarray
    h4: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in KINEMATIC_NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in KINEMATIC_NAMES}

    def stack(self) -> np.ndarray:
        """``(n_bins, 4)`` array with columns v, sigma, h3, h4."""
        return np.column_stack([getattr(self, name) for name in KINEMATIC_NAMES])


# --------------------------------------------------------------------------------------
# Gauss-Hermite fit of LOSVDs
# --------------------------------------------------------------------------------------

def _basis(vel: np.ndarray, v0: np.ndarray, s0: np.ndarray,
           l_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``w``, ``phi(w)`` (n, n_vel) and ``H_0..H_lmax(w)`` (n, n_vel, l_max+1) per row."""
    w = (vel[None, :] - v0[:, None]) / s0[:, None]
    return w, _INV_SQRT_2PI * np.exp(-0.5 * w * w), hermite_normalised(w, l_max)


def _gh_sums(y: np.ndarray, vel: np.ndarray, v0: np.ndarray, s0: np.ndarray,
             l_max: int) -> np.ndarray:
    """``sum_v y phi(w) H_l(w)`` for l = 0..l_max about (v0, s0), per row: (n, l_max+1)."""
    _, phi, herm = _basis(vel, v0, s0, l_max)
    return np.einsum("nv,nv,nvl->nl", y, phi, herm)


def _legacy_gaussian(y: np.ndarray, vel: np.ndarray, tol: float = 1e-11,
                     max_iter: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """V, sigma with h1 = h2 = 0 (the "best-fitting Gaussian" of DYNAMITE's ``gaussfit``).

    Vectorised Newton iteration from the histogram's mean and dispersion; bins that do not
    converge are handed to ``scipy.optimize.least_squares`` on (h1, h2)/h0. Rows of ``y``
    must have positive sums.
    """
    m0 = y.sum(axis=1)
    mean = (y @ vel) / m0
    disp = np.sqrt(np.maximum((y @ vel**2) / m0 - mean**2, 0.0))
    dv = float(np.abs(vel[1] - vel[0])) if vel.size > 1 else 1.0
    disp = np.maximum(disp, 0.5 * dv)
    s_min = 0.1 * disp  # as DYNAMITE's CHI2H_2D: sigma >= 0.1 sigma_0
    v0, s0 = mean.copy(), disp.copy()
    done = np.zeros(m0.shape, dtype=bool)
    for _ in range(max_iter):
        act = ~done
        if not act.any():
            break
        ya = y[act]
        va, sa = v0[act], s0[act]
        w, phi, herm = _basis(vel, va, sa, 3)
        f1 = np.einsum("nv,nv,nv->n", ya, phi, herm[..., 1])
        f2 = np.einsum("nv,nv,nv->n", ya, phi, herm[..., 2])
        # d/dw [phi H_l] = phi (sqrt(l/2) H_{l-1} - sqrt((l+1)/2) H_{l+1})
        d1 = phi * (np.sqrt(0.5) * herm[..., 0] - herm[..., 2])
        d2 = phi * (herm[..., 1] - np.sqrt(1.5) * herm[..., 3])
        # dw/dV = -1/sigma, dw/dsigma = -w/sigma
        j11 = -np.einsum("nv,nv->n", ya, d1) / sa
        j12 = -np.einsum("nv,nv,nv->n", ya, d1, w) / sa
        j21 = -np.einsum("nv,nv->n", ya, d2) / sa
        j22 = -np.einsum("nv,nv,nv->n", ya, d2, w) / sa
        det = j11 * j22 - j12 * j21
        with np.errstate(divide="ignore", invalid="ignore"):
            step_v = -(j22 * f1 - j12 * f2) / det
            step_s = -(-j21 * f1 + j11 * f2) / det
        bad = ~(np.isfinite(step_v) & np.isfinite(step_s))
        step_v = np.where(bad, 0.0, np.clip(step_v, -sa, sa))
        step_s = np.where(bad, 0.0, np.clip(step_s, -0.5 * sa, sa))
        v0[act] = va + step_v
        s0[act] = np.maximum(sa + step_s, s_min[act])
        conv = (np.abs(step_v) < tol * sa) & (np.abs(step_s) < tol * sa) & ~bad
        idx = np.flatnonzero(act)
        done[idx[conv]] = True
    for i in np.flatnonzero(~done):
        v0[i], s0[i] = _legacy_gaussian_scipy(y[i], vel, mean[i], disp[i], s_min[i])
    return v0, s0


def _legacy_gaussian_scipy(y: np.ndarray, vel: np.ndarray, v_start: float, s_start: float,
                           s_min: float) -> tuple[float, float]:
    """Fallback for one bin: minimise (h1/h0, h2/h0) with ``least_squares``."""

    def resid(p: np.ndarray) -> np.ndarray:
        sums = _gh_sums(y[None, :], vel, p[:1], p[1:], 2)[0]
        return sums[1:] / sums[0]

    sol = least_squares(resid, [v_start, s_start], bounds=([-np.inf, s_min], [np.inf, np.inf]),
                        xtol=1e-14, ftol=1e-14, gtol=1e-14)
    return float(sol.x[0]), float(sol.x[1])


def _full_fit(y: np.ndarray, vel: np.ndarray, total: np.ndarray,
              start: np.ndarray) -> np.ndarray:
    """Least-squares fit of gamma phi(w)/sigma [1 + h3 H3 + h4 H4] to y/(total dv), per row."""
    dv = float(np.abs(vel[1] - vel[0]))
    out = np.empty((y.shape[0], 4))
    for i in range(y.shape[0]):
        dens = y[i] / (total[i] * dv)

        def resid(p: np.ndarray, dens: np.ndarray = dens) -> np.ndarray:
            w = (vel - p[1]) / p[2]
            herm = hermite_normalised(w, 4)
            series = 1.0 + p[3] * herm[:, 3] + p[4] * herm[:, 4]
            return p[0] * _INV_SQRT_2PI * np.exp(-0.5 * w * w) / p[2] * series - dens

        x0 = [1.0, *start[i]]
        sol = least_squares(resid, x0, bounds=([0, -np.inf, 1e-3 * dv, -np.inf, -np.inf],
                                               np.inf), x_scale="jac",
                            xtol=1e-12, ftol=1e-12, gtol=1e-12)
        out[i] = sol.x[1:]
    return out


def fit_gh(
    vel: np.ndarray,
    losvd: np.ndarray,
    method: Literal["legacy", "full"] = "legacy",
    overflow: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gauss-Hermite V, sigma, h3, h4 of one or many LOSVD histograms.

    ``method="legacy"`` (DYNAMITE's ``nn_kinem.out``): V and sigma are those of the
    best-fitting Gaussian, i.e. the root of h1 = h2 = 0 (``gaussfit`` minimises
    sqrt(h1^2 + h2^2) with h_l normalised so that h0 = 1; this is the least-squares Gaussian
    fit in the continuum limit, van der Marel & Franx 1993). Then
    ``h_l = 2 sqrt(pi) sum_v y_v phi(w_v) H_l(w_v) / sum_v y_v`` about that Gaussian
    (``getgauher`` with gamma = 1 on the histogram normalised to unit light). The
    normalisation is the total light, not the Gaussian's amplitude gamma: for an exact
    series ``phi/sigma [1 + h3 H3 + h4 H4]`` it returns ``h_l / (1 + sqrt(6)/4 h4)``.

    ``method="full"``: simultaneous least-squares fit of
    ``gamma phi(w)/sigma [1 + h3 H3 + h4 H4]`` (gamma free) to the normalised histogram,
    started from the legacy solution; it returns the series' own h3, h4.

    Parameters
    ----------
    vel : (n_vel,) velocity-bin centres (uniform grid), km/s.
    losvd : (..., n_vel) histograms (light per velocity bin; any overall scale).
    method : "legacy" (default) or "full".
    overflow : the first and last velocity bins are overflow bins (all light beyond the
        grid): they are left out of the fit but count in the total light (as DYNAMITE).

    Returns
    -------
    v, sigma, h3, h4 : arrays of shape ``losvd.shape[:-1]``; NaN where a histogram has no
        light inside the grid.
    """
    vel = np.asarray(vel, dtype=float)
    y_all = np.asarray(losvd, dtype=float)
    if vel.ndim != 1 or vel.size < 3:
        raise ValueError(f"vel must be 1-d with at least 3 bins, got shape {vel.shape}")
    if y_all.shape[-1:] != vel.shape:
        raise ValueError(f"losvd's last axis ({y_all.shape}) must match vel ({vel.shape})")
    if not np.all(np.isfinite(y_all)):
        raise ValueError("losvd contains non-finite values")
    if method not in ("legacy", "full"):
        raise ValueError(f"unknown method {method!r} (use 'legacy' or 'full')")
    shape = y_all.shape[:-1]
    y_all = y_all.reshape(-1, vel.size)
    total = y_all.sum(axis=1)
    y = y_all.copy()
    if overflow:
        y[:, 0] = 0.0
        y[:, -1] = 0.0
    ok = (y.sum(axis=1) > 0) & (total > 0)
    out = np.full((y.shape[0], 4), np.nan)
    if ok.any():
        yo, to = y[ok], total[ok]
        v0, s0 = _legacy_gaussian(yo, vel)
        sums = _gh_sums(yo, vel, v0, s0, 4)
        h = _TWO_SQRT_PI * sums[:, 3:5] / to[:, None]
        res = np.column_stack([v0, s0, h])
        if method == "full":
            res = _full_fit(yo, vel, to, res)
        out[ok] = res
    out = out.reshape(*shape, 4)
    return out[..., 0], out[..., 1], out[..., 2], out[..., 3]


# --------------------------------------------------------------------------------------
# Kinematics of a weighted orbit model
# --------------------------------------------------------------------------------------

def model_losvd(library: OrbitLibrary, weights: np.ndarray) -> np.ndarray:
    """Model LOSVD per bin, ``L[a, v] = sum_o w_o y[o, v, a]`` (n_bins, n_vel), overflow kept."""
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (library.n_orbits,):
        raise LibraryError(
            f"library has {library.n_orbits} orbits but weights have shape {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise LibraryError("weights contain non-finite values")
    return np.tensordot(weights, library.losvd, axes=(0, 0)).T


def model_kinematics(
    library: OrbitLibrary,
    weights: np.ndarray,
    ml: float,
    method: Literal["legacy", "full"] = "legacy",
) -> ModelKinematics:
    """V, sigma, h3, h4 per bin of the orbit model with weights ``weights`` at M/L ``ml``.

    Fits :func:`fit_gh` to ``L_a(v) = sum_o w_o y[o, v, a]`` on the velocity axis at ``ml``.
    With ``method="legacy"`` this is DYNAMITE's ``nn_kinem.out`` (model columns), which it
    matches to the file's 6 significant digits for ``weights_ml5`` at ml = 5.
    """
    vel = library.vel_centres_at(ml)
    v, sigma, h3, h4 = fit_gh(vel, model_losvd(library, weights), method=method)
    return ModelKinematics(v=v, sigma=sigma, h3=h3, h4=h4)


def first_order_kinematics(
    gh_per_orbit: np.ndarray,
    weights: np.ndarray,
    obs_v: np.ndarray,
    obs_sigma: np.ndarray,
    aperture_mass_target: np.ndarray,
) -> ModelKinematics:
    """Model V, sigma, h3, h4 to first order from per-orbit GH coefficients.

    ``H_l,a = sum_o w_o h_l(o, a) / P_a`` are the model's GH coefficients about the observed
    Gaussian (V_a, S_a) (the fitted rows of the NNLS system), and

        V = V_a + sqrt(2) S_a H_1,   sigma = S_a (1 + sqrt(2) H_2),   h3 = H_3,   h4 = H_4.

    Derivation (``orbitnet.fit.gh`` conventions: ``h_l = 2 sqrt(pi) int l(v) phi(w) H_l(w) dv``
    for a light density l(v), ``int phi^2 H_l H_m dw = delta_lm / (2 sqrt(pi))``,
    ``H_1 = sqrt(2) w``, ``H_2 = (2 w^2 - 1)/sqrt(2)``): take the model LOSVD to be a
    Gaussian ``gamma phi(w')/sigma`` with ``V = V_a + dV``, ``sigma = S_a + dS``. To first
    order in dV/S_a and dS/S_a it is
    ``gamma phi(w)/S_a [1 + (dV/S_a) w + (dS/S_a)(w^2 - 1)]`` with ``w = (v - V_a)/S_a``, and
    ``w = H_1/sqrt(2)``, ``w^2 - 1 = H_2/sqrt(2) - 1/2``, so projecting gives
    ``H_1 = gamma dV/(sqrt(2) S_a)``, ``H_2 = gamma dS/(sqrt(2) S_a)``. With gamma = 1 (the
    model's light in the bin equals P_a) this inverts to the relations above; h3, h4 differ
    from the coefficients about the model's own Gaussian only at second order (products of
    H_1, H_2 with h_l). Normalising by P_a (light) matches the ``legacy`` convention of
    :func:`fit_gh`. Error grows as H_1, H_2 grow (poor where |H_1|, |H_2| >~ 0.05).

    Parameters
    ----------
    gh_per_orbit : (n_orbits, n_bins, 4) h1..h4 per orbit about the observed V, sigma.
    weights : (n_orbits,) orbit weights.
    obs_v, obs_sigma : (n_bins,) the V, sigma the coefficients were computed about (km/s).
    aperture_mass_target : (n_bins,) P_a.
    """
    gh = np.asarray(gh_per_orbit, dtype=float)
    weights = np.asarray(weights, dtype=float)
    obs_v = np.asarray(obs_v, dtype=float)
    obs_sigma = np.asarray(obs_sigma, dtype=float)
    p = np.asarray(aperture_mass_target, dtype=float)
    if gh.ndim != 3 or gh.shape[2] < 4:
        raise ValueError(f"gh_per_orbit must have shape (n_orbits, n_bins, 4), got {gh.shape}")
    n_orb, n_bins = gh.shape[:2]
    if weights.shape != (n_orb,):
        raise ValueError(f"gh_per_orbit has {n_orb} orbits but weights have {weights.shape}")
    for name, arr in (("obs_v", obs_v), ("obs_sigma", obs_sigma),
                      ("aperture_mass_target", p)):
        if arr.shape != (n_bins,):
            raise ValueError(f"gh_per_orbit has {n_bins} bins but {name} has {arr.shape}")
    if np.any(p <= 0):
        raise ValueError("aperture_mass_target must be positive")
    coeff = np.einsum("o,oal->al", weights, gh[..., :4]) / p[:, None]
    return ModelKinematics(
        v=obs_v + _SQRT2 * obs_sigma * coeff[:, 0],
        sigma=obs_sigma * (1.0 + _SQRT2 * coeff[:, 1]),
        h3=coeff[:, 2],
        h4=coeff[:, 3],
    )


# --------------------------------------------------------------------------------------
# DYNAMITE's nn_kinem.out and comparisons
# --------------------------------------------------------------------------------------

@dataclass
class LegacyKinematics:
    """Contents of DYNAMITE's legacy ``nn_kinem.out``.

    Attributes
    ----------
    p_obs, p_model : (n_bins,) observed (MGE) and model aperture light.
    model, observed, error : model, observed and error V, sigma, h3, h4 per bin.
    """

    p_obs: np.ndarray
    p_model: np.ndarray
    model: ModelKinematics
    observed: ModelKinematics
    error: ModelKinematics


def read_nn_kinem(path: Path | str) -> LegacyKinematics:
    """Parse ``nn_kinem.out``: line 1 ``nap nGH``; then per bin ``i, P_obs, P_model`` and a
    (model, observed, error) triplet for each GH order (V, sigma, h3, h4, ...)."""
    path = Path(path)
    lines = path.read_text().split("\n")
    head = lines[0].split()
    if len(head) != 2:
        raise ValueError(f"{path}: first line should be 'nap nGH', got {lines[0]!r}")
    nap, ngh = int(head[0]), int(head[1])
    if ngh < 4:
        raise ValueError(f"{path}: needs at least 4 GH orders, has {ngh}")
    fields = [ln.split() for ln in lines[1:1 + nap]]
    if len(fields) != nap or any(len(f) != 3 + 3 * ngh for f in fields):
        raise ValueError(f"{path}: expected {nap} rows of {3 + 3 * ngh} numbers")
    rows = np.array(fields, dtype=float)
    if not np.array_equal(rows[:, 0], np.arange(1, nap + 1)):
        raise ValueError(f"{path}: bin indices are not 1..{nap}")
    trip = rows[:, 3:3 + 12].reshape(nap, 4, 3)

    def kin(j: int) -> ModelKinematics:
        return ModelKinematics(*(trip[:, k, j].copy() for k in range(4)))

    return LegacyKinematics(p_obs=rows[:, 1], p_model=rows[:, 2],
                            model=kin(0), observed=kin(1), error=kin(2))


def residual_stats(a: np.ndarray, b: np.ndarray, err: np.ndarray) -> dict[str, float]:
    """Summary of ``|a - b| / err`` over the finite entries.

    Returns ``median_abs_over_err``, ``p90_abs_over_err`` and ``max_abs_over_err``, plus
    ``median_abs`` and ``max_abs`` of ``|a - b|`` (all NaN if no entry is finite).
    """
    a, b, err = (np.asarray(x, dtype=float) for x in (a, b, err))
    a, b, err = np.broadcast_arrays(a, b, err)
    d = np.abs(a - b)
    ok = np.isfinite(d) & np.isfinite(err) & (err > 0)
    if not ok.any():
        nan = float("nan")
        return dict(median_abs_over_err=nan, p90_abs_over_err=nan, max_abs_over_err=nan,
                    median_abs=nan, max_abs=nan)
    r = d[ok] / err[ok]
    return dict(
        median_abs_over_err=float(np.median(r)),
        p90_abs_over_err=float(np.percentile(r, 90)),
        max_abs_over_err=float(r.max()),
        median_abs=float(np.median(d[ok])),
        max_abs=float(d[ok].max()),
    )
