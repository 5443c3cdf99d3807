"""Chapter 2's figures: GH coefficient images, χ²(M/L) curves, the halo grid."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.figures.style import image_limit, plot_delta_chi2
from orbitnet.fit.gh import GH_NAMES
from orbitnet.fit.sweep import nearest_index


def plot_gh_images(gh: np.ndarray, n_tube: int | None = None, title: str = "",
                   limits: Sequence[float] | None = None, cmap: str = "RdBu_r") -> plt.Figure:
    """The four per-orbit GH coefficient images (orbits × bins), colour scale symmetric about 0.

    ``gh`` is (n_orbits, n_bins, 4); a dashed line marks the tube/box split at ``n_tube``.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), sharex=True, sharey=True,
                             constrained_layout=True)
    for l_idx, ax in enumerate(axes.flat):
        img = gh[:, :, l_idx]
        lim = limits[l_idx] if limits is not None else image_limit(img)
        im = ax.imshow(img, aspect="auto", cmap=cmap, vmin=-lim, vmax=lim,
                       interpolation="nearest")
        if n_tube is not None:
            ax.axhline(n_tube - 0.5, color="k", ls="--", lw=0.8)
        ax.set_title(GH_NAMES[l_idx])
        if l_idx >= 2:
            ax.set_xlabel("Voronoi bin")
        if l_idx % 2 == 0:
            ax.set_ylabel("orbit (tubes and twins, then boxes)")
        fig.colorbar(im, ax=ax, shrink=0.9, pad=0.01, format="%.0e")
    if title:
        fig.suptitle(title)
    return fig


def plot_gh_small_multiples(ml: np.ndarray, gh_cube: np.ndarray, ml_show: Sequence[float],
                            n_tube: int | None = None, cmap: str = "RdBu_r") -> plt.Figure:
    """Rows: coefficients h1..h4; columns: the chosen M/L values (shared scale per row)."""
    idx = [nearest_index(ml, m) for m in ml_show]
    fig, axes = plt.subplots(4, len(idx), figsize=(2.6 * len(idx) + 1, 9), sharex=True,
                             sharey=True, constrained_layout=True, squeeze=False)
    for l_idx in range(4):
        lim = image_limit(gh_cube[idx][..., l_idx])
        for c, i in enumerate(idx):
            ax = axes[l_idx, c]
            im = ax.imshow(gh_cube[i, :, :, l_idx], aspect="auto", cmap=cmap, vmin=-lim,
                           vmax=lim, interpolation="nearest")
            if n_tube is not None:
                ax.axhline(n_tube - 0.5, color="k", ls="--", lw=0.6)
            if l_idx == 0:
                ax.set_title(f"M/L = {ml[i]:.2f}")
            if c == 0:
                ax.set_ylabel(f"{GH_NAMES[l_idx]}\norbit")
            if l_idx == 3:
                ax.set_xlabel("bin")
        fig.colorbar(im, ax=axes[l_idx, :].tolist(), shrink=0.9, pad=0.01, format="%.0e")
    return fig


def plot_chi2_curves(ml: np.ndarray, kinchi2: np.ndarray, chi2: np.ndarray,
                     n_kin: int) -> plt.Figure:
    """kinchi2 and chi2 against M/L (full range and a zoom on Δχ²) with 1σ/2σ levels."""
    from orbitnet.fit.chi2 import summarise

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    axes[0].semilogy(ml, kinchi2, label="kinchi2 (GH rows)")
    axes[0].semilogy(ml, chi2, label="chi2 (all rows)")
    axes[0].set_xlabel("M/L")
    axes[0].set_ylabel(r"$\chi^2$")
    axes[0].legend()
    axes[0].set_title("the whole grid")
    for ax, (name, curve) in zip(axes[1:], (("kinchi2", kinchi2), ("chi2", chi2)), strict=True):
        fit = summarise(ml, curve, n_kin)
        lo2, hi2 = fit.ml_2sigma
        span = (hi2 - lo2) if np.isfinite(hi2 - lo2) else 1.0
        m = (ml > fit.ml_best - 2.5 * span) & (ml < fit.ml_best + 2.5 * span)
        plot_delta_chi2(ax, {name: (ml[m], curve[m], {"marker": ".", "color": "C0"})}, n_kin,
                        ylim=4 * fit.levels[1])
        for lim in fit.ml_1sigma:
            ax.axvline(lim, color="C3", lw=0.8)
        ax.set_title(f"{name}: best M/L {fit.ml_best:.2f} (parabola {fit.ml_best_refined:.3f})")
    return fig


def plot_halo_grid(curves: dict, n_kin: int, ml_best: Sequence[float] | None = None
                   ) -> plt.Figure:
    """χ²(M/L) curves of libraries at several halo masses: Δχ² of each curve about its own
    minimum (left) and the best M/L against log10(M200/M*) (right)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True,
                                 gridspec_kw={"width_ratios": [2, 1]})
    cmap = plt.get_cmap("viridis")
    keys = sorted(curves)
    styled = {rf"$\log_{{10}} M_{{200}}/M_* = {k:g}$":
              (*curves[k], {"color": cmap(i / max(len(keys) - 1, 1))})
              for i, k in enumerate(keys)}
    plot_delta_chi2(ax, styled, n_kin, ylim=8 * np.sqrt(2 * n_kin))
    best = ml_best if ml_best is not None else [
        float(curves[k][0][np.argmin(curves[k][1])]) for k in keys]
    bx.plot(keys, best, "o-", color="0.2")
    bx.set_xlabel(r"$\log_{10} M_{200}/M_*$")
    bx.set_ylabel("best M/L (kinchi2)")
    bx.grid(alpha=0.3)
    return fig
