"""HDF5 artifacts: checksummed, atomic, fingerprinted, and the one cached-or-compute step.

HDF5 datasets carry checksums (``fletcher32``, or a stored SHA-256 for scalars) verified on
every read; a corrupt artifact is recomputed, never used. An artifact whose fingerprint differs
from the one asked for is stale: :func:`cached` recomputes it and says so on the command line
(:func:`orbitnet.store.notices.notice`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import h5py
import numpy as np

from orbitnet import __version__
from orbitnet.data import paths
from orbitnet.store.code import function_modules, git_commit
from orbitnet.store.fingerprint import Fingerprint, canonical_json, fingerprint
from orbitnet.store.locks import lock_file, locked
from orbitnet.store.notices import notice

T = TypeVar("T")


class CorruptArtifact(OSError):
    """An artifact cannot be read back intact (truncated, checksum mismatch, unreadable)."""


class StaleArtifact(RuntimeError):
    """An upstream artifact was made from other inputs, parameters or code."""


def _as_fingerprint(path: Path, params: Mapping[str, Any] | Fingerprint,
                    inputs: Mapping[str, str] | None, upstream, code,
                    compute: Callable | None) -> Fingerprint:
    if isinstance(params, Fingerprint):
        return params
    if code is None:
        code = sorted(function_modules(compute)) if compute is not None else ()
    return fingerprint(path.stem, params, inputs, upstream, code)


def provenance(fp: Fingerprint) -> dict[str, str]:
    """The provenance attributes every artifact carries (the fingerprint decides freshness;
    version, commit and time are for people)."""
    return {
        "fingerprint": fp.to_json(),
        "orbitnet_version": __version__,
        "git_commit": git_commit(),
        "parameters": canonical_json(fp.params),
        "input_sha256": canonical_json(fp.inputs),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _checksummed(arr: np.ndarray) -> bool:
    """Whether HDF5's fletcher32 filter can guard ``arr`` (it needs a chunked layout)."""
    return arr.ndim > 0 and arr.size > 0 and arr.dtype.kind in "biufc"


def write_artifact(path: Path | str, datasets: Mapping[str, Any],
                   params: Mapping[str, Any] | Fingerprint, inputs: Mapping[str, str] | None = None,
                   attrs: Mapping[str, Any] | None = None,
                   compression: str | Mapping[str, Any] | None = None,
                   *, upstream: Mapping[str, Any] | None = None,
                   code: Sequence[str] | str = ()) -> Path:
    """Write ``datasets`` (name → array; ``a/b`` makes groups) to ``path`` atomically.

    ``params`` is the artifact's :class:`Fingerprint`, or its parameters (then ``inputs``,
    ``upstream`` and ``code`` complete the fingerprint). Arrays are stored with a
    ``fletcher32`` checksum, scalars and strings with their SHA-256. ``compression`` is a filter
    name (``"gzip"``) or h5py keywords (``{"compression": "gzip", "shuffle": True}``).
    """
    path = Path(path)
    fp = _as_fingerprint(path, params, inputs, upstream, code, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        with h5py.File(tmp, "w") as h5:
            for name, value in datasets.items():
                arr = np.asarray(value)
                if _checksummed(arr):
                    kw = (dict(compression) if isinstance(compression, Mapping)
                          else {"compression": compression} if compression else {})
                    h5.create_dataset(name, data=arr, fletcher32=True, **kw)
                else:
                    ds = h5.create_dataset(name, data=arr)
                    ds.attrs["sha256"] = hashlib.sha256(np.asarray(ds[()]).tobytes()).hexdigest()
            for k, v in provenance(fp).items():
                h5.attrs[k] = v
            for k, v in (attrs or {}).items():
                plain = isinstance(v, (int, float, str, np.ndarray))
                h5.attrs[k] = v if plain else canonical_json(v)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_artifact(path: Path | str) -> dict[str, np.ndarray]:
    """All datasets of an artifact as numpy arrays (groups flattened to ``a/b`` names).

    Raises :class:`CorruptArtifact` naming the file when it is truncated, unreadable or a
    dataset fails its checksum.
    """
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as h5:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    value = obj[()]
                    want = obj.attrs.get("sha256")
                    if want is not None and (
                            hashlib.sha256(np.asarray(value).tobytes()).hexdigest() != want):
                        raise ValueError(f"dataset {name} fails its checksum")
                    out[name] = value
            h5.visititems(visit)
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptArtifact(f"{path} is corrupt or truncated ({exc})") from exc
    return out


def read_attrs(path: Path | str) -> dict[str, Any]:
    """The artifact's attributes (provenance and extras); :class:`CorruptArtifact` if unreadable."""
    try:
        with h5py.File(path, "r") as h5:
            return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptArtifact(f"{path} is corrupt or truncated ({exc})") from exc


def stored_fingerprint(path: Path | str) -> Fingerprint | None:
    """The fingerprint recorded in an HDF5 artifact (None when it has none: older code)."""
    text = read_attrs(path).get("fingerprint")
    if text is None:
        return None
    try:
        return Fingerprint.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptArtifact(f"{path}: its fingerprint is unreadable ({exc})") from exc


def staleness(path: Path | str, fp: Fingerprint) -> str | None:
    """Why the artifact at ``path`` cannot stand for ``fp`` (None when it can)."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        stored = stored_fingerprint(path)
    except CorruptArtifact as exc:
        return f"unreadable ({exc.__cause__ or exc})"
    if stored is None:
        return "made by an older orbitnet without fingerprints"
    if stored.digest != fp.digest:
        return "changed: " + ", ".join(fp.differences(stored))
    return None


def is_fresh(path: Path | str, params: Mapping[str, Any] | Fingerprint,
             inputs: Mapping[str, str] | None = None, *, upstream=None,
             code: Sequence[str] | str = ()) -> bool:
    """True when ``path`` exists, opens, and carries the fingerprint asked for."""
    path = Path(path)
    return staleness(path, _as_fingerprint(path, params, inputs, upstream, code, None)) is None


def display_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (for messages)."""
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def cached(path: Path | str, params: Mapping[str, Any] | Fingerprint,
           inputs: Mapping[str, str] | None, compute: Callable[[], Mapping[str, Any]],
           attrs: Mapping[str, Any] | None = None,
           compression: str | Mapping[str, Any] | None = None, *,
           upstream: Mapping[str, Any] | None = None,
           code: Sequence[str] | str | None = None) -> dict[str, np.ndarray]:
    """The artifact at ``path`` if its fingerprint matches, else ``compute()`` stored there.

    The fingerprint is ``params`` itself when a :class:`Fingerprint`, else built from
    ``params``, ``inputs`` (file hashes), ``upstream`` (artifact name → fingerprint) and
    ``code`` (computing modules; default: the modules of ``compute`` and of the functions it
    closes over). A stale or corrupt artifact is recomputed with a :func:`notice`. The file is
    locked while checked and computed, so two runs never compute it at once.
    """
    path = Path(path)
    fp = _as_fingerprint(path, params, inputs, upstream, code, compute)

    def build(target: Path) -> dict[str, np.ndarray]:
        datasets = compute()
        write_artifact(target, datasets, fp, attrs=attrs, compression=compression)
        return {k: np.asarray(v) for k, v in datasets.items()}

    return cached_or_compute(path, fp, read_artifact, build)


def cached_or_compute(path: Path | str, fp: Fingerprint, load: Callable[[Path], T],
                      build: Callable[[Path], T],
                      why_stale: Callable[[Path, Fingerprint], str | None] | None = None) -> T:
    """The one cached-or-compute step behind every artifact kind (HDF5 files, folders,
    engine libraries): under the artifact's lock, ``load(path)`` when ``why_stale`` (default
    :func:`staleness`) finds nothing against it and it reads back intact; else ``build(path)``,
    which computes and stores it, after a :func:`notice` saying why the old one was not used."""
    path = Path(path)
    with locked(lock_file(path), what=f"computing {display_path(path)}"):
        why = (why_stale or staleness)(path, fp)
        if why is None:
            try:
                return load(path)
            except CorruptArtifact as exc:
                why = f"corrupt ({exc.__cause__ or exc})"
            except (OSError, ValueError, KeyError) as exc:
                why = f"unreadable ({exc})"
        if why != "missing":
            notice(f"{display_path(path)} is {why}; recomputing it")
        return build(path)

