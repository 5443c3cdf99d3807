"""Four DCNNs, one per Gauss-Hermite coefficient: train, save, load, predict.

Artifacts in ``out_dir``:

- ``h1.weights.h5`` ... ``h4.weights.h5``: weights in the layered Table B.1 form
  (``build_dcnn(n_orbits, n_bins, mask)`` loads them);
- ``normalisation.h5``: ``offset`` and ``scale`` (n_orbits, n_bins, 4) of the targets;
- ``emulator.json``: image size, mask, recipe, loss, M/L ranges, normalisation kind, loss
  factors, per-epoch history and training seconds per coefficient.

Every file is written to a temporary name and moved into place with ``os.replace``; the JSON
comes last.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import keras
import numpy as np

from orbitnet.emulators.dcnn import build_dcnn, copy_weights
from orbitnet.emulators.losses import LOSSES
from orbitnet.emulators.recipes import Recipe, get_recipe
from orbitnet.emulators.training import Normaliser, fit_coefficient, split_models
from orbitnet.store.artifacts import write_text_atomic

N_COEFF = 4
FORMAT = 1
META_FILE = "emulator.json"
NORM_FILE = "normalisation.h5"


class ExtrapolationWarning(UserWarning):
    """A prediction was asked for outside the trained M/L range."""


def weights_name(i: int) -> str:
    """File name of coefficient ``h<i + 1>``'s weights."""
    return f"h{i + 1}.weights.h5"


@dataclass
class Emulator:
    """Trained DCNNs for h1..h4 and what it takes to use them.

    Attributes
    ----------
    models : four networks (fused form), h1..h4.
    normalisers : their target normalisations.
    ml_range : (min, max) M/L of the training models; predictions outside raise.
    ml_scale : (lo, hi) mapping M/L to the network input ``(ml - lo) / (hi - lo)``.
    mask : whether the nets have the mask branch.
    meta : recipe, loss, history, training seconds, loss factors.
    """

    models: list[keras.Model]
    normalisers: list[Normaliser]
    ml_range: tuple[float, float]
    ml_scale: tuple[float, float]
    mask: bool = True
    meta: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.normalisers[0].offset.shape)

    def scale_ml(self, ml_values) -> np.ndarray:
        lo, hi = self.ml_scale
        return ((np.asarray(ml_values, dtype=np.float64) - lo) / (hi - lo)).astype(np.float32)

    def predict(self, ml_values: Sequence[float] | np.ndarray, allow_extrapolation: bool = False,
                batch_size: int = 32) -> np.ndarray:
        """Predicted per-orbit coefficients at each M/L.

        Parameters
        ----------
        ml_values : (n,) M/L values.
        allow_extrapolation : predict outside :attr:`ml_range` with a warning instead of
            raising ``ValueError``.
        batch_size : images per forward pass.

        Returns
        -------
        (n, n_orbits, n_bins, 4) float32, in cube units.
        """
        ml = np.atleast_1d(np.asarray(ml_values, dtype=np.float64))
        if ml.ndim != 1 or not np.all(np.isfinite(ml)):
            raise ValueError("ml_values must be a 1-d array of finite numbers")
        lo, hi = self.ml_range
        tol = 1e-9 * max(hi - lo, 1.0)
        outside = ml[(ml < lo - tol) | (ml > hi + tol)]
        if outside.size:
            msg = (f"M/L {outside.tolist()[:5]} outside the trained range [{lo:g}, {hi:g}]")
            if not allow_extrapolation:
                raise ValueError(msg + "; pass allow_extrapolation=True to predict anyway")
            warnings.warn(msg + ": extrapolating", ExtrapolationWarning, stacklevel=2)
        x = self.scale_ml(ml).reshape(-1, 1)
        out = np.empty((ml.size, *self.image_shape, N_COEFF), dtype=np.float32)
        for i, (model, norm) in enumerate(zip(self.models, self.normalisers, strict=True)):
            for s in range(0, ml.size, batch_size):
                y_n = keras.ops.convert_to_numpy(model(x[s:s + batch_size], training=False))
                out[s:s + batch_size, ..., i] = norm.inverse(y_n)
        return out

    def save(self, out_dir: Path | str) -> Path:
        """Write weights, normalisation and ``emulator.json`` to ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        n_orbits, n_bins = self.image_shape
        tag = f".tmp{os.getpid()}"
        for i, model in enumerate(self.models):
            layered = build_dcnn(n_orbits, n_bins, mask=self.mask)
            copy_weights(model, layered)
            tmp = out / f".h{i + 1}{tag}.weights.h5"
            layered.save_weights(tmp)
            os.replace(tmp, out / weights_name(i))
        tmp = out / f".{NORM_FILE}{tag}"
        with h5py.File(tmp, "w") as f:
            f["offset"] = np.stack([n.offset for n in self.normalisers], axis=-1)
            f["scale"] = np.stack([n.scale for n in self.normalisers], axis=-1)
            f.attrs["kind"] = self.normalisers[0].kind
        os.replace(tmp, out / NORM_FILE)
        meta = {
            **self.meta,
            "format": FORMAT,
            "n_orbits": n_orbits,
            "n_bins": n_bins,
            "mask": self.mask,
            "ml_range": list(self.ml_range),
            "ml_scale": list(self.ml_scale),
            "normalisation": {"kind": self.normalisers[0].kind, "file": NORM_FILE},
            "weights": [weights_name(i) for i in range(N_COEFF)],
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
        }
        write_text_atomic(out / META_FILE, json.dumps(meta, indent=1))
        self.meta = meta
        return out

    @classmethod
    def load(cls, out_dir: Path | str) -> Emulator:
        """Read an emulator written by :meth:`save` (or :func:`train_emulator`)."""
        out = Path(out_dir)
        meta_path = out / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path} is missing: no emulator in {out}")
        meta = json.loads(meta_path.read_text())
        n_orbits, n_bins, mask = int(meta["n_orbits"]), int(meta["n_bins"]), bool(meta["mask"])
        with h5py.File(out / meta["normalisation"]["file"], "r") as f:
            offset, scale = f["offset"][()], f["scale"][()]
            kind = str(f.attrs["kind"])
        norms = [Normaliser(kind, offset[..., i], scale[..., i]) for i in range(N_COEFF)]
        models = [load_weights(out / name, n_orbits, n_bins, mask) for name in meta["weights"]]
        return cls(models, norms, tuple(meta["ml_range"]), tuple(meta["ml_scale"]), mask, meta)


def _stored_shapes(path: Path) -> list[tuple[int, ...]]:
    """Shapes of the variables in a Keras ``.weights.h5`` file."""
    shapes: list[tuple[int, ...]] = []

    def visit(name: str, obj) -> None:
        if isinstance(obj, h5py.Dataset) and "/vars/" in f"/{name}":
            shapes.append(tuple(obj.shape))

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError as exc:
        raise ValueError(f"weights file {path} is not a readable HDF5 file: {exc}") from None
    return shapes


def load_weights(path: Path | str, n_orbits: int, n_bins: int, mask: bool = True
                 ) -> keras.Model:
    """The fused net with the Table B.1 weights in ``path``; a clear error if they do not fit."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} is missing")
    layered = build_dcnn(n_orbits, n_bins, mask=mask)
    what = f"the DCNN for {n_orbits} x {n_bins} images (mask={mask})"
    want = sorted(tuple(w.shape) for w in layered.weights)
    got = sorted(_stored_shapes(path))
    if got != want:
        extra = sorted(set(got) - set(want))
        missing = sorted(set(want) - set(got))
        raise ValueError(f"weights file {path} does not match {what}: {len(got)} arrays "
                         f"instead of {len(want)}; unexpected shapes {extra}, missing {missing}")
    problem = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            layered.load_weights(path)
    except Exception as exc:  # Keras raises ValueError, KeyError or a warning turned error
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        raise ValueError(f"weights file {path} does not match {what}: {problem}")
    fused = build_dcnn(n_orbits, n_bins, mask=mask, fused=True)
    copy_weights(layered, fused)
    return fused


def _check_err(err, loss: str, shape: tuple[int, int]) -> list[np.ndarray | None]:
    if not loss.endswith("_err"):
        return [None] * N_COEFF
    if err is None:
        raise ValueError(f"loss {loss!r} needs err")
    err = np.asarray(err, dtype=np.float64)
    if err.shape not in ((shape[1], N_COEFF), (*shape, N_COEFF)):
        raise ValueError(f"err must be (n_bins, 4) or (n_orbits, n_bins, 4) = "
                         f"{(shape[1], N_COEFF)} or {(*shape, N_COEFF)}; got {err.shape}")
    return [err[..., i] for i in range(N_COEFF)]


def train_emulator(
    ml: Sequence[float] | np.ndarray,
    gh_cube: np.ndarray,
    err: np.ndarray | None = None,
    loss: str = "l1_err",
    recipe: str | Recipe = "fast",
    out_dir: Path | str | None = None,
    progress: bool = True,
    mask: bool = True,
    val_ml: Sequence[float] | np.ndarray | None = None,
    val_gh: np.ndarray | None = None,
) -> Emulator:
    """Train one DCNN per coefficient h1..h4 and (optionally) save them.

    Parameters
    ----------
    ml : (n_models,) M/L of the models.
    gh_cube : (n_models, n_orbits, n_bins, 4) per-orbit GH coefficients.
    err : solver errors, ``err[..., l]`` for h_{l+1}: (n_bins, 4) or (n_orbits, n_bins, 4);
        ``obs_errors * aperture_mass_target[:, None]`` for the weight solver's rows. Needed by
        the ``*_err`` losses.
    loss : one of ``"l2"``, ``"l1"``, ``"l2_err"``, ``"l1_err"``.
    recipe : ``"thesis"``, ``"fast"`` or a :class:`~orbitnet.emulators.recipes.Recipe`.
    out_dir : where to write the artifacts (``None``: keep in memory only).
    progress : one tqdm bar per coefficient.
    mask : nets with the mask branch (thesis) or without.
    val_ml, val_gh : models to validate on instead of a split of ``ml`` (every model of
        ``ml`` is then trained on; the recipe needs ``validation_split=0``).

    Returns
    -------
    Emulator
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")
    recipe = get_recipe(recipe)
    ml = np.asarray(ml, dtype=np.float64)
    cube = np.asarray(gh_cube)
    if cube.ndim != 4 or cube.shape[-1] != N_COEFF or cube.shape[0] != ml.size:
        raise ValueError(f"gh_cube must be (n_models, n_orbits, n_bins, 4) with n_models = "
                         f"{ml.size}; got {cube.shape}")
    if ml.ndim != 1 or ml.size < 2 or not np.all(np.isfinite(ml)):
        raise ValueError("ml must be a 1-d array of at least 2 finite values")
    if not np.all(np.isfinite(cube)):
        raise ValueError("gh_cube contains non-finite values")
    errs = _check_err(err, loss, cube.shape[1:3])
    order = np.argsort(ml, kind="stable")
    ml, cube = ml[order], cube[order]
    lo, hi = float(ml[0]), float(ml[-1])
    if hi <= lo:
        raise ValueError("ml needs at least two different values")
    x = (ml - lo) / (hi - lo)
    x_val = y_val = None
    if val_ml is not None and len(val_ml):
        y_val = np.asarray(val_gh)
        if y_val.ndim != 4 or y_val.shape[0] != len(val_ml) or y_val.shape[1:] != cube.shape[1:]:
            raise ValueError(f"val_gh must be ({len(val_ml)}, {cube.shape[1]}, {cube.shape[2]}, "
                             f"4) for {len(val_ml)} validation M/L; got {y_val.shape}")
        x_val = (np.asarray(val_ml, dtype=np.float64) - lo) / (hi - lo)

    fits = []
    t0 = time.perf_counter()
    for i in range(N_COEFF):
        fits.append(fit_coefficient(x, cube[..., i], loss, errs[i], recipe, index=i,
                                    mask=mask, progress=progress, x_val=x_val,
                                    y_val=None if y_val is None else y_val[..., i]))
    train, val = split_models(ml.size, recipe)
    meta = {
        "recipe": recipe.to_dict(),
        "loss": loss,
        "history": {f"h{i + 1}": f.history for i, f in enumerate(fits)},
        "train_seconds": {f"h{i + 1}": f.seconds for i, f in enumerate(fits)},
        "total_seconds": time.perf_counter() - t0,
        "loss_factor": {f"h{i + 1}": f.loss_factor for i, f in enumerate(fits)},
        "n_models": int(ml.size),
        "train_ml": ml[train].tolist(),
        "gradient_steps": recipe.epochs * math.ceil(train.size / recipe.batch_size),
        "val_ml": (ml[val].tolist() if x_val is None
                   else np.asarray(val_ml, dtype=float).tolist()),
    }
    emu = Emulator([f.model for f in fits], [f.normaliser for f in fits],
                   (float(ml[train].min()), float(ml[train].max())), (lo, hi), mask, meta)
    if out_dir is not None:
        emu.save(out_dir)
    return emu
