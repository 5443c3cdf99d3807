"""χ²(M/L) and GH cubes of engine libraries on a lattice of (log10 f, q) points, cached.

Every point is built through the Dask grid of ``orbitnet grid``
(:func:`orbitnet.orblib.grid.run_configs`: a LocalCluster, or any scheduler): one engine
library and one analysis artifact with its χ²(M/L) sweep, the per-orbit GH coefficients on a
coarser M/L grid (what cube emulators learn), the orbit mass rows and the measured CPU seconds
of the library and of the sweep. M/L is always a rescaling of the library, as in DYNAMITE.
:class:`Lattice` holds the libraries of a (log10 f × q) lattice (:func:`build_lattice`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.cube import galaxy_input_files, weight_problem
from orbitnet.fit.grids import LibrarySweep
from orbitnet.fit.refine import RefinedSweep
from orbitnet.fit.solver import WeightProblem
from orbitnet.orblib.engine import EngineConfig
from orbitnet.orblib.grid import GridResult, run_configs
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.store.artifacts import read_artifact
from orbitnet.store.fingerprint import input_hashes

__all__ = ["Lattice", "Point", "PointResult", "build_lattice", "jitter", "lattice_points",
           "point_config", "point_results", "point_problem"]


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
    ml_cube: np.ndarray | None  # None (and the next five): a refined sweep keeps no cube
    gh: np.ndarray | None  # (n_ml_cube, n_orbits, n_bins, 4) float32
    intrinsic_mass: np.ndarray | None
    aperture_mass: np.ndarray | None
    intrinsic_target: np.ndarray | None
    aperture_target: np.ndarray | None
    library_seconds: float  # CPU seconds of the library build
    sweep_seconds: float  # CPU seconds of its χ²(M/L) sweep
    cube_seconds: float = 0.0  # CPU seconds of its GH cube (what cube emulators learn)
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
        """CPU seconds a modeller pays for this library: the build and its χ²(M/L) sweep."""
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


def point_config(galaxy: Galaxy, point: Point, engine: Mapping[str, Any] | None = None
                 ) -> EngineConfig:
    """The engine configuration of ``point``: the galaxy's, then ``engine``, then the point."""
    if not 0.0 < point.q < 1.0 or not np.isfinite(point.log_f):
        raise ValueError(f"point {point} is not a valid (log10 f, q)")
    return EngineConfig.from_constants(galaxy.constants, **{
        **dict(engine or {}), "nfw_f": float(10.0 ** point.log_f), "q": float(point.q)})


def lattice_analysis(galaxy: Galaxy, ml: Iterable[float], ml_cube: Iterable[float] | None,
                     fine: tuple[float, float] | None = None) -> LibrarySweep:
    """The per-library analysis of a lattice: a sweep on ``ml`` (cold scipy solves) with the
    GH cube on ``ml_cube``; or, with ``fine`` = (step, half width), the coarse grid ``ml``
    refined around its minimum (:class:`~orbitnet.fit.refine.RefinedSweep`, Chapter 8's
    analysis, so that both chapters share their libraries' sweeps), which keeps no cube."""
    if fine is None:
        return LibrarySweep.for_galaxy(galaxy, ml, ml_cube, solver="scipy")
    if ml_cube is not None:
        raise ValueError("a refined sweep (ml_fine_step) keeps no GH cube: the cube "
                         "strategies need ml_fine_step None")
    return RefinedSweep.for_galaxy_refined(galaxy, list(ml), *fine)


def point_results(galaxy: Galaxy, points: Sequence[Point], ml: Iterable[float],
                  ml_cube: Iterable[float] | None,
                  engines: Sequence[Mapping[str, Any]] | None = None,
                  n_workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True, desc: str = "lattice libraries",
                  out_dir: Path | str | None = None, fine: tuple[float, float] | None = None
                  ) -> tuple[list[PointResult], GridResult]:
    """Build (or load) the library and sweep of every point through the Dask grid
    (:func:`orbitnet.orblib.grid.run_configs`); artifacts under ``out_dir`` (default
    ``build/artifacts/<galaxy>/lattice/``), keyed by configuration, inputs and engine code.

    ``engines`` gives each point's engine settings (default: the galaxy's); ``n_workers`` /
    ``scheduler`` choose the cluster as for ``orbitnet grid``; ``fine`` refines the sweep
    (:func:`lattice_analysis`). Costs are CPU seconds measured in the process that built the
    library and ran the sweep.
    """
    from orbitnet.orblib.engine.inputs import from_galaxy

    points = list(points)
    engines = list(engines) if engines is not None else [{}] * len(points)
    if not points:
        raise ValueError("no lattice points given")
    configs = [point_config(galaxy, p, e) for p, e in zip(points, engines, strict=True)]
    analysis = lattice_analysis(galaxy, ml, ml_cube, fine)
    grid = run_configs([{"log_f": p.log_f, "q": p.q} for p in points], configs,
                       from_galaxy(galaxy), input_hashes(galaxy_input_files(galaxy)),
                       Path(out_dir) if out_dir is not None else paths.lattice_dir(galaxy.name),
                       analysis=analysis,
                       scheduler=scheduler, n_workers=n_workers, progress=progress, desc=desc)
    out = []
    for p, s in zip(points, grid.summaries, strict=True):
        data = read_artifact(s["analysis_file"])
        a = s["analysis"]
        cube = {k: data.get(k) for k in ("ml_cube", "gh", "intrinsic_mass", "aperture_mass",
                                         "intrinsic_target", "aperture_target")}
        out.append(PointResult(
            point=p, ml=data["ml"], kinchi2=data["kinchi2"], chi2=data["chi2"], **cube,
            library_seconds=float(s["library_cpu_seconds"]),
            sweep_seconds=float(a.get("sweep_cpu_seconds", a["cpu_seconds"])),
            cube_seconds=float(a.get("cube_cpu_seconds", 0.0)),
            meta={"key": s["key"], "content_sha256": s["content_sha256"],
                  "n_orbits": int(s["n_orbits"]),
                  "n_failed": s["n_failed"],
                  "n_degraded": s.get("n_degraded", 0),
                  "max_abs_dE_over_E": s["max_abs_dE_over_E"]}))
    return out, grid


@dataclass
class Lattice:
    """Libraries on the (log_f × q) lattice, log_f slowest; ``grid`` says how the Dask grid
    ran (workers, wall seconds, libraries built)."""

    log_f: np.ndarray
    q: np.ndarray
    results: list[PointResult]
    grid: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.results)

    @property
    def points(self) -> np.ndarray:
        return np.array([[r.point.log_f, r.point.q] for r in self.results])

    @property
    def chi2_min(self) -> np.ndarray:
        """Minimum over M/L of each library's kinchi2, in lattice order."""
        return np.array([r.chi2_min for r in self.results])

    @property
    def lo(self) -> np.ndarray:
        return np.array([self.log_f.min(), self.q.min()])

    @property
    def hi(self) -> np.ndarray:
        return np.array([self.log_f.max(), self.q.max()])

    @property
    def spacing(self) -> np.ndarray:
        return np.array([np.min(np.diff(a)) if a.size > 1 else 1.0 for a in (self.log_f,
                                                                              self.q)])

    def unit(self, raw: np.ndarray) -> np.ndarray:
        return (np.asarray(raw, float) - self.lo) / (self.hi - self.lo)

    def raw(self, unit: np.ndarray) -> np.ndarray:
        return self.lo + np.asarray(unit, float) * (self.hi - self.lo)

    def find(self, point: Sequence[float]) -> int | None:
        """Index of the lattice node at ``point`` (log_f, q), None if it is not one."""
        d = np.abs(self.points - np.asarray(point, float)).max(axis=1)
        i = int(np.argmin(d))
        return i if d[i] <= 1e-6 else None

    def index(self, point: Sequence[float]) -> int:
        i = self.find(point)
        if i is None:
            raise ValueError(f"point {tuple(point)} is not a lattice node")
        return i

    def cost(self, idx: Iterable[int], cube: bool = False) -> float:
        """CPU seconds of the libraries ``idx`` (each once) and their sweeps (and GH cubes)."""
        return float(sum(self.results[i].cpu_seconds + (self.results[i].cube_seconds
                                                        if cube else 0.0) for i in set(idx)))


def build_lattice(galaxy: Galaxy, log_f: Sequence[float], q: Sequence[float],
                  ml: Sequence[float], ml_cube: Sequence[float] | None,
                  engine: Mapping | None = None, n_workers: int | None = None,
                  scheduler: str | None = None, progress: bool = True,
                  out_dir: Path | str | None = None, fine: tuple[float, float] | None = None
                  ) -> Lattice:
    """Build (or load) every library of the lattice through the Dask grid (a LocalCluster of
    ``n_workers``, or ``scheduler``); ``fine`` refines each sweep (:func:`lattice_analysis`)."""
    pts = lattice_points(log_f, q)
    res, grid = point_results(galaxy, pts, ml, ml_cube, [dict(engine or {})] * len(pts),
                              n_workers=n_workers, scheduler=scheduler, progress=progress,
                              out_dir=out_dir, fine=fine)
    return Lattice(np.asarray(log_f, float), np.asarray(q, float), res,
                   grid={"workers": grid.workers, "wall_seconds": grid.wall_seconds,
                         "libraries_built": grid.n_built, "scheduler": grid.scheduler})


def jitter(lat: Lattice) -> dict[str, float]:
    """χ² roughness of the lattice: the median |second difference| / 2 of min-over-M/L χ²
    along log f and along q (what a smooth surface would make ~0)."""
    c = lat.chi2_min.reshape(lat.log_f.size, lat.q.size)
    out = {}
    for name, axis in (("log_f", 0), ("q", 1)):
        d2 = np.diff(c, n=2, axis=axis) if c.shape[axis] > 2 else np.zeros(1)
        out[name] = float(np.median(np.abs(d2)) / 2)
    return out


def point_problem(galaxy: Galaxy, intrinsic_mass: np.ndarray, aperture_mass: np.ndarray,
                  intrinsic_target: np.ndarray, aperture_target: np.ndarray) -> WeightProblem:
    """The NNLS system for given (e.g. emulated) orbit mass rows and the MGE's targets."""
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
