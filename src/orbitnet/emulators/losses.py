"""The four training losses of the thesis (Eq. 3.1-3.4), backend-agnostic Keras.

With ``r = y_pred - y_true`` (in the units of the GH cube) and ``err`` the error with which the
weight solver weighs the coefficient (``obs_err[a, l] * P_a`` for bin ``a``, broadcast over
orbits), each loss of one model (one image) is a mean over orbits and bins:

- ``l2``: ``mean(r**2)``
- ``l1``: ``mean(|r|)``
- ``l2_err``: ``mean((r / err)**2)`` -- the residual divided by ``err`` and then squared, i.e.
  chi-squared per pixel; the thesis' Eq. 3.3 divides ``|r|**2`` by ``err`` once.
- ``l1_err``: ``mean(|r| / err)``

Keras averages these over the images of a batch. The thesis writes sums; a mean only rescales
the loss (and the gradients) by ``1 / (n_orbits * n_bins)``.

For training on normalised targets ``(y - offset) / target_scale`` the loss takes
``target_scale`` and returns the same value in cube units: ``r = target_scale * (ŷ_n - y_n)``.
``factor`` multiplies the value (a constant; keeps tiny losses away from Adam's epsilon).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

LOSSES: tuple[str, ...] = ("l2", "l1", "l2_err", "l1_err")


def _as_map(value, name: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype="float32")
    if arr.ndim not in (0, 1, 2):
        raise ValueError(f"{name} must be a scalar, (n_bins,) or (n_orbits, n_bins); "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and positive")
    return arr


@keras.saving.register_keras_serializable(package="orbitnet")
class GHLoss(keras.losses.Loss):
    """One of :data:`LOSSES` for ``(batch, n_orbits, n_bins)`` images.

    Parameters
    ----------
    kind : ``"l2"``, ``"l1"``, ``"l2_err"`` or ``"l1_err"``.
    err : (n_bins,) or (n_orbits, n_bins) solver errors; required by the ``*_err`` losses,
        ignored otherwise. (n_bins,) broadcasts over orbits.
    target_scale : scalar, (n_bins,) or (n_orbits, n_bins) scale of normalised targets
        (default 1: targets in cube units).
    factor : constant multiplying the loss (default 1).
    """

    def __init__(self, kind: str = "l1_err", err=None, target_scale=None, factor: float = 1.0,
                 name: str | None = None, **kwargs) -> None:
        if kind not in LOSSES:
            raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")
        super().__init__(name=name or kind, **kwargs)
        self.kind = kind
        self.power = 2 if kind.startswith("l2") else 1
        self.err = _as_map(err, "err") if kind.endswith("_err") else None
        if kind.endswith("_err") and self.err is None:
            raise ValueError(f"loss {kind!r} needs err")
        self.target_scale = _as_map(target_scale, "target_scale")
        self.factor = float(factor)
        weight = np.ones((), dtype="float32")
        if self.target_scale is not None:
            weight = weight * self.target_scale
        if self.err is not None:
            weight = weight / self.err
        self._weight = weight.astype("float32")

    def call(self, y_true, y_pred):
        r = (y_pred - ops.cast(y_true, y_pred.dtype)) * ops.convert_to_tensor(self._weight)
        per_pixel = ops.square(r) if self.power == 2 else ops.abs(r)
        return self.factor * ops.mean(per_pixel, axis=(-2, -1))

    def get_config(self) -> dict:
        def listed(arr):
            return None if arr is None else arr.tolist()

        return {**super().get_config(), "kind": self.kind, "err": listed(self.err),
                "target_scale": listed(self.target_scale), "factor": self.factor}


def loss_value(kind: str, y_pred: np.ndarray, y_true: np.ndarray, err=None) -> float:
    """The loss ``kind`` of cube-unit arrays, in numpy (mean over every axis)."""
    r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    if kind.endswith("_err"):
        r = r / np.asarray(err, dtype=float)
    return float(np.mean(r**2 if kind.startswith("l2") else np.abs(r)))
