"""Shared fixtures. Tests need `make data` (they fail, never skip, without it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orbitnet.data import paths


@pytest.fixture(scope="session")
def inputs_dir() -> Path:
    d = paths.inputs_dir()
    if not d.is_dir():
        pytest.fail(f"{d} is missing: run `make data` before the tests")
    return d


@pytest.fixture(scope="session")
def galaxy(inputs_dir):
    from orbitnet.data.galaxy import load_galaxy

    return load_galaxy(inputs_dir)


@pytest.fixture
def inputs_copy(inputs_dir, tmp_path) -> Path:
    """A writable copy of the four input files."""
    dst = tmp_path / "inputs"
    shutil.copytree(inputs_dir, dst)
    return dst
