"""Figures of Chapter 5 (GANs): loss densities, samples, cGAN images, χ² curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.emulators.gan import TrainedGAN
from orbitnet.figures.style import image_limit, plot_delta_chi2
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.gh import GH_NAMES
from orbitnet.fit.sweep import nearest_index
from orbitnet.studies.gan import nearest_residual


def plot_loss_density(histories: Mapping[str, Sequence[Mapping[str, list[float]]]],
                      bins: int = 60) -> plt.Figure:
    """Thesis Fig. 5.1: 2-D histogram of generator vs discriminator loss over all steps,
    one panel per variant (all its coefficients together)."""
    n = len(histories)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False,
                             constrained_layout=True)
    for ax, (name, hists) in zip(axes[0], histories.items(), strict=True):
        d = np.concatenate([h["d_loss"] for h in hists])
        g = np.concatenate([h["g_loss"] for h in hists])
        hi_d, hi_g = np.percentile(d, 99.5), np.percentile(g, 99.5)
        h = ax.hist2d(d, g, bins=bins, range=[[0, hi_d], [0, hi_g]], cmap="viridis",
                      norm="log", cmin=1)
        fig.colorbar(h[3], ax=ax, label="steps")
        ax.set_xlabel(r"discriminator loss $L_D$")
        ax.set_ylabel(r"generator loss $L_G$")
        ax.set_title(f"{name}: {d.size} steps")
    return fig


def plot_samples(gans: Mapping[int, TrainedGAN], orbit_models: OrbitModels, train_idx: np.ndarray,
                 err: np.ndarray, n_show: int = 3, seed: int = 0, n_tube: int | None = None,
                 title: str = "") -> plt.Figure:
    """Thesis Fig. 5.2: per coefficient (rows), ``n_show`` generated images and, last, the
    training image nearest to the first of them (shared colour scale per row)."""
    ks = sorted(gans)
    fig, axes = plt.subplots(len(ks), n_show + 1, figsize=(2.6 * (n_show + 1) + 1, 2.4 * len(ks)),
                             sharex=True, sharey=True, squeeze=False, constrained_layout=True)
    for r, k in enumerate(ks):
        samples = gans[k].generate(n_show, seed=seed)
        imgs = orbit_models.gh[train_idx, ..., k]
        _, nearest = nearest_residual(samples[:1], imgs, err[:, k])
        panels = [*samples, imgs[nearest[0]]]
        lim = image_limit(np.stack(panels))
        for c, img in enumerate(panels):
            ax = axes[r, c]
            im = ax.imshow(img, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                           interpolation="nearest")
            if n_tube is not None:
                ax.axhline(n_tube - 0.5, color="k", ls="--", lw=0.6)
            if r == 0:
                ax.set_title(f"generated {c + 1}" if c < n_show else "nearest training image")
            if c == n_show:
                ax.text(0.98, 0.02, f"M/L {orbit_models.ml[train_idx][nearest[0]]:.2f}", ha="right",
                        va="bottom", transform=ax.transAxes, fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{GH_NAMES[k]}\norbit")
            if r == len(ks) - 1:
                ax.set_xlabel("bin")
        fig.colorbar(im, ax=axes[r, :].tolist(), shrink=0.9, pad=0.01, format="%.0e")
    if title:
        fig.suptitle(title)
    return fig


def plot_cgan_images(pred: OrbitModels, orbit_models: OrbitModels, err: np.ndarray, ml_show: float,
                     n_tube: int | None = None) -> plt.Figure:
    """At ``ml_show``, per coefficient: the orbit model, the cGAN mean, their difference and
    the spread over noise draws, the last two in units of the solver error."""
    i = nearest_index(orbit_models.ml, ml_show)
    mean, spread = pred.attrs["gh_show"], pred.attrs.get("spread_show")
    cols = ["orbit model", "cGAN mean", "(mean − model) / err", "spread / err"]
    fig, axes = plt.subplots(4, 4, figsize=(13, 9.5), sharex=True, sharey=True,
                             constrained_layout=True)
    for k in range(4):
        lim = image_limit(orbit_models.gh[i, ..., k])
        diff = (mean[..., k] - orbit_models.gh[i, ..., k]) / err[None, :, k]
        panels = [(orbit_models.gh[i, ..., k], lim, "RdBu_r"), (mean[..., k], lim, "RdBu_r"),
                  (diff, 3.0, "RdBu_r")]
        if spread is not None:
            panels.append((spread[..., k] / err[None, :, k], 3.0, "magma"))
        for c, (img, lim_c, cmap) in enumerate(panels):
            ax = axes[k, c]
            vmin = 0 if cmap == "magma" else -lim_c
            im = ax.imshow(img, aspect="auto", cmap=cmap, vmin=vmin, vmax=lim_c,
                           interpolation="nearest")
            if n_tube is not None:
                ax.axhline(n_tube - 0.5, color="k", ls="--", lw=0.6)
            if k == 0:
                ax.set_title(cols[c])
            if c == 0:
                ax.set_ylabel(f"{GH_NAMES[k]}\norbit")
            if c >= 1:
                fig.colorbar(im, ax=ax, shrink=0.85, pad=0.01)
    fig.suptitle(f"M/L = {orbit_models.ml[i]:.2f}")
    return fig


def plot_chi2_comparison(curves: Mapping[str, OrbitModels], orbit_models: OrbitModels,
                         half_width: float = 1.5) -> plt.Figure:
    """kinchi2 over the whole grid (left) and Δχ² near the orbit models' best fit (right)."""
    fit = orbit_models.fit
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    styles = {}
    for i, (name, m) in enumerate(curves.items()):
        own = m is orbit_models
        styles[name] = {"color": "k" if own else f"C{i}", "lw": 2 if own else 1.3}
        axes[0].semilogy(m.ml, m.kinchi2, label=name, **styles[name])
    axes[0].set_xlabel("M/L")
    axes[0].set_ylabel("kinchi2")
    axes[0].set_title("goodness of fit over the whole grid")
    axes[0].legend(fontsize=8)
    axes[1].set_xlim(fit.ml_best - half_width, fit.ml_best + half_width)  # before plotting
    plot_delta_chi2(axes[1], {name: (m.ml, m.kinchi2, styles[name])
                              for name, m in curves.items()},
                    orbit_models.n_kin, band=fit.ml_1sigma, ylim=6 * fit.levels[1])
    axes[1].set_title(r"$\Delta\chi^2$ (to each curve's own minimum) near the models' best fit")
    return fig

