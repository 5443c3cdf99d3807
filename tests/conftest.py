"""Shared fixtures. Tests need `make data` (they fail, never skip, without it)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
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
    made: dict[tuple[float, float, float], tuple] = {}

    def make(lo: float = 5.5, hi: float = 6.25, step: float = 0.05):
        key = (float(lo), float(hi), float(step))
        if key not in made:
            ml = np.round(np.arange(lo, hi + step / 5, step), 2)
            path = tmp_path_factory.mktemp("cube") / "orbit_models.h5"
            made[key] = make_cube(galaxy, ml, path).pair
        return made[key]

    return make


@dataclass
class MadeCube:
    """A real orbit-model cube (its fingerprint included) with what it was made from."""

    models: object  # orbitnet.fit.cube.OrbitModels
    library: object  # the DYNAMITE reference library
    library_fp: object  # its orbitnet.store.fingerprint.Fingerprint
    problem: object  # the weight problem of that library
    path: Path

    @property
    def pair(self) -> tuple:
        return self.models, self.problem


def make_cube(galaxy, ml, path: Path, n_jobs: int = 2) -> MadeCube:
    """Project and solve the DYNAMITE reference library for ``galaxy`` on ``ml`` at ``path``
    (the default path of a run puts it where chapters 3-8 look)."""
    from orbitnet.fit import cube

    lib, fp = cube.load_dynamite_library(paths.dynamite_run_dir())
    models = cube.build_orbit_models(galaxy, lib, fp, ml=ml, n_jobs=n_jobs, progress=False,
                                     path=path)
    return MadeCube(models, lib, fp, cube.weight_problem(galaxy, lib), path)
