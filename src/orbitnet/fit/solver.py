"""Orbit weights by NNLS, as DYNAMITE's ``NNLS`` weight solver (METHOD §3.3-3.4).

:class:`WeightProblem` holds the rows that do not depend on M/L (total mass, intrinsic and
aperture masses); :meth:`WeightProblem.solve` adds the 4 GH rows per bin of any per-orbit GH
array (from :func:`orbitnet.fit.gh.gh_per_orbit` or from a network) and solves
``min ||A w - b||^2, w >= 0`` with ``scipy.optimize.nnls`` (Lawson-Hanson).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import qr, solve_triangular
from scipy.optimize import nnls

from orbitnet.orblib.library import OrbitLibrary

__all__ = ["N_GH", "WeightProblem", "WeightResult", "kin_column", "nnls_warm",
           "observed_targets"]

N_GH = 4


def kin_column(kin: Any, name: str) -> np.ndarray:
    """Column ``name`` of kinematics given as an object with attributes or a mapping
    (dict, h5py group, table)."""
    if hasattr(kin, name):
        col = getattr(kin, name)
    else:
        try:
            col = kin[name]
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"kinematics lack the column {name!r}") from exc
    return np.asarray(col, dtype=float)


def observed_targets(
    kin: Any, sys_err: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Observed GH targets h1..h4 and their errors per bin (DYNAMITE's convention).

    Parameters
    ----------
    kin : object with (n_bins,) attributes or items ``v, dv, sigma, dsigma, h3, dh3, h4, dh4``
        (bins in order 1..n; e.g. the ``kinematics`` group of ``reference.h5`` or a table).
    sys_err : systematic errors added in quadrature to h1..h4 (default 0, as ``GH_sys_err``).

    Returns
    -------
    targets, errors : (n_bins, 4)
        ``targets = (0, 0, h3, h4)``; ``errors = sqrt(e^2 + sys^2)`` with
        ``e = (dv/sqrt(2)/sigma, dsigma/sqrt(2)/sigma, dh3, dh4)``.
        Match ``obs_targets`` and ``obs_errors`` of ``reference.h5``.
    """
    names = ("v", "dv", "sigma", "dsigma", "h3", "dh3", "h4", "dh4")
    cols = {name: kin_column(kin, name) for name in names}
    n = cols["v"].shape
    for name, arr in cols.items():
        if arr.ndim != 1 or arr.shape != n:
            raise ValueError(f"kinematics column {name!r} has shape {arr.shape}, expected {n}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"kinematics column {name!r} contains non-finite values")
    if np.any(cols["sigma"] <= 0):
        raise ValueError("kinematics column 'sigma' must be positive")
    sys = np.zeros(N_GH) if sys_err is None else np.asarray(sys_err, dtype=float)[:N_GH]
    if sys.shape != (N_GH,):
        raise ValueError(f"sys_err needs {N_GH} values, got {sys.shape}")
    targets = np.zeros((n[0], N_GH))
    targets[:, 2] = cols["h3"]
    targets[:, 3] = cols["h4"]
    errors = np.column_stack([
        cols["dv"] / np.sqrt(2) / cols["sigma"],
        cols["dsigma"] / np.sqrt(2) / cols["sigma"],
        cols["dh3"],
        cols["dh4"],
    ])
    errors = np.sqrt(errors**2 + sys**2)
    return targets, errors


@dataclass
class WeightResult:
    """Solution of one NNLS problem.

    Attributes
    ----------
    weights : (n_orbits,) orbit weights (fractions of the total mass).
    chi2 : sum of squared scaled residuals over all rows.
    kinchi2 : the same over the 4 * n_bins GH rows only.
    """

    weights: np.ndarray
    chi2: float
    kinchi2: float
    passive: np.ndarray | None = None  # sorted indices of the positive weights (warm start)

    @property
    def n_nonzero(self) -> int:
        return int(np.count_nonzero(self.weights > 0))


class WeightProblem:
    """The NNLS system of a library and observed kinematics, for any per-orbit GH array.

    Rows (DYNAMITE python ``NNLS.construct_nnls_matrix_and_rhs``): 0 total mass;
    1..n_cells intrinsic masses (error ``lum_intr_rel_err * |target|``); then n_bins aperture
    masses (error ``sb_proj_rel_err * |P_a|``); then ``4 a + (l - 1)`` for h_l of bin a
    (target ``obs * P_a``, error ``obs_err * P_a``). Every row is divided by its error.

    Reproduces ``A_ml5``, ``b_ml5``, ``con_ml5``, ``err_ml5``, ``weights_ml5_pyscipy`` (and
    ``weights_ml5`` of the Fortran solver) and the ``chi2_pyscipy`` / ``kinchi2_pyscipy`` and
    ``chi2_legacy_full`` / ``kinchi2_legacy_full`` columns of ``chi2_check`` in reference.h5.

    Parameters
    ----------
    library : the orbit library (masses and targets).
    targets, errors : (n_bins, 4) from :func:`observed_targets`.
    lum_intr_rel_err, sb_proj_rel_err : relative errors of the intrinsic and aperture masses.
    """

    def __init__(
        self,
        library: OrbitLibrary,
        targets: np.ndarray,
        errors: np.ndarray,
        lum_intr_rel_err: float = 0.01,
        sb_proj_rel_err: float = 0.02,
    ) -> None:
        targets = np.asarray(targets, dtype=float)
        errors = np.asarray(errors, dtype=float)
        nb = library.n_bins
        for name, arr in (("targets", targets), ("errors", errors)):
            if arr.ndim != 2 or arr.shape[1] != N_GH:
                raise ValueError(f"{name} must have shape (n_bins, {N_GH}), got {arr.shape}")
            if arr.shape[0] != nb:
                raise ValueError(f"library has {nb} bins but kinematics have {arr.shape[0]}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contain non-finite values")
        if np.any(errors <= 0):
            raise ValueError("kinematic errors must be positive")
        if not (lum_intr_rel_err > 0 and sb_proj_rel_err > 0):
            raise ValueError("lum_intr_rel_err and sb_proj_rel_err must be positive")
        ap_target = library.aperture_mass_target
        if np.any(ap_target <= 0):
            raise ValueError("every aperture_mass_target must be positive (it scales the errors)")

        self.n_orbits, self.n_bins = library.n_orbits, nb
        intr_t = library.intrinsic_mass_target
        total = float(np.sum(intr_t))
        total_err = min(lum_intr_rel_err / 10, abs(1.0 - total))
        if total_err <= 0:
            total_err = 0.01 * total
        intr_err = lum_intr_rel_err * np.abs(intr_t)
        intr_err[intr_err <= 0] = 1e-16
        ap_err = sb_proj_rel_err * np.abs(ap_target)

        n_fixed = 1 + intr_t.size + nb
        self.n_fixed = n_fixed
        self.n_rows = n_fixed + N_GH * nb
        self.con = np.concatenate([[total], intr_t, ap_target,
                                   (targets * ap_target[:, None]).ravel()])
        self.err = np.concatenate([[total_err], intr_err, ap_err,
                                   (errors * ap_target[:, None]).ravel()])
        self.b = self.con / self.err
        fixed = np.empty((n_fixed, self.n_orbits))
        fixed[0] = 1.0
        fixed[1:1 + intr_t.size] = library.intrinsic_mass.T
        fixed[1 + intr_t.size:] = library.aperture_mass.T
        self.fixed_rows = fixed / self.err[:n_fixed, None]
        self._gh_err = self.err[n_fixed:, None]

    def check_gh(self, gh: np.ndarray) -> np.ndarray:
        """Return ``gh`` as float64 after checking its shape and finiteness."""
        gh = np.asarray(gh, dtype=float)
        want = (self.n_orbits, self.n_bins, N_GH)
        if gh.shape != want:
            if gh.ndim == 3 and gh.shape[1] != self.n_bins:
                raise ValueError(
                    f"library has {self.n_bins} bins but the GH array has {gh.shape[1]} "
                    f"(shape {gh.shape}, expected {want})")
            raise ValueError(f"GH array has shape {gh.shape}, expected {want}")
        if not np.all(np.isfinite(gh)):
            raise ValueError("GH array contains non-finite values")
        return gh

    def system(self, gh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled matrix ``A`` (n_rows, n_orbits) and right-hand side ``b`` for ``gh``.

        Matches ``A_ml5`` / ``b_ml5`` for ``gh = gh_per_orbit_ml5``.
        """
        gh = self.check_gh(gh)
        a = np.empty((self.n_rows, self.n_orbits))
        a[:self.n_fixed] = self.fixed_rows
        # row n_fixed + 4 a + (l - 1) holds h_l of bin a
        np.divide(gh.reshape(self.n_orbits, -1).T, self._gh_err, out=a[self.n_fixed:])
        return a, self.b

    def solve(self, gh: np.ndarray, warm: bool = False,
              passive: np.ndarray | None = None) -> WeightResult:
        """NNLS weights, chi2 (all rows) and kinchi2 (GH rows) for per-orbit GH ``gh``.

        Parameters
        ----------
        gh : (n_orbits, n_bins, 4) per-orbit h1..h4 (DYNAMITE normalisation).
        warm : use :func:`nnls_warm` (the M/L sweeps): start from the positive set
            ``passive`` of a neighbouring problem (or from scipy's solution when None) and
            compute the weights from the final positive set by one QR least-squares solve.
            Default: ``scipy.optimize.nnls`` alone.
        """
        a, b = self.system(gh)
        if warm:
            w, passive = nnls_warm(a, b, passive)
        else:
            w, _ = nnls(a, b)
            passive = np.flatnonzero(w > 0)
        resid = a @ w - b
        r2 = resid * resid
        return WeightResult(
            weights=w,
            chi2=float(np.sum(r2)),
            kinchi2=float(np.sum(r2[self.n_fixed:])),
            passive=passive,
        )


def gh_errors(problem: WeightProblem) -> np.ndarray:
    """(n_bins, 4): the error dividing each GH row of the weight problem (obs_err × P_a)."""
    return problem.err[problem.n_fixed:].reshape(problem.n_bins, -1).copy()


def _ls(a: np.ndarray, b: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Least squares on the columns ``idx`` by Householder QR of ``[a[:, idx] | b]``."""
    r = qr(np.column_stack([a[:, idx], b]), mode="r", overwrite_a=True,
           check_finite=False)[0]
    k = idx.size
    return solve_triangular(r[:k, :k], r[:k, k], check_finite=False)


TOL_FACTOR = 100.0


def nnls_warm(a: np.ndarray, b: np.ndarray, passive: np.ndarray | None = None,
              max_iter: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lawson-Hanson NNLS started from a guess of the positive set; returns (w, positive set).

    Without a guess the positive set of ``scipy.optimize.nnls`` is taken. The guess is made
    feasible (columns whose least-squares weight is not positive are dropped), then
    Lawson-Hanson steps add the column of largest gradient ``a_j^T (b - a w)`` until none
    exceeds its round-off level ``100 eps |a_j| |b - a w|`` (the residual is evaluated in
    extended precision where rows are large). The returned weights are always
    one QR solve on the final positive set, so they depend on that set only, not on the path
    (the solution of a full-rank problem is unique: any start gives the same numbers).
    """
    n = a.shape[1]
    if passive is None:
        passive = np.flatnonzero(nnls(a, b)[0] > 0)
    inset = np.zeros(n, bool)
    inset[np.asarray(passive, int)] = True
    w = np.zeros(n)
    while inset.any():  # a feasible start
        idx = np.flatnonzero(inset)
        z = _ls(a, b, idx)
        if np.all(z > 0):
            w[idx] = z
            break
        inset[idx[z <= 0]] = False
    # Rows far larger than the rest (the total-mass row: its error can be ~1e-16, giving
    # entries ~1e16) cannot give an accurate residual, hence gradient. Their part of the
    # gradient is instead taken from the optimality of the current least-squares solution:
    # with w the solution on the positive set P, a_P^T r = 0, so the big rows' residual r_B
    # solves a_BP^T r_B = -(small rows' gradient on P).
    size = np.maximum(np.abs(b), np.abs(a).max(axis=1))
    big = size > 1e3 * np.median(size)
    a_s, b_s, a_b, b_b = a[~big], b[~big], a[big], b[big]
    col = np.linalg.norm(a_s, axis=0)
    blocked = np.zeros(n, bool)
    for _ in range(max_iter or 3 * n):
        r = b_s - a_s @ w
        g = a_s.T @ r
        if big.any():
            idx = np.flatnonzero(inset)
            r_b = (np.linalg.lstsq(a_b[:, idx].T, -g[idx], rcond=None)[0] if idx.size
                   else b_b)  # w = 0: exact
            g += a_b.T @ r_b
        # round-off of the gradient: TOL_FACTOR eps |a_j| |r| over the ordinary rows
        g -= TOL_FACTOR * np.finfo(float).eps * col * np.linalg.norm(r)
        g[inset | blocked] = -np.inf
        j = int(np.argmax(g))
        if not g[j] > 0:
            return w, np.flatnonzero(inset)
        inset[j] = True
        while True:
            idx = np.flatnonzero(inset)
            z = np.zeros(n)
            z[idx] = _ls(a, b, idx)
            neg = inset & (z <= 0)
            if not neg.any():
                w = z
                break
            if neg[j] and w[j] == 0:  # the new column cannot enter (round-off): skip it
                inset[j] = False
                blocked[j] = True
                break
            cand = np.flatnonzero(neg)
            ratio = w[cand] / (w[cand] - z[cand])
            w = w + ratio.min() * (z - w)
            inset[cand[np.argmin(ratio)]] = False
            inset &= w > 0
            w[~inset] = 0.0
    raise RuntimeError(f"nnls_warm did not converge in {max_iter or 3 * n} iterations")
