"""Helpers shared by several chapters' figures: colour limits and Δχ²(M/L) panels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def image_limit(images: np.ndarray, percentile: float = 99.5) -> float:
    """Symmetric colour limit: the ``percentile`` of |images| (1.0 where that is 0)."""
    lim = float(np.nanpercentile(np.abs(images), percentile))
    return lim if lim > 0 else 1.0


def plot_delta_chi2(ax: plt.Axes, curves: dict, n_kin: int, band: tuple[float, float] | None = None,
                    ylim: float | None = None, ylabel: str = r"$\Delta\chi^2$") -> plt.Axes:
    """Δχ² curves against M/L with the 1σ and 2σ levels.

    ``curves`` maps a label to ``(ml, chi2)`` or ``(ml, chi2, plot_kwargs)``; ``band`` shades
    a reference 1σ interval (e.g. the orbit models').
    """
    from orbitnet.fit.chi2 import delta_chi2, sigma_levels

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
