"""Shared fixtures. Tests need `make data` (they fail, never skip, without it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from orbitnet.data import paths


@pytest.fixture(scope="session")
def inputs_dir() -> Path:
    import refdata

    d = paths.inputs_dir()
    refdata.require(d)
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


@pytest.fixture(scope="session")
def small_cube(galaxy, tmp_path_factory):
    """Factory of small orbit-model cubes on the reference library, each built once a session.

    ``small_cube(lo, hi, step=0.05)`` returns ``(truth, problem)``: the cube on M/L
    ``lo, lo + step, ..., hi`` and its weight problem.
    """
    import refdata

    from orbitnet.fit import cube

    made: dict[tuple[float, float, float], tuple] = {}

    def make(lo: float = 5.5, hi: float = 6.25, step: float = 0.05):
        key = (float(lo), float(hi), float(step))
        if key not in made:
            lib = refdata.library()
            ml = np.round(np.arange(lo, hi + step / 5, step), 2)
            path = tmp_path_factory.mktemp("cube") / "orbit_models.h5"
            truth = cube.orbit_models(galaxy, lib, {"lib": "reference"}, ml=ml, n_jobs=2,
                                      progress=False, path=path)
            made[key] = (truth, cube.weight_problem(galaxy, lib))
        return made[key]

    return make
