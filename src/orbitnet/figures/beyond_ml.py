"""Figures and tables of Chapter 9 (Beyond M/L)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

MARKERS = {"dynamite_grid": "s", "quadratic": "^", "gp_chi2": "o", "cube_multilinear": "D",
           "cube_pca_gp": "v", "cube_dcnn": "*"}


def _surface(truth) -> np.ndarray:
    """Δχ² minimised over M/L on the (log f, q) lattice."""
    return truth.delta.min(axis=2)


def plot_surface(truth, lattice_points: np.ndarray | None = None) -> plt.Figure:
    """Δχ²(log f, q) (minimum over M/L) with the judging level and twice it, the truth's
    best fit, and the best M/L per library as labels."""
    d = _surface(truth)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    lf, q = np.meshgrid(truth.log_f, truth.q, indexing="ij")
    pcm = ax.pcolormesh(truth.log_f, truth.q, d.T, shading="nearest", cmap="viridis_r")
    fig.colorbar(pcm, ax=ax, label=r"$\Delta\chi^2$ (min over M/L)")
    if min(d.shape) > 1:
        cs = ax.contour(lf, q, d, levels=[truth.level, 2 * truth.level],
                        colors=["w", "0.8"], linewidths=[1.6, 1.0])
        ax.clabel(cs, fmt={truth.level: "1σ", 2 * truth.level: "2σ"}, fontsize=8)
    best_ml = truth.ml[np.argmin(truth.chi2, axis=2)]
    for i, a in enumerate(truth.log_f):
        for j, b in enumerate(truth.q):
            ax.text(a, b, f"{best_ml[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="k" if d[i, j] < 0.6 * d.max() else "w")
    b = truth.best
    ax.plot(b["log_f"], b["q"], "r+", ms=16, mew=2, label="truth best fit")
    ax.set_xlabel(r"$\log_{10}(M_{200}/M_*)$")
    ax.set_ylabel("intrinsic flattening $q$")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("χ² over the halo and the shape (labels: best M/L)")
    fig.tight_layout()
    return fig


def plot_sampling(truth, lattice_points: np.ndarray, runs: Mapping[str, Any],
                  budget: str) -> plt.Figure:
    """Where each strategy built its libraries (budget ``budget``, first seed) and where its
    best fit ended, over the truth's Δχ² contours."""
    names = [n for n in runs if budget in runs[n]]
    ncol = min(3, max(1, len(names)))
    nrow = int(np.ceil(len(names) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.0 * ncol, 3.4 * nrow), squeeze=False,
                             sharex=True, sharey=True)
    d = _surface(truth)
    lf, q = np.meshgrid(truth.log_f, truth.q, indexing="ij")
    for ax, name in zip(axes.flat, names, strict=False):
        run = runs[name][budget][0]
        ax.contourf(lf, q, d, levels=12, cmap="Greys_r", alpha=0.6)
        if min(d.shape) > 1:
            ax.contour(lf, q, d, levels=[truth.level], colors="C3", linewidths=1.2)
        pts = lattice_points[run.libraries]
        ax.plot(pts[:, 0], pts[:, 1], MARKERS.get(name, "o"), color="C0", ms=6,
                label="libraries")
        if name == "dynamite_grid" or name in ("quadratic", "gp_chi2"):
            for k, p in enumerate(pts):
                ax.annotate(str(k + 1), p, fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
        ax.plot(run.best["log_f"], run.best["q"], "x", color="C1", ms=11, mew=2,
                label="its best fit")
        ax.plot(truth.best["log_f"], truth.best["q"], "+", color="C3", ms=12, mew=2)
        ax.set_title(f"{name} ({len(set(run.libraries))} libraries)", fontsize=9)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(r"$\log_{10} f$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$q$")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def plot_fraction(strategies: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> plt.Figure:
    """Fraction of runs whose best fit lies inside the truth's region vs libraries used."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, per in strategies.items():
        bs = sorted(per, key=int)
        ax.plot([per[b]["libraries_used"] for b in bs],
                [per[b]["frac_inside_1sigma"] for b in bs], marker=MARKERS.get(name, "o"),
                label=name)
    ax.axhline(0.9, color="0.5", ls=":", lw=1)
    ax.set_xlabel("orbit libraries used")
    ax.set_ylabel("fraction inside the truth's region")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def cost_table(strategies: Mapping[str, Mapping[str, Mapping[str, Any]]],
               budgets: Sequence[str] | None = None):
    """Strategy × budget: fraction inside, median best fit, libraries, CPU seconds, held-out
    residual (cube emulators)."""
    from astropy.table import Table

    rows = []
    for name, per in strategies.items():
        for b in sorted(per, key=int):
            if budgets is not None and b not in budgets:
                continue
            r = per[b]
            bm = r["best_median"]
            held = r.get("median_abs_heldout_residual_over_err")
            rows.append((name, int(b), r["n_runs"], f"{r['frac_inside_1sigma']:.2f}",
                         f"{bm['log_f']:.2f}", f"{bm['q']:.3f}", f"{bm['ml']:.2f}",
                         f"{r['libraries_used']:.0f}", f"{r['cpu_seconds']:.0f}",
                         "–" if held is None else f"{held:.2f}"))
    return Table(rows=rows, names=("strategy", "budget", "runs", "inside", "log f", "q", "M/L",
                                   "libraries", "CPU s", "held-out |Δ|/err"))


def convergence_table(conv: Mapping[str, Any]):
    """Library convergence: best fit and χ² per configuration and point."""
    from astropy.table import Table

    rows = [(r["label"], r["n_orbits"], f"{r['log_f']:.2f}", f"{r['q']:.2f}", r["seed"],
             f"{r['chi2_min']:.0f}", f"{r['ml_best']:.2f}", f"{r['cpu_seconds']:.0f}")
            for r in conv["rows"]]
    return Table(rows=rows, names=("library", "orbits", "log f", "q", "seed", "min kinchi2",
                                   "best M/L", "CPU s"))
