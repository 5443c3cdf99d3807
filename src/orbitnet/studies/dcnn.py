"""Chapter 3: one network per coefficient, the mask ablation, and the chapter's summary."""

from __future__ import annotations

from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.solver import WeightProblem, gh_errors
from orbitnet.fit.sweep import nearest_index
from orbitnet.store.artifacts import cached


def single_net_image(orbit_models: OrbitModels, problem: WeightProblem, coefficient: int = 0,
                     mask: bool = False, *, recipe: str, ml_show: float,
                     galaxy: str = paths.GALAXY, progress: bool = True,
                     epochs: int | None = None, **recipe_overrides) -> dict[str, np.ndarray]:
    """Train one coefficient's net (e.g. without the mask) and return its image at ``ml_show``.

    Cached in ``dcnn/ablation/``; returns ``image``, ``truth`` (the model's image) and the
    training ``loss`` history.
    """
    from orbitnet.emulators.recipes import get_recipe
    from orbitnet.emulators.training import fit_coefficient

    rec = get_recipe(recipe, epochs=epochs, **recipe_overrides)
    i_show = nearest_index(orbit_models.ml, ml_show)
    params = {"recipe": rec.to_dict(), "coefficient": coefficient, "mask": mask,
              "ml_show": float(orbit_models.ml[i_show])}
    path = paths.dcnn_ablation(galaxy, coefficient, mask, rec.name)

    def compute() -> dict[str, np.ndarray]:
        lo, hi = float(orbit_models.ml[0]), float(orbit_models.ml[-1])
        x = (orbit_models.ml - lo) / (hi - lo)
        err = gh_errors(problem)[:, coefficient]
        fit = fit_coefficient(x, orbit_models.gh[..., coefficient], "l1_err", err, rec,
                              index=coefficient, mask=mask, progress=progress,
                              desc=f"h{coefficient + 1} ({'with' if mask else 'no'} mask)")
        import keras

        y = keras.ops.convert_to_numpy(fit.model(np.array([[x[i_show]]], dtype=np.float32)))
        return {"image": fit.normaliser.inverse(y)[0],
                "truth": orbit_models.gh[i_show, ..., coefficient],
                "loss": np.asarray(fit.history["loss"]), "seconds": np.float64(fit.seconds)}

    return cached(path, params, {}, compute, upstream={"cube": orbit_models.fingerprint},
                  code=("orbitnet.emulators.training",))


def emulator_image(emu, orbit_models: OrbitModels, coefficient: int, ml_show: float
                   ) -> dict[str, np.ndarray]:
    """What :func:`single_net_image` returns, taken from a trained emulator's own net."""
    i_show = nearest_index(orbit_models.ml, ml_show)
    name = f"h{coefficient + 1}"
    image = emu.predict(orbit_models.ml[i_show:i_show + 1],
                        allow_extrapolation=True)[0, ..., coefficient]
    return {"image": image, "truth": orbit_models.gh[i_show, ..., coefficient],
            "loss": np.asarray(emu.meta["history"][name]["loss"]),
            "seconds": np.float64(emu.meta["train_seconds"][name])}


def mask_ablation(orbit_models: OrbitModels, problem: WeightProblem, coefficient: int = 0, *,
                  recipe: str, loss: str, ml_show: float, galaxy: str = paths.GALAXY, epochs: int | None = None,
                  progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One coefficient's net trained with and without the mask (``l1_err`` loss).

    With the mask that net is the one the chapter's emulator trains for the coefficient
    (same recipe, loss, data and seed), so when the chapter's ``loss`` is ``l1_err`` it is
    taken from the emulator (trained or loaded here) instead of being trained twice.
    """
    from orbitnet.emulators.cache import train_or_load

    if loss == "l1_err":
        emu = train_or_load(orbit_models, problem, recipe, loss, galaxy=galaxy, epochs=epochs,
                            progress=progress)
        with_mask = emulator_image(emu, orbit_models, coefficient, ml_show)
    else:
        with_mask = single_net_image(orbit_models, problem, coefficient, mask=True, recipe=recipe,
                                     ml_show=ml_show, galaxy=galaxy, progress=progress,
                                     epochs=epochs)
    without_mask = single_net_image(orbit_models, problem, coefficient, mask=False, recipe=recipe,
                                    ml_show=ml_show, galaxy=galaxy, progress=progress,
                                    epochs=epochs)
    return with_mask, without_mask


def ablation_stats(result: dict[str, np.ndarray], err: np.ndarray) -> dict[str, float]:
    """Median |prediction − model|/err overall and in the pixels that should be empty."""
    resid = np.abs(result["image"] - result["truth"]) / err[None, :]
    empty = result["truth"] == 0
    return {"median_abs_over_err": float(np.median(resid)),
            "empty": float(np.median(resid[empty])) if empty.any() else float("nan"),
            "train_seconds": float(result["seconds"])}


def chapter3_summary(net, emu, with_mask: dict, without_mask: dict, err: np.ndarray,
                     recipe: str, loss: str, n_models: int) -> dict[str, Any]:
    """Chapter 3's headline numbers (``build/results/03_dcnn.json``)."""
    from orbitnet.emulators.recipes import RECIPES

    m, n = ablation_stats(with_mask, err), ablation_stats(without_mask, err)
    seconds = [float(v) for v in emu.meta["train_seconds"].values()]
    n_orbits, n_bins = emu.image_shape
    _, rows, cols, channels = net.get_layer("seed").output.shape
    return {
        "n_params": int(net.count_params()), "n_models": n_models, "n_orbits": n_orbits,
        "n_bins": n_bins, "recipe": recipe, "loss": loss,
        "seed_rows": int(rows), "seed_cols": int(cols), "seed_channels": int(channels),
        "conv_filters": int(net.get_layer("deconv_1").filters),
        "seed_dense_fraction": net.get_layer("dense_seed").count_params() / net.count_params(),
        "recipes": {name: r.to_dict() for name, r in RECIPES.items()},
        "epochs_trained": len(emu.meta["history"]["h1"]["loss"]),
        "train_seconds": seconds, "train_seconds_total": float(sum(seconds)),
        "ablation": {"mask_median_abs_over_err": m["median_abs_over_err"],
                     "nomask_median_abs_over_err": n["median_abs_over_err"],
                     "mask_empty": m["empty"], "nomask_empty": n["empty"],
                     "mask_train_seconds": m["train_seconds"],
                     "nomask_train_seconds": n["train_seconds"]},
    }

