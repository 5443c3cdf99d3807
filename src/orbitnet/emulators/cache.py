"""Train a DCNN emulator on an orbit-model cube, or load the stored one whose fingerprint matches.

A trained emulator lives in ``build/artifacts/<run>/dcnn/<recipe>/<loss>[/<tag>]/`` as a
folder artifact of :func:`orbitnet.store.cached_dir`: its ``fingerprint.json`` records the
recipe, loss, training models and mask, the cube's fingerprint, the training code's version,
and each file's SHA-256.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

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


def _resolve(truth: Models, recipe: str, loss: str, out_dir: Path | None,
             train_idx: Sequence[int] | None, mask: bool, galaxy: str, epochs: int | None,
             val_idx: Sequence[int] | None, **overrides: Any):
    """(recipe, training indices, validation indices, folder, fingerprint) of a request
    (the arguments of :func:`train_or_load`)."""
    from orbitnet.emulators.recipes import get_recipe

    if epochs is not None:
        overrides["epochs"] = int(epochs)
    if val_idx is not None:
        overrides["validation_split"] = 0.0
    rec = get_recipe(recipe, **overrides)
    idx = np.arange(truth.ml.size) if train_idx is None else np.asarray(train_idx)
    out = Path(out_dir) if out_dir else emulator_dir(galaxy, rec.name, loss)
    val = None if val_idx is None else np.asarray(val_idx, dtype=int)
    return rec, idx, val, out, emulator_fingerprint(truth, rec, loss, idx, mask, val_idx=val)


def train_or_load(truth: Models, problem: WeightProblem | None, recipe: str = "fast",
                  loss: str = "l1_err", out_dir: Path | None = None,
                  train_idx: Sequence[int] | None = None, mask: bool = True,
                  progress: bool = True, galaxy: str = paths.GALAXY, epochs: int | None = None,
                  val_idx: Sequence[int] | None = None, err: np.ndarray | None = None,
                  **recipe_overrides):
    """An :class:`~orbitnet.emulators.emulator.Emulator` trained on ``truth`` (or a subset).

    ``val_idx``: models to validate on instead of the recipe's split of the training set
    (which is then switched off, so every model of ``train_idx`` is trained on).
    ``err``: the solver's GH errors (default: those of ``problem``).
    Retrains only when the recipe, loss, training set, validation set, cube or training code
    changed since the stored run, or a stored file no longer matches its checksum.
    """
    from orbitnet.emulators.emulator import Emulator, train_emulator

    rec, idx, val, out, fp = _resolve(truth, recipe, loss, out_dir, train_idx, mask, galaxy,
                                      epochs, val_idx, **recipe_overrides)
    err = gh_errors(problem) if err is None else err

    def build(folder: Path):
        return train_emulator(truth.ml[idx], truth.gh[idx], err=err, loss=loss,
                              recipe=rec, out_dir=folder, progress=progress, mask=mask,
                              val_ml=None if val is None else truth.ml[val],
                              val_gh=None if val is None else truth.gh[val])

    return store.cached_dir(out, fp, build, Emulator.load)


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


def is_stored(truth: Models, job: TrainJob) -> bool:
    """Whether ``job``'s emulator is stored, fresh and intact (nothing to train)."""
    _, _, _, out, fp = _resolve(truth, **job.kwargs())
    return store.dir_staleness(out, fp) is None


_WORKER: dict[str, Any] = {}


def _start_trainer(truth: Models, err: np.ndarray, threads: int) -> None:
    """Pool initializer: one cube per process, ``threads`` TensorFlow threads (set before
    Keras loads, so that a network's numbers do not depend on the machine's cores)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    _WORKER.update(truth=truth, err=err)


def _train_job(job: TrainJob) -> None:
    train_or_load(_WORKER["truth"], None, err=_WORKER["err"], progress=False, **job.kwargs())


def train_in_processes(truth: Models, problem: WeightProblem, jobs: Sequence[TrainJob],
                       n_jobs: int | None = None, per_process: int = 4,
                       progress: bool = True, desc: str = "networks",
                       min_networks: int = 2) -> int:
    """Train the emulators of ``jobs`` that are not stored yet, ``n_jobs`` at a time, each
    in a worker process with one TensorFlow thread, fresh processes after ``per_process``
    networks each; returns how many were trained.

    Repeated ``model.fit`` in one TensorFlow process keeps ~100 MB per emulator that
    ``clear_session`` does not return (measured: 10 emulators, 1.41 → 2.34 GB), so a study
    of dozens of networks trains them here and then loads them from the store. With a Keras
    backend other than TensorFlow (JAX on a GPU), or fewer than ``min_networks`` to train
    (a worker's start-up, ~8 s, would cost more than it saves), nothing is done: the callers
    train in their own process as before.
    """
    import keras

    todo = [j for j in jobs if not is_stored(truth, j)]
    if len(todo) < max(1, min_networks) or keras.backend.backend() != "tensorflow":
        return 0
    n = max(1, min(int(n_jobs or os.cpu_count() or 1), len(todo)))
    size = n * max(1, int(per_process))
    ctx = multiprocessing.get_context("spawn")
    err = gh_errors(problem)
    with tqdm(total=len(todo), desc=desc, unit="network", disable=not progress) as bar:
        # fresh processes for every batch (the executor's own max_tasks_per_child can hang
        # on Python 3.11 when a worker retires)
        for start in range(0, len(todo), size):
            batch = todo[start:start + size]
            with ProcessPoolExecutor(max_workers=min(n, len(batch)), mp_context=ctx,
                                     initializer=_start_trainer,
                                     initargs=(truth, err, 1)) as pool:
                futures = {pool.submit(_train_job, j): j for j in batch}
                for fut in as_completed(futures):
                    try:
                        fut.result()
                    except Exception as exc:
                        for f in futures:
                            f.cancel()
                        j = futures[fut]
                        raise RuntimeError(f"training {j.recipe}/{j.loss} ({j.out_dir}) "
                                           f"failed: {type(exc).__name__}: {exc}") from exc
                    bar.update()
    return len(todo)


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
