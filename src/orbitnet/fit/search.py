"""Search strategies over parameters that need new orbit libraries (Chapter 9).

Every strategy minimises an objective ``chi2(point)`` — the χ² of the library at ``point``
with M/L already minimised by rescaling — over a box of raw parameters (log10 f, q, ...),
spending one orbit library per evaluated point:

* :func:`legacy_grid_search`: DYNAMITE's ``LegacyGridSearch`` as its documentation and source
  describe it (``docs/SEARCH.md``): start at the configured values, step ± ``step`` in one
  parameter at a time around every model within ``threshold`` of the minimum, halve the
  steps when nothing new is proposed (not below ``minstep``), stop when an iteration does
  not improve the minimum by ``min_delta_chi2_abs`` or a model/iteration cap is reached.
* :func:`quadratic_fit` / :func:`quadratic_minimum`: a full quadratic surface by least
  squares through a space-filling (Sobol) design, and its minimum inside the box.
* :func:`gp_search`: a Gaussian process on χ² (scikit-learn) with expected improvement,
  written out here, choosing each next point among candidates.

Points live in raw units; the quadratic and the GP work in unit coordinates of the box.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm, qmc

__all__ = ["SearchParam", "SearchTrace", "expected_improvement", "fit_gp", "gp_search",
           "legacy_grid_search", "quadratic_fit", "quadratic_minimum", "snap", "sobol_design"]


@dataclass(frozen=True)
class SearchParam:
    """A free parameter in raw units with DYNAMITE's generator settings."""

    name: str
    value: float
    lo: float
    hi: float
    step: float
    minstep: float

    def __post_init__(self) -> None:
        if not self.lo <= self.value <= self.hi:
            raise ValueError(f"{self.name}: start value {self.value} outside [{self.lo}, "
                             f"{self.hi}]")
        if not 0 < self.minstep <= self.step:
            raise ValueError(f"{self.name}: need 0 < minstep ({self.minstep}) <= step "
                             f"({self.step})")


@dataclass
class SearchTrace:
    """Every evaluated point in order, its χ² and the iteration that proposed it."""

    points: list[tuple[float, ...]] = field(default_factory=list)
    chi2: list[float] = field(default_factory=list)
    iteration: list[int] = field(default_factory=list)
    steps: list[tuple[float, ...]] = field(default_factory=list)
    stopped_by: str = ""

    @property
    def n(self) -> int:
        return len(self.points)

    @property
    def best(self) -> tuple[tuple[float, ...], float]:
        i = int(np.argmin(self.chi2))
        return self.points[i], self.chi2[i]


def _same(a: Sequence[float], b: Sequence[float], eps: float = 1e-10) -> bool:
    return bool(np.allclose(a, b, rtol=eps, atol=1e-12))


def legacy_grid_search(params: Sequence[SearchParam], evaluate: Callable[[tuple], float],
                       threshold: float, min_delta_chi2_abs: float | None = 0.5,
                       n_max_mods: int | None = None, n_max_iter: int | None = None
                       ) -> SearchTrace:
    """DYNAMITE's LegacyGridSearch over ``params`` (all free).

    Iteration 0 evaluates the start; as in DYNAMITE its neighbours (iteration 1) follow in the
    same round. Each later iteration proposes, for every model with
    ``|χ² − χ²_min| <= threshold`` and each parameter, the model moved by ∓/± ``step``
    (clipped to [lo, hi]; a move shorter than ``minstep`` is dropped) unless already computed.
    Nothing new: halve each step whose half is still >= ``minstep`` and retry; when no step
    can be halved the search ends. After each iteration it stops if the iteration's best
    χ² is not below the earlier minimum by ``min_delta_chi2_abs`` (``None``: never).

    ``n_max_mods`` caps the number of evaluated models exactly (a budget: an iteration is cut
    short, in proposal order); ``n_max_iter`` stops once that iteration has been run.
    """
    if not params:
        raise ValueError("legacy_grid_search needs at least one free parameter")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    step = [p.step for p in params]
    trace = SearchTrace()

    def run(models: list[tuple[float, ...]], it: int) -> bool:
        """Evaluate models; False when the budget ran out."""
        for m in models:
            if n_max_mods is not None and trace.n >= n_max_mods:
                trace.stopped_by = "n_max_mods"
                return False
            trace.points.append(m)
            trace.chi2.append(float(evaluate(m)))
            trace.iteration.append(it)
            trace.steps.append(tuple(step))
        return True

    def propose() -> list[tuple[float, ...]]:
        chi2 = np.asarray(trace.chi2)
        centres = ([trace.points[0]] if trace.n == 1 else
                   [p for p, c in zip(trace.points, chi2, strict=True)
                    if abs(c - chi2.min()) <= threshold])
        while True:
            out: list[tuple[float, ...]] = []
            for k, par in enumerate(params):
                for m in centres:
                    for s in (-1, 1):
                        new = float(np.clip(m[k] + s * step[k], par.lo, par.hi))
                        if abs(new - m[k]) >= par.minstep - sys.float_info.epsilon:
                            cand = tuple(new if j == k else v for j, v in enumerate(m))
                            if not any(_same(cand, p) for p in (*trace.points, *out)):
                                out.append(cand)
            if out:
                return out
            halved = False
            for k, par in enumerate(params):
                if step[k] / 2 >= par.minstep:
                    step[k] /= 2
                    halved = True
            if not halved:
                return []

    start = tuple(float(p.value) for p in params)
    if not run([start], 0):
        return trace
    it = 1
    while True:
        models = propose()
        if not models:
            trace.stopped_by = "no new models at minstep"
            return trace
        before = min(trace.chi2)
        if not run(models, it):
            return trace
        last = min(c for c, i in zip(trace.chi2, trace.iteration, strict=True) if i == it)
        if min_delta_chi2_abs is not None and before - last < min_delta_chi2_abs:
            trace.stopped_by = "min_delta_chi2_abs"
            return trace
        if n_max_iter is not None and it >= n_max_iter:
            trace.stopped_by = "n_max_iter"
            return trace
        if n_max_mods is not None and trace.n >= n_max_mods:
            trace.stopped_by = "n_max_mods"
            return trace
        it += 1


# --- designs -------------------------------------------------------------


def sobol_design(n: int, dim: int, seed: int) -> np.ndarray:
    """``n`` scrambled Sobol points in the unit cube (seeded)."""
    if n < 1 or dim < 1:
        raise ValueError(f"need n >= 1 and dim >= 1, got n={n}, dim={dim}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "balance properties" for n not a power of 2
        return qmc.Sobol(d=dim, scramble=True, seed=seed).random(n)


def snap(points: np.ndarray, candidates: np.ndarray, taken: Sequence[int] = ()) -> list[int]:
    """Indices of the nearest candidate to each point, each candidate used at most once
    (a later point takes the nearest one still free). Coordinates must share units."""
    points, candidates = np.atleast_2d(points), np.atleast_2d(candidates)
    used = set(int(i) for i in taken)
    if len(used) + len(points) > len(candidates):
        raise ValueError(f"{len(points)} points but only {len(candidates) - len(used)} free "
                         "candidates")
    out = []
    for p in points:
        d = np.sum((candidates - p) ** 2, axis=1)
        for i in np.argsort(d, kind="stable"):
            if int(i) not in used:
                used.add(int(i))
                out.append(int(i))
                break
    return out


# --- quadratic surface ---------------------------------------------------


def _quad_features(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(x)
    d = x.shape[1]
    cols = [np.ones(len(x))] + [x[:, i] for i in range(d)]
    cols += [x[:, i] * x[:, j] for i in range(d) for j in range(i, d)]
    return np.column_stack(cols)


def n_quadratic_terms(dim: int) -> int:
    """Coefficients of a full quadratic in ``dim`` variables: 1 + d + d(d+1)/2."""
    return 1 + dim + dim * (dim + 1) // 2


def quadratic_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of a full quadratic through ``(x, y)``; needs at least
    :func:`n_quadratic_terms` points in general position."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.asarray(y, float)
    if len(x) < n_quadratic_terms(x.shape[1]):
        raise ValueError(f"a quadratic in {x.shape[1]} variables needs "
                         f"{n_quadratic_terms(x.shape[1])} points, got {len(x)}")
    coef, *_ = np.linalg.lstsq(_quad_features(x), y, rcond=None)
    return coef


def quadratic_eval(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _quad_features(np.asarray(x, float)) @ coef


def quadratic_minimum(coef: np.ndarray, lo: Sequence[float], hi: Sequence[float],
                      n_grid: int = 201) -> np.ndarray:
    """Minimum of the quadratic inside the box [lo, hi]: the vertex when the surface is
    convex and the vertex lies inside, else the minimum over a dense grid of the box."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    d = lo.size
    g = coef[1:1 + d]
    h = np.zeros((d, d))
    k = 1 + d
    for i in range(d):
        for j in range(i, d):
            if i == j:
                h[i, i] = 2 * coef[k]
            else:
                h[i, j] = h[j, i] = coef[k]
            k += 1
    if np.all(np.linalg.eigvalsh(h) > 0):
        v = np.linalg.solve(h, -g)
        if np.all(v >= lo) and np.all(v <= hi):
            return v
    axes = [np.linspace(a, b, n_grid) for a, b in zip(lo, hi, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    return grid[int(np.argmin(quadratic_eval(coef, grid)))]


# --- Gaussian process with expected improvement --------------------------


def fit_gp(x: np.ndarray, y: np.ndarray, seed: int = 0, noise: bool = True,
           n_restarts: int = 3):
    """A scikit-learn GP (constant × anisotropic Matérn-5/2 [+ white noise]) on unit-cube
    inputs with normalised targets; the marginal likelihood is maximised from the initial
    kernel and ``n_restarts`` random starts (one BLAS thread: the matrices are small)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from threadpoolctl import threadpool_limits

    x = np.atleast_2d(np.asarray(x, float))
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        length_scale=np.full(x.shape[1], 0.3), length_scale_bounds=(0.05, 10.0), nu=2.5)
    if noise:
        kernel = kernel + WhiteKernel(1e-3, (1e-8, 0.5))
    gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True,
                                  n_restarts_optimizer=n_restarts, random_state=seed)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")  # bound warnings at few points
        gp.fit(x, np.asarray(y, float))
    return gp


def expected_improvement(mu: np.ndarray, sigma: np.ndarray, y_best: float,
                         xi: float = 0.0) -> np.ndarray:
    """EI for minimisation: E[max(y_best − xi − Y, 0)] with Y ~ N(mu, sigma²)."""
    mu, sigma = np.asarray(mu, float), np.asarray(sigma, float)
    imp = y_best - xi - mu
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, imp / sigma, 0.0)
    ei = imp * norm.cdf(z) + sigma * norm.pdf(z)
    return np.where(sigma > 0, ei, np.maximum(imp, 0.0))


def gp_search(candidates: np.ndarray, evaluate: Callable[[int], float], budget: int,
              n_init: int, seed: int, xi: float = 0.0) -> tuple[list[int], list[float], object]:
    """Bayesian optimisation over a finite candidate set in unit coordinates.

    ``n_init`` Sobol points snapped to candidates, then one candidate per step maximising the
    expected improvement of a GP fitted to all values so far. Returns the evaluated candidate
    indices, their values and the last GP (fitted to all of them).
    """
    candidates = np.atleast_2d(np.asarray(candidates, float))
    if not 1 <= n_init <= budget <= len(candidates):
        raise ValueError(f"need 1 <= n_init ({n_init}) <= budget ({budget}) <= "
                         f"candidates ({len(candidates)})")
    idx = snap(sobol_design(n_init, candidates.shape[1], seed), candidates)
    vals = [float(evaluate(i)) for i in idx]
    gp = fit_gp(candidates[idx], vals, seed=seed)
    while len(idx) < budget:
        free = np.setdiff1d(np.arange(len(candidates)), idx)
        mu, sd = gp.predict(candidates[free], return_std=True)
        nxt = int(free[int(np.argmax(expected_improvement(mu, sd, min(vals), xi)))])
        idx.append(nxt)
        vals.append(float(evaluate(nxt)))
        gp = fit_gp(candidates[idx], vals, seed=seed)
    return idx, vals, gp
