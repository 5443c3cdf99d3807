"""χ²(M/L) and GH cubes of engine libraries on a lattice of (log10 f, q) points, cached.

A thin adapter until the Dask grid (``orbitnet.orblib.grid``) lands: each point is one engine
library (:func:`orbitnet.fit.cube.engine_library`, cached by configuration) and one artifact
``build/artifacts/<galaxy>/lattice/<digest>.h5`` with its χ²(M/L) sweep, the per-orbit GH
coefficients on a coarser M/L grid (what cube emulators learn), the orbit mass rows and the
measured CPU seconds of the library and of the sweep. M/L is always a rescaling of the
library, as in DYNAMITE.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orbitnet import store
from orbitnet.data import paths
from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.cube import (
    engine_library,
    engine_library_path,
    galaxy_input_files,
    weight_problem,
)
from orbitnet.fit.gh import gh_per_orbit
from orbitnet.fit.solver import WeightProblem, kin_column
from orbitnet.fit.sweep import check_ml_grid, run_sweep

__all__ = ["Point", "PointResult", "lattice_points", "point_result", "point_problem"]


@dataclass(frozen=True)
class Point:
    """A library's non-M/L parameters: halo fraction log10(M200/M*) and flattening q."""

    log_f: float
    q: float

    def key(self) -> tuple[float, float]:
        return (round(float(self.log_f), 6), round(float(self.q), 6))


@dataclass
class PointResult:
    """What one library gives: the χ²(M/L) sweep, the GH cube and its cost."""

    point: Point
    ml: np.ndarray
    kinchi2: np.ndarray
    chi2: np.ndarray
    ml_cube: np.ndarray
    gh: np.ndarray  # (n_ml_cube, n_orbits, n_bins, 4) float32
    intrinsic_mass: np.ndarray
    aperture_mass: np.ndarray
    intrinsic_target: np.ndarray
    aperture_target: np.ndarray
    library_seconds: float
    sweep_seconds: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def chi2_min(self) -> float:
        return float(np.min(self.kinchi2))

    @property
    def ml_best(self) -> float:
        """Vertex of the parabola through the kinchi2 grid minimum and its neighbours."""
        from orbitnet.fit.chi2 import best_fit

        return best_fit(self.ml, self.kinchi2)[1]

    @property
    def cpu_seconds(self) -> float:
        return self.library_seconds + self.sweep_seconds


def lattice_points(log_f: Sequence[float], q: Sequence[float]) -> list[Point]:
    """All points of the (log_f × q) lattice, log_f slowest."""
    for name, vals in (("log_f", log_f), ("q", q)):
        arr = np.asarray(vals, dtype=float)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"lattice {name} must be a non-empty list of finite numbers")
        if np.any(np.diff(arr) <= 0):
            raise ValueError(f"lattice {name} must be strictly increasing, got {list(arr)}")
    return [Point(float(a), float(b)) for a in log_f for b in q]


def _digest(obj: Any) -> str:
    return hashlib.sha256(store.canonical_json(obj).encode()).hexdigest()


def point_result(galaxy: Galaxy, point: Point, ml: Iterable[float], ml_cube: Iterable[float],
                 engine: Mapping[str, Any] | None = None, n_threads: int | None = None,
                 progress: bool = False, keep_library: bool = True) -> PointResult:
    """Build (or load) the library at ``point`` and its sweep; cached by every input.

    Parameters
    ----------
    galaxy : inputs and constants.
    point : (log10 f, q).
    ml : M/L grid of the χ² sweep; ml_cube : M/L grid of the stored GH cube.
    engine : engine settings overriding the galaxy's (e.g. ``n_e``, ``seed``, ``dithering``).
    n_threads : engine threads.
    keep_library : keep the engine library file (else delete it once the sweep is stored).
    """
    ml = check_ml_grid(list(ml), "ml")
    ml_cube = check_ml_grid(list(ml_cube), "ml_cube")
    if not 0.0 < point.q < 1.0 or not np.isfinite(point.log_f):
        raise ValueError(f"point {point} is not a valid (log10 f, q)")
    engine = dict(engine or {})
    overrides = {**engine, "nfw_f": float(10.0 ** point.log_f), "q": float(point.q)}
    inputs = store.input_hashes(galaxy_input_files(galaxy))
    params = {"point": point.key(), "ml": ml, "ml_cube": ml_cube, "engine": overrides,
              "lum_intr_rel_err": galaxy.constants.lum_intr_rel_err,
              "sb_proj_rel_err": galaxy.constants.sb_proj_rel_err}
    path = (paths.artifacts_dir(galaxy.name) / "lattice"
            / f"point_{_digest({'p': params, 'i': inputs})[:16]}.h5")
    cost: dict[str, float] = {}

    def compute() -> dict[str, np.ndarray]:
        c0, w0 = time.process_time(), time.perf_counter()
        lib, _ = engine_library(galaxy, progress=progress, n_threads=n_threads, **overrides)
        built = lib.meta.get("timings", {}).get("total_s")
        cost["library_seconds"] = time.process_time() - c0
        cost["library_wall_seconds"] = time.perf_counter() - w0
        if built is not None:
            cost["library_build_wall_seconds"] = float(built)
        problem = weight_problem(galaxy, lib)
        c1 = time.process_time()
        res = run_sweep(lib, galaxy.kinematics, ml, n_jobs=1, progress=progress,
                        problem=problem)
        v, sig = kin_column(galaxy.kinematics, "v"), kin_column(galaxy.kinematics, "sigma")
        gh = np.stack([gh_per_orbit(lib, v, sig, float(m)) for m in ml_cube]).astype(np.float32)
        cost["sweep_seconds"] = time.process_time() - c1
        cost["n_failed"] = float(lib.meta.get("n_failed", 0))
        if not keep_library:
            engine_library_path(galaxy, **overrides).unlink(missing_ok=True)
        return {"ml": res.ml, "kinchi2": res.kinchi2, "chi2": res.chi2, "ml_cube": ml_cube,
                "gh": gh, "intrinsic_mass": lib.intrinsic_mass,
                "aperture_mass": lib.aperture_mass,
                "intrinsic_target": lib.intrinsic_mass_target,
                "aperture_target": lib.aperture_mass_target}

    data = store.cached(path, params, inputs, compute, attrs=cost, compression="gzip")
    attrs = store.read_attrs(path)
    return PointResult(point=point, ml=data["ml"], kinchi2=data["kinchi2"], chi2=data["chi2"],
                       ml_cube=data["ml_cube"], gh=data["gh"],
                       intrinsic_mass=data["intrinsic_mass"],
                       aperture_mass=data["aperture_mass"],
                       intrinsic_target=data["intrinsic_target"],
                       aperture_target=data["aperture_target"],
                       library_seconds=float(attrs["library_seconds"]),
                       sweep_seconds=float(attrs["sweep_seconds"]),
                       meta={k: attrs[k] for k in attrs if k not in ("parameters",)})


def point_problem(galaxy: Galaxy, intrinsic_mass: np.ndarray, aperture_mass: np.ndarray,
                  intrinsic_target: np.ndarray, aperture_target: np.ndarray) -> WeightProblem:
    """The NNLS system for given (e.g. emulated) orbit mass rows and the MGE's targets."""
    from orbitnet.orblib.library import OrbitLibrary

    n_orb, n_bins = aperture_mass.shape
    stub = OrbitLibrary(
        losvd=np.zeros((n_orb, 1, n_bins)), vel_centres=np.zeros(1), ml_library=1.0,
        intrinsic_mass=np.asarray(intrinsic_mass, float),
        aperture_mass=np.asarray(aperture_mass, float),
        intrinsic_mass_target=np.asarray(intrinsic_target, float),
        aperture_mass_target=np.asarray(aperture_target, float),
        orbit_ids=np.zeros((n_orb, 5), np.int32), orbit_type=np.zeros(n_orb, int),
        is_box=np.zeros(n_orb, bool), is_flipped=np.zeros(n_orb, bool), source="emulated")
    return weight_problem(galaxy, stub)
