"""Chapter 7's figures: kinematic and residual maps on the Voronoi bins (drawn with
:mod:`orbitnet.figures.bin_maps`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.data.galaxy import Galaxy
from orbitnet.figures.bin_maps import plot_bin_map

_KIN_LABELS = {"v": ("V [km/s]", "RdBu_r", True), "sigma": ("σ [km/s]", "viridis", False),
               "h3": ("h3", "RdBu_r", True), "h4": ("h4", "RdBu_r", True)}


def plot_kinematic_maps(galaxy: Galaxy, sources: dict, frame: str = "galaxy") -> plt.Figure:
    """V, σ, h3, h4 (rows) of several sources (columns) on the Voronoi bins, shared scales."""
    names = list(sources)
    fig, axes = plt.subplots(4, len(names), figsize=(4.3 * len(names), 13),
                             constrained_layout=True, squeeze=False)
    for r, q in enumerate(("v", "sigma", "h3", "h4")):
        label, cmap, sym = _KIN_LABELS[q]
        vals = np.concatenate([np.asarray(sources[n][q], float) for n in names])
        vals = vals[np.isfinite(vals)]
        if sym:
            lim = float(np.percentile(np.abs(vals), 99)) or 1.0
            vmin, vmax = -lim, lim
        else:
            vmin, vmax = float(np.percentile(vals, 1)), float(np.percentile(vals, 99))
        for c, n in enumerate(names):
            plot_bin_map(axes[r, c], galaxy, sources[n][q], frame=frame, cmap=cmap, vmin=vmin,
                         vmax=vmax, title=f"{n}: {q}", label=label,
                         colorbar=c == len(names) - 1)
    return fig


def plot_residual_maps(galaxy: Galaxy, pairs: dict, err, frame: str = "galaxy",
                       lim: float = 3.0) -> plt.Figure:
    """(a − b)/err maps: rows V, σ, h3, h4; columns the comparisons in ``pairs``."""
    names = list(pairs)
    fig, axes = plt.subplots(4, len(names), figsize=(4.3 * len(names), 13),
                             constrained_layout=True, squeeze=False)
    for r, q in enumerate(("v", "sigma", "h3", "h4")):
        for c, n in enumerate(names):
            a, b = pairs[n]
            resid = (np.asarray(a[q], float) - np.asarray(b[q], float)) / np.asarray(err[q])
            plot_bin_map(axes[r, c], galaxy, resid, frame=frame, cmap="PuOr_r", vmin=-lim,
                         vmax=lim, title=f"{n}: {q}", label="residual / error",
                         colorbar=c == len(names) - 1)
    return fig
