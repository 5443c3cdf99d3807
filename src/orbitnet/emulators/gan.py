"""Generative adversarial networks for one Gauss-Hermite coefficient (thesis Chapter 5).

Unconditional GAN (Skusa 2023, Section 5.2, Table 5.1): the images are scaled to [-1, 1], the
generator is the Table B.1 network (:func:`~orbitnet.emulators.dcnn.build_dcnn`, with or
without its mask) fed a noise vector drawn uniformly from [-1, 1] and ending in ``tanh``, the
discriminator a small convolutional net from an image to one logit; both learn with binary
cross-entropy and Adam, 20 epochs of batches of 2, one GAN per coefficient.

Conditional GAN (Mirza & Osindero 2014): the scaled M/L in [0, 1] is appended to the noise
for the generator and given to the discriminator as an extra, constant image channel, so the
generator learns images *at a given M/L*.

Training (:class:`GANTrainer`) is backend-agnostic Keras 3: the losses are written in
``compute_loss`` with ``keras.ops`` only, and Keras' own ``train_on_batch`` takes the gradient
on whichever backend runs (tested on TensorFlow; nothing in it is backend-specific). One step updates both networks from the same batch, as the TensorFlow DCGAN
tutorial does with two gradient tapes. With ``f = G(z)`` and ``f̄ = stop_gradient(f)``, the
discriminator scores ``[real, f̄, f]`` in one pass and the step minimises

    L = L_D(D(real), D(f̄)) + L_G(D(f)) - L_G(D(f̄)).

``L_D`` cannot move the generator (it sees ``f̄``). The last two terms have the same value
and the same gradient with respect to the discriminator's weights, so they cancel there and
leave the generator's gradient ``∇_G L_G``. Each network thus gets the gradient of its own
loss only, and one Adam over both sets of weights is two independent Adams.

Artifacts of :meth:`TrainedGAN.save` in a folder: ``generator.weights.h5``,
``discriminator.weights.h5``, ``scaling.h5`` and ``gan.json`` (configuration, image size,
M/L scaling, per-step loss history, seconds). Each file is written to a temporary name and
moved into place with ``os.replace``, the JSON last. Training once and reading back
(train-or-load) is :mod:`orbitnet.emulators.gan_cache`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
from keras import layers, ops
from tqdm.auto import tqdm

from orbitnet.emulators.dcnn import build_dcnn
from orbitnet.emulators.gan_config import SCALINGS, GANConfig
from orbitnet.store.artifacts import write_text_atomic

FORMAT = 1
META_FILE = "gan.json"
SCALING_FILE = "scaling.h5"
GENERATOR_FILE = "generator.weights.h5"
DISCRIMINATOR_FILE = "discriminator.weights.h5"


@dataclass
class Scaling:
    """Images the GAN learns: ``y_s = y / scale`` with ``scale`` a scalar or per pixel.

    A pixel that is zero in every training image has ``scale = 0`` under ``"pixel"``: it is
    learnt as 0 and comes back as exactly 0 whatever the generator puts there.
    """

    kind: str
    scale: np.ndarray

    @classmethod
    def fit(cls, kind: str, images: np.ndarray) -> Scaling:
        """Scaling of ``images`` (n, n_orbits, n_bins) into [-1, 1]."""
        a = np.abs(np.asarray(images, dtype=np.float64))
        if kind == "global":
            top = float(a.max())
            scale = np.asarray(top if top > 0 else 1.0)
        elif kind == "pixel":
            scale = a.max(axis=0)
        else:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {kind!r}")
        return cls(kind, scale.astype(np.float32))

    def forward(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        safe = np.where(self.scale > 0, self.scale, 1.0)
        return np.where(self.scale > 0, y / safe, 0.0).astype(np.float32)

    def inverse(self, y_s: np.ndarray) -> np.ndarray:
        return (np.asarray(y_s, dtype=np.float32) * self.scale).astype(np.float32)


def build_generator(n_orbits: int, n_bins: int, input_dim: int, mask: bool = True,
                    fused: bool = True, name: str = "generator") -> keras.Model:
    """The Table B.1 network on an ``input_dim`` vector, with ``tanh`` on its output.

    The layers are those of :func:`~orbitnet.emulators.dcnn.build_dcnn`, rebuilt (fresh
    weights) on the wider input; only ``dense_in`` and ``mask_in`` change size. ``tanh`` of
    the masked image keeps zeros at zero and the output in (-1, 1).
    """
    base = build_dcnn(n_orbits, n_bins, mask=mask, fused=fused, name=f"{name}_dcnn")
    z = keras.Input(shape=(input_dim,), name="z")
    body = keras.models.clone_model(base, input_tensors=z)
    out = layers.Activation("tanh", name="tanh")(body.output)
    return keras.Model(z, out, name=name)


@keras.saving.register_keras_serializable(package="orbitnet")
def leaky_relu(x):
    """LeakyReLU with slope 0.2, written as ``max(x, 0.2 x)``: the same function, but
    TensorFlow's graph optimiser then does not try (and fail, with an error in the log) to
    fuse it into the convolution before it."""
    return ops.maximum(x, 0.2 * x)


def build_discriminator(n_orbits: int, n_bins: int, conditional: bool = False,
                        filters: tuple[int, ...] = (8, 16, 32),
                        name: str = "discriminator") -> keras.Model:
    """Image (and, if ``conditional``, scaled M/L as a constant channel) → one logit.

    ``Conv2D(f, 4, strides)`` + LeakyReLU (slope 0.2) per entry of ``filters`` (strides (3, 2)
    first, then (2, 2); 360 x 152 → 120 x 76 → 60 x 38 → 30 x 19), then ``Dense(1)``.
    """
    img = keras.Input(shape=(n_orbits, n_bins), name="image")
    x = layers.Reshape((n_orbits, n_bins, 1), name="channel")(img)
    inputs = [img]
    if conditional:
        ml = keras.Input(shape=(1,), name="ml")
        plane = ops.ones_like(x) * ops.reshape(ml, (-1, 1, 1, 1))
        x = layers.Concatenate(name="with_ml")([x, plane])
        inputs.append(ml)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 4, strides=(3, 2) if i == 0 else (2, 2), padding="same",
                          name=f"conv_{i + 1}")(x)
        x = layers.Activation(leaky_relu, name=f"leaky_{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    logit = layers.Dense(1, name="logit")(x)
    return keras.Model(inputs if conditional else img, logit, name=name)


class GANTrainer(keras.Model):
    """Generator and discriminator trained together by ``fit``/``train_on_batch``.

    Inputs are a dict: ``real`` (batch, n_orbits, n_bins) scaled images, ``noise``
    (batch, latent_dim) and, for a conditional GAN, ``ml`` (batch, 1) scaled M/L. The model's
    output is the generator's image; ``compute_loss`` returns the combined loss of the module
    docstring (its value is ``L_D``) and tracks ``d_loss`` and ``g_loss``.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 conditional: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.conditional = bool(conditional)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.g_tracker = keras.metrics.Mean(name="g_loss")
        self.d_tracker = keras.metrics.Mean(name="d_loss")

    def generator_input(self, inputs: Mapping[str, Any]):
        z = inputs["noise"]
        return ops.concatenate([z, inputs["ml"]], axis=-1) if self.conditional else z

    def _disc_input(self, images, inputs: Mapping[str, Any]):
        return [images, inputs["ml"]] if self.conditional else images

    def call(self, inputs: Mapping[str, Any], training: bool = False):
        return self.generator(self.generator_input(inputs), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        real, fake = x["real"], y_pred
        n = ops.shape(real)[0]
        # one pass over [real, fake held fixed, fake]; see the module docstring
        both = ops.concatenate([real, ops.stop_gradient(fake), fake], axis=0)
        cond = {"ml": ops.concatenate([x["ml"]] * 3, axis=0)} if self.conditional else {}
        logits = self.discriminator(self._disc_input(both, cond), training=training)
        d_real, d_fixed, d_fake = logits[:n], logits[n:2 * n], logits[2 * n:]
        ones = ops.ones_like(d_real)
        d_loss = self.bce(ones, d_real) + self.bce(ops.zeros_like(d_fixed), d_fixed)
        g_loss = self.bce(ones, d_fake)
        self.g_tracker.update_state(g_loss)
        self.d_tracker.update_state(d_loss)
        return d_loss + g_loss - self.bce(ones, d_fixed)

    @property
    def metrics(self) -> list:
        return [*super().metrics, self.g_tracker, self.d_tracker]


def draw_noise(rng: np.random.Generator, n: int, latent_dim: int) -> np.ndarray:
    """``n`` noise vectors, uniform in [-1, 1]."""
    return rng.uniform(-1.0, 1.0, size=(n, latent_dim)).astype(np.float32)


@dataclass
class TrainedGAN:
    """A GAN for one coefficient and what it takes to use it.

    Attributes
    ----------
    generator, discriminator : the networks.
    scaling : image scaling (cube units ↔ [-1, 1]).
    config : how it was built and trained.
    ml_scale : (lo, hi): the conditional GAN's input is ``(ml - lo) / (hi - lo)``.
    history : per step ``g_loss`` and ``d_loss``; per epoch ``epoch_seconds``.
    seconds : wall-clock training time (the first step's tracing included).
    meta : anything else stored in ``gan.json`` (parameters, input hashes, ...).
    path : the folder it was last saved to or loaded from.
    """

    generator: keras.Model
    discriminator: keras.Model
    scaling: Scaling
    config: GANConfig
    ml_scale: tuple[float, float] = (0.0, 1.0)
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(int(s) for s in self.generator.output.shape[1:])

    def scale_ml(self, ml) -> np.ndarray:
        lo, hi = self.ml_scale
        x = (np.asarray(ml, dtype=np.float64) - lo) / (hi - lo)
        return x.astype(np.float32).reshape(-1, 1)

    def _z(self, noise: np.ndarray, ml) -> np.ndarray:
        if not self.config.conditional:
            return noise
        if ml is None:
            raise ValueError("a conditional GAN needs ml")
        x = self.scale_ml(np.broadcast_to(np.asarray(ml, dtype=np.float64), (noise.shape[0],)))
        return np.concatenate([noise, x], axis=1)

    def _forward(self, z: np.ndarray, batch_size: int) -> np.ndarray:
        return np.concatenate([
            keras.ops.convert_to_numpy(self.generator(z[s:s + batch_size], training=False))
            for s in range(0, z.shape[0], batch_size)])

    def generate(self, n: int, ml=None, seed: int = 0, scaled: bool = False,
                 batch_size: int = 64) -> np.ndarray:
        """``n`` images (n, n_orbits, n_bins) from fresh noise (``seed``), in cube units
        unless ``scaled``; ``ml`` (scalar or (n,)) for a conditional GAN."""
        noise = draw_noise(np.random.default_rng(seed), n, self.config.latent_dim)
        out = self._forward(self._z(noise, ml), batch_size)
        return out if scaled else self.scaling.inverse(out)

    def conditional_mean(self, ml_values, n_draws: int = 8, seed: int = 0,
                         batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over ``n_draws`` noise draws at each M/L, cube units.

        Returns two (n_ml, n_orbits, n_bins) float32 arrays.
        """
        ml = np.atleast_1d(np.asarray(ml_values, dtype=np.float64))
        noise = draw_noise(np.random.default_rng(seed), ml.size * n_draws,
                           self.config.latent_dim)
        z = self._z(noise, np.repeat(ml, n_draws))
        mean = np.empty((ml.size, *self.image_shape), dtype=np.float32)
        std = np.empty_like(mean)
        group = max(1, batch_size // n_draws)
        for s in range(0, ml.size, group):
            rows = z[s * n_draws:(s + group) * n_draws]
            imgs = self.scaling.inverse(self._forward(rows, rows.shape[0]))
            imgs = imgs.reshape(-1, n_draws, *self.image_shape)
            mean[s:s + group], std[s:s + group] = imgs.mean(axis=1), imgs.std(axis=1)
        return mean, std

    def save(self, out_dir: Path | str) -> Path:
        """Write weights, scaling and ``gan.json`` to ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tag = f".tmp{os.getpid()}"
        for net, name in ((self.generator, GENERATOR_FILE),
                          (self.discriminator, DISCRIMINATOR_FILE)):
            tmp = out / f".{name.removesuffix('.weights.h5')}{tag}.weights.h5"
            net.save_weights(tmp)
            os.replace(tmp, out / name)
        tmp = out / f".{SCALING_FILE}{tag}"
        with h5py.File(tmp, "w") as f:
            f["scale"] = self.scaling.scale
            f.attrs["kind"] = self.scaling.kind
        os.replace(tmp, out / SCALING_FILE)
        meta = {**self.meta, "format": FORMAT, "config": self.config.to_dict(),
                "image_shape": list(self.image_shape), "ml_scale": list(self.ml_scale),
                "history": self.history, "train_seconds": self.seconds,
                "keras": keras.__version__, "backend": keras.backend.backend()}
        write_text_atomic(out / META_FILE, json.dumps(meta))
        self.path = out
        return out

    @classmethod
    def load(cls, out_dir: Path | str) -> TrainedGAN:
        """Read a GAN written by :meth:`save`."""
        out = Path(out_dir)
        if not (out / META_FILE).is_file():
            raise FileNotFoundError(f"{out / META_FILE} is missing: no GAN in {out}")
        meta = json.loads((out / META_FILE).read_text())
        config = GANConfig.from_dict(meta["config"])
        gen, disc = build_networks(*meta["image_shape"], config)
        gen.load_weights(out / GENERATOR_FILE)
        disc.load_weights(out / DISCRIMINATOR_FILE)
        with h5py.File(out / SCALING_FILE, "r") as f:
            scaling = Scaling(str(f.attrs["kind"]), f["scale"][()])
        extra = {k: v for k, v in meta.items() if k not in ("history", "train_seconds")}
        return cls(gen, disc, scaling, config, tuple(meta["ml_scale"]),
                   meta.get("history", {}), float(meta.get("train_seconds", 0.0)), extra, out)


def build_networks(n_orbits: int, n_bins: int, config: GANConfig
                   ) -> tuple[keras.Model, keras.Model]:
    """Generator and discriminator for ``config`` (fresh weights)."""
    gen = build_generator(n_orbits, n_bins, config.latent_dim + int(config.conditional),
                          mask=config.mask, fused=config.fused)
    disc = build_discriminator(n_orbits, n_bins, conditional=config.conditional,
                               filters=tuple(config.disc_filters))
    return gen, disc


def train_gan(images: np.ndarray, config: GANConfig | None = None, ml=None,
              progress: bool = True, desc: str = "gan") -> TrainedGAN:
    """Train one GAN on ``images`` (n, n_orbits, n_bins) in cube units.

    ``config``: Table 5.1's settings by default. ``ml`` (n,) is needed by a conditional GAN
    (it is scaled to [0, 1] by its range). One tqdm bar per network ticks once per epoch.
    Same ``config.seed`` and data, same result.
    """
    config = GANConfig() if config is None else config
    y = np.asarray(images, dtype=np.float32)
    if y.ndim != 3 or y.shape[0] < 1:
        raise ValueError(f"images must be (n, n_orbits, n_bins); got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("images contain non-finite values")
    n = y.shape[0]
    ml_scale = (0.0, 1.0)
    x_ml = np.zeros((n, 1), dtype=np.float32)
    if config.conditional:
        if ml is None or np.shape(ml) != (n,):
            raise ValueError(f"a conditional GAN needs ml of shape ({n},)")
        ml = np.asarray(ml, dtype=np.float64)
        ml_scale = (float(ml.min()), float(ml.max()))
        if ml_scale[1] <= ml_scale[0]:
            raise ValueError("ml needs at least two different values")
        x_ml = ((ml - ml_scale[0]) / (ml_scale[1] - ml_scale[0])).astype(np.float32)[:, None]
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    scaling = Scaling.fit(config.scaling, y)
    y_s = scaling.forward(y)
    gen, disc = build_networks(y.shape[1], y.shape[2], config)
    trainer = GANTrainer(gen, disc, conditional=config.conditional)
    trainer.compile(optimizer=keras.optimizers.Adam(config.learning_rate,
                                                    beta_1=config.beta_1),
                    jit_compile=False)
    steps = math.ceil(n / config.batch_size)
    hist: dict[str, list[float]] = {"g_loss": [], "d_loss": [], "epoch_seconds": []}
    bar = tqdm(total=config.epochs, desc=desc, unit="epoch", disable=not progress)
    t0 = time.perf_counter()
    for _ in range(config.epochs):
        t_epoch = time.perf_counter()
        order = rng.permutation(n)
        for s in range(steps):
            idx = order[s * config.batch_size:(s + 1) * config.batch_size]
            batch = {"real": y_s[idx], "noise": draw_noise(rng, idx.size, config.latent_dim),
                     "ml": x_ml[idx]}
            logs = trainer.train_on_batch(batch, return_dict=True)
            hist["g_loss"].append(float(logs["g_loss"]))
            hist["d_loss"].append(float(logs["d_loss"]))
        hist["epoch_seconds"].append(time.perf_counter() - t_epoch)
        bar.set_postfix(g=f"{np.mean(hist['g_loss'][-steps:]):.3g}",
                        d=f"{np.mean(hist['d_loss'][-steps:]):.3g}", refresh=False)
        bar.update()
    bar.close()
    seconds = time.perf_counter() - t0
    return TrainedGAN(gen, disc, scaling, config, ml_scale, hist, seconds)

