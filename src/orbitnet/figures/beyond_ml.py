"""Figures and tables of Chapter 9 (Beyond M/L)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

MARKERS = {"random": ".", "dynamite_grid": "s", "quadratic": "^", "gp_chi2": "o", "cube_multilinear": "D",
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
        ax.plot(run.answer[0], run.answer[1], "x", color="C1", ms=11, mew=2,
                label="its answer")
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


def plot_fraction(strategies: Mapping[str, Mapping[str, Mapping[str, Any]]],
                  n_lattice: int) -> plt.Figure:
    """Fraction of runs inside the truth's region against the budget, with 95 %
    Clopper–Pearson intervals; the random baseline shaded."""
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    names = list(strategies)
    width = 0.6 / max(1, len(names))
    for k, name in enumerate(names):
        per = strategies[name]
        bs = sorted(per, key=int)
        x = np.array([int(b) for b in bs], float)
        y = np.array([per[b]["frac_inside_1sigma"] for b in bs])
        lo = np.array([per[b]["ci95"][0] for b in bs])
        hi = np.array([per[b]["ci95"][1] for b in bs])
        if name == "random":
            ax.fill_between(x, lo, hi, color="0.85", label="random (95 % interval)")
            ax.plot(x, y, color="0.4", lw=1)
            continue
        off = (k - (len(names) - 1) / 2) * width
        ax.errorbar(x + off, y, yerr=[y - lo, hi - y], marker=MARKERS.get(name, "o"),
                    ls="-", lw=1, capsize=2, label=name)
    ax.axhline(0.9, color="0.5", ls=":", lw=1)
    ax.set_xlabel(f"libraries per run (budget; the lattice has {n_lattice})")
    ax.set_ylabel("fraction of runs inside the region")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def cost_table(strategies: Mapping[str, Mapping[str, Mapping[str, Any]]],
               budgets: Sequence[str] | None = None):
    """Strategy × budget: runs, inside, fraction with its 95 % interval, median libraries
    and CPU seconds, median answer, held-out residual (cube emulators)."""
    from astropy.table import Table

    rows = []
    for name, per in strategies.items():
        for b in sorted(per, key=int):
            if budgets is not None and b not in budgets:
                continue
            r = per[b]
            a = r["answer_median"]
            held = r.get("median_abs_heldout_residual_over_err")
            rows.append((name, int(b), f"{r['budget_fraction']:.0%}", r["runs"], r["inside"],
                         f"{r['frac_inside_1sigma']:.2f}",
                         f"{r['ci95'][0]:.2f}–{r['ci95'][1]:.2f}",
                         f"{r['libraries_median']:.0f}", f"{r['cpu_seconds_median']:.0f}",
                         f"{a['log_f']:.2f}", f"{a['q']:.3f}", f"{a['ml']:.2f}",
                         "–" if held is None else f"{held:.2f}"))
    return Table(rows=rows, names=("strategy", "budget", "of lattice", "runs", "inside",
                                   "fraction", "95 % interval", "libraries", "CPU s",
                                   "log f", "q", "M/L", "held-out |Δ|/err"))


def noise_table(noise: Mapping[str, Any]):
    """The truth's noise: minimum χ² and best M/L of each re-seeded node."""
    from astropy.table import Table

    rows = [(f"{n['log_f']:.2f}", f"{n['q']:.2f}", d, f"{c:.1f}", f"{m:.2f}",
             f"{n['std']:.1f}" if k == 0 else "")
            for n in noise["nodes"]
            for k, (d, c, m) in enumerate(zip(n["draws"], n["chi2_min"], n["ml_best"],
                                              strict=True))]
    return Table(rows=rows, names=("log f", "q", "library", "min χ²", "best M/L",
                                   "std at the node"))
