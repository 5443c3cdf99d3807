"""Emulators of the per-orbit Gauss-Hermite cube: the thesis' deconvolutional network.

The names below are loaded on first use (PEP 562), so that importing a light submodule
(``orbitnet.emulators.cache``, ``baselines``) does not start Keras and TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "THESIS_PARAMS": "dcnn", "build_dcnn": "dcnn", "copy_weights": "dcnn", "seed_grid": "dcnn",
    "Emulator": "emulator", "ExtrapolationWarning": "emulator", "load_weights": "emulator",
    "train_emulator": "emulator",
    "LOSSES": "losses", "GHLoss": "losses", "loss_value": "losses",
    "FAST": "recipes", "RECIPES": "recipes", "THESIS": "recipes", "Recipe": "recipes",
    "get_recipe": "recipes",
    "Normaliser": "training", "fit_coefficient": "training", "split_models": "training",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'orbitnet.emulators' has no attribute {name!r}")
    return getattr(importlib.import_module(f"orbitnet.emulators.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
