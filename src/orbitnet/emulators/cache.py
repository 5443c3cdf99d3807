"""Train a DCNN emulator on an orbit-model cube, or load the stored one whose fingerprint matches.

A trained emulator lives in ``build/artifacts/<run>/dcnn/<recipe>/<loss>[/<tag>]/`` as a
folder artifact of :func:`orbitnet.store.cached_dir`: its ``fingerprint.json`` records the
recipe, loss, training models and mask, the cube's fingerprint, the training code's version,
and each file's SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from orbitnet import store
from orbitnet.data import paths
from orbitnet.fit.cube import Models
from orbitnet.fit.solver import WeightProblem, gh_errors

#: The modules that train an emulator (with every orbitnet module they import).
TRAIN_CODE = ("orbitnet.emulators.emulator",)


def cube_fingerprint(truth: Models) -> str:
    """The fingerprint (digest) of the orbit-model cube ``truth``."""
    return truth.fingerprint


def emulator_dir(galaxy: str, recipe: str, loss: str, tag: str | None = None) -> Path:
    d = paths.artifacts_dir(galaxy) / "dcnn" / recipe / loss
    return d / tag if tag else d


def emulator_fingerprint(truth: Models, recipe, loss: str, train_idx: np.ndarray,
                         mask: bool, val_idx: np.ndarray | None = None) -> store.Fingerprint:
    """What an emulator is computed from: recipe, loss, training models, mask, cube, code
    (and the validation models, when they are given instead of the recipe's split)."""
    params = {"recipe": recipe.to_dict(), "loss": loss, "train_ml": truth.ml[train_idx],
              "mask": mask}
    if val_idx is not None:
        params["val_ml"] = truth.ml[val_idx]
    return store.fingerprint("dcnn", params, upstream={"cube": truth.fingerprint},
                             code=TRAIN_CODE)


def train_or_load(truth: Models, problem: WeightProblem, recipe: str = "fast",
                  loss: str = "l1_err", out_dir: Path | None = None,
                  train_idx: Sequence[int] | None = None, mask: bool = True,
                  progress: bool = True, galaxy: str = paths.GALAXY, epochs: int | None = None,
                  val_idx: Sequence[int] | None = None, **recipe_overrides):
    """An :class:`~orbitnet.emulators.emulator.Emulator` trained on ``truth`` (or a subset).

    ``val_idx``: models to validate on instead of the recipe's split of the training set
    (which is then switched off, so every model of ``train_idx`` is trained on).
    Retrains only when the recipe, loss, training set, validation set, cube or training code
    changed since the stored run, or a stored file no longer matches its checksum.
    """
    from orbitnet.emulators.emulator import Emulator, train_emulator
    from orbitnet.emulators.recipes import get_recipe

    if epochs is not None:
        recipe_overrides["epochs"] = int(epochs)
    if val_idx is not None:
        recipe_overrides["validation_split"] = 0.0
    rec = get_recipe(recipe, **recipe_overrides)
    idx = np.arange(truth.ml.size) if train_idx is None else np.asarray(train_idx)
    out = Path(out_dir) if out_dir else emulator_dir(galaxy, rec.name, loss)
    val = None if val_idx is None else np.asarray(val_idx, dtype=int)

    def build(folder: Path):
        return train_emulator(truth.ml[idx], truth.gh[idx], err=gh_errors(problem), loss=loss,
                              recipe=rec, out_dir=folder, progress=progress, mask=mask,
                              val_ml=None if val is None else truth.ml[val],
                              val_gh=None if val is None else truth.gh[val])

    fp = emulator_fingerprint(truth, rec, loss, idx, mask, val_idx=val)
    return store.cached_dir(out, fp, build, Emulator.load)


def find_stored(truth: Models, recipe: str, loss: str, galaxy: str = paths.GALAXY,
                mask: bool = True, epochs: int | None = None):
    """The emulator another chapter trained on all of ``truth`` with ``recipe`` and ``loss``
    (and ``epochs``, None: the recipe's), if it is stored and fresh (same cube, settings and
    code, files intact); else None."""
    from orbitnet.emulators.emulator import Emulator
    from orbitnet.emulators.recipes import get_recipe

    rec = get_recipe(recipe, **({"epochs": int(epochs)} if epochs is not None else {}))
    out = emulator_dir(galaxy, rec.name, loss)
    fp = emulator_fingerprint(truth, rec, loss, np.arange(truth.ml.size), mask)
    if store.dir_staleness(out, fp) is not None:
        return None
    try:
        return Emulator.load(out)
    except (OSError, ValueError, KeyError):
        return None
