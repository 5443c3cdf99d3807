"""A budgeted χ²(M/L) sweep for large libraries: a coarse M/L grid, then a fine one around
its minimum.

An NNLS solve costs roughly (number of orbits)² × rows, so a 3000-orbit library swept at
every 0.05 of M/L would spend more CPU on weights than on its orbits. :class:`RefinedSweep`
is the per-point analysis of :func:`orbitnet.orblib.grid.run_configs` (cached like
:class:`~orbitnet.fit.grids.LibrarySweep`): it solves the coarse grid ``ml``, then every
``fine_step`` within ``fine_half_width`` of the vertex of the parabola through the coarse
minimum and its neighbours (coarse points are not solved twice; each fine NNLS starts from
its neighbour's positive set), and merges both. A fine minimum at the window's edge moves
the window there (at most ``MAX_SHIFTS`` times). The best M/L is the parabola vertex through
the merged minimum and its neighbours; a 1σ end outside every fine window is interpolated
between coarse points (``interval_inside_fine_window`` in the summary says which).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from orbitnet.fit.chi2 import best_fit, summarise
from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.grids import LibrarySweep
from orbitnet.fit.solver import N_GH
from orbitnet.fit.sweep import ml_grid, nearest_index, run_sweep
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.store.code import code_version

__all__ = ["RefinedSweep", "fine_grid"]

#: times the fine window may move to a minimum found at its edge
MAX_SHIFTS = 2


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
                "refine": {"fine_step": self.fine_step, "fine_half_width": self.fine_half_width,
                           "max_shifts": MAX_SHIFTS}}

    def _fine(self, library: OrbitLibrary, problem, ml: np.ndarray, passive: np.ndarray
              ) -> dict[str, np.ndarray]:
        """Solve ``ml`` in order, each NNLS started from the previous positive set (the first
        from ``passive``): what :func:`run_sweep`'s warm solver does within a chunk."""
        out: dict[str, list] = {"ml": [], "chi2": [], "kinchi2": [], "weights": []}
        with threadpool_limits(1):
            for m in ml:
                res = problem.solve(gh_per_orbit(library, self.v, self.sigma, float(m)),
                                    warm=self.solver == "warm", passive=passive)
                passive = res.passive
                for k, v in (("ml", m), ("chi2", res.chi2), ("kinchi2", res.kinchi2),
                             ("weights", res.weights)):
                    out[k].append(v)
        return {k: np.asarray(v, float) for k, v in out.items()}

    def __call__(self, library: OrbitLibrary) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        c0 = time.process_time()
        problem = self.problem(library)
        res = run_sweep(library, {"v": self.v, "sigma": self.sigma}, self.ml, n_jobs=1,
                        progress=False, problem=problem, keep_gh=False, solver=self.solver)
        data = {k: getattr(res, k) for k in ("ml", "chi2", "kinchi2", "weights")}
        centre = best_fit(data["ml"], data["kinchi2"])[1]  # the coarse parabola's vertex
        windows = []
        for _ in range(1 + MAX_SHIFTS):
            windows.append(centre)
            extra = fine_grid(data["ml"], centre, self.fine_step, self.fine_half_width)
            if not extra.size:
                break
            near = nearest_index(data["ml"], extra[0])
            part = self._fine(library, problem, extra, np.flatnonzero(data["weights"][near]))
            order = np.argsort(np.concatenate([data["ml"], part["ml"]]))
            data = {k: np.concatenate([data[k], part[k]])[order] for k in data}
            k = int(np.argmin(data["kinchi2"]))
            edge = abs(data["ml"][k] - centre) >= self.fine_half_width - 1e-9
            if not edge or k in (0, data["ml"].size - 1):
                break
            centre = float(data["ml"][k])  # the minimum sits at the window's edge: move it
        fit = summarise(data["ml"], data["kinchi2"], N_GH * library.n_bins)
        lo, hi = fit.ml_1sigma
        inside = [c for c in windows if np.isfinite(lo) and np.isfinite(hi)
                  and c - self.fine_half_width <= lo and hi <= c + self.fine_half_width]
        summary = {"ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                   "ml_1sigma_lo": lo, "ml_1sigma_hi": hi, "kinchi2_min": fit.chi2_min,
                   "n_solves": int(data["ml"].size), "fine_centres": windows,
                   "interval_inside_fine_window": bool(inside),
                   "cpu_seconds": time.process_time() - c0}
        return data, summary
