"""Chapter 5: GANs on the orbit-model cube, trained once (cached) and judged like every emulator.

Three variants, one network per coefficient each: the thesis' unconditional GAN with the
mask (``gan``) and without it (``gan_nomask``), and a conditional GAN (``cgan``) whose mean
image over noise draws at each M/L goes through the Chapter 2 weight solver. The networks are
trained or read back by :mod:`orbitnet.emulators.gan_cache` (the DCNN compared with them by
:mod:`orbitnet.emulators.cache`); everything lives under ``build/artifacts/<galaxy>/gan/``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import keras
import numpy as np

from orbitnet.data import paths
from orbitnet.emulators.cache import emulator_dir, emulator_fingerprint, find_stored, train_or_load
from orbitnet.emulators.gan import GENERATOR_FILE, GANConfig, TrainedGAN
from orbitnet.emulators.gan_cache import VARIANTS, gan_root, train_variant
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.gh import GH_NAMES
from orbitnet.fit.solver import WeightProblem
from orbitnet.judge.compare import evaluate, median_abs_residual_over_err
from orbitnet.judge.subsets import every_kth
from orbitnet.store.artifacts import display_path
from orbitnet.store.fingerprint import canonical_json, input_hashes


def training_set(orbit_models: OrbitModels, step: int = 1) -> np.ndarray:
    """Indices of every ``step``-th orbit model (the last one included)."""
    return every_kth(orbit_models.ml.size, int(step), with_last=True)


def chapter_gans(configs: Mapping[str, GANConfig], seeds: Sequence[int],
                 spread_variants: Sequence[str], spread_coefficient: int
                 ) -> list[tuple[str, GANConfig, int]]:
    """(variant, base configuration, coefficient 0..3) of every GAN Chapter 5 trains: each
    variant of ``configs`` on all four coefficients with its own seed, every variant of
    ``spread_variants`` on coefficient ``spread_coefficient`` (0..3) with each seed, and the
    cGAN with global scaling on it with the first seed."""
    k = int(spread_coefficient)
    jobs = [(v, cfg, c) for v, cfg in configs.items() for c in range(4)]
    jobs += [(v, replace(configs[v], seed=int(s)), k) for v in spread_variants for s in seeds]
    jobs.append(("cgan_global", replace(configs["cgan"], seed=int(seeds[0])), k))
    unique: dict[tuple, tuple[str, GANConfig, int]] = {}
    for v, cfg, c in jobs:
        unique.setdefault((v, canonical_json(cfg.to_dict()), c), (v, cfg, c))
    return list(unique.values())


def nearest_residual(samples: np.ndarray, images: np.ndarray, err: np.ndarray
                     ) -> tuple[float, np.ndarray]:
    """Median |sample − nearest image| / err, and each sample's nearest image (χ² distance).

    ``samples`` (n, n_orbits, n_bins), ``images`` (N, n_orbits, n_bins), ``err`` (n_bins,).
    """
    w = 1.0 / np.asarray(err, dtype=np.float64)
    imgs = np.asarray(images, dtype=np.float32)
    nearest = np.empty(len(samples), dtype=int)
    parts = []
    for i, s in enumerate(samples):
        d = np.einsum("nob,b->n", (imgs - s[None]) ** 2, w ** 2)
        nearest[i] = int(np.argmin(d))
        parts.append((np.abs(s - imgs[nearest[i]]) * w).astype(np.float32).ravel())
    return float(np.median(np.concatenate(parts))), nearest


def blank_level(samples: np.ndarray, images: np.ndarray, err: np.ndarray) -> float:
    """Median |sample| / err over the pixels that are zero in every training image."""
    blank = np.all(np.asarray(images) == 0, axis=0)
    if not blank.any():
        return float("nan")
    vals = np.abs(np.asarray(samples)) / np.asarray(err)[None, None]
    return float(np.median(vals[:, blank]))


def reference_residuals(orbit_models: OrbitModels, err: np.ndarray, k: int) -> dict[str, float]:
    """Residuals of trivial predictions for coefficient ``k``: all zeros, and the mean image
    over the models at every M/L (what a generator ignoring M/L at best achieves)."""
    y = orbit_models.gh[..., k]
    e = np.asarray(err)[:, k]
    mean = y.mean(axis=0, dtype=np.float64).astype(y.dtype)
    return {"zero_image": median_abs_residual_over_err(np.zeros_like(y), y, e),
            "mean_image": median_abs_residual_over_err(np.broadcast_to(mean, y.shape), y, e)}


def judge_unconditional(gans: Mapping[int, TrainedGAN], orbit_models: OrbitModels, err: np.ndarray,
                        train_idx: np.ndarray, n_samples: int, seed: int = 0
                        ) -> dict[str, dict[str, Any]]:
    """Per coefficient: seconds, residual to the nearest training image, blank-pixel level."""
    out = {}
    for k, gan in gans.items():
        imgs = orbit_models.gh[train_idx, ..., k]
        samples = gan.generate(n_samples, seed=seed)
        res, nearest = nearest_residual(samples, imgs, err[:, k])
        out[GH_NAMES[k]] = {
            "train_seconds": gan.seconds,
            "seconds_per_epoch": float(np.median(gan.history["epoch_seconds"])),
            "median_abs_residual_over_err": res,
            "blank_over_err": blank_level(samples, imgs, err[:, k]),
            "nearest_ml": [float(orbit_models.ml[train_idx][i]) for i in nearest],
        }
    return out


def cgan_models(gans: Mapping[int, TrainedGAN], orbit_models: OrbitModels, problem: WeightProblem,
                err: np.ndarray, n_draws: int, seed: int = 0, *, ml_show: float,
                galaxy: str = paths.GALAXY, n_jobs: int | None = None, progress: bool = True
                ) -> tuple[OrbitModels, dict[str, Any]]:
    """The conditional GANs' mean image at every orbit-model M/L, solved and judged.

    Cached in ``gan/cgan_<run tag>_models.h5``, keyed by the generators' weight files.
    """
    ks = sorted(gans)
    if ks != [0, 1, 2, 3]:
        raise ValueError("the weight solver needs all four coefficients")
    if any(gans[k].path is None for k in ks):
        raise ValueError("the cGANs must be saved (train_variant does) to key the cache")
    inputs = input_hashes([gans[k].path / GENERATOR_FILE for k in ks],
                          base=gan_root(galaxy))
    params = {"n_draws": int(n_draws), "seed": int(seed), "ml": orbit_models.ml, "ml_show": ml_show,
              "cube": orbit_models.fingerprint}
    t_gen: dict[str, float] = {}

    def predict() -> tuple[np.ndarray, float, np.ndarray]:
        t0 = time.perf_counter()
        gh = np.empty_like(orbit_models.gh, dtype=np.float32)
        spread = np.empty_like(gh)
        for k in ks:
            gh[..., k], spread[..., k] = gans[k].conditional_mean(orbit_models.ml, n_draws, seed)
        t_gen["generate_seconds"] = time.perf_counter() - t0
        return gh, sum(gans[k].seconds for k in ks), spread

    path = paths.gan_artifact(galaxy, f"cgan_{gans[0].path.parent.name}_models.h5")
    pred, result = evaluate(predict, orbit_models, problem, path, params, inputs, ml_show=ml_show,
                            n_jobs=n_jobs, progress=progress, desc="cGAN weights",
                            per_coefficient=True)
    for k in ks:
        result[GH_NAMES[k]]["train_seconds"] = gans[k].seconds
        result[GH_NAMES[k]]["seconds_per_epoch"] = float(
            np.median(gans[k].history["epoch_seconds"]))
    return pred, result


def dcnn_models(orbit_models: OrbitModels, problem: WeightProblem, err: np.ndarray,
                recipe: str, loss: str, epochs: int | None, ml_show: float,
                galaxy: str = paths.GALAXY,
                n_jobs: int | None = None, progress: bool = True
                ) -> tuple[OrbitModels, dict[str, Any]]:
    """The DCNN's prediction for comparison: the emulator of the DCNN chapter if stored,
    else one trained here (:func:`orbitnet.emulators.cache.train_or_load`, under ``gan/``)."""
    from orbitnet.emulators.recipes import get_recipe

    emu = find_stored(orbit_models, recipe, loss, galaxy, epochs=epochs)
    if emu is None:
        rec = get_recipe(recipe, epochs=epochs)
        fp = emulator_fingerprint(orbit_models, rec, loss, np.arange(orbit_models.ml.size), True)
        found = paths.gan_artifact(galaxy, f"dcnn_{recipe}_{loss}_{fp.digest[:12]}")
        emu = train_or_load(orbit_models, problem, recipe, loss, out_dir=found, progress=progress,
                            galaxy=galaxy, epochs=epochs, err=err)
        source = "trained for this chapter"
    else:
        found = emulator_dir(galaxy, get_recipe(recipe, epochs=epochs).name, loss)
        source = f"stored by the DCNN chapter ({display_path(found)})"
    files = [found / n for n in emu.meta["weights"]]
    label = found.name if found.name.startswith("dcnn_") else f"dcnn_{recipe}_{loss}"
    path = paths.gan_artifact(galaxy, f"{label}_models.h5")
    params = {"ml": orbit_models.ml, "ml_show": ml_show, "dir": found.name,
              "cube": orbit_models.fingerprint}

    def predict() -> tuple[np.ndarray, float]:
        return (emu.predict(orbit_models.ml, allow_extrapolation=True),
                float(sum(emu.meta.get("train_seconds", {}).values())))

    pred, result = evaluate(predict, orbit_models, problem, path, params,
                            input_hashes(files, base=found), ml_show=ml_show,
                            n_jobs=n_jobs, progress=progress, desc="DCNN weights",
                            per_coefficient=True)
    result["source"] = source
    result["recipe"] = emu.meta.get("recipe", {}).get("name", recipe)
    result["epochs"] = int(emu.meta.get("recipe", {}).get("epochs", 0))
    result["train_seconds"] = float(sum(emu.meta.get("train_seconds", {}).values()))
    return pred, result


def seed_spread(variant: str, orbit_models: OrbitModels, base: GANConfig, seeds: Sequence[int],
                coefficient: int, err: np.ndarray, inputs: Mapping[str, str],
                train_idx: np.ndarray, n_samples: int, n_draws: int,
                galaxy: str = paths.GALAXY, progress: bool = True) -> dict[str, Any]:
    """Residual of ``variant`` on one coefficient for each seed (GAN: to the nearest training
    image; cGAN: mean image against the model at the same M/L, on every M/L)."""
    k = int(coefficient)
    res, secs = [], []
    for s in seeds:
        gan = train_variant(variant, orbit_models, replace(base, seed=int(s)), [k], inputs,
                            train_idx, galaxy, progress)[k]
        secs.append(gan.seconds)
        if VARIANTS[variant]["conditional"]:
            mean, _ = gan.conditional_mean(orbit_models.ml, n_draws, seed=0)
            res.append(median_abs_residual_over_err(mean, orbit_models.gh[..., k], err[:, k]))
        else:
            samples = gan.generate(n_samples, seed=0)
            res.append(nearest_residual(samples, orbit_models.gh[train_idx, ..., k], err[:, k])[0])
    return {"coefficient": GH_NAMES[k], "seeds": [int(s) for s in seeds],
            "median_abs_residual_over_err": res,
            "min": float(np.min(res)), "max": float(np.max(res)),
            "mean": float(np.mean(res)), "std": float(np.std(res)),
            "train_seconds": secs}


def residual_table(results: Mapping[str, Mapping[str, Any]], key: str
                   = "median_abs_residual_over_err"):
    """Rows h1..h4, one column per variant: ``results[variant][h<k>][key]``."""
    from astropy.table import Table

    cols = {"coefficient": list(GH_NAMES)}
    for name, res in results.items():
        cols[name] = [round(float(res[h][key]), 3) if h in res and key in res[h] else np.nan
                      for h in GH_NAMES]
    return Table(cols)


def _where(fit_best: float, band: Sequence[float], name: str) -> str:
    from orbitnet.fit.chi2 import inside

    return f"inside {name}" if inside(tuple(band), fit_best) else f"outside {name}"


def last_epoch_losses(gans: Mapping[int, TrainedGAN]) -> dict[str, float]:
    """Mean generator and discriminator loss over the last epoch, all coefficients."""
    out = {}
    for key in ("g_loss", "d_loss"):
        vals = []
        for gan in gans.values():
            h = gan.history
            steps = len(h[key]) // max(len(h["epoch_seconds"]), 1)
            vals.extend(h[key][-steps:])
        out[f"{key[0]}_loss_last"] = float(np.mean(vals))
    return out


def machine() -> str:
    """What trained the networks, for the prose: backend, device, CPU count."""
    gpus = []
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU" if gpus else "CPU only"
    return f"Keras on {keras.backend.backend()}, {device}, {os.cpu_count()} CPU cores"


def summary(config: Mapping[str, Any], unconditional: Mapping[str, Mapping[str, Any]],
            cgan: Mapping[str, Any], dcnn: Mapping[str, Any], orbit_models: OrbitModels,
            err: np.ndarray,
            seeds: Mapping[str, Any], train_idx: np.ndarray,
            gans: Mapping[str, Mapping[int, TrainedGAN]] | None = None,
            extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Chapter 5's numbers (``build/results/05_gan.json``)."""
    fit = orbit_models.fit
    out: dict[str, Any] = {
        "config": dict(config), "n_train": int(len(train_idx)),
        "n_models": int(orbit_models.ml.size),
        "n_orbits": int(orbit_models.gh.shape[1]), "n_bins": int(orbit_models.gh.shape[2]),
        "steps_per_epoch": int(-(-len(train_idx) // int(config.get("batch_size", 1)))),
        "ml_range": [float(orbit_models.ml[0]), float(orbit_models.ml[-1])], "machine": machine(),
        "models": {"ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                   "ml_1sigma": list(fit.ml_1sigma), "ml_2sigma": list(fit.ml_2sigma),
                   "kinchi2_min": fit.chi2_min},
        "reference": {GH_NAMES[k]: reference_residuals(orbit_models, err, k) for k in range(4)},
        "seeds": dict(seeds), **dict(extra or {}),
    }
    for name, res in {**unconditional, "cgan": cgan}.items():
        block = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in res.items()}
        per = [block[h] for h in GH_NAMES if h in block]
        for h in GH_NAMES:
            if h in block and "nearest_ml" in block[h]:
                near = block[h].pop("nearest_ml")
                block[h]["distinct_nearest"] = len(set(near))
                block[h]["nearest_ml_range"] = [min(near), max(near)]
        if per:
            res_k = [p["median_abs_residual_over_err"] for p in per]
            secs = [p["train_seconds"] for p in per]
            block["residual_range"] = [min(res_k), max(res_k)]
            block["train_seconds_total"] = float(sum(secs))
            block["train_seconds_range"] = [min(secs), max(secs)]
            block["seconds_per_epoch"] = float(np.median([p["seconds_per_epoch"] for p in per]))
        if gans is not None and name in gans:
            block.update(last_epoch_losses(gans[name]))
        for ref in ("zero_image", "mean_image"):
            worse = sum(block[h]["median_abs_residual_over_err"] > out["reference"][h][ref]
                        for h in GH_NAMES if h in block)
            block[f"worse_than_{ref.removesuffix('_image')}s"] = f"{worse} of {len(per)}"
        out[name] = block
    for name, block in (("cgan", out["cgan"]), ("dcnn", dict(dcnn))):
        block["ml_best_minus_models"] = block["ml_best"] - fit.ml_best
        block["vs_models_1sigma"] = _where(block["ml_best"], fit.ml_1sigma,
                                           "the orbit models' 1σ interval")
        block["vs_models_2sigma"] = _where(block["ml_best"], fit.ml_2sigma,
                                           "the orbit models' 2σ interval")
        block["kinchi2_min_over_models"] = block["kinchi2_min"] / fit.chi2_min
        out[name] = block
    out["cgan"]["residual_over_dcnn"] = (out["cgan"]["median_abs_residual_over_err"]
                                         / out["dcnn"]["median_abs_residual_over_err"])
    out["verdict"] = verdicts(out)
    return out


def verdicts(summary: Mapping[str, Any]) -> dict[str, str]:
    """The chapter's judging sentences, chosen from its numbers (``05_gan.json``).

    ``gan``: are the unconditional GAN's images closer to an orbit model than an image of
    zeros? ``cgan``: is the conditional GAN usable as an emulator, i.e. are its mean images
    closer to the orbit models than the M/L-independent mean image for every coefficient and
    its best fit inside the orbit models' 2σ interval? ``dcnn``: how it compares with the DCNN.
    ``thesis``: whether that agrees with the thesis (no usable GAN).
    """
    from orbitnet.fit.chi2 import inside

    ref, models = summary["reference"], summary["models"]

    def worse(name: str, key: str) -> tuple[int, int]:
        block = summary.get(name) or {}
        hs = [h for h in GH_NAMES if isinstance(block.get(h), Mapping)]
        return sum(block[h]["median_abs_residual_over_err"] > ref[h][key] for h in hs), len(hs)

    g_bad, g_n = worse("gan", "zero_image")
    if g_bad:
        gan = (f"The unconditional GAN's images miss the nearest orbit model by more than an "
               f"image of zeros would for {g_bad} of {g_n} coefficients.")
    else:
        gan = ("The unconditional GAN's images are closer to the nearest orbit model than an "
               "image of zeros for every coefficient.")
    gan += " Without an M/L it cannot enter the weight solver, so it is no emulator."
    cgan, dcnn = summary["cgan"], summary["dcnn"]
    c_bad, c_n = worse("cgan", "mean_image")
    in2 = inside(tuple(models["ml_2sigma"]), cgan["ml_best"])
    usable = c_bad == 0 and in2
    if usable:
        c_text = ("The conditional GAN works as an emulator with this budget: its mean images "
                  "beat the M/L-independent mean image for every coefficient, and its best fit "
                  f"lies {cgan['vs_models_2sigma']}.")
    else:
        why = []
        if c_bad:
            why.append(f"its mean images miss the orbit models by more than the M/L-independent "
                       f"mean image for {c_bad} of {c_n} coefficients")
        if not in2:
            why.append(f"its best fit lies {cgan['vs_models_2sigma']}")
        c_text = ("The conditional GAN is not a usable emulator with this budget: "
                  + " and ".join(why) + ".")
    ratio = cgan["residual_over_dcnn"]
    closer = (f"the DCNN's images are {ratio:.3g} times closer to the orbit models than the "
              "cGAN's" if ratio >= 1 else
              f"the cGAN's images are {1 / ratio:.3g} times closer to the orbit models than "
              "the DCNN's")
    d_text = (f"The DCNN, told the M/L and fitted pixel by pixel, puts its best fit "
              f"{dcnn['vs_models_1sigma']}; {closer}.")
    thesis = ("This agrees with the thesis, and the conditional GAN it proposed does not change "
              "the verdict with this budget." if not usable else
              "This goes beyond the thesis, whose unconditional GAN could not be judged this way.")
    return {"gan": gan, "cgan": c_text, "dcnn": d_text, "thesis": thesis}


def ml_table(summary: Mapping[str, Any]):
    """Best fit, intervals and χ² minimum of the orbit models, the DCNN and the cGAN."""
    from astropy.table import Table

    rows = {"orbit models": summary["models"], "DCNN": summary["dcnn"],
            "cGAN": summary["cgan"]}

    def fmt(band) -> str:
        return "–".join("open" if v is None or not np.isfinite(v) else f"{v:.3f}" for v in band)

    return Table({"": list(rows),
                  "best M/L": [r["ml_best"] for r in rows.values()],
                  "parabola": [round(r["ml_best_refined"], 3) for r in rows.values()],
                  "1σ": [fmt(r["ml_1sigma"]) for r in rows.values()],
                  "2σ": [fmt(r["ml_2sigma"]) for r in rows.values()],
                  "min kinchi2": [round(r["kinchi2_min"], 1) for r in rows.values()]})
