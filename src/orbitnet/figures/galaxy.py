"""Chapter 1's figures and tables: the MGE and the Gauss-Hermite series."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.gh import hermite_normalised


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
