"""``make data``: fill ``data/<galaxy>/`` from ../shared or by a checksummed download.

Where the project's ``../shared/data/<galaxy>`` folder exists (every machine of this
project), its inputs and the DYNAMITE reference run are copied. Elsewhere the four model
inputs are downloaded from DYNAMITE's public repository at a pinned commit. Every file is
checked against the SHA-256 sums in ``data/manifest.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from importlib import resources
from pathlib import Path

from orbitnet.data import paths
from orbitnet.data.galaxy import INPUT_FILES, DataError
from orbitnet.store.fingerprint import file_sha256


def manifest(galaxy: str = paths.GALAXY) -> dict:
    """The checksum manifest of a galaxy."""
    text = resources.files("orbitnet").joinpath("data", "manifest.json").read_text()
    data = json.loads(text)
    if galaxy not in data:
        raise DataError(f"no data manifest for galaxy {galaxy!r}; known: {sorted(data)}")
    return data[galaxy]


def shared_source(galaxy: str = paths.GALAXY) -> Path | None:
    """The shared data folder (``ORBITNET_SHARED`` or ``../shared``) when it exists."""
    src = paths.shared_data(galaxy)
    return src if src.is_dir() else None


def _copy_atomic(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _verify(path: Path, sha: str) -> bool:
    return path.is_file() and file_sha256(path) == sha


def fetch(galaxy: str = paths.GALAXY, dest: Path | None = None, source: Path | None = None,
          offline: bool = False, log=print) -> Path:
    """Fill ``dest`` (default ``data/<galaxy>``) and verify every file; return ``dest``."""
    dest = dest or paths.galaxy_dir(galaxy)
    man = manifest(galaxy)
    src = source or shared_source(galaxy)
    if src is not None:
        n_copied = 0
        for rel, sha in man["shared_files"].items():
            target = dest / rel
            if _verify(target, sha):
                continue
            origin = src / rel
            if not origin.is_file():
                raise DataError(f"{origin} is missing from the shared data folder {src}")
            _copy_atomic(origin, target)
            if not _verify(target, sha):
                raise DataError(f"{origin} does not match its SHA-256 in the manifest")
            n_copied += 1
        log(f"data: {len(man['shared_files'])} files in {dest} verified "
            f"({n_copied} copied from {src})")
        return dest
    dl = man["download"]
    for name in INPUT_FILES:
        target = paths.inputs_of(dest, name)
        sha = dl["files"][name]
        if _verify(target, sha):
            continue
        if offline:
            raise DataError(f"{target} is missing and downloads are off: run `make data` "
                            "on a machine with network access")
        url = dl["url"].format(commit=dl["commit"], file=name)
        log(f"data: downloading {url}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.{os.getpid()}.tmp")
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                tmp.write_bytes(resp.read())
        except OSError as exc:
            raise DataError(f"cannot download {url}: {exc}") from exc
        if file_sha256(tmp) != sha:
            tmp.unlink()
            raise DataError(f"{url} does not match its SHA-256 in the manifest")
        os.replace(tmp, target)
    log(f"data: the {len(INPUT_FILES)} inputs in {paths.inputs_of(dest)} verified "
        "(no DYNAMITE run: chapters use the embedded engine)")
    return dest


def check(galaxy: str = paths.GALAXY, dest: Path | None = None) -> list[str]:
    """Names of files under ``dest`` that are missing or corrupt (empty list = all good)."""
    dest = dest or paths.galaxy_dir(galaxy)
    man = manifest(galaxy)
    bad = []
    shared = {k: v for k, v in man["shared_files"].items()}
    for name in INPUT_FILES:
        target = paths.inputs_of(dest, name)
        ok = {shared.get(f"{paths.INPUTS}/{name}"), man["download"]["files"][name]}
        if not target.is_file() or file_sha256(target) not in ok:
            bad.append(str(target))
    if paths.dynamite_run_of(dest).exists():
        for rel, sha in shared.items():
            if rel.startswith(f"{paths.DYNAMITE_RUN}/") and not _verify(dest / rel, sha):
                bad.append(str(dest / rel))
    return bad
