"""Orbit models on an M/L grid: the cube every later chapter learns from and is judged by.

``orbit_models`` turns a galaxy and an orbit library into the artifact
``build/artifacts/<galaxy>/orbit_models.h5`` (``ml``, ``gh``, ``chi2``, ``kinchi2``,
``weights``), recomputed only when the grid, the solver settings or an input file change.
Predictions are solved and judged in the same layout by :func:`orbitnet.judge.compare.evaluate`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet import store
from orbitnet.data import paths
from orbitnet.data.galaxy import APERTURE_FILE, BINS_FILE, KIN_FILE, MGE_FILE, Galaxy
from orbitnet.fit.chi2 import Fit, summarise
from orbitnet.fit.solver import N_GH, WeightProblem, observed_targets
from orbitnet.fit.sweep import check_ml_grid, ml_grid, run_sweep
from orbitnet.orblib.library import OrbitLibrary

SOURCES = ("auto", "dynamite", "engine")
DYNAMITE_FILES = ("datfil/orblib.dat.bz2", "datfil/orblibbox.dat.bz2", "datfil/mass_qgrid.dat",
                  "datfil/mass_aper.dat", "infil/parameters_pot.in")


@dataclass
class Models:
    """χ² curve and per-model arrays of an orbit-model grid or of a prediction."""

    ml: np.ndarray
    gh: np.ndarray
    chi2: np.ndarray
    kinchi2: np.ndarray
    weights: np.ndarray
    n_kin: int
    path: Path | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def fit(self) -> Fit:
        """Best fit and intervals of the kinchi2 curve (DYNAMITE's recommended χ²)."""
        return summarise(self.ml, self.kinchi2, self.n_kin)

    @property
    def fit_chi2(self) -> Fit:
        """The same for the full χ² (all constraints)."""
        return summarise(self.ml, self.chi2, self.n_kin)


def galaxy_input_files(galaxy: Galaxy) -> list[Path]:
    if galaxy.source is None:
        raise ValueError("the galaxy has no source folder to hash")
    return [galaxy.source / f for f in (MGE_FILE, KIN_FILE, APERTURE_FILE, BINS_FILE)]


def library_files(orblib_dir: Path) -> list[Path]:
    """The files of a DYNAMITE library that determine its content (for provenance)."""
    from orbitnet.orblib.dynamite import find_orblib_dirs

    datfil, infil = find_orblib_dirs(orblib_dir)
    out = []
    for rel in DYNAMITE_FILES:
        folder, name = rel.split("/")
        base = datfil if folder == "datfil" else infil
        cand = [base / name, base / name.removesuffix(".bz2")]
        out.extend(p for p in cand if p.is_file())
    return out


def resolve_source(source: str = "auto", orblib_dir: Path | str | None = None) -> str:
    """``auto`` picks DYNAMITE's run when one is present, else the embedded engine."""
    if source not in SOURCES:
        raise ValueError(f"orbit_source must be one of {SOURCES}, got {source!r}")
    if source != "auto":
        return source
    run = Path(orblib_dir) if orblib_dir else paths.dynamite_run_dir()
    return "dynamite" if run.exists() else "engine"


def load_dynamite_library(orblib_dir: Path | str | None = None) -> tuple[OrbitLibrary, dict]:
    """Read a DYNAMITE library; return it with the SHA-256 of the files that made it."""
    from orbitnet.orblib.dynamite import read_orblib

    run = Path(orblib_dir) if orblib_dir else paths.dynamite_run_dir()
    lib = read_orblib(run)
    return lib, store.input_hashes(library_files(run))


def load_library(source: str = "auto", orblib_dir: Path | str | None = None,
                 galaxy: Galaxy | None = None, progress: bool = True
                 ) -> tuple[OrbitLibrary, dict[str, str], str, float]:
    """The orbit library of ``source``: (library, input hashes, resolved source, seconds)."""
    src = resolve_source(source, orblib_dir)
    t0 = time.perf_counter()
    if src == "dynamite":
        lib, hashes = load_dynamite_library(orblib_dir)
    else:
        if galaxy is None:
            raise ValueError("the engine needs the galaxy (pass galaxy=...)")
        lib, hashes = engine_library(galaxy, progress=progress)
    return lib, hashes, src, time.perf_counter() - t0


def engine_library(galaxy: Galaxy, progress: bool = True, n_threads: int | None = None,
                   **overrides) -> tuple[OrbitLibrary, dict[str, str]]:
    """The embedded engine's library for ``galaxy``, built once and cached on disk.

    The cache file is named by a digest of the engine settings and the galaxy's input files,
    so a change of either builds a new library. ``overrides`` change engine settings
    (e.g. ``n_e=10, n_i2=7, n_i3=5``).
    """
    import hashlib
    from dataclasses import asdict

    from orbitnet.orblib.engine import EngineConfig, cached_library
    from orbitnet.orblib.engine.inputs import from_galaxy

    cfg = EngineConfig.from_constants(galaxy.constants, **overrides)
    inputs = store.input_hashes(galaxy_input_files(galaxy))
    digest = hashlib.sha256(store.canonical_json({"config": asdict(cfg),
                                                      "inputs": inputs}).encode()).hexdigest()
    path = paths.artifacts_dir(galaxy.name) / f"engine_library_{digest[:12]}.h5"
    lib = cached_library(path, cfg, inputs=from_galaxy(galaxy), progress=progress,
                         n_threads=n_threads)
    return lib, {"engine_library": digest}


def family_counts(library: OrbitLibrary) -> dict[str, int]:
    """How many orbits of each kind the library holds."""
    tube = ~library.is_box
    return {
        "tube orbits (launched from the x-z plane)": int(np.count_nonzero(tube & ~library.is_flipped)),
        "their velocity-flipped twins": int(np.count_nonzero(tube & library.is_flipped)),
        "box orbits (dropped from rest)": int(np.count_nonzero(library.is_box)),
        "classified short-axis (z) tubes": int(np.count_nonzero(library.orbit_type == 3)),
        "classified long-axis (x) tubes": int(np.count_nonzero(library.orbit_type == 1)),
        "classified box or other": int(np.count_nonzero(library.orbit_type == 4)),
        "total": library.n_orbits,
    }


def weight_problem(galaxy: Galaxy, library: OrbitLibrary) -> WeightProblem:
    """The NNLS system of ``galaxy``'s kinematics with ``library``'s masses."""
    c = galaxy.constants
    return WeightProblem(library, *observed_targets(galaxy.kinematics),
                         lum_intr_rel_err=c.lum_intr_rel_err, sb_proj_rel_err=c.sb_proj_rel_err)


def _models_from(data: dict, n_kin: int, path: Path, attrs: dict) -> Models:
    return Models(ml=data["ml"], gh=data["gh"], chi2=data["chi2"], kinchi2=data["kinchi2"],
                  weights=data["weights"], n_kin=n_kin, path=path, attrs=attrs)


def orbit_models(galaxy: Galaxy, library: OrbitLibrary, library_hashes: dict[str, str],
                 ml: np.ndarray | None = None, n_jobs: int | None = None,
                 progress: bool = True, path: Path | None = None,
                 source: str = "dynamite") -> Models:
    """Project and solve every M/L of ``ml`` (default 1.00..9.00 step 0.05), cached on disk."""
    ml = check_ml_grid(ml_grid() if ml is None else ml, "ml")
    if library.n_bins != galaxy.n_bins:
        raise ValueError(f"the orbit library has {library.n_bins} bins but the kinematics of "
                         f"{galaxy.name} have {galaxy.n_bins}")
    path = path or paths.artifacts_dir(galaxy.name) / "orbit_models.h5"
    c = galaxy.constants
    params = {"ml": ml, "source": source, "lum_intr_rel_err": c.lum_intr_rel_err,
              "sb_proj_rel_err": c.sb_proj_rel_err, "n_orbits": library.n_orbits,
              "n_bins": library.n_bins, "ml_library": library.ml_library}
    inputs = {**store.input_hashes(galaxy_input_files(galaxy)), **library_hashes}
    timing: dict[str, float] = {}

    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        res = run_sweep(library, galaxy.kinematics, ml, n_jobs=n_jobs, progress=progress,
                        problem=weight_problem(galaxy, library))
        timing["sweep_seconds"] = time.perf_counter() - t0
        timing["n_jobs"] = res.n_jobs
        return {"ml": res.ml, "gh": res.gh, "chi2": res.chi2, "kinchi2": res.kinchi2,
                "weights": res.weights}

    data = store.cached(path, params, inputs, compute, attrs=timing)
    attrs = store.read_attrs(path)
    return _models_from(data, N_GH * galaxy.n_bins, path, attrs)


ENGINE_CUBE = "orbit_models_engine.h5"


def source_of(models: Models) -> str:
    """The orbit source (``"dynamite"`` or ``"engine"``) a cube was computed from."""
    params = json.loads(models.attrs.get("parameters") or "{}")
    if params.get("source") not in SOURCES:
        raise ValueError(f"{models.path} does not record its orbit source; rerun Chapter 2")
    return params["source"]


def engine_cube_path(galaxy: str = paths.GALAXY) -> Path:
    """The embedded engine's cube as Chapter 2 leaves it: the primary ``orbit_models.h5``
    when Chapter 2 ran with ``orbit_source engine``, else ``orbit_models_engine.h5`` (made
    beside DYNAMITE's cube with ``compare_engine``)."""
    folder = paths.artifacts_dir(galaxy)
    primary, side = folder / "orbit_models.h5", folder / ENGINE_CUBE
    if primary.is_file() and source_of(read_models(primary)) == "engine":
        return primary
    if side.is_file():
        return side
    raise FileNotFoundError(f"no engine cube in {folder}: run Chapter 2 with `-p compare_engine "
                            "true` (beside DYNAMITE) or `-p orbit_source engine`")


def read_models(path: Path | str) -> Models:
    """Load an ``orbit_models``/``predictions`` artifact."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run Chapter 2 (`orbitnet chapter "
                                "02_orbit_libraries`) first")
    data = store.read_artifact(path)
    n_bins = data["gh"].shape[2]
    return _models_from(data, N_GH * n_bins, path, store.read_attrs(path))


