"""Chapter 3's figures and tables: the network's layers, the mask, training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.figures.style import image_limit


def layer_table(model):
    """The layers of a Keras model: name, type, output shape, trainable parameters."""
    from astropy.table import Table

    rows = []
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = ""
        rows.append((layer.name, type(layer).__name__, shape.replace("None", "batch"),
                     int(sum(np.prod(w.shape) for w in layer.trainable_weights))))
    names, kinds, shapes, params = zip(*rows, strict=True)
    return Table({"layer": names, "type": kinds, "output shape": shapes, "parameters": params})


def plot_architecture(model, title: str = "") -> plt.Figure:
    """A block diagram of the DCNN: the deconvolution path (left) and the mask branch (right)."""
    from matplotlib.patches import FancyBboxPatch

    short = {"Conv2DTranspose": "Conv2DTranspose", "UpSampling2D": "UpSampling2D"}
    main, mask = [], []
    for layer in model.layers[1:]:
        if type(layer).__name__ == "Multiply":
            continue
        try:
            shape = " × ".join(str(d) for d in tuple(layer.output.shape)[1:])
        except (AttributeError, ValueError):
            shape = ""
        kind = short.get(type(layer).__name__, type(layer).__name__)
        (mask if layer.name.startswith("mask") else main).append((kind, shape))
    n = len(main)
    fig, ax = plt.subplots(figsize=(7.5, 0.48 * (n + 3)))
    ax.set_axis_off()
    w, h = 2.6, 0.34

    def box(x, y, text, color):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                    fc=color, ec="0.3"))
        ax.text(x, y, text, ha="center", va="center", fontsize=8)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color="0.4"))

    top = n + 1
    box(2.0, top, "Input: scaled M/L (1 number)", "#dddddd")
    for i, (kind, shape) in enumerate(main):
        y = top - 1 - i
        box(0.0, y, f"{kind}  →  {shape}", "#cfe2f3")
        arrow(0.0 if i else 1.2, y + 1 - h / 2 - 0.02, 0.0, y + h / 2 + 0.04)
    for i, (kind, shape) in enumerate(mask):
        y = top - 1 - i
        box(4.0, y, f"{kind}  →  {shape}", "#f4cccc")
        arrow(4.0 if i else 2.8, y + 1 - h / 2 - 0.02, 4.0, y + h / 2 + 0.04)
    y_end = top - 1 - n
    box(2.0, y_end, "image × mask  →  prediction", "#d9ead3")
    arrow(0.0, y_end + 1 - h / 2, 1.6, y_end + h / 2 + 0.04)
    arrow(4.0, top - len(mask) - h / 2, 2.4, y_end + h / 2 + 0.04)
    ax.text(0.0, top + 0.55, "deconvolution path", color="#3d6fa5", ha="center", fontsize=9)
    ax.text(4.0, top + 0.55, "mask branch", color="#a33", ha="center", fontsize=9)
    ax.set_xlim(-1.5, 5.5)
    ax.set_ylim(y_end - 0.6, top + 0.8)
    if title:
        ax.set_title(title)
    return fig


def plot_training_curves(histories: dict[str, dict[str, list[float]]],
                         title: str = "") -> plt.Figure:
    """Training (and validation) loss per epoch, one panel per coefficient."""
    n = len(histories)
    fig, axes = plt.subplots(1, n, figsize=(3.3 * n, 3.2), constrained_layout=True,
                             squeeze=False)
    for ax, (name, hist) in zip(axes[0], histories.items(), strict=True):
        ep = np.arange(1, len(hist["loss"]) + 1)
        ax.semilogy(ep, hist["loss"], label="training")
        if hist.get("val_loss"):
            ax.semilogy(ep, hist["val_loss"], label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("loss (cube units)")
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_mask_ablation(with_mask: dict, without_mask: dict, err: np.ndarray,
                       n_tube: int | None = None, name: str = "h1",
                       resid_lim: float = 3.0) -> plt.Figure:
    """Model image, predictions with and without mask, and their residuals / err."""
    truth = with_mask["truth"]
    lim = image_limit(truth)
    panels = [(truth, f"orbit model ({name})", "RdBu_r", lim),
              (with_mask["image"], "prediction with mask", "RdBu_r", lim),
              (without_mask["image"], "prediction without mask", "RdBu_r", lim),
              (None, "", None, None),
              ((with_mask["image"] - truth) / err[None, :], "residual / err, with mask",
               "PuOr_r", resid_lim),
              ((without_mask["image"] - truth) / err[None, :], "residual / err, without mask",
               "PuOr_r", resid_lim)]
    fig, axes = plt.subplots(2, 3, figsize=(13, 8), sharex=True, sharey=True,
                             constrained_layout=True)
    for ax, (img, title, cmap, vlim) in zip(axes.flat, panels, strict=True):
        if img is None:
            ax.set_visible(False)
            continue
        im = ax.imshow(img, aspect="auto", cmap=cmap, vmin=-vlim, vmax=vlim,
                       interpolation="nearest")
        if n_tube is not None:
            ax.axhline(n_tube - 0.5, color="k", ls="--", lw=0.6)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.85, pad=0.01)
    axes[1, 1].set_xlabel("bin")
    axes[0, 0].set_ylabel("orbit")
    axes[1, 1].set_ylabel("orbit")
    return fig
