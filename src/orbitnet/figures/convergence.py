"""Figures and tables of Chapter 8 (How many orbits?)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

_MARK = {"orbits": "o", "dithering": "s", "dynamite": "x"}


def _kind(row: Mapping[str, Any]) -> str:
    if row["start_space"] == "dynamite":
        return "dynamite"
    return "dithering" if row["dithering"] > 1 else "orbits"


def _f(v: float | None, fmt: str) -> str:
    return "–" if v is None or not np.isfinite(v) else fmt.format(v)


def ladder_table(rows: Sequence[Mapping[str, Any]]):
    """The ladder at DYNAMITE's start point: one row per rung (seed means)."""
    from astropy.table import Table

    out = [(r["label"], r["n_orbits"], r["dithering"], r["n_integrations"],
            _f(r["chi2_min"], "{:.0f}"), _f(r["ml_best"], "{:.2f}"),
            f"{_f(r['ml_1sigma'][0], '{:.2f}')} … {_f(r['ml_1sigma'][1], '{:.2f}')}",
            _f(r["seed_scatter"], "{:.0f}"), _f(r["seed_scatter_ml"], "{:.3f}"),
            _f(r["jitter_log_f"], "{:.0f}"), _f(r["jitter_q"], "{:.0f}"),
            _f(r["cpu_seconds"], "{:.0f}")) for r in rows]
    return Table(rows=out, names=("rung", "orbits", "dithering", "integrations", "min χ²",
                                  "best M/L", "1σ M/L", "seed sd χ²", "seed sd M/L",
                                  "jitter log f", "jitter q", "CPU s / library"))


def plot_ladder(rows: Sequence[Mapping[str, Any]], thesis_ml: float,
                converged_label: str | None = None) -> plt.Figure:
    """Best M/L (seed mean) and its 1σ interval against the number of integrated orbits, at
    every ladder point; the thesis' value as a line."""
    n_pts = len(rows[0]["points"])
    fig, axes = plt.subplots(1, n_pts, figsize=(3.6 * n_pts + 0.6, 3.8), squeeze=False,
                             sharey=True)
    for k, ax in enumerate(axes[0]):
        for r in rows:
            p = r["points"][k]
            lo, hi = (p["ml_best"] if v is None or not np.isfinite(v) else v
                      for v in p["ml_1sigma"])  # an open end: no bar on that side
            kind = _kind(r)
            x = r["n_integrations"] * (1.04 if kind == "dithering" else 1.0)
            ax.errorbar(x, p["ml_best"], yerr=[[p["ml_best"] - lo], [hi - p["ml_best"]]],
                        fmt=_MARK[kind], color="C3" if r["label"] == converged_label else
                        {"orbits": "C0", "dithering": "C1", "dynamite": "0.4"}[kind],
                        ms=6, capsize=3)
            ax.annotate(r["label"].replace("/smooth", ""), (x, hi), fontsize=6,
                        xytext=(2, 3), textcoords="offset points", rotation=60)
        ax.axhline(thesis_ml, color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("orbits integrated")
        ax.set_title(f"log f = {rows[0]['points'][k]['log_f']:.2f}, "
                     f"q = {rows[0]['points'][k]['q']:.2f}", fontsize=9)
    axes[0, 0].set_ylabel("best M/L (1σ interval)")
    handles = [plt.Line2D([], [], color=c, marker=m, ls="") for c, m in
               (("C0", "o"), ("C1", "s"), ("0.4", "x"))] + [plt.Line2D([], [], color="k",
                                                                      ls=":")]
    axes[0, -1].legend(handles, ["more orbits", "dithering", "DYNAMITE start space",
                                 f"thesis {thesis_ml}"], fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_chi2_log_f(libs: Sequence[Any], q: float, seed: int, sigma1: float) -> plt.Figure:
    """χ²min against log f at flattening ``q`` for each rung (engine seed ``seed``), minus
    each rung's own minimum; the bar is the 1σ level."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    rungs = list(dict.fromkeys(lib.rung for lib in libs))
    for k, r in enumerate(rungs):
        mine = {lib.point.log_f: lib.chi2_min for lib in libs if lib.rung == r
                and abs(lib.point.q - q) < 1e-6 and lib.seed == seed}
        if len(mine) < 2:
            continue
        x = np.array(sorted(mine))
        y = np.array([mine[v] for v in x])
        ax.plot(x, y - y.min(), marker="o", ms=4, color=f"C{k % 10}", label=r.label)
    ax.errorbar([ax.get_xlim()[1]], [sigma1 / 2], yerr=sigma1 / 2, color="k", capsize=4)
    ax.set_xlabel(r"$\log_{10}(M_{200}/M_*)$")
    ax.set_ylabel(r"$\chi^2_\mathrm{min} - $ its minimum")
    ax.set_title(f"χ² over the halo at q = {q:.2f} (bar: 1σ = {sigma1:.1f})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_lattice(lattice: Mapping[str, Any]) -> plt.Figure:
    """Δχ²min over (log f, q) of the converged lattice, the 1σ region and the best fit;
    labels: each library's best M/L."""
    lat = lattice["lattice"]
    lf, q = np.array(lat["log_f"]), np.array(lat["q"])
    d = np.array(lat["chi2_min"]) - lattice["chi2_min"]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    pcm = ax.pcolormesh(lf, q, d.T, shading="nearest", cmap="viridis_r")
    fig.colorbar(pcm, ax=ax, label=r"$\Delta\chi^2$ (min over M/L)")
    if min(d.shape) > 1:
        g1, g2 = np.meshgrid(lf, q, indexing="ij")
        ax.contour(g1, g2, d, levels=[lattice["level"]], colors="w", linewidths=1.6)
    ml = np.array(lat["ml_best"])
    for i, a in enumerate(lf):
        for j, b in enumerate(q):
            ax.text(a, b, f"{ml[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="k" if d[i, j] < 0.6 * d.max() else "w")
    b = lattice["best"]
    ax.plot(b["log_f"], b["q"], "r+", ms=16, mew=2, label="best fit")
    ax.set_xlabel(r"$\log_{10}(M_{200}/M_*)$")
    ax.set_ylabel("intrinsic flattening $q$")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{lattice['rung']} libraries (white: 1σ, labels: best M/L)", fontsize=9)
    fig.tight_layout()
    return fig
