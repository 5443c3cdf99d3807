"""A budgeted χ²(M/L) sweep for large libraries: a coarse M/L grid, then a fine one around
its minimum.

An NNLS solve costs roughly (number of orbits)² × rows, so a 3000-orbit library swept at
every 0.05 of M/L would spend more CPU on weights than on its orbits. :class:`RefinedSweep`
is the per-point analysis of :func:`orbitnet.orblib.grid.run_configs` (cached like
:class:`~orbitnet.fit.grids.LibrarySweep`): it solves the coarse grid ``ml``, then every
``fine_step`` within ``fine_half_width`` of the vertex of the parabola through the coarse
minimum and its neighbours (points of the coarse grid are not solved twice) and merges
both. The best M/L is the parabola vertex through the
merged minimum and its neighbours; a 1σ interval end that lies outside the fine window is
interpolated between coarse points (its summary says so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from orbitnet.fit.chi2 import best_fit, summarise
from orbitnet.fit.grids import LibrarySweep
from orbitnet.fit.solver import N_GH
from orbitnet.fit.sweep import ml_grid, run_sweep
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.store.code import code_version

__all__ = ["RefinedSweep", "fine_grid"]


def fine_grid(coarse: np.ndarray, centre: float, step: float, half_width: float
              ) -> np.ndarray:
    """The multiples of ``step`` within ``half_width`` of ``centre`` (inside the coarse
    range), without those already on the coarse grid."""
    if not (step > 0 and half_width > 0):
        raise ValueError(f"fine_step ({step}) and fine_half_width ({half_width}) must be > 0")
    lo = max(float(coarse[0]), centre - half_width)
    hi = min(float(coarse[-1]), centre + half_width)
    start = step * np.ceil(lo / step - 1e-9)
    fine = ml_grid(start, hi, step) if hi >= start else np.empty(0)
    new = ~np.isclose(fine[:, None], coarse[None, :], atol=1e-9, rtol=0).any(axis=1)
    return fine[new]


@dataclass(frozen=True, eq=False)
class RefinedSweep(LibrarySweep):
    """:class:`LibrarySweep` on a coarse M/L grid refined around its minimum (see module)."""

    fine_step: float = 0.05
    fine_half_width: float = 0.3

    @classmethod
    def for_galaxy_refined(cls, galaxy, ml, fine_step: float = 0.05,
                           fine_half_width: float = 0.3, solver: str = "warm"
                           ) -> RefinedSweep:
        base = LibrarySweep.for_galaxy(galaxy, ml, None, solver)
        if not (fine_step > 0 and fine_half_width > 0):
            raise ValueError(f"fine_step ({fine_step}) and fine_half_width "
                             f"({fine_half_width}) must be positive")
        return cls(base.v, base.sigma, base.targets, base.errors, base.ml,
                   base.lum_intr_rel_err, base.sb_proj_rel_err, None, base.solver,
                   float(fine_step), float(fine_half_width))

    def params(self) -> dict[str, Any]:
        return {**super().params(), "code": code_version(__name__),
                "refine": {"fine_step": self.fine_step,
                                               "fine_half_width": self.fine_half_width,
                                               "centre": "coarse parabola vertex"}}

    def __call__(self, library: OrbitLibrary) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        c0 = time.process_time()
        problem = self.problem(library)
        kin = {"v": self.v, "sigma": self.sigma}

        def sweep(ml: np.ndarray):
            return run_sweep(library, kin, ml, n_jobs=1, progress=False, problem=problem,
                             keep_gh=False, solver=self.solver)

        coarse = sweep(self.ml)
        centre = best_fit(coarse.ml, coarse.kinchi2)[1]  # the coarse parabola's vertex
        extra = fine_grid(self.ml, centre, self.fine_step, self.fine_half_width)
        parts = [coarse] + ([sweep(extra)] if extra.size else [])
        ml = np.concatenate([p.ml for p in parts])
        order = np.argsort(ml)
        data = {k: np.concatenate([getattr(p, k) for p in parts])[order]
                for k in ("ml", "chi2", "kinchi2", "weights")}
        fit = summarise(data["ml"], data["kinchi2"], N_GH * library.n_bins)
        window = (centre - self.fine_half_width, centre + self.fine_half_width)
        lo, hi = fit.ml_1sigma
        summary = {"ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                   "ml_1sigma_lo": lo, "ml_1sigma_hi": hi, "kinchi2_min": fit.chi2_min,
                   "n_solves": int(ml.size), "coarse_minimum": centre,
                   "interval_inside_fine_window": bool(
                       np.isfinite(lo) and np.isfinite(hi) and window[0] <= lo
                       and hi <= window[1]),
                   "sweep_seconds": float(sum(p.seconds for p in parts)),
                   "cpu_seconds": time.process_time() - c0}
        return data, summary
