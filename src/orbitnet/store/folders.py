"""Folder artifacts (trained networks): a ``fingerprint.json`` with each file's SHA-256."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from orbitnet.store.artifacts import cached_or_compute, write_text_atomic
from orbitnet.store.fingerprint import Fingerprint, canonical_json, file_sha256

T = TypeVar("T")
FINGERPRINT_FILE = "fingerprint.json"


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

