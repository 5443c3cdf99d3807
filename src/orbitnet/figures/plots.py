"""The book's figures and tables: MGE, Gauss-Hermite series and images, χ² curves, networks,
training, sparse-study curves, and kinematic maps (drawn with :mod:`orbitnet.figures.maps`)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.gh import GH_NAMES, hermite_normalised
from orbitnet.fit.sweep import nearest_index


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


def image_limit(images: np.ndarray, percentile: float = 99.5) -> float:
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


def plot_loss_curves(truth, preds: dict, zoom: float = 1.0) -> plt.Figure:
    """Δχ² curves of predictions (``preds[recipe][loss]`` Models) against the orbit models."""
    fit = truth.fit
    recipes = list(preds)
    fig, axes = plt.subplots(1, len(recipes), figsize=(6.5 * len(recipes), 4.3),
                             constrained_layout=True, squeeze=False)
    for ax, rec in zip(axes[0], recipes, strict=True):
        curves = {"orbit models (= exact rescaling)": (truth.ml, truth.kinchi2,
                                                       {"color": "k", "lw": 2.5})}
        for loss, pred in preds[rec].items():
            curves[loss] = (pred.ml, pred.kinchi2)
        plot_delta_chi2(ax, curves, truth.n_kin, band=fit.ml_1sigma, ylim=8 * fit.levels[1])
        ax.set_xlim(fit.ml_best - 2 * zoom, fit.ml_best + 2 * zoom)
        ax.set_title(f"{rec} recipe")
    return fig


SPARSE_STYLE = {"grid_parabola": ("C7", "s"), "linear": ("C0", "o"), "pca_gp": ("C2", "^"),
                "dcnn": ("C3", "D"), "dcnn_thesis": ("C1", "v")}


def _sparse_methods(summary: dict) -> list[str]:
    return [m for m in SPARSE_STYLE if m in summary]


def plot_sparse_fractions(summary: dict) -> plt.Figure:
    """Fraction of offsets (× seeds) whose best fit lies inside the orbit models' 1σ and 2σ
    bands, against the training-set size, one line per method (``06_sparse.json``)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True, sharey=True)
    for ax, key, label in zip(axes, ("frac_inside_1sigma", "frac_inside_2sigma"),
                              ("1σ", "2σ"), strict=True):
        for method in _sparse_methods(summary):
            color, marker = SPARSE_STYLE[method]
            per = summary[method]
            ks = sorted(per, key=int)
            n = [0.5 * (per[k]["n_train"] + per[k]["n_train_max"]) for k in ks]
            ax.plot(n, [per[k][key] for k in ks], marker=marker, color=color, label=method)
        ax.axhline(summary.get("threshold", 0.9), color="0.4", ls="--", lw=1)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("training models per set (every k-th model)")
        ax.set_title(f"best fit inside the orbit models' {label}")
        ax.set_ylim(-0.03, 1.03)
    axes[0].set_ylabel("fraction of offsets × seeds")
    axes[0].legend(fontsize=8)
    return fig


def plot_sparse_bestfit(summary: dict) -> plt.Figure:
    """Median (marker) and range (bar) of the best fits over offsets × seeds, per method and
    step, against the orbit models' 1σ and 2σ bands and best fit (the truth line)."""
    truth = summary["truth"]
    methods = _sparse_methods(summary)
    ks = sorted({int(k) for m in methods for k in summary[m]})
    fig, ax = plt.subplots(figsize=(10, 4.5), constrained_layout=True)
    ax.axhspan(*truth["ml_1sigma"], color="0.8", label="orbit models 1σ")
    ax.axhspan(*truth["ml_2sigma"], color="0.92", label="orbit models 2σ", zorder=0)
    ax.axhline(truth["ml_best"], color="k", lw=1.5, label="orbit models (= exact rescaling)")
    width = 0.8 / max(len(methods), 1)
    for j, method in enumerate(methods):
        color, marker = SPARSE_STYLE[method]
        for i, k in enumerate(ks):
            r = summary[method].get(str(k))
            if r is None:
                continue
            x = i + (j - (len(methods) - 1) / 2) * width
            ax.plot([x, x], [r["ml_best_min"], r["ml_best_max"]], color=color, lw=2)
            ax.plot(x, r["ml_best_median"], marker=marker, color=color, ms=6,
                    label=method if k == min(int(q) for q in summary[method]) else None)
    ax.set_xticks(range(len(ks)), [f"k = {k}" for k in ks])
    ax.set_xlabel("every k-th model")
    ax.set_ylabel("best-fit M/L: median and range")
    ax.legend(fontsize=8, ncols=3)
    return fig


def plot_sparse_curves(study, methods: Sequence[str] | None = None, offset: int = 0,
                       seed: int | None = None) -> plt.Figure:
    """Δχ² curves of one offset per step, one panel per method (thesis Figs. 6.2–6.3); each
    curve spans its training set's M/L range."""
    truth = study.truth
    fit = truth.fit
    have = sorted({key[0] for key in study.preds}, key=list(SPARSE_STYLE).index)
    methods = [m for m in (methods or have) if m in have]
    cmap = plt.get_cmap("viridis")
    ncols = min(2, len(methods))
    nrows = int(np.ceil(len(methods) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 4.2 * nrows),
                             constrained_layout=True, squeeze=False)
    for ax, method in zip(axes.flat, methods, strict=False):
        keys = sorted((key for key in study.preds if key[0] == method and key[2] == offset
                       and (seed is None or key[3] == seed)), key=lambda q: (q[1], q[3]))
        keys = list({key[1]: key for key in reversed(keys)}.values())[::-1]  # one per step
        curves = {"orbit models": (truth.ml, truth.kinchi2, {"color": "k", "lw": 2.5})}
        for i, key in enumerate(keys):
            pred = study.preds[key]
            curves[f"k = {key[1]}"] = (pred.ml, pred.kinchi2,
                                       {"color": cmap(i / max(len(keys) - 1, 1))})
        plot_delta_chi2(ax, curves, truth.n_kin, band=fit.ml_1sigma, ylim=8 * fit.levels[1])
        ax.set_xlim(fit.ml_best - 2, fit.ml_best + 2)
        ax.set_title(f"{method}, offset {offset}")
    for ax in list(axes.flat)[len(methods):]:
        ax.set_visible(False)
    return fig


def plot_sparse_images(study, method: str = "dcnn", coefficient: int = 2,
                       ml_show: float = 5.0, offset: int = 0) -> plt.Figure:
    """The predicted h_l image at ``ml_show`` for each step (thesis Fig. 6.1), one offset."""
    truth = study.truth
    keys = sorted((key for key in study.preds if key[0] == method and key[2] == offset
                   and study.preds[key].attrs.get("gh_show") is not None),
                  key=lambda q: (q[1], q[3]))
    keys = list({key[1]: key for key in reversed(keys)}.values())[::-1]
    i_show = nearest_index(truth.ml, ml_show)
    imgs = [truth.gh[i_show, ..., coefficient]] + [
        study.preds[key].attrs["gh_show"][..., coefficient] for key in keys]
    titles = ["orbit model"] + [f"k = {key[1]} ({subset_size(truth, key[1], offset)} models)"
                                for key in keys]
    lim = image_limit(imgs[0])
    ncols = 4
    nrows = int(np.ceil(len(imgs) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), sharex=True,
                             sharey=True, constrained_layout=True, squeeze=False)
    for ax, img, title in zip(axes.flat, imgs, titles, strict=False):
        im = ax.imshow(img, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       interpolation="nearest")
        ax.set_title(title, fontsize=9)
    for ax in list(axes.flat)[len(imgs):]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes, shrink=0.6, format="%.0e")
    fig.suptitle(f"{GH_NAMES[coefficient]} at M/L = {truth.ml[i_show]:.2f}, {method}, "
                 f"offset {offset}")
    return fig


def subset_size(truth, k: int, offset: int) -> int:
    """Number of models in the set (``k``, ``offset``) of ``truth``'s grid."""
    from orbitnet.judge.subsets import every_kth

    return int(every_kth(truth.ml.size, k, offset).size)


_KIN_LABELS = {"v": ("V [km/s]", "RdBu_r", True), "sigma": ("σ [km/s]", "viridis", False),
               "h3": ("h3", "RdBu_r", True), "h4": ("h4", "RdBu_r", True)}


def plot_kinematic_maps(galaxy: Galaxy, sources: dict, frame: str = "galaxy") -> plt.Figure:
    """V, σ, h3, h4 (rows) of several sources (columns) on the Voronoi bins, shared scales."""
    from orbitnet.figures.maps import plot_bin_map

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
    from orbitnet.figures.maps import plot_bin_map

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
