"""Artifacts: one fingerprinted cache, checksummed HDF5, atomic writes, locks; results JSON + glue.

An artifact's :class:`Fingerprint` is what it was computed from: parameters, the SHA-256 of
its input files, the fingerprints of the upstream artifacts it read, and the version of the
code that computed it (:func:`code_version`: a hash of the source of the computing modules and
of the orbitnet modules they import, so unrelated commits leave caches valid). An artifact
whose fingerprint differs from the one asked for is stale and never used: :func:`cached` (HDF5
files) and :func:`cached_dir` (folders such as trained networks) recompute it and say so on
the command line (:func:`notice`). HDF5 datasets carry checksums (``fletcher32``, or a stored
SHA-256 for scalars) verified on every read; a corrupt artifact is recomputed, never used.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import fcntl
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import h5py
import numpy as np

from orbitnet import __version__
from orbitnet.data import paths

T = TypeVar("T")
PACKAGE = Path(__file__).resolve().parent
#: Infrastructure that writes and finds artifacts but computes nothing in them: not part of
#: any artifact's code version.
CODE_EXCLUDE = frozenset({"orbitnet", "orbitnet.store", "orbitnet.data", "orbitnet.data.paths"})
FINGERPRINT_FILE = "fingerprint.json"
NOTICES_ENV = "ORBITNET_NOTICES"  # file the `orbitnet` command echoes to its stderr
STAGING_ENV = "ORBITNET_RESULTS_STAGING"  # results of a running chapter, moved in on success
PARAMETERS_ENV = "ORBITNET_PARAMETERS"  # the running chapter's parameters (JSON)


class CorruptArtifact(OSError):
    """An artifact cannot be read back intact (truncated, checksum mismatch, unreadable)."""


class StaleArtifact(RuntimeError):
    """An upstream artifact was made from other inputs, parameters or code."""


# --- hashing --------------------------------------------------------------


def file_sha256(path: Path | str) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_hashes(files: Iterable[Path | str], base: Path | str | None = None) -> dict[str, str]:
    """Map each file to its SHA-256, keyed by its path relative to ``base`` (default: its name,
    or its path below the files' common folder when two share a name).

    Keys do not depend on where the checkout lives, so moving the data leaves fingerprints valid.
    """
    files = [Path(f) for f in files]
    if base is None and len({p.name for p in files}) < len(files):
        base = Path(os.path.commonpath([p.resolve().parent for p in files]))
        files = [p.resolve() for p in files]
    out = {(str(p.relative_to(base)) if base is not None else p.name): file_sha256(p)
           for p in files}
    return dict(sorted(out.items()))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Fingerprint):
        return obj.to_dict()
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


def digest(obj: Any) -> str:
    """SHA-256 of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


# --- code version ---------------------------------------------------------


def module_file(module: str) -> Path:
    """The source file of an ``orbitnet`` module, found without importing it."""
    parts = module.split(".")
    if parts[0] != "orbitnet":
        raise ValueError(f"{module} is not an orbitnet module")
    base = PACKAGE.joinpath(*parts[1:])
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    raise ValueError(f"no source file for module {module}")


def _is_module(name: str) -> bool:
    try:
        module_file(name)
        return True
    except ValueError:
        return False


@functools.lru_cache(maxsize=512)
def _parse(path: Path, mtime_ns: int, size: int) -> tuple[str, frozenset[str]]:
    """(hash of the source without docstrings and comments, orbitnet modules it imports)."""
    tree = ast.parse(path.read_text())
    module = "orbitnet." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    module = module.removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    imports: set[str] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[0] = ast.Pass()  # a docstring is not code
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name.split(".")[0] == "orbitnet":
                for alias in node.names:
                    sub = f"{name}.{alias.name}"
                    imports.add(sub if _is_module(sub) else name)
        elif isinstance(node, ast.Import):
            imports.update(a.name for a in node.names if a.name.split(".")[0] == "orbitnet")
    text = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(text.encode()).hexdigest(), frozenset(imports)


def code_modules(*modules: str) -> list[str]:
    """``modules`` and every orbitnet module they import (at any depth, lazy imports too),
    less the infrastructure in :data:`CODE_EXCLUDE`."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        mod = todo.pop()
        if mod in seen or mod in CODE_EXCLUDE:
            continue
        seen.add(mod)
        path = module_file(mod)
        st = path.stat()
        todo.extend(_parse(path, st.st_mtime_ns, st.st_size)[1])
    return sorted(seen)


def code_version(*modules: str) -> str:
    """A hash of the code of ``modules`` and the orbitnet modules they import.

    Docstrings, comments and formatting do not count; a change to any statement does.
    """
    parts = {}
    for mod in code_modules(*modules):
        path = module_file(mod)
        st = path.stat()
        parts[mod] = _parse(path, st.st_mtime_ns, st.st_size)[0]
    return digest(parts)


def _function_modules(fn: Callable, seen: set[int] | None = None) -> set[str]:
    """The modules of ``fn`` and of the functions it closes over (what a ``compute`` runs)."""
    seen = set() if seen is None else seen
    if id(fn) in seen:
        return set()
    seen.add(id(fn))
    fn = getattr(fn, "__func__", fn)
    out = {fn.__module__} if getattr(fn, "__module__", None) else set()
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if callable(value) and hasattr(value, "__module__"):
            out |= _function_modules(value, seen)
    return {m for m in out if m and m.split(".")[0] == "orbitnet"}


# --- fingerprints ---------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """What an artifact was computed from; two artifacts with equal digests are interchangeable."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)
    upstream: Mapping[str, str] = field(default_factory=dict)
    code: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": _jsonable(self.params),
                "inputs": dict(sorted(self.inputs.items())),
                "upstream": dict(sorted(self.upstream.items())), "code": self.code}

    @property
    def digest(self) -> str:
        return digest(self.to_dict())

    def to_json(self) -> str:
        return canonical_json({**self.to_dict(), "digest": self.digest})

    @classmethod
    def from_json(cls, text: str) -> Fingerprint:
        """Parse :meth:`to_json`; a text whose digest does not match its content is corrupt."""
        d = json.loads(text)
        fp = cls(d["kind"], d["params"], d["inputs"], d["upstream"], d["code"])
        if d.get("digest") != fp.digest:
            raise ValueError("the fingerprint does not match its digest")
        return fp

    def differences(self, other: Fingerprint) -> list[str]:
        """What differs from ``other`` (stored) in words, e.g. ``["input mge.ecsv"]``."""
        a, b = self.to_dict(), other.to_dict()
        out = []
        if a["params"] != b["params"]:
            keys = sorted({*a["params"], *b["params"]}) if (
                isinstance(a["params"], dict) and isinstance(b["params"], dict)) else []
            changed = [k for k in keys if a["params"].get(k) != b["params"].get(k)]
            out.append("parameters " + ", ".join(changed) if changed else "parameters")
        for key, what in (("inputs", "input"), ("upstream", "upstream")):
            changed = sorted(k for k in {*a[key], *b[key]} if a[key].get(k) != b[key].get(k))
            out += [f"{what} {k}" for k in changed]
        if a["code"] != b["code"]:
            out.append("the code that computes it")
        if a["kind"] != b["kind"]:
            out.append(f"kind {b['kind']} → {a['kind']}")
        return out


def fingerprint(kind: str, params: Mapping[str, Any] | None = None,
                inputs: Mapping[str, str] | None = None,
                upstream: Mapping[str, str | Fingerprint] | None = None,
                code: Sequence[str] | str = ()) -> Fingerprint:
    """Build a :class:`Fingerprint`; ``code`` names the modules that compute the artifact."""
    ups = {k: (v.digest if isinstance(v, Fingerprint) else str(v))
           for k, v in (upstream or {}).items()}
    version = code if isinstance(code, str) else (code_version(*code) if code else "")
    return Fingerprint(kind, json.loads(canonical_json(params or {})), dict(inputs or {}), ups,
                       version)


def _as_fingerprint(path: Path, params: Mapping[str, Any] | Fingerprint,
                    inputs: Mapping[str, str] | None, upstream, code,
                    compute: Callable | None) -> Fingerprint:
    if isinstance(params, Fingerprint):
        return params
    if code is None:
        code = sorted(_function_modules(compute)) if compute is not None else ()
    return fingerprint(path.stem, params, inputs, upstream, code)


# --- notices, locks and lineage ---------------------------------------------


def notice(message: str) -> None:
    """Say ``message`` where the user sees it: stderr, and the `orbitnet` command's stderr
    when run by it (through the file named by ``ORBITNET_NOTICES``)."""
    print(f"orbitnet: {message}", file=sys.stderr, flush=True)
    target = os.environ.get(NOTICES_ENV)
    if target:
        with contextlib.suppress(OSError), open(target, "a") as fh:
            fh.write(message.replace("\n", " ") + "\n")


_HELD: dict[str, int] = {}
_HELD_LOCK = threading.Lock()


class Busy(RuntimeError):
    """Another process holds a lock this one needs."""


def lock_file(path: Path | str) -> Path:
    """The lock file of an artifact: named by its absolute path, in the machine's temporary
    folder (every process that could write the artifact sees it; artifact folders hold
    artifacts only)."""
    where = str(Path(path).resolve())
    name = f"{hashlib.sha256(where.encode()).hexdigest()[:24]}-{Path(path).name}.lock"
    return Path(tempfile.gettempdir()) / "orbitnet-locks" / name


@contextlib.contextmanager
def locked(path: Path | str, wait: bool = True, what: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a lock file, see :func:`lock_file`).

    Re-entrant within a process; released when the process dies, however it dies. With
    ``wait=False`` a held lock raises :class:`Busy` naming the holder.
    """
    path = Path(path)
    key = str(path.resolve())
    with _HELD_LOCK:
        if key in _HELD:
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            if not wait:
                raise Busy(f"another run holds {path} ({holder})") from None
            notice(f"waiting for {holder} to release {what or path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        info = (f"pid {os.getpid()}" + (f", {what}" if what else "") + ", since "
                + _dt.datetime.now().isoformat(timespec="seconds")).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        with _HELD_LOCK:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_LINEAGE: dict[str, str] = {}


def record_use(name: str, fp: Fingerprint | str) -> None:
    """Note that this process read artifact ``name`` (its fingerprint goes into the results)."""
    _LINEAGE[name] = fp.digest if isinstance(fp, Fingerprint) else str(fp)


def lineage() -> dict[str, str]:
    """Fingerprints of the artifacts this process has read (see :func:`record_use`)."""
    return dict(sorted(_LINEAGE.items()))


def reset_lineage() -> None:
    _LINEAGE.clear()


# --- HDF5 artifacts -------------------------------------------------------


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
                h5.attrs[k] = v if isinstance(v, (int, float, str, np.ndarray)) else canonical_json(v)
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
           compression: str | Mapping[str, Any] | None = None, *, upstream: Mapping[str, Any] | None = None,
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


# --- folder artifacts (trained networks) -------------------------------------


def _manifest(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.name != FINGERPRINT_FILE}


def dir_staleness(folder: Path | str, fp: Fingerprint) -> str | None:
    """Why the folder artifact cannot stand for ``fp`` (None when it can): missing, made from
    something else, or a file that no longer matches its recorded SHA-256."""
    folder = Path(folder)
    marker = folder / FINGERPRINT_FILE
    if not marker.is_file():
        return "missing"
    try:
        record = json.loads(marker.read_text())
        stored = Fingerprint.from_json(canonical_json(record["fingerprint"]))
        files = dict(record["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable ({exc})"
    if stored.digest != fp.digest:
        return "changed: " + ", ".join(fp.differences(stored))
    for name, want in files.items():
        p = folder / name
        if not p.is_file():
            return f"incomplete ({name} is missing)"
        if file_sha256(p) != want:
            return f"corrupt ({name} fails its checksum)"
    return None


def dir_fingerprint(folder: Path | str) -> Fingerprint | None:
    """The fingerprint recorded in a folder artifact, or None."""
    try:
        record = json.loads((Path(folder) / FINGERPRINT_FILE).read_text())
        return Fingerprint.from_json(canonical_json(record["fingerprint"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cached_dir(folder: Path | str, fp: Fingerprint, build: Callable[[Path], T],
               load: Callable[[Path], T]) -> T:
    """``load(folder)`` when the folder holds what ``fp`` describes, intact; else
    ``build(folder)`` (which writes its files there), then record ``fp`` and each file's
    SHA-256 in ``fingerprint.json`` (written last: a half-built folder has none)."""
    folder = Path(folder)
    marker = folder / FINGERPRINT_FILE

    def make(target: Path) -> T:
        marker.unlink(missing_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        result = build(target)
        write_text_atomic(marker, json.dumps({"fingerprint": json.loads(fp.to_json()),
                                              "files": _manifest(target)}, indent=1))
        return result

    return cached_or_compute(folder, fp, load, make, why_stale=dir_staleness)


# --- results JSON and glue ---------------------------------------------


def _results_file(chapter: str) -> Path:
    staging = os.environ.get(STAGING_ENV)
    return Path(staging) / f"{chapter}.json" if staging else paths.results_path(chapter)


def write_results(chapter: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``data`` to ``build/results/<chapter>.json`` atomically and return it as JSON types.

    The file also records its ``provenance``: the fingerprints of the artifacts this process
    read (:func:`lineage`), the chapter's parameters when run by the ``orbitnet`` command, and
    the package version. Under the ``orbitnet`` command the file is staged and moved into place
    only when the whole chapter succeeds.
    """
    clean = _jsonable(dict(data))
    params = os.environ.get(PARAMETERS_ENV)
    clean["provenance"] = {"chapter": chapter, "fingerprints": lineage(),
                           "parameters": json.loads(params) if params else None,
                           "orbitnet_version": __version__}
    write_text_atomic(_results_file(chapter), json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return clean


def load_results(chapter: str) -> dict[str, Any]:
    """Read a chapter's results; a clear error names the chapter to run when missing."""
    path = _results_file(chapter)
    if not path.is_file():
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


def open_interval_text(value: Sequence[float | None], fmt: str = "{:.4g}") -> str:
    """An interval "5.7–5.9", or one whose end(s) lie beyond the grid (None): "≥ 8.669",
    "≤ 1.2" or "the whole grid"."""
    lo, hi = value
    if lo is None and hi is None:
        return "the whole grid (no end inside it)"
    if hi is None:
        return f"≥ {format_number(float(lo), fmt)} (open: the grid ends first)"
    if lo is None:
        return f"≤ {format_number(float(hi), fmt)} (open: the grid starts later)"
    return "–".join(format_number(float(v), fmt) for v in value)


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
    ``{glue:text}`key``` (the value is already formatted). ``provenance`` is not glued.
    """
    from myst_nb import glue

    for key, value in flatten({k: v for k, v in data.items() if k != "provenance"}).items():
        if isinstance(value, bool) or value is None:
            text = str(value)
        elif isinstance(value, float):
            text = format_number(value, fmt)
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, list) and len(value) == 2 and all(
                v is None or isinstance(v, (int, float)) for v in value):  # an interval
            text = open_interval_text(value, fmt)
        elif isinstance(value, list) and 0 < len(value) <= 8 and all(
                isinstance(v, (int, float)) for v in value):
            text = ", ".join(format_number(float(v), "{:.2g}") for v in value)
        elif isinstance(value, str):
            text = value
        else:
            continue
        glue(key, GluedText(text), display=False)
