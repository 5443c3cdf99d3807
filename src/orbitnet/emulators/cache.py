"""Train a DCNN emulator on an orbit-model cube, or load the stored one whose fingerprint matches.

A trained emulator lives in ``build/artifacts/<run>/dcnn/<recipe>/<loss>[/<tag>]/`` as a
folder artifact of :func:`orbitnet.store.folders.cached_dir`: its ``fingerprint.json`` records the
recipe, loss, training models and mask, the cube's fingerprint, the training code's version,
and each file's SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.emulators import workers
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.solver import WeightProblem, gh_errors
from orbitnet.store.fingerprint import Fingerprint, fingerprint
from orbitnet.store.folders import cached_dir, dir_staleness

#: The modules that train an emulator (with every orbitnet module they import).
TRAIN_CODE = ("orbitnet.emulators.emulator",)


def cube_fingerprint(orbit_models: OrbitModels) -> str:
    """The fingerprint (digest) of the orbit-model cube ``orbit_models``."""
    return orbit_models.fingerprint


def emulator_dir(galaxy: str, recipe: str, loss: str, tag: str | None = None) -> Path:
    return paths.emulator_dir(galaxy, recipe, loss, tag)


def emulator_fingerprint(orbit_models: OrbitModels, recipe, loss: str, train_idx: np.ndarray,
                         mask: bool, val_idx: np.ndarray | None = None) -> Fingerprint:
    """What an emulator is computed from: recipe, loss, training models, mask, cube, code
    (and the validation models, when they are given instead of the recipe's split)."""
    params = {"recipe": recipe.to_dict(), "loss": loss, "train_ml": orbit_models.ml[train_idx],
              "mask": mask}
    if val_idx is not None:
        params["val_ml"] = orbit_models.ml[val_idx]
    return fingerprint("dcnn", params, upstream={"cube": orbit_models.fingerprint},
                       code=TRAIN_CODE)


def _resolve(orbit_models: OrbitModels, recipe: str, loss: str, out_dir: Path | None,
             train_idx: Sequence[int] | None, mask: bool, galaxy: str, epochs: int | None,
             val_idx: Sequence[int] | None, **overrides: Any):
    """(recipe, training indices, validation indices, folder, fingerprint) of a request
    (the arguments of :func:`train_or_load`)."""
    from orbitnet.emulators.recipes import get_recipe

    if val_idx is not None:
        overrides["validation_split"] = 0.0
    rec = get_recipe(recipe, epochs=epochs, **overrides)
    idx = np.arange(orbit_models.ml.size) if train_idx is None else np.asarray(train_idx)
    out = Path(out_dir) if out_dir else emulator_dir(galaxy, rec.name, loss)
    val = None if val_idx is None else np.asarray(val_idx, dtype=int)
    return rec, idx, val, out, emulator_fingerprint(orbit_models, rec, loss, idx, mask, val_idx=val)


def train_or_load(orbit_models: OrbitModels, problem: WeightProblem | None, recipe: str = "fast",
                  loss: str = "l1_err", out_dir: Path | None = None,
                  train_idx: Sequence[int] | None = None, mask: bool = True,
                  progress: bool = True, galaxy: str = paths.GALAXY, epochs: int | None = None,
                  val_idx: Sequence[int] | None = None, err: np.ndarray | None = None,
                  **recipe_overrides):
    """An :class:`~orbitnet.emulators.emulator.Emulator` trained on ``orbit_models`` (or a subset).

    ``val_idx``: models to validate on instead of the recipe's split of the training set
    (which is then switched off, so every model of ``train_idx`` is trained on).
    ``err``: the solver's GH errors (default: those of ``problem``).
    Retrains only when the recipe, loss, training set, validation set, cube or training code
    changed since the stored run, or a stored file no longer matches its checksum.
    """
    from orbitnet.emulators.emulator import Emulator, train_emulator

    rec, idx, val, out, fp = _resolve(orbit_models, recipe, loss, out_dir, train_idx, mask, galaxy,
                                      epochs, val_idx, **recipe_overrides)
    err = gh_errors(problem) if err is None else err

    def build(folder: Path):
        return train_emulator(orbit_models.ml[idx], orbit_models.gh[idx], err=err, loss=loss,
                              recipe=rec, out_dir=folder, progress=progress, mask=mask,
                              val_ml=None if val is None else orbit_models.ml[val],
                              val_gh=None if val is None else orbit_models.gh[val])

    return cached_dir(out, fp, build, Emulator.load)


@dataclass(frozen=True)
class TrainJob:
    """One emulator to train: the arguments of :func:`train_or_load` besides the cube."""

    out_dir: Path | None = None  # None: the recipe and loss's folder of ``galaxy``
    recipe: str = "fast"
    loss: str = "l1_err"
    train_idx: tuple[int, ...] | None = None
    val_idx: tuple[int, ...] | None = None
    mask: bool = True
    epochs: int | None = None
    galaxy: str = paths.GALAXY
    overrides: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "loss": self.loss, "out_dir": self.out_dir,
                "train_idx": self.train_idx, "val_idx": self.val_idx, "mask": self.mask,
                "epochs": self.epochs, "galaxy": self.galaxy, **dict(self.overrides)}


def is_stored(orbit_models: OrbitModels, job: TrainJob) -> bool:
    """Whether ``job``'s emulator is stored, fresh and intact (nothing to train)."""
    _, _, _, out, fp = _resolve(orbit_models, **job.kwargs())
    return dir_staleness(out, fp) is None


def _train_job(job: TrainJob) -> None:
    train_or_load(workers.STATE["truth"], None, err=workers.STATE["err"], progress=False,
                  **job.kwargs())


def train_in_processes(orbit_models: OrbitModels, problem: WeightProblem, jobs: Sequence[TrainJob],
                       n_jobs: int | None = None, per_process: int = 4,
                       progress: bool = True, desc: str = "networks",
                       min_networks: int = 2) -> int:
    """Train the emulators of ``jobs`` that are not stored yet, ``n_jobs`` at a time, each
    in a worker process with one TensorFlow thread, fresh processes after ``per_process``
    networks each (:func:`orbitnet.emulators.workers.run_in_processes`); returns how many
    were trained.

    Repeated ``model.fit`` in one TensorFlow process keeps ~100 MB per emulator that
    ``clear_session`` does not return (measured: 10 emulators, 1.41 → 2.34 GB), so a study
    of dozens of networks trains them here and then loads them from the store. With a Keras
    backend other than TensorFlow (JAX on a GPU), or fewer than ``min_networks`` to train,
    nothing is done: the callers train in their own process as before.
    """
    todo = [j for j in jobs if not is_stored(orbit_models, j)]
    if not workers.worth_processes(len(todo), min_networks):
        return 0
    workers.run_in_processes(_train_job, todo, {"truth": orbit_models, "err": gh_errors(problem)},
                             n_jobs, per_process, progress, desc,
                             name=lambda j: f"{j.recipe}/{j.loss} ({j.out_dir})")
    return len(todo)


def find_stored(orbit_models: OrbitModels, recipe: str, loss: str, galaxy: str = paths.GALAXY,
                mask: bool = True, epochs: int | None = None):
    """The emulator another chapter trained on all of ``orbit_models`` with ``recipe`` and ``loss``
    (and ``epochs``, None: the recipe's), if it is stored and fresh (same cube, settings and
    code, files intact); else None."""
    from orbitnet.emulators.emulator import Emulator
    from orbitnet.emulators.recipes import get_recipe

    rec = get_recipe(recipe, epochs=epochs)
    out = emulator_dir(galaxy, rec.name, loss)
    fp = emulator_fingerprint(orbit_models, rec, loss, np.arange(orbit_models.ml.size), mask)
    if dir_staleness(out, fp) is not None:
        return None
    try:
        return Emulator.load(out)
    except (OSError, ValueError, KeyError):
        return None
