"""Orbit models on an M/L grid: the cube every later chapter learns from and is judged by.

``build_orbit_models`` turns a galaxy and an orbit library into the artifact
``build/artifacts/<run>/orbit_models.h5`` (``ml``, ``gh``, ``chi2``, ``kinchi2``,
``weights``), recomputed only when its fingerprint changes: grid, solver settings, input
files, the library's fingerprint, or the sweep's code. ``<run>`` is the galaxy's name for its
own data and keyed by the data folder otherwise (:func:`run_name`). :func:`open_inputs` is
how chapters 3–8 open the cube with the data and library it came from, fingerprint-checked.
Predictions are solved and judged in the same layout by :func:`orbitnet.judge.compare.evaluate`.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.data.galaxy import APERTURE_FILE, BINS_FILE, KIN_FILE, MGE_FILE, Galaxy
from orbitnet.fit.chi2 import Fit, summarise
from orbitnet.fit.solver import N_GH, WeightProblem, gh_errors, observed_targets
from orbitnet.fit.sweep import check_ml_grid, ml_grid, run_sweep
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.store.artifacts import (
    CorruptArtifact,
    StaleArtifact,
    cached,
    read_artifact,
    read_attrs,
)
from orbitnet.store.fingerprint import Fingerprint, digest, fingerprint, input_hashes, record_use
from orbitnet.store.notices import notice

SOURCES = ("auto", "dynamite", "engine")
DYNAMITE_FILES = ("datfil/orblib.dat.bz2", "datfil/orblibbox.dat.bz2", "datfil/mass_qgrid.dat",
                  "datfil/mass_aper.dat", "infil/parameters_pot.in")
CHAPTER = "02_orbit_libraries"  # the chapter that makes the cube
#: The modules that compute a cube from a library, and a DYNAMITE library from its files
#: (with every orbitnet module they import): their code version is part of the fingerprints.
CUBE_CODE = ("orbitnet.fit.sweep", "orbitnet.data.galaxy")
DYNAMITE_CODE = ("orbitnet.orblib.dynamite",)


@dataclass
class OrbitModels:
    """The orbit-model cube: χ² curve and per-model arrays of an orbit-model grid, or of a
    prediction of one. A variable or parameter holding the cube is called ``orbit_models``."""

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

    @property
    def fingerprint(self) -> str:
        """The digest of the artifact's fingerprint (of its content when it has none)."""
        text = (self.attrs or {}).get("fingerprint")
        if text:
            return Fingerprint.from_json(text).digest
        h = hashlib.sha256()
        for arr in (self.ml, self.gh, self.kinchi2):
            if arr is not None:
                h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


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
    """The library source: ``auto`` picks DYNAMITE's run when one is present, else the engine.

    An explicit ``orblib_dir`` must be a DYNAMITE run (never silently replaced by the engine),
    and the engine with an ``orblib_dir`` is a conflict.
    """
    if source not in SOURCES:
        raise ValueError(f"orbit_source must be one of {SOURCES}, got {source!r}")
    if orblib_dir is not None:
        if source == "engine":
            raise ValueError(f"orbit_source 'engine' builds its own library, but orblib_dir "
                             f"{orblib_dir} names a DYNAMITE run: drop one of the two")
        from orbitnet.orblib.dynamite import find_orblib_dirs

        if not Path(orblib_dir).exists():
            raise FileNotFoundError(f"orblib_dir {orblib_dir} does not exist")
        find_orblib_dirs(orblib_dir)  # a DYNAMITE folder, or a clear error
        return "dynamite"
    if source != "auto":
        return source
    return "dynamite" if paths.dynamite_run_dir().exists() else "engine"


def dynamite_fingerprint(orblib_dir: Path | str | None = None) -> Fingerprint:
    """A DYNAMITE library's fingerprint: its files' SHA-256 and the reader's code version."""
    from orbitnet.orblib.dynamite import find_orblib_dirs

    run = Path(orblib_dir) if orblib_dir else paths.dynamite_run_dir()
    base = find_orblib_dirs(run)[0].parent
    return fingerprint("dynamite_library", {},
                       input_hashes(library_files(run), base=base),
                       code=DYNAMITE_CODE)


@functools.lru_cache(maxsize=2)
def _read_dynamite(run: Path, digest: str) -> OrbitLibrary:
    """A DYNAMITE library read once per process for each content (``digest``)."""
    from orbitnet.orblib.dynamite import read_orblib

    return read_orblib(run)


def load_dynamite_library(orblib_dir: Path | str | None = None
                          ) -> tuple[OrbitLibrary, Fingerprint]:
    """Read a DYNAMITE library; return it with its fingerprint."""
    run = Path(orblib_dir) if orblib_dir else paths.dynamite_run_dir()
    fp = dynamite_fingerprint(run)
    return _read_dynamite(run.resolve(), fp.digest), fp


def load_library(source: str = "auto", orblib_dir: Path | str | None = None,
                 galaxy: Galaxy | None = None, progress: bool = True
                 ) -> tuple[OrbitLibrary, Fingerprint, str, float]:
    """The orbit library of ``source``: (library, its fingerprint, resolved source, seconds)."""
    src = resolve_source(source, orblib_dir)
    t0 = time.perf_counter()
    if src == "dynamite":
        lib, fp = load_dynamite_library(orblib_dir)
    else:
        if galaxy is None:
            raise ValueError("the engine needs the galaxy (pass galaxy=...)")
        lib, fp = engine_library(galaxy, progress=progress)
    return lib, fp, src, time.perf_counter() - t0


def engine_config(galaxy: Galaxy, **overrides):
    """The engine's settings for ``galaxy`` (from its constants), with ``overrides``."""
    from orbitnet.orblib.engine import EngineConfig

    return EngineConfig.from_constants(galaxy.constants, **overrides)


def _engine_library_path(galaxy: Galaxy, cfg, inputs: Mapping[str, str]) -> Path:
    from dataclasses import asdict

    key = digest({"config": asdict(cfg), "inputs": inputs})  # code changes: same file
    return paths.engine_library_file(galaxy.name, key[:12])


def engine_library_path(galaxy: Galaxy, **overrides) -> Path:
    """Where :func:`engine_library` keeps ``galaxy``'s library with ``overrides``."""
    return _engine_library_path(galaxy, engine_config(galaxy, **overrides),
                                input_hashes(galaxy_input_files(galaxy)))


def _engine_library_with(galaxy: Galaxy, cfg, progress: bool = True,
                         n_threads: int | None = None) -> tuple[OrbitLibrary, Fingerprint]:

    from orbitnet.orblib.engine.inputs import from_galaxy
    from orbitnet.orblib.engine.store import cached_library, library_fingerprint

    inputs = input_hashes(galaxy_input_files(galaxy))
    fp = library_fingerprint(cfg, inputs)
    path = _engine_library_path(galaxy, cfg, inputs)
    lib = cached_library(path, cfg, inputs_dir=galaxy.source, inputs=from_galaxy(galaxy),
                         progress=progress, n_threads=n_threads)
    return lib, fp


def engine_library(galaxy: Galaxy, progress: bool = True, n_threads: int | None = None,
                   **overrides) -> tuple[OrbitLibrary, Fingerprint]:
    """The embedded engine's library for ``galaxy``, built once and cached on disk.

    The cache file is named by a digest of the engine settings and the galaxy's input files
    and rebuilt when the engine's code changes. ``overrides`` change engine settings
    (e.g. ``n_e=10, n_i2=7, n_i3=5``).
    """
    return _engine_library_with(galaxy, engine_config(galaxy, **overrides), progress, n_threads)


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


def _models_from(data: dict, n_kin: int, path: Path, attrs: dict) -> OrbitModels:
    return OrbitModels(ml=data["ml"], gh=data["gh"], chi2=data["chi2"], kinchi2=data["kinchi2"],
                       weights=data["weights"], n_kin=n_kin, path=path, attrs=attrs)


def run_name(galaxy: Galaxy) -> str:
    """The folder under ``build/artifacts/`` of a run on ``galaxy``'s data.

    The galaxy's name for its own data (``data/<galaxy>/inputs``) or a galaxy without such a
    folder; ``<galaxy>-<digest of the data folder>`` for other data given for a known galaxy,
    so that a run on your own data never replaces the default galaxy's artifacts.
    """
    own = paths.inputs_dir(galaxy.name)
    if galaxy.source is None or not own.is_dir() or (
            Path(galaxy.source).resolve() == own.resolve()):
        return galaxy.name
    where = str(Path(galaxy.source).resolve())
    return f"{galaxy.name}-{hashlib.sha256(where.encode()).hexdigest()[:8]}"


def cube_fingerprint(galaxy: Galaxy, library_fp: Fingerprint | Mapping[str, str],
                     params: Mapping[str, Any]) -> Fingerprint:
    """What a cube is computed from: grid and solver settings, the galaxy's input files, the
    library (its fingerprint), and the code of the sweep."""
    if not isinstance(library_fp, Fingerprint):  # bare file hashes of a library
        library_fp = digest(dict(library_fp))
    return fingerprint("orbit_models", params, input_hashes(galaxy_input_files(galaxy)),
                       upstream={"library": library_fp}, code=CUBE_CODE)


def build_orbit_models(galaxy: Galaxy, library: OrbitLibrary,
                       library_fp: Fingerprint | Mapping[str, str],
                       ml: np.ndarray | None = None, n_jobs: int | None = None,
                       progress: bool = True, path: Path | None = None,
                       source: str = "dynamite") -> OrbitModels:
    """Project and solve every M/L of ``ml`` (default: the thesis' grid), cached on disk.

    The cube lives in ``build/artifacts/<run>/orbit_models.h5`` (:func:`run_name`) and
    records where its data and library came from, for :func:`open_inputs`.
    """
    ml = check_ml_grid(ml_grid() if ml is None else ml, "ml")
    if library.n_bins != galaxy.n_bins:
        raise ValueError(f"the orbit library has {library.n_bins} bins but the kinematics of "
                         f"{galaxy.name} have {galaxy.n_bins}")
    run = run_name(galaxy)
    path = Path(path) if path else paths.cube_file(run)
    if path.name == paths.CUBE_FILE and run != galaxy.name:
        notice(f"data from {galaxy.source}: this run's artifacts are in "
               f"{path.parent} (later chapters: -p galaxy {run})")
    c = galaxy.constants
    params = {"ml": ml, "source": source, "lum_intr_rel_err": c.lum_intr_rel_err,
              "sb_proj_rel_err": c.sb_proj_rel_err}
    fp = cube_fingerprint(galaxy, library_fp, params)
    extra: dict[str, Any] = {
        "galaxy": galaxy.name, "run": run,
        "data_dir": str(Path(galaxy.source).resolve()) if galaxy.source else "",
        "orblib_dir": str(Path(library.source).resolve()) if source == "dynamite" else "",
        "library_fingerprint": (library_fp.to_json()
                                if isinstance(library_fp, Fingerprint) else ""),
    }

    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        res = run_sweep(library, galaxy.kinematics, ml, n_jobs=n_jobs, progress=progress,
                        problem=weight_problem(galaxy, library))
        extra["sweep_seconds"] = time.perf_counter() - t0
        extra["n_jobs"] = res.n_jobs
        return {"ml": res.ml, "gh": res.gh, "chi2": res.chi2, "kinchi2": res.kinchi2,
                "weights": res.weights}

    data = cached(path, fp, None, compute, attrs=extra)
    record_use("cube" if path.name == paths.CUBE_FILE else path.stem, fp)
    return _models_from(data, N_GH * galaxy.n_bins, path, read_attrs(path))


def _rerun_hint(run: str) -> str:
    extra = "" if run == paths.GALAXY else f" -p galaxy {run} (with the data_dir it was made from)"
    return f"run chapter {CHAPTER} first (`orbitnet chapter {CHAPTER}{extra}`)"


def source_of(orbit_models: OrbitModels) -> str:
    """The orbit source (``"dynamite"`` or ``"engine"``) a cube was computed from."""
    text = orbit_models.attrs.get("fingerprint") or ""
    source = Fingerprint.from_json(text).params.get("source") if text else None
    if source not in SOURCES:
        raise ValueError(f"{orbit_models.path} does not record its orbit source: "
                         f"{_rerun_hint(Path(orbit_models.path).parent.name)}")
    return source


def engine_cube_path(galaxy: str = paths.GALAXY) -> Path:
    """The embedded engine's cube as Chapter 2 leaves it: the primary ``orbit_models.h5``
    when Chapter 2 ran with ``orbit_source engine``, else ``orbit_models_engine.h5`` (made
    beside DYNAMITE's cube with ``compare_engine``)."""
    folder = paths.artifacts_dir(galaxy)
    primary, side = paths.cube_file(galaxy), paths.engine_cube_file(galaxy)
    if primary.is_file() and source_of(read_models(primary)) == "engine":
        return primary
    if side.is_file():
        return side
    raise FileNotFoundError(f"no engine cube in {folder}: run Chapter 2 with `-p compare_engine "
                            "true` (beside DYNAMITE) or `-p orbit_source engine`")


def read_models(path: Path | str) -> OrbitModels:
    """Load an ``orbit_models``/``predictions`` artifact, its checksums verified.

    A missing, truncated or corrupt file is an error naming it and the chapter that makes it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {_rerun_hint(path.parent.name)}")
    try:
        data = read_artifact(path)
        attrs = read_attrs(path)
    except CorruptArtifact as exc:
        raise CorruptArtifact(f"{exc}: rebuild it with chapter {CHAPTER} "
                              f"(`orbitnet chapter {CHAPTER}`)") from None
    n_bins = data["gh"].shape[2]
    return _models_from(data, N_GH * n_bins, path, attrs)


@dataclass
class ChapterInputs:
    """What chapters 3–8 start from: the cube, the galaxy and library it was made from, and the
    weight problem of that library (see :func:`open_inputs`)."""

    galaxy: Galaxy
    orbit_models: OrbitModels
    library: OrbitLibrary
    problem: WeightProblem
    source: str
    run: str

    @property
    def err(self) -> np.ndarray:
        """(n_bins, 4): the error of each GH row of the weight problem."""
        return gh_errors(self.problem)


def _check_library_choice(path: Path, source: str, own_dir: str | None, orbit_source: str,
                          orblib_dir: Path | str | None) -> None:
    if orbit_source not in SOURCES:
        raise ValueError(f"orbit_source must be one of {SOURCES}, got {orbit_source!r}")
    wrong = orbit_source not in ("auto", source) or (
        orblib_dir is not None and (own_dir is None
                                    or Path(orblib_dir).resolve() != Path(own_dir).resolve()))
    if wrong:
        own = f"DYNAMITE run {own_dir}" if source == "dynamite" else "the engine"
        raise ValueError(f"{path} was made with the library of {own}; judging it with another "
                         f"library would mix two models. Re-run chapter {CHAPTER} with the "
                         "library you want (orbit_source/orblib_dir there)")


def open_inputs(galaxy: str = paths.GALAXY, orbit_source: str = "auto",
                orblib_dir: Path | str | None = None, progress: bool = False) -> ChapterInputs:
    """Open the cube of run ``galaxy`` (a galaxy name, or a run folder such as
    ``ngc6278-1a2b3c4d``) with the galaxy data and the orbit library it was made from.

    The cube's fingerprint is checked against its inputs, library and code as they are now:
    a stale or corrupt cube is an error naming the file and the chapter that rebuilds it.
    ``orbit_source`` and ``orblib_dir``, when given, must name the cube's own library: a
    cube is never judged with another library's weight problem.
    """
    from orbitnet.data.galaxy import load_galaxy

    path = paths.cube_file(galaxy)
    orbit_models = read_models(path)
    attrs = orbit_models.attrs
    if "fingerprint" not in attrs or not attrs.get("data_dir"):
        raise StaleArtifact(f"{path} was made by an older orbitnet: {_rerun_hint(galaxy)}")
    stored = Fingerprint.from_json(attrs["fingerprint"])
    gal = load_galaxy(attrs["data_dir"], name=str(attrs["galaxy"]))
    source = stored.params["source"]
    lib_text = attrs.get("library_fingerprint") or ""
    if not lib_text:
        raise StaleArtifact(f"{path} does not record its library: {_rerun_hint(galaxy)}")
    lib_stored = Fingerprint.from_json(lib_text)
    _check_library_choice(path, source, attrs.get("orblib_dir") or None, orbit_source,
                          orblib_dir)
    if source == "dynamite":
        lib_fp = dynamite_fingerprint(attrs["orblib_dir"])
        cfg = None
    else:
        from orbitnet.orblib.engine import EngineConfig
        from orbitnet.orblib.engine.store import library_fingerprint

        cfg = EngineConfig(**lib_stored.params)
        lib_fp = library_fingerprint(cfg, input_hashes(galaxy_input_files(gal)))
    want = cube_fingerprint(gal, lib_fp, stored.params)
    if want.digest != stored.digest:
        changed = ", ".join(want.differences(stored))
        if lib_fp.digest != lib_stored.digest:
            changed += " (" + ", ".join(lib_fp.differences(lib_stored)) + ")"
        raise StaleArtifact(f"{path} is stale ({changed} changed since it was made): "
                            + _rerun_hint(galaxy))
    if source == "dynamite":
        library = _read_dynamite(Path(attrs["orblib_dir"]).resolve(), lib_fp.digest)
    else:
        library, _ = _engine_library_with(gal, cfg, progress=progress)
    record_use("cube", stored)
    return ChapterInputs(galaxy=gal, orbit_models=orbit_models, library=library,
                         problem=weight_problem(gal, library), source=source, run=galaxy)
