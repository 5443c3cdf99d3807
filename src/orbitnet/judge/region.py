"""The truth's χ²(log10 f, q, M/L) surface, its confidence region, and judging a best fit.

The region is Δχ² < level with DYNAMITE's convention level = sqrt(2 N_kin) for 1σ (and twice
that for 2σ); a library floor (the measured χ² jitter between neighbouring or re-seeded
libraries) may raise the level, and is then stated. A strategy's best fit is inside when
the truth's Δχ², interpolated trilinearly between lattice libraries at that point, is below
the level; its distance is measured in units of the region's half extents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from orbitnet.fit.chi2 import best_fit, sigma_levels

NAMES = ("log_f", "q", "ml")


@dataclass
class TruthSurface:
    """kinchi2 on the lattice: ``chi2[i, j, k]`` at ``(log_f[i], q[j], ml[k])``.

    ``floor`` (0: none) is the library jitter the level must not fall below.
    """

    log_f: np.ndarray
    q: np.ndarray
    ml: np.ndarray
    chi2: np.ndarray
    n_kin: int
    floor: float = 0.0

    def __post_init__(self) -> None:
        self.log_f, self.q, self.ml = (np.asarray(a, float) for a in (self.log_f, self.q,
                                                                        self.ml))
        self.chi2 = np.asarray(self.chi2, float)
        want = (self.log_f.size, self.q.size, self.ml.size)
        if self.chi2.shape != want:
            raise ValueError(f"chi2 has shape {self.chi2.shape}, expected {want}")
        self._interp = RegularGridInterpolator(
            tuple(a if a.size > 1 else np.r_[a, a + 1] for a in self.axes),
            self.delta if min(a.size for a in self.axes) > 1 else self._padded(),
            bounds_error=False, fill_value=None)

    def _padded(self) -> np.ndarray:
        d = self.delta
        for k, a in enumerate(self.axes):
            if a.size == 1:
                d = np.concatenate([d, d], axis=k)
        return d

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.log_f, self.q, self.ml

    @property
    def delta(self) -> np.ndarray:
        return self.chi2 - self.chi2.min()

    @property
    def sigma1(self) -> float:
        return sigma_levels(self.n_kin)[0]

    @property
    def level(self) -> float:
        """The judging level: max(sqrt(2 N_kin), floor)."""
        return max(self.sigma1, float(self.floor))

    @property
    def level_kind(self) -> str:
        return "1sigma" if self.level == self.sigma1 else "library_floor"

    @property
    def best(self) -> dict[str, float]:
        """Lattice minimum, M/L refined by the parabola through its neighbours."""
        i, j, k = np.unravel_index(int(np.argmin(self.chi2)), self.chi2.shape)
        return {"log_f": float(self.log_f[i]), "q": float(self.q[j]),
                "ml": best_fit(self.ml, self.chi2[i, j])[1]}

    def region(self, level: float | None = None) -> np.ndarray:
        return self.delta < (self.level if level is None else level)

    def extents(self, level: float | None = None) -> dict[str, list[float]]:
        """(lo, hi) of each parameter over the lattice nodes inside the region."""
        mask = self.region(level)
        out = {}
        for k, (name, a) in enumerate(zip(NAMES, self.axes, strict=True)):
            other = tuple(m for m in range(3) if m != k)
            inside = a[np.any(mask, axis=other)]
            out[name] = [float(inside.min()), float(inside.max())]
        return out

    def half_widths(self) -> dict[str, float]:
        """Half extents of the region, at least half a lattice spacing."""
        ext = self.extents()
        out = {}
        for name, a in zip(NAMES, self.axes, strict=True):
            spacing = float(np.min(np.diff(a))) if a.size > 1 else 1.0
            out[name] = max((ext[name][1] - ext[name][0]) / 2, spacing / 2)
        return out

    def delta_at(self, point: dict[str, float]) -> float:
        """Δχ² of the truth at ``point``, trilinear between lattice nodes (clipped)."""
        x = [np.clip(point[n], a.min(), a.max()) for n, a in zip(NAMES, self.axes, strict=True)]
        return float(self._interp(np.array([x]))[0])

    def judge(self, point: dict[str, float]) -> dict[str, float | bool]:
        """Inside the region, and the distance to the truth's best fit in half extents."""
        best, hw = self.best, self.half_widths()
        dist = float(np.sqrt(sum(((point[n] - best[n]) / hw[n]) ** 2 for n in NAMES)))
        delta = self.delta_at(point)
        return {"inside": bool(delta < self.level), "delta_chi2": delta, "distance": dist}
