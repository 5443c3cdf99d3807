"""Every path the project uses, in one place (showyourwork style).

The repository root is found from ``ORBITNET_ROOT`` or by walking up from the current
directory to the folder holding ``_config.yml`` and ``pyproject.toml``; outside a checkout
the current directory is used.
"""

from __future__ import annotations

import os
from pathlib import Path

GALAXY = "ngc6278"


def _find_root() -> Path:
    env = os.environ.get("ORBITNET_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for cand in (here, *here.parents):
        if (cand / "_config.yml").is_file() and (cand / "pyproject.toml").is_file():
            return cand
    src_root = Path(__file__).resolve().parents[3]
    if (src_root / "pyproject.toml").is_file():
        return src_root
    return here


ROOT = _find_root()
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
BUILD = ROOT / "build"
ARTIFACTS = BUILD / "artifacts"
RESULTS = BUILD / "results"
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
CHAPTERS_OUT = BOOK / "chapters"
HTML = ROOT / "_build" / "html"


def galaxy_dir(galaxy: str = GALAXY) -> Path:
    """Folder with a galaxy's data (``data/<galaxy>``)."""
    return DATA / galaxy


def inputs_dir(galaxy: str = GALAXY) -> Path:
    """The four model inputs: MGE, kinematics, aperture, bins."""
    return galaxy_dir(galaxy) / "inputs"


def dynamite_run_dir(galaxy: str = GALAXY) -> Path:
    """The DYNAMITE reference run copied by ``make data`` (absent on download-only machines)."""
    return galaxy_dir(galaxy) / "dynamite-3.0.0"


def reference_h5(galaxy: str = GALAXY) -> Path:
    """DYNAMITE's numbers to match (``reference.h5``)."""
    return dynamite_run_dir(galaxy) / "reference.h5"


def artifacts_dir(galaxy: str = GALAXY) -> Path:
    return ARTIFACTS / galaxy


def lock_dir() -> Path:
    """``build/locks``: the owner-only folder of the artifacts' lock files."""
    return BUILD / "locks"


def run_lock() -> Path:
    """``build/locks/run.lock``: held by a chapter or book run (one at a time per checkout)."""
    return lock_dir() / "run.lock"


def kernels_dir() -> Path:
    """``build/.kernels``: running chapter kernels' connection files and IPC sockets."""
    return BUILD / ".kernels"


def results_path(chapter: str) -> Path:
    """``build/results/<chapter>.json``."""
    return RESULTS / f"{chapter}.json"
