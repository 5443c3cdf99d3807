"""χ²(M/L) of every library of a parameter grid: what ``orbitnet grid`` runs.

:class:`LibrarySweep` is the per-point analysis handed to :func:`orbitnet.orblib.grid.run_grid`
(the M/L sweep of :mod:`orbitnet.fit.sweep` against the galaxy's kinematics, optionally with
the library's GH cube);
:func:`grid_sweeps` designs the points from the configuration and runs the grid.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.chi2 import summarise
from orbitnet.fit.cube import galaxy_input_files
from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.solver import N_GH, WeightProblem, kin_column, observed_targets
from orbitnet.fit.sweep import check_ml_grid, ml_grid, run_sweep
from orbitnet.orblib.engine import EngineConfig
from orbitnet.orblib.grid import GridError, GridResult, design, engine_settings, run_grid
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.orblib.params import ParameterSpace
from orbitnet.store.artifacts import read_artifact
from orbitnet.store.code import code_version
from orbitnet.store.fingerprint import input_hashes


@dataclass(frozen=True, eq=False)
class LibrarySweep:
    """The per-point analysis of a grid (picklable): the χ²(M/L) sweep of one library against
    the observed kinematics and, with ``ml_cube``, its per-orbit GH cube on those M/L and its
    orbit mass rows (what cube emulators learn; Chapter 9's lattice).

    ``solver``: ``"warm"`` (``orbitnet grid``'s default) or ``"scipy"`` (the chapters' cubes);
    both give scipy's NNLS solution (see :func:`orbitnet.fit.sweep.run_sweep`).
    """

    v: np.ndarray
    sigma: np.ndarray
    targets: np.ndarray
    errors: np.ndarray
    ml: np.ndarray
    lum_intr_rel_err: float = 0.01
    sb_proj_rel_err: float = 0.02
    ml_cube: np.ndarray | None = None
    solver: str = "warm"

    @classmethod
    def for_galaxy(cls, galaxy: Galaxy, ml: Sequence[float] | None = None,
                   ml_cube: Sequence[float] | None = None, solver: str = "warm"
                   ) -> LibrarySweep:
        if solver not in ("warm", "scipy"):
            raise ValueError(f"solver must be 'warm' or 'scipy', got {solver!r}")
        k, c = galaxy.kinematics, galaxy.constants
        targets, errors = observed_targets(k)
        return cls(kin_column(k, "v"), kin_column(k, "sigma"), targets, errors,
                   np.asarray(check_ml_grid(ml_grid() if ml is None else list(ml), "ml")),
                   c.lum_intr_rel_err, c.sb_proj_rel_err,
                   None if ml_cube is None else np.asarray(
                       check_ml_grid(list(ml_cube), "ml_cube")), solver)

    def params(self) -> dict[str, Any]:
        """What the analysis' numbers depend on besides the library (its fingerprint)."""
        h = hashlib.sha256()
        for arr in (self.v, self.sigma, self.targets, self.errors):
            h.update(np.ascontiguousarray(arr, float).tobytes())
        out = {"ml": self.ml.tolist(), "kinematics_sha256": h.hexdigest(),
               "lum_intr_rel_err": self.lum_intr_rel_err,
               "sb_proj_rel_err": self.sb_proj_rel_err,
               "solver": "nnls_warm-2" if self.solver == "warm" else "scipy",
               "code": code_version(__name__)}
        if self.ml_cube is not None:
            out["ml_cube"] = self.ml_cube.tolist()
        return out

    def problem(self, library: OrbitLibrary) -> WeightProblem:
        """The NNLS system of ``library`` against the observed kinematics."""
        return WeightProblem(library, self.targets, self.errors,
                             lum_intr_rel_err=self.lum_intr_rel_err,
                             sb_proj_rel_err=self.sb_proj_rel_err)

    def __call__(self, library: OrbitLibrary) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        c0 = time.process_time()
        res = run_sweep(library, {"v": self.v, "sigma": self.sigma}, self.ml, n_jobs=1,
                        progress=False, problem=self.problem(library), keep_gh=False,
                        solver=self.solver)
        fit = summarise(res.ml, res.kinchi2, N_GH * library.n_bins)
        data = {"ml": res.ml, "chi2": res.chi2, "kinchi2": res.kinchi2, "weights": res.weights}
        c1 = time.process_time()
        if self.ml_cube is not None:
            data.update(
                ml_cube=self.ml_cube,
                gh=np.stack([gh_per_orbit(library, self.v, self.sigma, float(m))
                             for m in self.ml_cube]).astype(np.float32),
                intrinsic_mass=library.intrinsic_mass, aperture_mass=library.aperture_mass,
                intrinsic_target=library.intrinsic_mass_target,
                aperture_target=library.aperture_mass_target)
        summary = {"ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                   "ml_1sigma_lo": fit.ml_1sigma[0], "ml_1sigma_hi": fit.ml_1sigma[1],
                   "kinchi2_min": fit.chi2_min, "sweep_seconds": res.seconds,
                   "cpu_seconds": time.process_time() - c0,
                   "sweep_cpu_seconds": c1 - c0, "cube_cpu_seconds": time.process_time() - c1}
        return data, summary


def read_sweep(summary: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The sweep arrays (``ml``, ``chi2``, ``kinchi2``, ``weights``) of one grid point."""
    return read_artifact(summary["analysis_file"])


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
    ml : the M/L grid of every sweep (default: the thesis' grid, ``mlgrid.THESIS``).
    scheduler, n_workers, connect_timeout, client : where to run
        (:func:`orbitnet.orblib.grid.connect`).
    engine : engine settings for every library (e.g. ``n_e=4, n_i2=3, n_i3=3``).
    """
    from orbitnet.orblib.engine.inputs import from_galaxy

    if kind == "list" and not points:
        raise GridError("empty design: a list design needs points (--point NAME=V,...)")
    engine = engine_settings(engine)
    space = ParameterSpace.from_config(config).free_over(free)
    pts = design(space, kind, n=n, seed=seed, points=points)
    base = EngineConfig.from_constants(galaxy.constants, **engine)
    out = Path(out_dir) if out_dir is not None else paths.grid_dir(galaxy.name)
    return run_grid(space, pts, base, from_galaxy(galaxy),
                    input_hashes(galaxy_input_files(galaxy)), out,
                    analysis=LibrarySweep.for_galaxy(galaxy, ml), scheduler=scheduler,
                    n_workers=n_workers, connect_timeout=connect_timeout, progress=progress,
                    client=client)
