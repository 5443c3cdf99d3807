"""Training subsets of an M/L grid: the one convention every chapter uses.

A step ``k`` and an offset ``o`` (``0 <= o < k``) give the models ``o, o + k, o + 2k, ...``;
over ``o = 0 .. k-1`` these sets cover the grid exactly once. A set is judged only on its own
M/L range (first to last training model), so that no best fit is decided by extrapolation; the
*held-out* models are the models of that range that are not in the set.
"""

from __future__ import annotations

import numpy as np

__all__ = ["every_kth", "heldout", "judged_range", "offsets"]


def _check(n_models: int, step: int) -> None:
    if int(step) != step or step < 1:
        raise ValueError(f"step must be a positive integer, got {step}")
    if n_models < 1:
        raise ValueError(f"the grid is empty (n_models={n_models})")


def every_kth(n_models: int, step: int, offset: int = 0, with_last: bool = False
              ) -> np.ndarray:
    """Indices ``offset, offset + step, ...`` below ``n_models``; ``with_last`` appends the
    grid's last model when the set misses it (so that the set spans the grid's end)."""
    _check(n_models, step)
    if int(offset) != offset or not 0 <= offset < step:
        raise ValueError(f"offset must be an integer in [0, {step}), got {offset}")
    if offset >= n_models:
        raise ValueError(f"offset {offset} is beyond the grid of {n_models} models")
    idx = np.arange(int(offset), n_models, int(step))
    if with_last and idx[-1] != n_models - 1:
        idx = np.append(idx, n_models - 1)
    return idx


def offsets(step: int, n: int | None = None) -> np.ndarray:
    """All offsets ``0 .. step-1`` (``n=None`` or ``n >= step``), or ``n`` evenly spread ones.

    The spread subset is ``floor(i * step / n)`` for ``i < n``: it always contains offset 0
    and never repeats one.
    """
    _check(1, step)
    if n is None or n >= step:
        return np.arange(int(step))
    if int(n) != n or n < 1:
        raise ValueError(f"the number of offsets must be a positive integer, got {n}")
    return (np.arange(int(n)) * int(step)) // int(n)


def judged_range(train_idx: np.ndarray) -> np.ndarray:
    """Indices from the first to the last training model (the range a set is judged on)."""
    idx = np.asarray(train_idx)
    if idx.ndim != 1 or idx.size == 0:
        raise ValueError("the training set is empty")
    return np.arange(int(idx.min()), int(idx.max()) + 1)


def heldout(train_idx: np.ndarray) -> np.ndarray:
    """Models of the judged range that are not in the training set."""
    return np.setdiff1d(judged_range(train_idx), train_idx)
