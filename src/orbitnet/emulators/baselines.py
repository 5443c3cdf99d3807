"""Baselines that any emulator of the coefficient cube must beat.

* :class:`LinearInterpolation`: per pixel, linear in M/L between the two nearest training
  models.
* :class:`PCAGaussianProcess`: principal components of the images (in units of the solver's
  errors, so that the components that matter for χ² come first), each predicted from M/L by a
  Gaussian process (scikit-learn).

Both follow the emulator interface used in the book: ``fit(ml, gh)`` with ``gh`` of shape
(n_models, n_orbits, n_bins, 4), ``predict(ml)`` returning float32 cubes, and a guard against
predicting outside the training range.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from orbitnet.fit.sweep import check_ml_grid


def check_range(ml: np.ndarray, lo: float, hi: float, allow_extrapolation: bool,
                who: str) -> None:
    """Raise (or warn, when allowed) for M/L values outside the training range [lo, hi]."""
    ml = np.asarray(ml, dtype=float)
    outside = (ml < lo - 1e-9) | (ml > hi + 1e-9)
    if np.any(outside):
        msg = (f"{who}: M/L {ml[outside].tolist()[:5]} outside the training range "
               f"[{lo:g}, {hi:g}]")
        if not allow_extrapolation:
            raise ValueError(msg + "; pass allow_extrapolation=True to predict anyway")
        warnings.warn(msg + " (extrapolating)", stacklevel=3)


def _check_training(ml, gh) -> tuple[np.ndarray, np.ndarray]:
    ml = check_ml_grid(ml, "training M/L")
    gh = np.asarray(gh)
    if gh.ndim != 4 or gh.shape[0] != ml.size:
        raise ValueError(f"gh must be (n_models={ml.size}, n_orbits, n_bins, n_gh), "
                         f"got {gh.shape}")
    return ml, gh


class LinearInterpolation:
    """Per-pixel linear interpolation in M/L between neighbouring training models."""

    name = "linear"

    def fit(self, ml, gh) -> LinearInterpolation:
        t0 = time.perf_counter()
        self.ml_, self.gh_ = _check_training(ml, gh)
        self.train_seconds = time.perf_counter() - t0
        return self

    def predict(self, ml, allow_extrapolation: bool = False) -> np.ndarray:
        ml = np.atleast_1d(np.asarray(ml, dtype=float))
        check_range(ml, self.ml_[0], self.ml_[-1], allow_extrapolation, "linear interpolation")
        if self.ml_.size == 1:
            return np.repeat(self.gh_[:1], ml.size, axis=0).astype(np.float32)
        j = np.clip(np.searchsorted(self.ml_, ml) - 1, 0, self.ml_.size - 2)
        t = (ml - self.ml_[j]) / (self.ml_[j + 1] - self.ml_[j])
        t = t.reshape(-1, 1, 1, 1)
        out = (1 - t) * self.gh_[j] + t * self.gh_[j + 1]
        return out.astype(np.float32)


class PCAGaussianProcess:
    """PCA of the error-scaled images, a Gaussian process per component in M/L.

    Parameters
    ----------
    err : (n_bins, n_gh) the solver's error of each coefficient row (broadcast over orbits);
        images are divided by it before the PCA, so the PCA minimises a χ²-like norm.
    n_components : number of principal components (default: all, at most n_models - 1).
    seed : random state of the GP optimiser restarts.
    """

    name = "pca_gp"

    def __init__(self, err: np.ndarray | None = None, n_components: int | None = None,
                 seed: int = 0, n_restarts: int = 3) -> None:
        self.err = None if err is None else np.asarray(err, dtype=float)
        self.n_components = n_components
        self.seed = seed
        self.n_restarts = n_restarts

    def _scale(self, gh: np.ndarray) -> np.ndarray:
        return gh if self.err is None else gh / self.err[None, None]

    def fit(self, ml, gh) -> PCAGaussianProcess:
        from sklearn.decomposition import PCA
        from threadpoolctl import threadpool_limits

        t0 = time.perf_counter()
        ml, gh = _check_training(ml, gh)
        if self.err is not None and self.err.shape != gh.shape[2:]:
            raise ValueError(f"err has shape {self.err.shape}, expected {gh.shape[2:]}")
        self.shape_ = gh.shape[1:]
        self.lo_, self.hi_ = float(ml[0]), float(ml[-1])
        x = self._scale(np.asarray(gh, dtype=np.float64)).reshape(ml.size, -1)
        k = max(1, min(self.n_components or ml.size - 1, ml.size - 1)) if ml.size > 1 else 1
        self.pca_ = PCA(n_components=k, svd_solver="full" if ml.size < 200 else "auto",
                        random_state=self.seed)
        z = self.pca_.fit_transform(x) if ml.size > 1 else np.zeros((1, 1))
        if ml.size == 1:
            self.pca_ = None
            self.mean_ = x[0]
        u = self._unit(ml)[:, None]
        # one GP per component: leading components are smooth in M/L, trailing ones carry
        # little variance and must not dictate a shared length scale
        spacing = float(np.min(np.diff(u[:, 0]))) if ml.size > 1 else 1.0
        self.gps_ = []
        with threadpool_limits(1):  # BLAS threads only slow L-BFGS-B on three parameters
            self._fit_gps(u, z, spacing)
        self.train_seconds = time.perf_counter() - t0
        return self

    def _fit_gps(self, u: np.ndarray, z: np.ndarray, spacing: float) -> None:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel  # noqa: I001

        for c in range(z.shape[1]):
            kernel = (ConstantKernel(1.0, (1e-3, 1e3))
                      * RBF(0.5, (max(spacing, 1e-2), 10.0))
                      + WhiteKernel(1e-8, (1e-12, 1e-2)))
            gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True,
                                          n_restarts_optimizer=self.n_restarts,
                                          random_state=self.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter at tiny training sets
                gp.fit(u, z[:, c])
            self.gps_.append(gp)

    def _unit(self, ml: np.ndarray) -> np.ndarray:
        span = self.hi_ - self.lo_
        return (np.asarray(ml, dtype=float) - self.lo_) / (span if span > 0 else 1.0)

    def predict(self, ml, allow_extrapolation: bool = False) -> np.ndarray:
        ml = np.atleast_1d(np.asarray(ml, dtype=float))
        check_range(ml, self.lo_, self.hi_, allow_extrapolation, "PCA+GP")
        if self.pca_ is None:
            x = np.repeat(self.mean_[None], ml.size, axis=0)
        else:
            u = self._unit(ml)[:, None]
            z = np.stack([gp.predict(u) for gp in self.gps_], axis=1)
            x = self.pca_.inverse_transform(z)
        gh = x.reshape(ml.size, *self.shape_)
        if self.err is not None:
            gh = gh * self.err[None, None]
        return gh.astype(np.float32)


def grid_parabola(ml, chi2) -> float:
    """Best fit without an emulator: the vertex of the parabola through the three lowest χ².

    ``ml``, ``chi2``: the training models' own M/L and χ². The vertex is kept inside the
    models' M/L range (no extrapolation); with fewer than three models, or when the three
    lowest points are not convex, the answer is the M/L of the lowest χ².
    """
    ml = np.asarray(ml, dtype=float)
    chi2 = np.asarray(chi2, dtype=float)
    if ml.ndim != 1 or ml.shape != chi2.shape or ml.size == 0:
        raise ValueError(f"ml and chi2 must be 1-d of equal, non-zero length, got {ml.shape}, "
                         f"{chi2.shape}")
    if not (np.all(np.isfinite(ml)) and np.all(np.isfinite(chi2))):
        raise ValueError("ml and chi2 must be finite")
    lowest = np.argsort(chi2, kind="stable")[:3]
    best = float(ml[lowest[0]])
    if lowest.size < 3:
        return best
    x, y = ml[lowest], chi2[lowest]
    if np.unique(x).size < 3:
        raise ValueError("ml values must be distinct")
    centre = x.mean()
    a, b, _ = np.polyfit(x - centre, y, 2)
    if not a > 0:
        return best
    return float(np.clip(centre - b / (2 * a), ml.min(), ml.max()))
