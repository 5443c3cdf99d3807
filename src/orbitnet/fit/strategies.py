"""Search strategies over a lattice of orbit libraries, each spending a budget of libraries.

A strategy chooses libraries among the nodes of a :class:`~orbitnet.fit.lattice.Lattice`
(it sees only the χ² of the libraries it has paid for) and names an answer (log10 f, q). Its
cost is the measured CPU seconds of its libraries and their χ²(M/L) sweeps plus its own
computing (process CPU time). Answers off the lattice are later charged the library a
modeller would build there (:func:`answer_point`).

``random``         k distinct nodes drawn at random, keep the best (the null baseline);
``dynamite_grid``  DYNAMITE's LegacyGridSearch from a given start node;
``quadratic``      a quadratic surface through the χ² of a Sobol design (the best sampled
                   node below 6 libraries, where a quadratic in two variables is undetermined);
``gp_chi2``        a GP on χ²(log f, q) (M/L minimised per library) with expected improvement.

The cube emulators (``cube_*``), which need :mod:`orbitnet.emulators`, live in
:mod:`orbitnet.studies.beyond_ml`; their training designs are :func:`subgrid`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orbitnet.fit.lattice import Lattice
from orbitnet.fit.search import (
    SearchParam,
    gp_search,
    legacy_grid_search,
    n_quadratic_terms,
    quadratic_fit,
    quadratic_minimum,
    snap,
    sobol_design,
)
from orbitnet.fit.sweep import nearest_index

__all__ = ["DYNAMITE_START", "Run", "answer_point", "dynamite_params", "run_dynamite",
           "run_gp", "run_quadratic", "run_random", "subgrid"]

#: NGC 6278's LegacyGridSearch settings (start, step, minstep) in raw units, and its search
#: thresholds: threshold_del_chi2 = 0.1 sqrt(2 N_kin), min_delta_chi2_abs = 0.5.
DYNAMITE_START = {"log_f": (1.0, 0.5, 0.1), "q": (0.54, 0.04, 0.02)}
THRESHOLD_FRACTION = 0.1
MIN_DELTA_CHI2_ABS = 0.5


@dataclass
class Run:
    """One strategy at one budget and seed: the libraries it paid for, its answer
    (log_f, q) and its CPU seconds (libraries, sweeps, own computing)."""

    answer: tuple[float, float]
    libraries: list[int]
    cpu_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _best_node(lat: Lattice, idx: Sequence[int]) -> int:
    chi2 = lat.chi2_min
    return int(min(idx, key=lambda i: (chi2[i], i)))


def _node(lat: Lattice, i: int) -> tuple[float, float]:
    p = lat.results[i].point
    return (float(p.log_f), float(p.q))


def run_random(lat: Lattice, budget: int, seed: int) -> Run:
    """``budget`` distinct nodes drawn at random (seeded); the answer is the best of them."""
    t0 = time.process_time()
    idx = [int(i) for i in np.random.default_rng(seed).choice(lat.n, budget, replace=False)]
    best = _best_node(lat, idx)
    return Run(_node(lat, best), idx, lat.cost(idx) + time.process_time() - t0)


def dynamite_params(lat: Lattice, start: Sequence[float] | None = None) -> list[SearchParam]:
    """DYNAMITE's start values and steps; minstep raised to the lattice spacing (stated).
    ``start`` = (log_f, q) replaces the configuration's start values (snapped to the lattice)."""
    out = []
    for k, (name, axis) in enumerate((("log_f", lat.log_f), ("q", lat.q))):
        value, step, minstep = DYNAMITE_START[name]
        if start is not None:
            value = float(start[k])
        spacing = float(np.min(np.diff(axis))) if axis.size > 1 else step
        value = float(axis[nearest_index(axis, value)])
        step = max(step, spacing)
        out.append(SearchParam(name, value, float(axis.min()), float(axis.max()),
                               step=spacing * max(1, round(step / spacing)),
                               minstep=max(minstep, spacing)))
    return out


def run_dynamite(lat: Lattice, budget: int | None, sigma1: float,
                 start: Sequence[float] | None = None) -> Run:
    """LegacyGridSearch capped at ``budget`` libraries (None: its own stopping rule), from
    ``start`` (None: the configuration's start values)."""
    t0 = time.process_time()
    chi2 = lat.chi2_min
    tr = legacy_grid_search(dynamite_params(lat, start), lambda p: chi2[lat.index(p)],
                            THRESHOLD_FRACTION * sigma1, MIN_DELTA_CHI2_ABS, n_max_mods=budget)
    idx = [lat.index(p) for p in tr.points]
    return Run(_node(lat, _best_node(lat, idx)), idx,
               lat.cost(idx) + time.process_time() - t0,
               {"stopped_by": tr.stopped_by, "iterations": max(tr.iteration),
                "start": {"log_f": tr.points[0][0], "q": tr.points[0][1]}})


def run_quadratic(lat: Lattice, budget: int, seed: int) -> Run:
    """A quadratic through the χ² of a scrambled Sobol design snapped to nodes; its minimum
    inside the box (the best sampled node when the budget cannot fix a quadratic)."""
    t0 = time.process_time()
    units = lat.unit(lat.points)
    idx = snap(sobol_design(budget, 2, seed), units)
    y = lat.chi2_min[idx]
    if budget < n_quadratic_terms(2):
        return Run(_node(lat, _best_node(lat, idx)), idx,
                   lat.cost(idx) + time.process_time() - t0, {"fallback": "best sampled"})
    scale = max(float(np.ptp(y)), 1.0)
    coef = quadratic_fit(units[idx], (y - y.min()) / scale)
    raw = lat.raw(quadratic_minimum(coef, [0, 0], [1, 1]))
    return Run((float(raw[0]), float(raw[1])), idx, lat.cost(idx) + time.process_time() - t0)


def run_gp(lat: Lattice, budget: int, seed: int) -> Run:
    """Bayesian optimisation: half the budget on a Sobol design, the rest by expected
    improvement; the answer is the GP mean's minimum over a fine grid of the box."""
    t0 = time.process_time()
    units = lat.unit(lat.points)
    chi2 = lat.chi2_min
    n_init = min(budget, max(2, math.ceil(budget / 2)))
    idx, _, gp = gp_search(units, lambda i: chi2[i], budget, n_init, seed)
    g = np.linspace(0, 1, 41)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    raw = lat.raw(grid[int(np.argmin(gp.predict(grid)))])
    return Run((float(raw[0]), float(raw[1])), idx, lat.cost(idx) + time.process_time() - t0,
               {"n_init": n_init})


def answer_point(lat: Lattice, answer: Sequence[float],
                 minstep: Sequence[float] = (DYNAMITE_START["log_f"][2],
                                             DYNAMITE_START["q"][2])) -> tuple[float, float]:
    """Where a modeller builds the library of an off-lattice answer: the nearest point of the
    lattice refined until its steps are at most DYNAMITE's ``minstep`` (log f 0.1, q 0.02),
    inside the box. Lattice nodes stay nodes, so most answers share libraries."""
    out = []
    for k, axis in enumerate((lat.log_f, lat.q)):
        a = float(np.clip(answer[k], axis.min(), axis.max()))
        spacing = float(np.min(np.diff(axis))) if axis.size > 1 else 1.0
        step = spacing / max(1, math.ceil(spacing / minstep[k] - 1e-9))
        out.append(float(np.round(axis.min() + round((a - axis.min()) / step) * step, 10)))
    return out[0], out[1]


def subgrid(lat: Lattice, budget: int, seed: int | None = None) -> list[int]:
    """A regular n_a × n_b sub-lattice with n_a n_b = budget (aspect closest to the
    lattice's), the design a multilinear interpolation needs. Both ends of each axis always
    belong (emulators interpolate, never extrapolate); the inner lines are spread evenly
    (``seed`` None) or drawn at random among the inner nodes (seeded)."""
    na, nb = lat.log_f.size, lat.q.size
    shapes = [(a, budget // a) for a in range(2, na + 1)
              if budget % a == 0 and 2 <= budget // a <= nb]
    if not shapes:
        raise ValueError(f"no regular sub-lattice of {budget} libraries fits {na} × {nb}")
    a, b = min(shapes, key=lambda s: (abs(math.log(s[0] / s[1]) - math.log(na / nb)), s))
    rng = None if seed is None else np.random.default_rng(seed)

    def lines(n_all: int, n: int) -> np.ndarray:
        if rng is None:
            return np.unique(np.round(np.linspace(0, n_all - 1, n)).astype(int))
        inner = rng.choice(np.arange(1, n_all - 1), n - 2, replace=False)
        return np.sort(np.r_[0, inner, n_all - 1]).astype(int)

    la, lb = lines(na, a), lines(nb, b)
    return [int(i * nb + j) for i in la for j in lb]
