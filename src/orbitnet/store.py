"""HDF5 artifacts with provenance, written atomically and recomputed only when stale.

Every artifact records the package version, git commit, the parameters that made it,
the SHA-256 of its inputs and the time. :func:`cached` returns a stored artifact when
parameters and input hashes still match, and recomputes (with a warning) when they do not
or when the file is corrupt.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from orbitnet import __version__
from orbitnet.data import paths


def file_sha256(path: Path | str) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_hashes(files: Iterable[Path | str]) -> dict[str, str]:
    """Map each file's name (relative to the repository when possible) to its SHA-256."""
    out = {}
    for f in files:
        p = Path(f)
        try:
            key = str(p.resolve().relative_to(paths.ROOT))
        except ValueError:
            key = str(p)
        out[key] = file_sha256(p)
    return dict(sorted(out.items()))


def git_commit() -> str:
    """The checkout's commit hash, with ``-dirty`` when it has changes; ``unknown`` outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.ROOT, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=paths.ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def canonical_json(obj: Any) -> str:
    """Stable JSON text used to compare parameter sets."""
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"))


def provenance(params: Mapping[str, Any], inputs: Mapping[str, str]) -> dict[str, str]:
    """The provenance attributes every artifact carries."""
    return {
        "orbitnet_version": __version__,
        "git_commit": git_commit(),
        "parameters": canonical_json(params),
        "input_sha256": canonical_json(inputs),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_artifact(path: Path | str, datasets: Mapping[str, Any],
                   params: Mapping[str, Any], inputs: Mapping[str, str],
                   attrs: Mapping[str, Any] | None = None, compression: str | None = None) -> Path:
    """Write ``datasets`` (name → array; ``a/b`` makes groups) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as h5:
            for name, value in datasets.items():
                arr = np.asarray(value)
                kw = {"compression": compression} if compression and arr.ndim > 0 else {}
                h5.create_dataset(name, data=arr, **kw)
            for k, v in provenance(params, inputs).items():
                h5.attrs[k] = v
            for k, v in (attrs or {}).items():
                h5.attrs[k] = v if isinstance(v, (int, float, str, np.ndarray)) else canonical_json(v)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_artifact(path: Path | str) -> dict[str, np.ndarray]:
    """All datasets of an artifact as numpy arrays (groups flattened to ``a/b`` names)."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as h5:
        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        h5.visititems(visit)
    return out


def read_attrs(path: Path | str) -> dict[str, Any]:
    with h5py.File(path, "r") as h5:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}


def is_fresh(path: Path | str, params: Mapping[str, Any], inputs: Mapping[str, str]) -> bool:
    """True when ``path`` exists, opens, and was made from the same parameters and inputs."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        attrs = read_attrs(path)
    except (OSError, KeyError) as exc:
        warnings.warn(f"artifact {path} is unreadable ({exc}); it will be recomputed",
                      stacklevel=2)
        return False
    return (attrs.get("parameters") == canonical_json(params)
            and attrs.get("input_sha256") == canonical_json(inputs))


def cached(path: Path | str, params: Mapping[str, Any], inputs: Mapping[str, str],
           compute: Callable[[], Mapping[str, Any]], attrs: Mapping[str, Any] | None = None,
           compression: str | None = None) -> dict[str, np.ndarray]:
    """Return the artifact at ``path``, recomputing it with ``compute()`` when stale or corrupt."""
    path = Path(path)
    if is_fresh(path, params, inputs):
        try:
            return read_artifact(path)
        except (OSError, KeyError) as exc:
            warnings.warn(f"artifact {path} is corrupt ({exc}); recomputing", stacklevel=2)
    datasets = compute()
    write_artifact(path, datasets, params, inputs, attrs=attrs, compression=compression)
    return {k: np.asarray(v) for k, v in datasets.items()}


# --- results JSON and glue ---------------------------------------------


def write_results(chapter: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``data`` to ``build/results/<chapter>.json`` atomically and return it as JSON types."""
    clean = _jsonable(dict(data))
    write_text_atomic(paths.results_path(chapter), json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return clean


def load_results(chapter: str) -> dict[str, Any]:
    """Read a chapter's results; a clear error names the chapter to run when missing."""
    path = paths.results_path(chapter)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run `orbitnet chapter {chapter}` (or `make book`) first"
        )
    return json.loads(path.read_text())


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``a.b.c`` keys (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_number(value: float, fmt: str = "{:.4g}") -> str:
    """Format a float for prose: plain for ordinary sizes, ``1.625 × 10¹⁰`` for large/small."""
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        mant, exp = f"{value:.3e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant} × 10{str(int(exp)).translate(_SUPERSCRIPT)}"
    return fmt.format(value)


class GluedText:
    """A preformatted value whose text/plain form has no quotes (for ``{glue:text}``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)


def glue_results(data: Mapping[str, Any], fmt: str = "{:.4g}") -> None:
    """Glue every scalar (and short list) of ``data`` into the notebook for the prose.

    Keys are flattened with dots; floats are shown with ``fmt``. Use in Markdown as
    ``{glue:text}`key``` (the value is already formatted).
    """
    from myst_nb import glue

    for key, value in flatten(data).items():
        if isinstance(value, bool) or value is None:
            text = str(value)
        elif isinstance(value, float):
            text = format_number(value, fmt)
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, (int, float)) for v in value):  # an interval
            text = "–".join(format_number(float(v), fmt) for v in value)
        elif isinstance(value, list) and 0 < len(value) <= 8 and all(
                isinstance(v, (int, float)) for v in value):
            text = ", ".join(format_number(float(v), "{:.2g}") for v in value)
        elif isinstance(value, str):
            text = value
        else:
            continue
        glue(key, GluedText(text), display=False)
