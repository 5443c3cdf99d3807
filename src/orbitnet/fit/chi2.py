"""Best-fit M/L and Δχ² confidence intervals of a χ²(M/L) curve (METHOD §5).

Δχ² = χ² − min χ² over the grid; the 1σ and 2σ levels are ``sqrt(2 N_kin)`` and
``2 sqrt(2 N_kin)`` (Zhu et al. 2018), with ``N_kin = n_bins × 4``. An interval is the
contiguous run of grid points around the grid minimum with Δχ² below the level; each end is
interpolated linearly between the last point inside and the first point outside. Where the
curve does not cross the level before the grid ends, that end is ``nan`` (the interval is
open there: it extends at least to the grid end). Curves need not be smooth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Fit", "best_fit", "delta_chi2", "inside", "interval", "sigma_levels", "summarise"]


def _check(ml: np.ndarray, chi2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ml = np.asarray(ml, dtype=float)
    chi2 = np.asarray(chi2, dtype=float)
    if ml.ndim != 1 or ml.shape != chi2.shape:
        raise ValueError(f"ml and chi2 must be 1-d of equal length, got {ml.shape}, {chi2.shape}")
    if ml.size == 0:
        raise ValueError("ml is empty")
    if not (np.all(np.isfinite(ml)) and np.all(np.isfinite(chi2))):
        raise ValueError("ml and chi2 must be finite")
    if np.any(np.diff(ml) <= 0):
        raise ValueError("ml must be strictly increasing")
    return ml, chi2


def sigma_levels(n_kin: int) -> tuple[float, float]:
    """Δχ² levels ``(sqrt(2 N), 2 sqrt(2 N))``; for N = 608: (34.87, 69.74)."""
    if n_kin <= 0:
        raise ValueError(f"n_kin must be positive, got {n_kin}")
    s = float(np.sqrt(2.0 * n_kin))
    return s, 2.0 * s


def delta_chi2(chi2: np.ndarray) -> np.ndarray:
    """``chi2 - min(chi2)``."""
    chi2 = np.asarray(chi2, dtype=float)
    return chi2 - np.min(chi2)


def interval(ml: np.ndarray, chi2: np.ndarray, level: float) -> tuple[float, float]:
    """Range ``(lo, hi)`` of M/L around the grid minimum where Δχ² < ``level``.

    Ends are linearly interpolated between the grid points either side of the crossing;
    an end where the curve stays below ``level`` up to the grid end is ``nan``.
    """
    ml, chi2 = _check(ml, chi2)
    if not level > 0:
        raise ValueError(f"level must be positive, got {level}")
    d = delta_chi2(chi2)
    i0 = int(np.argmin(d))

    def end(step: int) -> float:
        i = i0
        while 0 <= i + step < d.size and d[i + step] < level:
            i += step
        j = i + step
        if not 0 <= j < d.size:
            return float("nan")
        t = (level - d[i]) / (d[j] - d[i])
        return float(ml[i] + t * (ml[j] - ml[i]))

    return end(-1), end(+1)


def best_fit(ml: np.ndarray, chi2: np.ndarray) -> tuple[float, float]:
    """Grid minimum and the vertex of the parabola through it and its two neighbours.

    The refined value equals the grid value when the minimum is at a grid end or the three
    points are not convex.
    """
    ml, chi2 = _check(ml, chi2)
    i = int(np.argmin(chi2))
    best = float(ml[i])
    if i == 0 or i == ml.size - 1:
        return best, best
    x0, x1, x2 = ml[i - 1:i + 2]
    y0, y1, y2 = chi2[i - 1:i + 2]
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    # den < 0 <=> the parabola opens upwards (y1 below the chord)
    if not den < 0:
        return best, best
    return best, float(x1 - 0.5 * num / den)


def inside(band: tuple[float, float], value: float) -> bool:
    """Whether ``value`` lies in ``band = (lo, hi)``; a ``nan`` end counts as unbounded."""
    lo, hi = band
    return bool((np.isnan(lo) or value >= lo) and (np.isnan(hi) or value <= hi))


@dataclass
class Fit:
    """Summary of a χ²(M/L) curve.

    Attributes
    ----------
    ml_best : grid M/L of minimum χ².
    ml_best_refined : parabola vertex through the minimum and its neighbours.
    ml_1sigma, ml_2sigma : ``(lo, hi)`` intervals (``nan`` = open at the grid end).
    chi2_min : minimum χ² on the grid.
    n_kin : number of kinematic constraints; ``levels`` the 1σ, 2σ Δχ² levels.
    """

    ml_best: float
    ml_best_refined: float
    ml_1sigma: tuple[float, float]
    ml_2sigma: tuple[float, float]
    chi2_min: float
    n_kin: int
    levels: tuple[float, float]

    def to_dict(self) -> dict:
        """Plain dict (lists for the intervals), for JSON."""
        out = asdict(self)
        for k in ("ml_1sigma", "ml_2sigma", "levels"):
            out[k] = list(out[k])
        return out


def summarise(ml: np.ndarray, chi2: np.ndarray, n_kin: int) -> Fit:
    """Best fit and 1σ / 2σ intervals of the curve ``chi2(ml)`` with ``N_kin = n_kin``."""
    ml, chi2 = _check(ml, chi2)
    l1, l2 = sigma_levels(n_kin)
    best, refined = best_fit(ml, chi2)
    return Fit(
        ml_best=best,
        ml_best_refined=refined,
        ml_1sigma=interval(ml, chi2, l1),
        ml_2sigma=interval(ml, chi2, l2),
        chi2_min=float(np.min(chi2)),
        n_kin=int(n_kin),
        levels=(l1, l2),
    )
