"""Chapter 4's figures: predictions against the orbit models, Δχ² per loss."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.figures.style import image_limit, plot_delta_chi2
from orbitnet.fit.gh import GH_NAMES


def plot_prediction_comparison(truth: np.ndarray, pred: np.ndarray, err: np.ndarray,
                               n_tube: int | None = None, title: str = "",
                               resid_lim: float = 3.0) -> plt.Figure:
    """Model, prediction and (prediction − model)/err for h1..h4 (rows); thesis Fig. 4.1."""
    fig, axes = plt.subplots(4, 3, figsize=(12, 12), sharex=True, sharey=True,
                             constrained_layout=True)
    for l_idx in range(4):
        lim = image_limit(truth[..., l_idx])
        resid = (pred[..., l_idx] - truth[..., l_idx]) / err[None, :, l_idx]
        panels = ((truth[..., l_idx], "orbit model", "RdBu_r", lim),
                  (pred[..., l_idx], "prediction", "RdBu_r", lim),
                  (resid, "(prediction − model) / err", "PuOr_r", resid_lim))
        for c, (img, name, cmap, vlim) in enumerate(panels):
            ax = axes[l_idx, c]
            im = ax.imshow(img, aspect="auto", cmap=cmap, vmin=-vlim, vmax=vlim,
                           interpolation="nearest")
            if n_tube is not None:
                ax.axhline(n_tube - 0.5, color="k", ls="--", lw=0.6)
            if l_idx == 0:
                ax.set_title(name)
            if c == 0:
                ax.set_ylabel(f"{GH_NAMES[l_idx]}\norbit")
            if l_idx == 3:
                ax.set_xlabel("bin")
            fig.colorbar(im, ax=ax, shrink=0.85, pad=0.01,
                         format="%.0e" if c < 2 else "%.1f")
    if title:
        fig.suptitle(title)
    return fig


def plot_loss_curves(orbit_models, preds: dict, zoom: float = 1.0) -> plt.Figure:
    """Δχ² curves of predictions (``preds[recipe][loss]``, OrbitModels) against the orbit models."""
    fit = orbit_models.fit
    recipes = list(preds)
    fig, axes = plt.subplots(1, len(recipes), figsize=(6.5 * len(recipes), 4.3),
                             constrained_layout=True, squeeze=False)
    for ax, rec in zip(axes[0], recipes, strict=True):
        curves = {"orbit models (= exact rescaling)": (orbit_models.ml, orbit_models.kinchi2,
                                                       {"color": "k", "lw": 2.5})}
        for loss, pred in preds[rec].items():
            curves[loss] = (pred.ml, pred.kinchi2)
        plot_delta_chi2(ax, curves, orbit_models.n_kin, band=fit.ml_1sigma, ylim=8 * fit.levels[1])
        ax.set_xlim(fit.ml_best - 2 * zoom, fit.ml_best + 2 * zoom)
        ax.set_title(f"{rec} recipe")
    return fig
