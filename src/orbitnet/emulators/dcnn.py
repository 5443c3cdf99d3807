"""The deconvolutional network of the thesis (Skusa 2023, Table B.1), in backend-agnostic Keras.

One network maps a scaled M/L value (shape ``(batch, 1)``) to one Gauss-Hermite coefficient
image ``(batch, n_orbits, n_bins)``. For the thesis' 360 x 152 images the layers are::

    Input(1) -> Dense(2) -> LeakyReLU -> Dense(6) -> LeakyReLU -> Dense(72960) -> LeakyReLU
      -> Reshape(60, 38, 32) -> UpSampling2D(2, 2) -> Conv2DTranspose(48, (2, 2), same)
      -> UpSampling2D(3, 2) -> Conv2DTranspose(48, (3, 2), same) -> Dense(1) -> Reshape(360, 152)
    mask: Input(1) -> Dense(2) -> Dense(54720, sigmoid) -> Reshape(360, 152)
    output = deconvolution * mask

The kernel sizes follow from Table B.1's parameter counts: 6192 = 2*2*32*48 + 48 and
13872 = 3*2*48*48 + 48; both transposed convolutions keep their input size (stride 1,
``padding="same"``), as the table's output shapes require. Each kernel equals the up-sampling
factor in front of it. Table B.1's rows sum to 695,019 trainable parameters; a 3 x 3 second
kernel (20,784 parameters) would give 701,931. The transposed convolutions have no activation
(Table B.1 lists none), so everything after the seed grid is linear.

``fused=True`` computes the linear chain ``UpSampling2D(3, 2) -> Conv2DTranspose(48) -> Dense(1)``
as one small convolution before up-sampling (:class:`PhaseDeconv`). The parameters, the function
and its gradients are those of the layered net (equal to float rounding, ~1e-6 relative); no
360 x 152 x 48 tensor is formed, which makes a training epoch 5-10x faster (see
``benchmarks/README.md``). Weights move between the two forms with :func:`copy_weights`;
saved weights files use the layered form. Keras' layer summary of the layered net lists the
layers in the order of Table B.1.

Other image sizes: the seed grid is ``(ceil(n_orbits / 6), ceil(n_bins / 4))`` and the up-sampled
maps are cropped at the bottom and right to ``(n_orbits, n_bins)`` before the final ``Dense(1)``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

#: Up-sampling factors (orbits, bins) of the two deconvolution stages.
UPSAMPLING: tuple[tuple[int, int], tuple[int, int]] = ((2, 2), (3, 2))
#: Kernel sizes of the two transposed convolutions, from Table B.1's parameter counts.
KERNELS: tuple[tuple[int, int], tuple[int, int]] = ((2, 2), (3, 2))
SEED_CHANNELS = 32
CONV_FILTERS = 48
#: Trainable parameters of the Table B.1 network for 360 x 152 images.
THESIS_PARAMS = 695_019
FUSED_NAME = "upsample_deconv_pixel"
#: Fused layers and the Table B.1 layers whose weights they hold, in order.
FUSED_PARTS: dict[str, tuple[str, ...]] = {FUSED_NAME: ("deconv_2", "dense_pixel")}


def _phase_taps(factor: int, kernel: int) -> tuple[int, np.ndarray]:
    """Selection ``S[u, a, t]`` of the taps ``t`` of a stride-1 ``"same"`` transposed
    convolution, after nearest up-sampling by ``factor``, that read source offset
    ``u + lo`` for output phase ``a``; returns ``(lo, S)``.

    Output ``j = factor * p + a`` reads up-sampled ``j - t + s`` (``s = (kernel - 1) // 2``),
    i.e. source ``p + floor((a - t + s) / factor)``.
    """
    s = (kernel - 1) // 2
    off = np.array([[(a - t + s) // factor for t in range(kernel)] for a in range(factor)])
    lo, hi = int(off.min()), int(off.max())
    sel = np.zeros((hi - lo + 1, factor, kernel), dtype="float32")
    for a in range(factor):
        for t in range(kernel):
            sel[off[a, t] - lo, a, t] = 1.0
    return lo, sel


@keras.saving.register_keras_serializable(package="orbitnet")
class PhaseDeconv(layers.Layer):
    """``UpSampling2D(up) -> Conv2DTranspose(filters, kernel, "same")`` [``-> Dense(1)``], fused.

    Holds the variables of the ``Conv2DTranspose`` (kernel, bias) and, with ``pixel=True``, of
    the following ``Dense(1)`` (pixel kernel, pixel bias), with their shapes, and evaluates the
    chain as one small convolution on the grid before up-sampling with one output per
    up-sampling phase (and channel), followed by a pixel shuffle. No up-sampled tensor is
    formed. No activation may sit between the layers it replaces.
    """

    def __init__(self, filters: int, kernel_size: tuple[int, int],
                 upsampling: tuple[int, int], pixel: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.upsampling = tuple(int(f) for f in upsampling)
        self.pixel = bool(pixel)
        (self._lo_y, self._sel_y), (self._lo_x, self._sel_x) = (
            _phase_taps(f, k) for f, k in zip(self.upsampling, self.kernel_size, strict=True))

    def build(self, input_shape: tuple) -> None:
        cin = int(input_shape[-1])
        glorot = keras.initializers.GlorotUniform
        self.kernel = self.add_weight(shape=(*self.kernel_size, self.filters, cin),
                                      initializer=glorot(), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
        if self.pixel:
            self.pixel_kernel = self.add_weight(shape=(self.filters, 1), initializer=glorot(),
                                                name="pixel_kernel")
            self.pixel_bias = self.add_weight(shape=(1,), initializer="zeros",
                                              name="pixel_bias")

    def call(self, x):
        fy, fx = self.upsampling
        kernel, bias = self.kernel, self.bias
        if self.pixel:
            kernel = ops.einsum("hwoi,oc->hwci", kernel, self.pixel_kernel)
            bias = ops.matmul(bias[None, :], self.pixel_kernel)[0] + self.pixel_bias
        cout = ops.shape(kernel)[2]
        phase = ops.einsum("uah,vbw,hwoi->uviabo", self._sel_y, self._sel_x, kernel)
        uy, ux = self._sel_y.shape[0], self._sel_x.shape[0]
        phase = ops.reshape(phase, (uy, ux, -1, fy * fx * cout))
        pad = ((0, 0), (-self._lo_y, uy - 1 + self._lo_y), (-self._lo_x, ux - 1 + self._lo_x),
               (0, 0))
        y = ops.conv(ops.pad(x, pad), phase, strides=1, padding="valid")
        n, m = ops.shape(x)[1], ops.shape(x)[2]
        y = ops.reshape(y, (-1, n, m, fy, fx, cout))
        y = ops.transpose(y, (0, 1, 3, 2, 4, 5))
        return ops.reshape(y, (-1, n * fy, m * fx, cout)) + bias

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        fy, fx = self.upsampling
        return (input_shape[0], input_shape[1] * fy, input_shape[2] * fx,
                1 if self.pixel else self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "upsampling": self.upsampling,
                "pixel": self.pixel}


def seed_grid(n_orbits: int, n_bins: int) -> tuple[int, int]:
    """Seed grid ``(rows, cols)`` that up-samples (x6, x4) to cover ``n_orbits x n_bins``.

    ``360 x 152`` gives the thesis' ``60 x 38``; sizes that do not divide are rounded up and
    the result cropped back (see :func:`build_dcnn`).
    """
    fy = UPSAMPLING[0][0] * UPSAMPLING[1][0]
    fx = UPSAMPLING[0][1] * UPSAMPLING[1][1]
    return math.ceil(n_orbits / fy), math.ceil(n_bins / fx)


def build_dcnn(
    n_orbits: int = 360,
    n_bins: int = 152,
    mask: bool = True,
    kernels: tuple[tuple[int, int], tuple[int, int]] = KERNELS,
    fused: bool = False,
    name: str = "dcnn",
    n_inputs: int = 1,
    hidden: tuple[int, int] | None = None,
) -> keras.Model:
    """Build the (uncompiled) Table B.1 network for ``n_orbits x n_bins`` images.

    Parameters
    ----------
    n_orbits, n_bins : image size (rows = orbits, columns = spatial bins).
    mask : add the sigmoid mask branch (thesis); ``False`` gives the plain deconvolution net
        whose predictions show the vertical stripes of the thesis' Figure 3.1.
    kernels : kernel sizes of the two ``Conv2DTranspose`` layers (default: Table B.1).
    fused : compute the second deconvolution and the pixel ``Dense(1)`` as one
        :class:`DeconvPixel` layer (same function and parameters, faster).
    name : model name.
    n_inputs : conditioning parameters (1: M/L, the thesis; 3: (log f, q, M/L), Chapter 9).
    hidden : widths of the two Dense layers before the seed layer; default Table B.1's
        (2, 6) for one input and (6, 6) for more, so that several parameters are not
        squeezed through two units (the only change of the conditioned net).

    Returns
    -------
    keras.Model mapping ``(batch, n_inputs)`` to ``(batch, n_orbits, n_bins)``.
    """
    if n_orbits < 1 or n_bins < 1:
        raise ValueError(f"image size must be positive, got {n_orbits} x {n_bins}")
    if n_inputs < 1:
        raise ValueError(f"n_inputs must be positive, got {n_inputs}")
    if hidden is None:
        hidden = (2, 6) if n_inputs == 1 else (6, 6)
    rows, cols = seed_grid(n_orbits, n_bins)
    inp = keras.Input(shape=(n_inputs,), name="ml" if n_inputs == 1 else "params")
    x = layers.Dense(hidden[0], name="dense_in")(inp)
    x = layers.LeakyReLU(name="leaky_1")(x)
    x = layers.Dense(hidden[1], name="dense_hidden")(x)
    x = layers.LeakyReLU(name="leaky_2")(x)
    x = layers.Dense(rows * cols * SEED_CHANNELS, name="dense_seed")(x)
    x = layers.LeakyReLU(name="leaky_3")(x)
    x = layers.Reshape((rows, cols, SEED_CHANNELS), name="seed")(x)
    extra = (rows * UPSAMPLING[0][0] * UPSAMPLING[1][0] - n_orbits,
             cols * UPSAMPLING[0][1] * UPSAMPLING[1][1] - n_bins)
    x = layers.UpSampling2D(UPSAMPLING[0], name="upsample_1")(x)
    x = layers.Conv2DTranspose(CONV_FILTERS, kernels[0], padding="same", name="deconv_1")(x)
    if fused:
        x = PhaseDeconv(CONV_FILTERS, kernels[1], UPSAMPLING[1], pixel=True,
                        name=FUSED_NAME)(x)
    else:
        x = layers.UpSampling2D(UPSAMPLING[1], name="upsample_2")(x)
        x = layers.Conv2DTranspose(CONV_FILTERS, kernels[1], padding="same", name="deconv_2")(x)
    if any(extra):
        x = layers.Cropping2D(((0, extra[0]), (0, extra[1])), name="crop")(x)
    if not fused:
        x = layers.Dense(1, name="dense_pixel")(x)
    out = layers.Reshape((n_orbits, n_bins), name="image")(x)
    if mask:
        m = layers.Dense(2, name="mask_in")(inp)
        m = layers.Dense(n_orbits * n_bins, activation="sigmoid", name="mask_dense")(m)
        m = layers.Reshape((n_orbits, n_bins), name="mask")(m)
        out = layers.Multiply(name="masked")([out, m])
    return keras.Model(inp, out, name=name)


def is_fused(model: keras.Model) -> bool:
    """Whether ``model`` is the fused form (:class:`PhaseDeconv` layers)."""
    return any(isinstance(layer, PhaseDeconv) for layer in model.layers)


def _weights_by_table_layer(model: keras.Model) -> dict[str, list[np.ndarray]]:
    out = {}
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name in FUSED_PARTS:
            for i, part in enumerate(FUSED_PARTS[layer.name]):
                out[part] = weights[2 * i:2 * i + 2]
        elif weights:
            out[layer.name] = weights
    return out


def copy_weights(src: keras.Model, dst: keras.Model) -> None:
    """Copy weights between two :func:`build_dcnn` nets of the same size, fused or layered."""
    weights = _weights_by_table_layer(src)
    want = _weights_by_table_layer(dst)
    if set(weights) != set(want):
        raise ValueError(f"layers differ: {sorted(set(weights) ^ set(want))}")
    for name, w in want.items():
        if [a.shape for a in w] != [a.shape for a in weights[name]]:
            raise ValueError(f"layer {name!r}: weight shapes differ")
    for layer in dst.layers:
        if layer.name in FUSED_PARTS:
            layer.set_weights([a for part in FUSED_PARTS[layer.name] for a in weights[part]])
        elif layer.weights:
            layer.set_weights(weights[layer.name])
