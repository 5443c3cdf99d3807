"""Fit one DCNN to one coefficient's images: target normalisation, split, optimiser, progress."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import keras
import numpy as np
from tqdm.auto import tqdm

from orbitnet.emulators.dcnn import build_dcnn
from orbitnet.emulators.losses import GHLoss
from orbitnet.emulators.recipes import Recipe


@dataclass
class Normaliser:
    """Targets the net learns: ``y_n = (y - offset) / scale``, per pixel.

    Attributes
    ----------
    kind : see :class:`~orbitnet.emulators.recipes.Recipe` ``normalisation``.
    offset, scale : (n_orbits, n_bins) float32.
    """

    kind: str
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, kind: str, y: np.ndarray) -> Normaliser:
        """Normalisation ``kind`` of the training images ``y`` (n_models, n_orbits, n_bins)."""
        y = np.asarray(y, dtype=np.float64)
        shape = y.shape[1:]
        offset = np.zeros(shape)
        scale = np.ones(shape)
        if kind in ("centre", "pixel"):
            offset = y.mean(axis=0)
        if kind in ("std", "centre"):
            scale = np.full(shape, _positive(np.std(y - offset)))
        elif kind == "pixel":
            glob = _positive(np.std(y - offset))
            scale = y.std(axis=0)
            scale = np.where(scale > 1e-3 * glob, scale, glob)
        elif kind != "none":
            raise ValueError(f"unknown normalisation {kind!r}")
        return cls(kind, offset.astype(np.float32), scale.astype(np.float32))

    def forward(self, y: np.ndarray) -> np.ndarray:
        return ((np.asarray(y, dtype=np.float32) - self.offset) / self.scale).astype(np.float32)

    def inverse(self, y_n: np.ndarray) -> np.ndarray:
        return (self.offset + self.scale * np.asarray(y_n, dtype=np.float32)).astype(np.float32)


def _positive(value: float) -> float:
    return float(value) if value > 0 and np.isfinite(value) else 1.0


def split_models(n: int, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of ``n`` models given in M/L order.

    ``"last"`` keeps the first ``ceil(n * (1 - split))`` models, as Keras' ``validation_split``;
    ``"shuffled"`` holds out as many models drawn (seeded by ``recipe.seed``) from all but the
    first and last, so that validation models lie inside the trained M/L range.
    """
    n_train = math.ceil(n * (1 - recipe.validation_split))
    n_val = n - n_train
    idx = np.arange(n)
    if n_val == 0:
        return idx, idx[:0]
    if recipe.validation == "last":
        return idx[:n_train], idx[n_train:]
    if n_val > n - 2:
        raise ValueError(f"cannot hold out {n_val} of {n} models inside the M/L range")
    rng = np.random.default_rng(recipe.seed)
    val = np.sort(rng.choice(idx[1:-1], size=n_val, replace=False))
    return np.setdiff1d(idx, val), val


class _Progress(keras.callbacks.Callback):
    """One compact tqdm bar per network, one tick per epoch."""

    def __init__(self, desc: str, epochs: int, enabled: bool) -> None:
        super().__init__()
        self.bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=True, disable=not enabled)
        self.lr: list[float] = []
        self.seconds: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.seconds.append(time.perf_counter() - self._t0)
        self.lr.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()
                              if k in ("loss", "val_loss")}, refresh=False)
        self.bar.update()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.bar.close()


@dataclass
class FitResult:
    """A trained net and what it takes to use it.

    Attributes
    ----------
    model : the trained network (fused form if the recipe says so).
    normaliser : the target normalisation to invert on prediction.
    history : per-epoch ``loss`` (and ``val_loss``) in cube units, ``lr`` and
        ``epoch_seconds`` (wall clock; the first includes compilation).
    seconds : wall-clock training time (compilation included).
    loss_factor : constant the training loss was multiplied by (1 / loss of the offset alone).
    """

    model: keras.Model
    normaliser: Normaliser
    history: dict[str, list[float]]
    seconds: float
    loss_factor: float


def fit_coefficient(
    x: np.ndarray,
    y: np.ndarray,
    loss: str,
    err: np.ndarray | None,
    recipe: Recipe,
    index: int = 0,
    mask: bool = True,
    progress: bool = True,
    desc: str | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
) -> FitResult:
    """Train one DCNN on scaled M/L ``x`` (n,) and images ``y`` (n, n_orbits, n_bins).

    Parameters
    ----------
    x : inputs in M/L order (scaled to [0, 1]); (n,) or (n, k) for a net conditioned on k
        parameters.
    y : targets in cube units.
    loss : one of :data:`~orbitnet.emulators.losses.LOSSES`.
    err : (n_bins,) or (n_orbits, n_bins) solver errors (``*_err`` losses).
    recipe : training recipe.
    index : coefficient index (0 for h1); the seed is ``recipe.seed + index``.
    mask : build the net with its mask branch.
    progress : show a tqdm bar.
    desc : label of the bar (default ``h<index + 1>``).
    x_val, y_val : models to validate on, given explicitly (e.g. held-out models of other
        offsets); then every model of ``x`` is trained on, and the recipe must not split
        off validation models of its own (``validation_split=0``).
    """
    x = np.asarray(x, dtype=np.float32)
    x = x.reshape(x.shape[0], -1) if x.ndim == 2 else x.reshape(-1, 1)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 3 or y.shape[0] != x.shape[0]:
        raise ValueError(f"targets must be (n_models, n_orbits, n_bins) with n_models = "
                         f"{x.shape[0]}; got {y.shape}")
    given = x_val is not None and len(x_val) > 0
    if given and recipe.validation_split > 0:
        raise ValueError("explicit validation models and the recipe's validation_split "
                         f"({recipe.validation_split}) together would drop training models; "
                         "set validation_split=0")
    keras.utils.set_random_seed(recipe.seed + index)
    train, val = split_models(x.shape[0], recipe)
    norm = Normaliser.fit(recipe.normalisation, y[train])
    y_n = norm.forward(y)
    if given:
        x_v = np.asarray(x_val, dtype=np.float32).reshape(-1, 1)
        y_v = norm.forward(np.asarray(y_val, dtype=np.float32))
        if y_v.shape[1:] != y.shape[1:] or y_v.shape[0] != x_v.shape[0]:
            raise ValueError(f"validation images {y_v.shape} do not match the training "
                             f"images {y.shape[1:]} or the {x_v.shape[0]} validation inputs")
    else:
        x_v, y_v = x[val], y_n[val]
    base = GHLoss(loss, err=err, target_scale=norm.scale)
    baseline = float(keras.ops.convert_to_numpy(base(y_n[train], np.zeros_like(y_n[train]))))
    factor = 1.0 / baseline if baseline > 0 and np.isfinite(baseline) else 1.0

    model = build_dcnn(y.shape[1], y.shape[2], mask=mask, fused=recipe.fused,
                       n_inputs=x.shape[1])
    steps = recipe.epochs * math.ceil(train.size / recipe.batch_size)
    lr = recipe.learning_rate
    if recipe.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            recipe.learning_rate, decay_steps=steps, alpha=recipe.final_lr_fraction)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                  loss=GHLoss(loss, err=err, target_scale=norm.scale, factor=factor),
                  jit_compile=recipe.jit_compile)
    bar = _Progress(desc or f"h{index + 1}", recipe.epochs, progress)
    callbacks: list[keras.callbacks.Callback] = [bar]
    if recipe.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss" if x_v.size else "loss", patience=recipe.patience,
            restore_best_weights=True))
    t0 = time.perf_counter()
    hist = model.fit(x[train], y_n[train], batch_size=recipe.batch_size, epochs=recipe.epochs,
                     validation_data=(x_v, y_v) if x_v.size else None,
                     shuffle=True, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - t0
    history = {k: [float(v) / factor for v in vals] for k, vals in hist.history.items()
               if k in ("loss", "val_loss")}
    history["lr"] = bar.lr
    history["epoch_seconds"] = bar.seconds
    return FitResult(model, norm, history, seconds, factor)
