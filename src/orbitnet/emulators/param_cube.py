"""Emulators of the GH cube over parameters that need new orbits: (log10 f, q, M/L) -> images.

Every library at (log10 f, q) gives the per-orbit GH coefficients at any M/L for free
(velocity rescaling), so a training set of N libraries is N × n_ml images with inputs
``x = (log10 f, q, M/L)``. Three emulators share one interface, ``fit(x, gh)`` and
``predict(x)`` with ``gh`` of shape (n, n_orbits, n_bins, 4):

* :class:`ConditionedDCNN`: the thesis' Table B.1 network per coefficient, its input
  widened from M/L to the three parameters (:func:`orbitnet.emulators.dcnn.build_dcnn` with
  ``n_inputs=3``; the first Dense layer has 6 units instead of 2, nothing else changes).
* :class:`CubePCAGP`: PCA of the error-scaled images, one GP per component over the three
  parameters (unit coordinates).
* :class:`Multilinear`: multilinear interpolation on the regular (log10 f, q, M/L) grid of
  the training set (it needs the training libraries on a full regular grid).

The orbit mass rows (intrinsic and aperture masses, independent of M/L) are interpolated
multilinearly in (log10 f, q) for all three (:func:`interpolate_rows`), so that the
comparison isolates the emulation of the GH cube.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

__all__ = ["ConditionedDCNN", "CubePCAGP", "Multilinear", "interpolate_rows", "regular_axes"]


def _unit(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    span = np.where(hi > lo, hi - lo, 1.0)
    return (np.asarray(x, float) - lo) / span


def regular_axes(x: np.ndarray, decimals: int = 8) -> list[np.ndarray]:
    """The axes of a full regular grid formed by the rows of ``x``; error if it is not one."""
    x = np.round(np.atleast_2d(np.asarray(x, float)), decimals)
    axes = [np.unique(x[:, k]) for k in range(x.shape[1])]
    n_full = int(np.prod([a.size for a in axes]))
    if len({tuple(r) for r in x}) != n_full or len(x) != n_full:
        raise ValueError(f"training points do not form a full regular grid "
                         f"({len(x)} points, axes of sizes {[a.size for a in axes]})")
    return axes


def _grid_values(x: np.ndarray, values: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    x = np.round(np.atleast_2d(np.asarray(x, float)), 8)
    idx = tuple(np.searchsorted(a, x[:, k]) for k, a in enumerate(axes))
    out = np.empty((*[a.size for a in axes], *values.shape[1:]), dtype=values.dtype)
    out[idx] = values
    return out


def _multilinear(axes: list[np.ndarray], grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of ``grid`` (axes..., *rest) at rows of ``x``; axes of size
    1 are constant. Points outside the axes are clipped to them (no extrapolation)."""
    x = np.atleast_2d(np.asarray(x, float))
    out = np.zeros((len(x), *grid.shape[len(axes):]), dtype=np.float64)
    lo_idx, frac = [], []
    for k, a in enumerate(axes):
        if a.size == 1:
            lo_idx.append(np.zeros(len(x), int))
            frac.append(np.zeros(len(x)))
            continue
        v = np.clip(x[:, k], a[0], a[-1])
        i = np.clip(np.searchsorted(a, v, side="right") - 1, 0, a.size - 2)
        lo_idx.append(i)
        frac.append((v - a[i]) / (a[i + 1] - a[i]))
    d = len(axes)
    for corner in range(2**d):
        bits = [(corner >> k) & 1 for k in range(d)]
        if any(b and axes[k].size == 1 for k, b in enumerate(bits)):
            continue
        w = np.ones(len(x))
        idx = []
        for k, b in enumerate(bits):
            w = w * (frac[k] if b else 1 - frac[k])
            idx.append(lo_idx[k] + b)
        vals = grid[tuple(idx)].astype(np.float64)
        out += w.reshape(-1, *([1] * (vals.ndim - 1))) * vals
    return out


def interpolate_rows(points: np.ndarray, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of per-library arrays ``rows`` (n, ...) given on a full
    regular grid of ``points`` (n, d), at ``at`` (m, d)."""
    axes = regular_axes(points)
    return _multilinear(axes, _grid_values(points, np.asarray(rows), axes), at)


class Multilinear:
    """Multilinear interpolation in (log10 f, q, M/L) between training images."""

    name = "multilinear"

    def fit(self, x: np.ndarray, gh: np.ndarray) -> Multilinear:
        t0 = time.perf_counter()
        self.axes_ = regular_axes(x)
        self.grid_ = _grid_values(x, np.asarray(gh, np.float32), self.axes_)
        self.train_seconds = time.perf_counter() - t0
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _multilinear(self.axes_, self.grid_, x).astype(np.float32)


class CubePCAGP:
    """PCA of error-scaled images, one Gaussian process per component over the parameters.

    Parameters
    ----------
    err : (n_bins, 4) solver errors; images are divided by them before the PCA.
    n_components : principal components kept (at most n_train - 1).
    seed : random state (randomised PCA, GP optimiser restarts).
    n_restarts : random restarts of each GP's optimiser.
    """

    name = "pca_gp"

    def __init__(self, err: np.ndarray, n_components: int = 12, seed: int = 0,
                 n_restarts: int = 3) -> None:
        self.err = np.asarray(err, np.float32)
        self.n_components = n_components
        self.seed = seed
        self.n_restarts = n_restarts

    def fit(self, x: np.ndarray, gh: np.ndarray) -> CubePCAGP:
        from sklearn.decomposition import PCA

        from orbitnet.fit.search import fit_gp

        t0 = time.perf_counter()
        x = np.atleast_2d(np.asarray(x, float))
        gh = np.asarray(gh, np.float32)
        self.shape_ = gh.shape[1:]
        self.lo_, self.hi_ = x.min(axis=0), x.max(axis=0)
        flat = (gh / self.err[None, None]).reshape(len(x), -1)
        k = max(1, min(self.n_components, len(x) - 1))
        self.pca_ = PCA(n_components=k, svd_solver="randomized", random_state=self.seed)
        z = self.pca_.fit_transform(flat)
        u = _unit(x, self.lo_, self.hi_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.gps_ = [fit_gp(u, z[:, c], seed=self.seed, n_restarts=self.n_restarts)
                         for c in range(k)]
        self.train_seconds = time.perf_counter() - t0
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        u = _unit(np.atleast_2d(x), self.lo_, self.hi_)
        z = np.stack([gp.predict(u) for gp in self.gps_], axis=1)
        flat = self.pca_.inverse_transform(z)
        return (flat.reshape(len(u), *self.shape_) * self.err[None, None]).astype(np.float32)


class ConditionedDCNN:
    """Four Table B.1 networks (h1..h4) conditioned on the unit-scaled parameters.

    Parameters
    ----------
    err : (n_bins, 4) solver errors (the ``l1_err`` loss).
    recipe : training recipe (``"fast"`` by default; ``epochs`` may be overridden).
    epochs : override of the recipe's epochs.
    seed : recipe seed (h_i uses seed + i - 1).
    """

    name = "dcnn"

    def __init__(self, err: np.ndarray, recipe: str = "fast", epochs: int | None = None,
                 seed: int = 0, batch_size: int | None = None, progress: bool = False) -> None:
        from orbitnet.emulators.recipes import get_recipe

        self.recipe = get_recipe(recipe, seed=seed, epochs=epochs, batch_size=batch_size)
        self.err = np.asarray(err, np.float64)
        self.progress = progress

    def fit(self, x: np.ndarray, gh: np.ndarray) -> ConditionedDCNN:
        from orbitnet.emulators.training import fit_coefficient

        t0 = time.perf_counter()
        x = np.atleast_2d(np.asarray(x, float))
        self.lo_, self.hi_ = x.min(axis=0), x.max(axis=0)
        u = _unit(x, self.lo_, self.hi_).astype(np.float32)
        gh = np.asarray(gh, np.float32)
        self.fits_ = [fit_coefficient(u, gh[..., i], "l1_err", self.err[:, i], self.recipe,
                                      index=i, progress=self.progress, desc=f"h{i + 1}")
                      for i in range(gh.shape[-1])]
        self.train_seconds = time.perf_counter() - t0
        return self

    def predict(self, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
        import keras

        u = _unit(np.atleast_2d(x), self.lo_, self.hi_).astype(np.float32)
        shape = self.fits_[0].normaliser.offset.shape
        out = np.empty((len(u), *shape, len(self.fits_)), np.float32)
        for i, f in enumerate(self.fits_):
            for s in range(0, len(u), batch_size):
                y = keras.ops.convert_to_numpy(f.model(u[s:s + batch_size], training=False))
                out[s:s + batch_size, ..., i] = f.normaliser.inverse(y)
        return out
