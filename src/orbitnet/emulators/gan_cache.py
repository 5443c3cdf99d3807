"""Train a Chapter 5 GAN on the orbit-model cube, or load the stored one whose fingerprint matches.

The GAN counterpart of :mod:`orbitnet.emulators.cache`: one GAN per variant, coefficient and
seed lives in ``build/artifacts/<galaxy>/gan/<variant>/<run tag>/h<k>/`` as a folder artifact
of :func:`orbitnet.store.folders.cached_dir`. Its ``fingerprint.json`` (configuration,
coefficient, training models, the cube's fingerprint, the training code's version, each
file's SHA-256) decides whether it is read back or trained again, in the chapter's kernel
(:func:`train_variant`) or beforehand in worker processes (:func:`train_in_processes`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.emulators import gan, workers
from orbitnet.emulators.gan import GANConfig, TrainedGAN
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.gh import GH_NAMES
from orbitnet.store.fingerprint import Fingerprint, canonical_json, fingerprint
from orbitnet.store.folders import cached_dir, dir_staleness

#: The modules that train a GAN (with every orbitnet module they import).
TRAIN_CODE = ("orbitnet.emulators.gan",)

#: What each variant changes in the base configuration (``cgan_global``: the cGAN with the
#: thesis' global image scaling, whatever the base says).
VARIANTS: dict[str, dict[str, Any]] = {
    "gan": {"mask": True, "conditional": False},
    "gan_nomask": {"mask": False, "conditional": False},
    "cgan": {"mask": True, "conditional": True},
    "cgan_global": {"mask": True, "conditional": True, "scaling": "global"},
}


def gan_fingerprint(images: np.ndarray, config: GANConfig,
                    params: Mapping[str, Any] | None = None,
                    upstream: Mapping[str, Any] | None = None,
                    inputs: Mapping[str, str] | None = None) -> Fingerprint:
    """What a trained GAN is computed from: configuration, image shape, ``params`` (e.g. the
    coefficient and training models), upstream artifacts (the cube), input files, code."""
    key = {"config": config.to_dict(), "image_shape": list(np.shape(images)[1:]),
           "n_images": int(np.shape(images)[0]), "params": dict(params or {})}
    return fingerprint("gan", key, inputs, upstream, code=TRAIN_CODE)


def is_stored(out_dir: Path | str, images: np.ndarray, config: GANConfig,
              params: Mapping[str, Any] | None = None, inputs: Mapping[str, str] | None = None,
              upstream: Mapping[str, Any] | None = None) -> bool:
    """Whether :func:`train_or_load` would read the GAN in ``out_dir`` back (fresh, intact)."""
    fp = gan_fingerprint(images, config, params, upstream, inputs)
    return dir_staleness(out_dir, fp) is None


def train_or_load(out_dir: Path | str, images: np.ndarray, config: GANConfig, ml=None,
                  params: Mapping[str, Any] | None = None,
                  inputs: Mapping[str, str] | None = None, progress: bool = True,
                  desc: str = "gan", upstream: Mapping[str, Any] | None = None) -> TrainedGAN:
    """The GAN stored in ``out_dir`` if its fingerprint matches (:func:`gan_fingerprint`) and
    its files are intact; else train, save and return a new one."""

    def build(folder: Path) -> TrainedGAN:
        trained = gan.train_gan(images, config, ml=ml, progress=progress, desc=desc)
        trained.save(folder)
        return trained

    fp = gan_fingerprint(images, config, params, upstream, inputs)
    return cached_dir(out_dir, fp, build, TrainedGAN.load)


def gan_root(galaxy: str = paths.GALAXY) -> Path:
    return paths.gan_root(galaxy)


def run_tag(config: GANConfig, train_idx: np.ndarray) -> str:
    """``seed<seed>-<digest>``: names the training run, so that runs with other settings (the
    quick profile, say) live beside it instead of replacing it."""
    text = canonical_json({"config": config.to_dict(),
                           "models": np.asarray(train_idx).tolist()})
    return f"seed{config.seed}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def gan_dir(variant: str, tag: str, coefficient: int, galaxy: str = paths.GALAXY) -> Path:
    """``build/artifacts/<galaxy>/gan/<variant>/<tag>/h<k>`` (``coefficient`` 0..3)."""
    return paths.gan_dir(galaxy, variant, tag, coefficient)


def _request(variant: str, orbit_models: OrbitModels, base: GANConfig, k: int,
             inputs: Mapping[str, str] | None, idx: np.ndarray, galaxy: str
             ) -> dict[str, Any]:
    """The arguments of :func:`train_or_load` for coefficient ``k`` (0..3) of ``variant``
    trained from ``base`` on the models ``idx``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {sorted(VARIANTS)}")
    cfg = replace(base, **VARIANTS[variant])
    return {"out_dir": gan_dir(variant, run_tag(cfg, idx), k, galaxy),
            "images": orbit_models.gh[idx, ..., k], "config": cfg, "ml": orbit_models.ml[idx],
            "params": {"coefficient": int(k), "models": idx.tolist()}, "inputs": inputs,
            "upstream": {"cube": orbit_models.fingerprint},
            "desc": f"{variant} {GH_NAMES[k]} seed {cfg.seed}"}


def train_variant(variant: str, orbit_models: OrbitModels, base: GANConfig,
                  coefficients: Iterable[int],
                  inputs: Mapping[str, str] | None = None, train_idx: np.ndarray | None = None,
                  galaxy: str = paths.GALAXY, progress: bool = True) -> dict[int, TrainedGAN]:
    """One GAN per coefficient (0..3) of ``variant``, read back when already trained.

    Each GAN's fingerprint holds the cube's; ``inputs`` (file hashes) are added when given.
    """
    idx = np.arange(orbit_models.ml.size) if train_idx is None else np.asarray(train_idx)
    return {k: train_or_load(progress=progress, **_request(variant, orbit_models, base, k, inputs,
                                                           idx, galaxy))
            for k in coefficients}


def _train_one(job: tuple[str, GANConfig, int, Path]) -> None:
    w = workers.STATE
    req = _request(job[0], w["truth"], job[1], job[2], w["inputs"], w["train_idx"], w["galaxy"])
    train_or_load(progress=False, **{**req, "out_dir": job[3]})


def train_in_processes(orbit_models: OrbitModels, jobs: Sequence[tuple[str, GANConfig, int]],
                       inputs: Mapping[str, str] | None, train_idx: np.ndarray,
                       galaxy: str = paths.GALAXY, n_jobs: int | None = None,
                       per_process: int = 8, progress: bool = True, min_gans: int = 2) -> int:
    """Train the GANs of ``jobs`` ((variant, base configuration, coefficient 0..3)) that are
    not stored yet in worker processes (:func:`orbitnet.emulators.workers.run_in_processes`,
    one TensorFlow thread each); the chapter then reads them back. Returns how many were
    trained (0 with fewer than ``min_gans`` to train or a Keras backend other than
    TensorFlow)."""
    idx = np.asarray(train_idx)
    todo = []
    for v, cfg, k in jobs:
        req = _request(v, orbit_models, cfg, k, inputs, idx, galaxy)
        if not is_stored(req["out_dir"], req["images"], req["config"], req["params"], inputs,
                         req["upstream"]):
            todo.append((v, cfg, k, req["out_dir"]))
    if not workers.worth_processes(len(todo), min_gans):
        return 0
    workers.run_in_processes(_train_one, todo, {"truth": orbit_models, "inputs": inputs,
                                                "train_idx": idx, "galaxy": galaxy},
                             n_jobs, per_process, progress, desc="GANs",
                             name=lambda j: f"{j[0]} {GH_NAMES[j[2]]} seed {j[1].seed}")
    return len(todo)
