"""Maps of per-bin quantities drawn on the real Voronoi bins, one style for the whole book.

Each bin's value is painted on exactly that bin's pixels; bin outlines are the pixel edges
between different bins. ``frame="galaxy"`` rotates the pixel grid by the aperture angle
so that the kinematic major axis is horizontal; ``frame="sky"`` draws the grid as stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from orbitnet.data.galaxy import Galaxy

FRAMES = ("galaxy", "sky")


def _rotate(x: np.ndarray, y: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    a = np.radians(angle_deg)
    return x * np.cos(a) - y * np.sin(a), x * np.sin(a) + y * np.cos(a)


def _angle(galaxy: Galaxy, frame: str) -> float:
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    return galaxy.aperture.angle_deg if frame == "galaxy" else 0.0


def pixel_corners(galaxy: Galaxy, frame: str = "galaxy") -> tuple[np.ndarray, np.ndarray]:
    """Corner coordinates (ny+1, nx+1) of the pixel grid in arcsec."""
    ap = galaxy.aperture
    nx, ny = ap.shape
    dx, dy = ap.pixel_size
    xe = ap.origin[0] + np.arange(nx + 1) * dx
    ye = ap.origin[1] + np.arange(ny + 1) * dy
    xx, yy = np.meshgrid(xe, ye)
    return _rotate(xx, yy, _angle(galaxy, frame))


def bin_outline_segments(galaxy: Galaxy, frame: str = "galaxy") -> np.ndarray:
    """Line segments (n, 2, 2) along pixel edges that separate different bins."""
    img = galaxy.bin_image()
    X, Y = pixel_corners(galaxy, frame)
    ny, nx = img.shape
    padded = np.pad(img, 1)
    segs = []
    # vertical edges: between pixel (j, i-1) and (j, i), at corner column i
    diff_v = padded[1:-1, :-1] != padded[1:-1, 1:]  # (ny, nx+1)
    both0 = (padded[1:-1, :-1] == 0) & (padded[1:-1, 1:] == 0)
    for j, i in zip(*np.nonzero(diff_v & ~both0), strict=True):
        segs.append([[X[j, i], Y[j, i]], [X[j + 1, i], Y[j + 1, i]]])
    diff_h = padded[:-1, 1:-1] != padded[1:, 1:-1]  # (ny+1, nx)
    both0 = (padded[:-1, 1:-1] == 0) & (padded[1:, 1:-1] == 0)
    for j, i in zip(*np.nonzero(diff_h & ~both0), strict=True):
        segs.append([[X[j, i], Y[j, i]], [X[j, i + 1], Y[j, i + 1]]])
    return np.asarray(segs, dtype=float).reshape(-1, 2, 2)


def bin_values_to_image(galaxy: Galaxy, values: Sequence[float]) -> np.ndarray:
    """Per-bin ``values`` (n_bins,) painted on the (ny, nx) pixel image; NaN outside bins."""
    values = np.asarray(values, dtype=float)
    if values.shape != (galaxy.n_bins,):
        raise ValueError(f"need one value per bin ({galaxy.n_bins}), got shape {values.shape}")
    img = galaxy.bin_image()
    out = np.full(img.shape, np.nan)
    inside = img > 0
    out[inside] = values[img[inside] - 1]
    return out


def plot_bin_map(ax: plt.Axes, galaxy: Galaxy, values: Sequence[float], *, frame: str = "galaxy",
                 cmap: str = "RdBu_r", vmin: float | None = None, vmax: float | None = None,
                 symmetric: bool = False, outlines: bool = True, title: str | None = None,
                 label: str | None = None, colorbar: bool = True):
    """Draw one per-bin quantity on the bins; return the QuadMesh."""
    img = bin_values_to_image(galaxy, values)
    finite = img[np.isfinite(img)]
    if symmetric:
        lim = vmax if vmax is not None else float(np.nanpercentile(np.abs(finite), 99))
        vmin, vmax = -lim, lim
    X, Y = pixel_corners(galaxy, frame)
    mesh = ax.pcolormesh(X, Y, np.ma.masked_invalid(img), cmap=cmap, vmin=vmin, vmax=vmax,
                         shading="flat", rasterized=True)
    if outlines:
        ax.add_collection(LineCollection(bin_outline_segments(galaxy, frame), colors="0.15",
                                         linewidths=0.3, alpha=0.6))
    binned = galaxy.bin_image() > 0
    xs = X[:-1, :-1][binned], X[1:, 1:][binned]
    ys = Y[:-1, :-1][binned], Y[1:, 1:][binned]
    pad = 1.0
    ax.set_xlim(min(a.min() for a in xs) - pad, max(a.max() for a in xs) + pad)
    ax.set_ylim(min(a.min() for a in ys) - pad, max(a.max() for a in ys) + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x [arcsec]" if frame == "sky" else "x' (major axis) [arcsec]")
    ax.set_ylabel("y [arcsec]" if frame == "sky" else "y' [arcsec]")
    if title:
        ax.set_title(title)
    if colorbar:
        cb = ax.figure.colorbar(mesh, ax=ax, shrink=0.85, pad=0.02)
        if label:
            cb.set_label(label)
    return mesh


def map_grid(galaxy: Galaxy, panels: Mapping[str, Mapping], ncols: int = 2,
             frame: str = "galaxy", panel_size: tuple[float, float] = (4.4, 3.8)) -> plt.Figure:
    """A figure of several maps; ``panels`` maps titles to keyword arguments of plot_bin_map."""
    n = len(panels)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                             squeeze=False, constrained_layout=True)
    for ax, (title, kw) in zip(axes.flat, panels.items(), strict=False):
        plot_bin_map(ax, galaxy, title=title, frame=frame, **kw)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return fig
