"""Shared, cached access to the NGC 6278 reference run for the chain tests.

Each loader runs once per pytest session (``functools.cache``). Missing data fails the test
with a hint instead of skipping it.
"""

from __future__ import annotations

from functools import cache

import h5py
import numpy as np
import pytest

from orbitnet.data import paths
from orbitnet.fit.cube import load_dynamite_library
from orbitnet.orblib.library import OrbitLibrary


def require(path=None) -> None:
    """Fail (never skip) with a hint when the shared data are missing; the one way to say so."""
    path = paths.reference_h5() if path is None else path
    if not path.exists():
        pytest.fail(f"data missing ({path}): run `make data` first", pytrace=False)


def _require() -> None:
    require()


@cache
def library() -> OrbitLibrary:
    """The reference orbit library read with :func:`read_orblib`."""
    _require()
    return load_dynamite_library(paths.dynamite_run_dir())[0]  # read once per session


@cache
def ref(name: str) -> np.ndarray:
    """One dataset of ``reference.h5`` (e.g. ``"losvd"``, ``"kinematics/v"``)."""
    _require()
    with h5py.File(paths.reference_h5(), "r") as f:
        return f[name][()]


@cache
def kinematics() -> dict[str, np.ndarray]:
    """Observed kinematics of ``reference.h5`` as a dict of arrays."""
    names = ("v", "dv", "sigma", "dsigma", "h3", "dh3", "h4", "dh4")
    return {n: ref(f"kinematics/{n}") for n in names}
