"""χ²(M/L) of every library of a parameter grid: what ``orbitnet grid`` runs.

:class:`LibrarySweep` is the per-point analysis handed to :func:`orbitnet.orblib.grid.run_grid`
(the warm-started M/L sweep of :mod:`orbitnet.fit.sweep` against the galaxy's kinematics);
:func:`grid_sweeps` designs the points from the configuration and runs the grid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet import store
from orbitnet.data import paths
from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.chi2 import summarise
from orbitnet.fit.cube import galaxy_input_files
from orbitnet.fit.solver import N_GH, WeightProblem, observed_targets
from orbitnet.fit.sweep import check_ml_grid, ml_grid, run_sweep
from orbitnet.orblib.engine import EngineConfig
from orbitnet.orblib.grid import GridError, GridResult, design, run_grid
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.orblib.params import ParameterSpace


@dataclass(frozen=True, eq=False)
class LibrarySweep:
    """The χ²(M/L) sweep of one library against observed kinematics (picklable)."""

    v: np.ndarray
    sigma: np.ndarray
    targets: np.ndarray
    errors: np.ndarray
    ml: np.ndarray
    lum_intr_rel_err: float = 0.01
    sb_proj_rel_err: float = 0.02

    @classmethod
    def for_galaxy(cls, galaxy: Galaxy, ml: Sequence[float] | None = None) -> LibrarySweep:
        k, c = galaxy.kinematics, galaxy.constants
        targets, errors = observed_targets(k)
        return cls(np.asarray(k.v, float), np.asarray(k.sigma, float), targets, errors,
                   check_ml_grid(ml_grid() if ml is None else ml, "ml"),
                   c.lum_intr_rel_err, c.sb_proj_rel_err)

    def params(self) -> dict[str, Any]:
        """What the sweep's numbers depend on besides the library (its fingerprint)."""
        h = hashlib.sha256()
        for arr in (self.v, self.sigma, self.targets, self.errors):
            h.update(np.ascontiguousarray(arr, float).tobytes())
        return {"ml": self.ml.tolist(), "kinematics_sha256": h.hexdigest(),
                "lum_intr_rel_err": self.lum_intr_rel_err,
                "sb_proj_rel_err": self.sb_proj_rel_err, "solver": "nnls_warm-2"}

    def __call__(self, library: OrbitLibrary) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        problem = WeightProblem(library, self.targets, self.errors,
                                lum_intr_rel_err=self.lum_intr_rel_err,
                                sb_proj_rel_err=self.sb_proj_rel_err)
        res = run_sweep(library, {"v": self.v, "sigma": self.sigma}, self.ml, n_jobs=1,
                        progress=False, problem=problem, keep_gh=False, solver="warm")
        fit = summarise(res.ml, res.kinchi2, N_GH * library.n_bins)
        summary = {"ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                   "ml_1sigma_lo": fit.ml_1sigma[0], "ml_1sigma_hi": fit.ml_1sigma[1],
                   "kinchi2_min": fit.chi2_min, "sweep_seconds": res.seconds}
        data = {"ml": res.ml, "chi2": res.chi2, "kinchi2": res.kinchi2, "weights": res.weights}
        return data, summary


def read_sweep(summary: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The sweep arrays (``ml``, ``chi2``, ``kinchi2``, ``weights``) of one grid point."""
    return store.read_artifact(summary["analysis_file"])


def grid_sweeps(galaxy: Galaxy, free: Mapping[str, tuple[float, float] | None],
                kind: str = "regular", n: int | Mapping[str, int] = 3, seed: int = 0,
                points: Sequence[Mapping[str, float]] | None = None,
                config: Path | str | None = None, out_dir: Path | str | None = None,
                ml: Sequence[float] | None = None, scheduler: str | None = None,
                n_workers: int | None = None, connect_timeout: float = 10.0,
                progress: bool = True, client=None, **engine: Any) -> GridResult:
    """Libraries and χ²(M/L) sweeps over a design of the parameters ``free``.

    Parameters
    ----------
    galaxy : the galaxy (inputs and kinematics).
    free : parameter name -> (lo, hi) in configuration units, or None for the configuration's
        limits; e.g. ``{"f-dh": (0.0, 1.5)}``.
    kind, n, seed, points : the design (:func:`orbitnet.orblib.grid.design`).
    config : DYNAMITE configuration (default ``NGC6278_config.yaml`` of the inputs).
    out_dir : artifact folder (default ``build/artifacts/<galaxy>/grid``); on a cluster it
        must be on a filesystem every worker shares.
    ml : the M/L grid of every sweep (default 1.00 ... 9.00 step 0.05).
    scheduler, n_workers, connect_timeout, client : where to run
        (:func:`orbitnet.orblib.grid.connect`).
    engine : engine settings for every library (e.g. ``n_e=4, n_i2=3, n_i3=3``).
    """
    from orbitnet.orblib.engine.inputs import from_galaxy

    if kind == "list" and not points:
        raise GridError("empty design: a list design needs points (--point NAME=V,...)")
    space = ParameterSpace.from_config(config).free_over(free)
    pts = design(space, kind, n=n, seed=seed, points=points)
    base = EngineConfig.from_constants(galaxy.constants, **engine)
    out = Path(out_dir) if out_dir is not None else paths.artifacts_dir(galaxy.name) / "grid"
    return run_grid(space, pts, base, from_galaxy(galaxy),
                    store.input_hashes(galaxy_input_files(galaxy)), out,
                    analysis=LibrarySweep.for_galaxy(galaxy, ml), scheduler=scheduler,
                    n_workers=n_workers, connect_timeout=connect_timeout, progress=progress,
                    client=client)
