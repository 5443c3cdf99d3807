"""The M/L grid ``start, start + step, ..., stop``: its default, its size and its values.

``THESIS`` is the one declaration of the thesis' grid (1 to 9 by 0.05, 161 models); the
chapter parameters (:mod:`orbitnet.book.registry`) and the grid command read it from here.
:func:`n_models` is the one count of a grid's models and :func:`check_range` the one check of
its ends and step, so the estimate made before a chapter runs and the grid it then computes
agree.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_MODELS", "THESIS", "check_range", "ml_grid", "n_models", "on_grid"]

#: (start, stop, step) of the thesis' grid: 161 models 1.00 ... 9.00.
THESIS: tuple[float, float, float] = (1.0, 9.0, 0.05)
#: Grids beyond this many models are refused before their values are made.
MAX_MODELS = 10**9
_SLACK = 1e-9  # a stop that is a multiple of the step up to rounding is included


def check_range(start: float, stop: float, step: float) -> None:
    """Raise ``ValueError`` unless ``0 < start <= stop``, ``step > 0``, all finite, and the grid
    has at most :data:`MAX_MODELS` models."""
    if not all(math.isfinite(float(x)) for x in (start, stop, step)):
        raise ValueError("start, stop and step must be finite")
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    if start <= 0:
        raise ValueError(f"start must be positive, got {start}")
    if stop < start:
        raise ValueError(f"stop ({stop}) is below start ({start})")
    count = (stop - start) / step
    if not count < MAX_MODELS:
        raise ValueError(f"step {step} from {start} to {stop} gives more than "
                         f"{MAX_MODELS:.0e} models")


def n_models(start: float, stop: float, step: float) -> int:
    """The number of models of the grid (both ends included; see :func:`check_range`)."""
    check_range(start, stop, step)
    return int(math.floor((stop - start) / step + _SLACK)) + 1


def ml_grid(start: float = THESIS[0], stop: float = THESIS[1],
            step: float = THESIS[2]) -> np.ndarray:
    """Evenly spaced M/L values ``start, start+step, ..., stop`` (both ends included).

    Values are rounded to 10 decimals so that e.g. ``ml_grid()[80] == 5.0`` exactly.
    The default is the thesis' grid (:data:`THESIS`).
    """
    try:
        n = n_models(start, stop, step)
    except ValueError as exc:
        raise ValueError(f"ml_grid: {exc}") from None
    return np.round(start + step * np.arange(n), 10)


def on_grid(value: float, grid: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether ``value`` is one of the grid's M/L values (to ``tol``)."""
    grid = np.asarray(grid, dtype=float)
    return grid.size > 0 and float(np.min(np.abs(grid - float(value)))) <= tol
