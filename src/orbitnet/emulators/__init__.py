"""Emulators of the per-orbit Gauss-Hermite cube: the thesis' deconvolutional network."""

from orbitnet.emulators.dcnn import THESIS_PARAMS, build_dcnn, copy_weights, seed_grid
from orbitnet.emulators.emulator import Emulator, ExtrapolationWarning, load_weights, train_emulator
from orbitnet.emulators.losses import LOSSES, GHLoss, loss_value
from orbitnet.emulators.recipes import FAST, RECIPES, THESIS, Recipe, get_recipe
from orbitnet.emulators.training import Normaliser, fit_coefficient, split_models

__all__ = [
    "FAST",
    "LOSSES",
    "RECIPES",
    "THESIS",
    "THESIS_PARAMS",
    "Emulator",
    "ExtrapolationWarning",
    "GHLoss",
    "Normaliser",
    "Recipe",
    "build_dcnn",
    "copy_weights",
    "fit_coefficient",
    "get_recipe",
    "load_weights",
    "loss_value",
    "seed_grid",
    "split_models",
    "train_emulator",
]
