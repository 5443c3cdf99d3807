"""Fingerprints: what an artifact was computed from, hashed.

An artifact's :class:`Fingerprint` is its parameters, the SHA-256 of its input files, the
fingerprints of the upstream artifacts it read and the version of the code that computed it
(:func:`orbitnet.store.code.code_version`). Two artifacts with equal digests are
interchangeable; one whose fingerprint differs from the one asked for is stale. The lineage
(:func:`record_use`) lists the artifacts a process read, for its results' provenance.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.store.code import code_version


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


def jsonable(obj: Any) -> Any:
    """``obj`` as JSON types (numpy values, paths, fingerprints; NaN and inf as None)."""
    if isinstance(obj, Fingerprint):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def canonical_json(obj: Any) -> str:
    """Stable JSON text used to compare parameter sets."""
    return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"))


def digest(obj: Any) -> str:
    """SHA-256 of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()



@dataclass(frozen=True)
class Fingerprint:
    """What an artifact was computed from; two artifacts with equal digests are interchangeable."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)
    upstream: Mapping[str, str] = field(default_factory=dict)
    code: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": jsonable(self.params),
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


_LINEAGE: dict[str, str] = {}


def record_use(name: str, fp: Fingerprint | str) -> None:
    """Note that this process read artifact ``name`` (its fingerprint goes into the results)."""
    _LINEAGE[name] = fp.digest if isinstance(fp, Fingerprint) else str(fp)


def lineage() -> dict[str, str]:
    """Fingerprints of the artifacts this process has read (see :func:`record_use`)."""
    return dict(sorted(_LINEAGE.items()))


def reset_lineage() -> None:
    _LINEAGE.clear()

