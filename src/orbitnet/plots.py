"""Book figures that are not maps: the MGE, the Gauss-Hermite series."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .galaxy import Galaxy
from .gh import hermite_normalised


def mge_table(galaxy: Galaxy):
    """The MGE as an astropy Table, with each Gaussian's luminosity."""
    from astropy.table import Table

    m = galaxy.mge
    lum = m.luminosities(galaxy.constants.distance_mpc)
    tab = Table(
        {
            "j": np.arange(1, m.n + 1),
            "I [Lsun/pc^2]": m.surf,
            "sigma [arcsec]": m.sigma,
            "q'": m.q,
            "L [1e9 Lsun]": np.round(lum / 1e9, 3),
            "L fraction": np.round(lum / lum.sum(), 4),
        }
    )
    return tab


def plot_mge_profile(galaxy: Galaxy, r_max: float = 60.0) -> plt.Figure:
    """Surface brightness along the major and minor axes, with each Gaussian."""
    m = galaxy.mge
    r = np.logspace(-1.5, np.log10(r_max), 300)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True, constrained_layout=True)
    for ax, axis in zip(axes, ("major", "minor"), strict=True):
        x, y = (r, 0 * r) if axis == "major" else (0 * r, r)
        ax.loglog(r, m.surface_brightness(x, y), "k", lw=2, label="total")
        for j in range(m.n):
            rr = (x**2 + (y / m.q[j]) ** 2) / (2 * m.sigma[j] ** 2)
            ax.loglog(r, m.surf[j] * np.exp(-rr), "--", lw=1, label=f"Gaussian {j + 1}")
        ax.set_ylim(1e-1, 5e4)
        ax.set_xlabel(f"radius along the {axis} axis [arcsec]")
        ax.set_title(f"{axis} axis")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(r"surface brightness [$L_\odot\,\mathrm{pc}^{-2}$]")
    axes[1].legend(fontsize=8, ncols=2)
    return fig


def gh_losvd(v: np.ndarray, v0: float, sigma: float, h: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Gauss-Hermite LOSVD (van der Marel & Franx 1993) with h3, h4, ... = ``h``.

    L(v) = exp(-w^2/2) / (sqrt(2 pi) sigma) * [1 + sum_{l>=3} h_l H_l(w)], w = (v - v0)/sigma.
    """
    w = (np.asarray(v, float) - v0) / sigma
    orders = 2 + len(h)
    herm = hermite_normalised(w, orders)
    series = 1.0 + sum(hl * herm[..., 3 + i] for i, hl in enumerate(h))
    return np.exp(-0.5 * w**2) / (np.sqrt(2 * np.pi) * sigma) * series


def plot_gh_effects(v0: float = 0.0, sigma: float = 150.0,
                    values: Sequence[float] = (-0.1, 0.0, 0.1)) -> plt.Figure:
    """How h3 (asymmetry) and h4 (peakiness) change a Gaussian LOSVD."""
    v = np.linspace(v0 - 5 * sigma, v0 + 5 * sigma, 600)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6), sharey=True, constrained_layout=True)
    cmap = plt.get_cmap("coolwarm")
    for ax, name in zip(axes, ("h3", "h4"), strict=True):
        for i, val in enumerate(values):
            h = (val, 0.0) if name == "h3" else (0.0, val)
            ax.plot(v, gh_losvd(v, v0, sigma, h) * 1e3, color=cmap(i / max(len(values) - 1, 1)),
                    lw=2, label=f"{name} = {val:+.2f}")
        ax.axvline(v0, color="0.6", lw=0.8)
        ax.set_xlabel("line-of-sight velocity [km/s]")
        ax.set_title(f"varying {name} (V = {v0:g}, σ = {sigma:g} km/s)")
        ax.legend(fontsize=9)
    axes[0].set_ylabel(r"LOSVD [$10^{-3}$ per km/s]")
    return fig


GH_NAMES = ("h1", "h2", "h3", "h4")


def _image_limit(images: np.ndarray, percentile: float = 99.5) -> float:
    lim = float(np.nanpercentile(np.abs(images), percentile))
    return lim if lim > 0 else 1.0


def plot_gh_images(gh: np.ndarray, n_tube: int | None = None, title: str = "",
                   limits: Sequence[float] | None = None, cmap: str = "RdBu_r") -> plt.Figure:
    """The four per-orbit GH coefficient images (orbits × bins), colour scale symmetric about 0.

    ``gh`` is (n_orbits, n_bins, 4); a dashed line marks the tube/box split at ``n_tube``.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), sharex=True, sharey=True,
                             constrained_layout=True)
    for l_idx, ax in enumerate(axes.flat):
        img = gh[:, :, l_idx]
        lim = limits[l_idx] if limits is not None else _image_limit(img)
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
    idx = [int(np.argmin(np.abs(ml - m))) for m in ml_show]
    fig, axes = plt.subplots(4, len(idx), figsize=(2.6 * len(idx) + 1, 9), sharex=True,
                             sharey=True, constrained_layout=True, squeeze=False)
    for l_idx in range(4):
        lim = _image_limit(gh_cube[idx][..., l_idx])
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


def plot_delta_chi2(ax: plt.Axes, curves: dict, n_kin: int, band: tuple[float, float] | None = None,
                    ylim: float | None = None, ylabel: str = r"$\Delta\chi^2$") -> plt.Axes:
    """Δχ² curves against M/L with the 1σ and 2σ levels.

    ``curves`` maps a label to ``(ml, chi2)`` or ``(ml, chi2, plot_kwargs)``; ``band`` shades
    a reference 1σ interval (e.g. the orbit models').
    """
    from .evaluation import delta_chi2, sigma_levels

    l1, l2 = sigma_levels(n_kin)
    for label, curve in curves.items():
        ml, chi2 = curve[0], curve[1]
        kw = dict(curve[2]) if len(curve) > 2 else {}
        d = delta_chi2(chi2)
        line, = ax.plot(ml, d, label=label, **kw)
        i = int(np.argmin(chi2))
        ax.plot(ml[i], d[i], "o", color=line.get_color(), ms=5)
    ax.axhline(l1, color="0.35", ls="--", lw=1)
    ax.axhline(l2, color="0.35", ls=":", lw=1)
    ax.text(ax.get_xlim()[1], l1, r" 1$\sigma$", va="center", ha="left", fontsize=8)
    ax.text(ax.get_xlim()[1], l2, r" 2$\sigma$", va="center", ha="left", fontsize=8)
    if band is not None and all(np.isfinite(band)):
        ax.axvspan(*band, color="0.85", zorder=0, label="orbit models 1σ")
    if ylim is not None:
        ax.set_ylim(-0.03 * ylim, ylim)
    ax.set_xlabel("M/L")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return ax


def plot_chi2_curves(ml: np.ndarray, kinchi2: np.ndarray, chi2: np.ndarray,
                     n_kin: int) -> plt.Figure:
    """kinchi2 and chi2 against M/L (full range and a zoom on Δχ²) with 1σ/2σ levels."""
    from .evaluation import summarise

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
