"""Train a DCNN emulator on an orbit-model cube, or load the stored one whose fingerprint matches.

A trained emulator lives in ``build/artifacts/<galaxy>/dcnn/<recipe>/<loss>[/<tag>]/`` with a
``fingerprint.json`` that records the recipe, loss, training models and the cube's provenance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from orbitnet import store
from orbitnet.data import paths
from orbitnet.fit.cube import Models
from orbitnet.fit.solver import WeightProblem, gh_errors

FINGERPRINT = "fingerprint.json"


def cube_fingerprint(truth: Models) -> str:
    """A digest of how the orbit-model cube was made (its parameters and input hashes)."""
    attrs = truth.attrs or {}
    basis = {"parameters": attrs.get("parameters"), "inputs": attrs.get("input_sha256"),
             "shape": list(truth.gh.shape)}
    return hashlib.sha256(store.canonical_json(basis).encode()).hexdigest()


def emulator_dir(galaxy: str, recipe: str, loss: str, tag: str | None = None) -> Path:
    d = paths.artifacts_dir(galaxy) / "dcnn" / recipe / loss
    return d / tag if tag else d


def _params(truth: Models, recipe, loss: str, train_idx: np.ndarray, mask: bool) -> dict:
    return {"recipe": recipe.to_dict(), "loss": loss, "train_ml": truth.ml[train_idx],
            "mask": mask, "cube": cube_fingerprint(truth)}


def train_or_load(truth: Models, problem: WeightProblem, recipe: str = "fast",
                  loss: str = "l1_err", out_dir: Path | None = None,
                  train_idx: Sequence[int] | None = None, mask: bool = True,
                  progress: bool = True, galaxy: str = paths.GALAXY, epochs: int | None = None,
                  val_idx: Sequence[int] | None = None, **recipe_overrides):
    """An :class:`~orbitnet.emulators.emulator.Emulator` trained on ``truth`` (or a subset).

    ``val_idx``: models to validate on instead of the recipe's split of the training set
    (which is then switched off, so every model of ``train_idx`` is trained on).
    Retrains only when the recipe, loss, training set or cube changed since the stored run.
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
    params = _params(truth, rec, loss, idx, mask)
    val = None if val_idx is None else np.asarray(val_idx, dtype=int)
    if val is not None:
        params["val_ml"] = truth.ml[val]
    fp_path = out / FINGERPRINT
    if fp_path.is_file() and (out / "emulator.json").is_file():
        try:
            if json.loads(fp_path.read_text()) == json.loads(store.canonical_json(params)):
                return Emulator.load(out)
        except (OSError, ValueError, KeyError):
            pass  # unreadable or mismatched: retrain below
    if fp_path.exists():
        fp_path.unlink()
    emu = train_emulator(truth.ml[idx], truth.gh[idx], err=gh_errors(problem), loss=loss,
                         recipe=rec, out_dir=out, progress=progress, mask=mask,
                         val_ml=None if val is None else truth.ml[val],
                         val_gh=None if val is None else truth.gh[val])
    store.write_text_atomic(fp_path, store.canonical_json(params))
    return emu

