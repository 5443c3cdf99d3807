"""Store an :class:`OrbitLibrary` as HDF5 and read it back (atomic write)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np

from orbitnet.orblib.engine.build import EngineConfig, build_library
from orbitnet.orblib.library import OrbitLibrary

_ARRAYS = ("losvd", "vel_centres", "intrinsic_mass", "aperture_mass", "intrinsic_mass_target",
           "aperture_mass_target", "orbit_ids", "orbit_type", "is_box", "is_flipped")
FORMAT = "orbitnet-engine-library-1"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_library(library: OrbitLibrary, path: Path | str) -> Path:
    """Write ``library`` to ``path`` (HDF5) via a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            for name in _ARRAYS:
                arr = np.asarray(getattr(library, name))
                if arr.dtype == bool:
                    arr = arr.astype(np.int8)
                kw = {"compression": "gzip", "compression_opts": 1, "shuffle": True} if (
                    arr.size > 100_000) else {}
                f.create_dataset(name, data=arr, **kw)
            if library.twin_index is not None:
                f.create_dataset("twin_index", data=np.asarray(library.twin_index))
            f.attrs["format"] = FORMAT
            f.attrs["ml_library"] = float(library.ml_library)
            f.attrs["source"] = library.source
            f.attrs["meta_json"] = json.dumps(_jsonable(library.meta))
            cfg = library.meta.get("config", {})
            for key, val in cfg.items():  # provenance, readable without JSON
                f.attrs[f"config_{key}"] = val
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_library(path: Path | str) -> OrbitLibrary:
    """Read a library written by :func:`save_library`."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path} is not an orbitnet engine library ({FORMAT})")
        data = {name: f[name][()] for name in _ARRAYS}
        twin = f["twin_index"][()] if "twin_index" in f else None
        meta = json.loads(f.attrs["meta_json"])
        ml = float(f.attrs["ml_library"])
        source = str(f.attrs["source"])
    data["is_box"] = data["is_box"].astype(bool)
    data["is_flipped"] = data["is_flipped"].astype(bool)
    return OrbitLibrary(ml_library=ml, source=source or str(path), meta=meta, twin_index=twin,
                        **data)


def cached_library(path: Path | str, config: EngineConfig | None = None, rebuild: bool = False,
                   **kwargs) -> OrbitLibrary:
    """Load the library at ``path`` if it was built with the same settings, else build and
    save it. ``kwargs`` go to :func:`build_library` (config overrides, ``n_threads``,
    ``progress``)."""
    from dataclasses import asdict, fields, replace

    names = {f.name for f in fields(EngineConfig)}
    cfg = replace(config or EngineConfig(), **{k: v for k, v in kwargs.items() if k in names})
    rest = {k: v for k, v in kwargs.items() if k not in names}
    path = Path(path)
    if path.is_file() and not rebuild:
        try:
            lib = load_library(path)
        except (OSError, ValueError, KeyError):
            lib = None
        if lib is not None and _jsonable(lib.meta.get("config")) == _jsonable(asdict(cfg)):
            return lib
    lib = build_library(cfg, **rest)
    save_library(lib, path)
    return lib
