"""Store an engine :class:`OrbitLibrary` as a fingerprinted, checksummed HDF5 artifact.

A library's fingerprint is its :class:`EngineConfig`, the SHA-256 of the galaxy input files it
was built from, and the code version of the engine (:data:`ENGINE_CODE` and what it imports);
:func:`cached_library` rebuilds when any of them changed, or the file is corrupt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np

from orbitnet.data import paths
from orbitnet.data.galaxy import APERTURE_FILE, BINS_FILE, KIN_FILE, MGE_FILE
from orbitnet.orblib.engine.build import EngineConfig, build_library
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.store.artifacts import (
    cached_or_compute,
    read_artifact,
    read_attrs,
    staleness,
    write_artifact,
)
from orbitnet.store.fingerprint import Fingerprint, canonical_json, fingerprint, input_hashes

_ARRAYS = ("losvd", "vel_centres", "intrinsic_mass", "aperture_mass", "intrinsic_mass_target",
           "aperture_mass_target", "orbit_ids", "orbit_type", "is_box", "is_flipped")
FORMAT = "orbitnet-engine-library-1"
#: The modules that compute a library (with every orbitnet module they import).
ENGINE_CODE = ("orbitnet.orblib.engine.build",)
INPUT_FILES = (MGE_FILE, KIN_FILE, APERTURE_FILE, BINS_FILE)
COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


def input_files(inputs_dir: Path | str | None = None) -> list[Path]:
    """The galaxy files a library is built from (default: the default galaxy's)."""
    d = Path(inputs_dir) if inputs_dir is not None else paths.inputs_dir()
    return [d / f for f in INPUT_FILES]


def library_fingerprint(config: EngineConfig, input_hashes: Mapping[str, str]
                        ) -> Fingerprint:
    """What an engine library is computed from: settings, input files, engine code."""
    return fingerprint("engine_library", asdict(config), input_hashes, code=ENGINE_CODE)


def _jsonable(obj):
    return json.loads(canonical_json(obj))


def save_library(library: OrbitLibrary, path: Path | str,
                 fp: Fingerprint | None = None) -> Path:
    """Write ``library`` to ``path`` (atomic, checksummed HDF5).

    ``fp`` defaults to the fingerprint of the library's own configuration built from the
    default galaxy's input files.
    """
    if fp is None:
        cfg = EngineConfig(**library.meta.get("config", {}))
        fp = library_fingerprint(cfg, input_hashes(input_files()))
    datasets = {}
    for name in _ARRAYS:
        arr = np.asarray(getattr(library, name))
        datasets[name] = arr.astype(np.int8) if arr.dtype == bool else arr
    if library.twin_index is not None:
        datasets["twin_index"] = np.asarray(library.twin_index)
    attrs = {"format": FORMAT, "ml_library": float(library.ml_library),
             "source": library.source, "meta_json": json.dumps(_jsonable(library.meta))}
    for key, val in library.meta.get("config", {}).items():  # readable without JSON
        attrs[f"config_{key}"] = val
    return write_artifact(path, datasets, fp, attrs=attrs, compression=COMPRESSION)


def load_library(path: Path | str) -> OrbitLibrary:
    """Read a library written by :func:`save_library`, verifying every checksum."""
    path = Path(path)
    attrs = read_attrs(path)
    if attrs.get("format") != FORMAT:
        raise ValueError(f"{path} is not an orbitnet engine library ({FORMAT})")
    data = read_artifact(path)
    twin = data.pop("twin_index", None)
    data["is_box"] = data["is_box"].astype(bool)
    data["is_flipped"] = data["is_flipped"].astype(bool)
    return OrbitLibrary(ml_library=float(attrs["ml_library"]), source=str(attrs["source"]) or str(path),
                        meta=json.loads(attrs["meta_json"]), twin_index=twin,
                        **{k: data[k] for k in _ARRAYS})


def cached_library(path: Path | str, config: EngineConfig | None = None, rebuild: bool = False,
                   inputs_dir: Path | str | None = None, **kwargs) -> OrbitLibrary:
    """The library at ``path`` if its fingerprint matches (settings, input files of
    ``inputs_dir``, engine code) and it reads back intact; else build and save it.

    ``kwargs`` go to :func:`build_library` (config overrides, ``inputs``, ``n_threads``,
    ``progress``).
    """
    names = {f.name for f in fields(EngineConfig)}
    cfg = replace(config or EngineConfig(), **{k: v for k, v in kwargs.items() if k in names})
    rest = {k: v for k, v in kwargs.items() if k not in names}
    path = Path(path)
    fp = library_fingerprint(cfg, input_hashes(input_files(inputs_dir)))

    def build(target: Path) -> OrbitLibrary:
        lib = build_library(cfg, **rest)
        save_library(lib, target, fp)
        return lib

    def why_stale(target: Path, fingerprint: Fingerprint) -> str | None:
        return "to be rebuilt (asked for)" if rebuild else staleness(target, fingerprint)

    return cached_or_compute(path, fp, load_library, build, why_stale)
