"""Chapter 6's figures and tables: fractions inside, the training-budget control, best fits,
curves and images per step; the method, set, cost and control tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from orbitnet.figures.style import image_limit, plot_delta_chi2
from orbitnet.fit.cube import OrbitModels
from orbitnet.fit.gh import GH_NAMES
from orbitnet.fit.sweep import nearest_index
from orbitnet.judge import subsets

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


def plot_sparse_control(summary: dict, method: str = "dcnn") -> plt.Figure:
    """The network's training-budget control: fraction of runs inside the orbit models' 1σ
    with its 95 % Clopper–Pearson interval against the step k, one line per budget of
    gradient steps (open markers and dotted: a budget whose sparse rows are not read)."""
    ctrl = summary.get(f"{method}_budget_control") or {}
    rows = summary.get(f"{method}_budget_sparsest") or {}
    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    cmap = plt.get_cmap("plasma")
    for i, b in enumerate(sorted(ctrl, key=int)):
        per_k = ctrl[b]
        ks = sorted(per_k, key=int)
        frac = np.array([per_k[k]["frac_inside_1sigma"] for k in ks])
        ci = np.array([per_k[k]["ci95"] for k in ks])
        x = np.array([int(k) for k in ks]) * (1 + 0.04 * (i - (len(ctrl) - 1) / 2))
        read = rows.get(b, {}).get("read", False)
        color = cmap(0.15 + 0.7 * i / max(len(ctrl) - 1, 1))
        ax.errorbar(x, frac, yerr=[frac - ci[:, 0], ci[:, 1] - frac], color=color,
                    marker="o", mfc=color if read else "white", capsize=3,
                    ls="-" if read else ":",
                    label=f"{b} steps" + ("" if read else " (not read)"))
    ax.axhline(summary.get("threshold", 0.9), color="0.4", ls="--", lw=1)
    ax.set_xscale("log", base=2)
    ks_all = sorted({int(k) for per_k in ctrl.values() for k in per_k})
    ax.set_xticks(ks_all, [str(k) for k in ks_all])
    ax.set_xlabel("every k-th model (k = 1: the full grid)")
    ax.set_ylabel("fraction of runs inside 1σ (95 % interval)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"{method}: training-budget control")
    if ctrl:
        ax.legend(fontsize=8)
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
    orbit_models = study.orbit_models
    fit = orbit_models.fit
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
        curves = {"orbit models": (orbit_models.ml, orbit_models.kinchi2,
                                   {"color": "k", "lw": 2.5})}
        for i, key in enumerate(keys):
            pred = study.preds[key]
            curves[f"k = {key[1]}"] = (pred.ml, pred.kinchi2,
                                       {"color": cmap(i / max(len(keys) - 1, 1))})
        plot_delta_chi2(ax, curves, orbit_models.n_kin, band=fit.ml_1sigma, ylim=8 * fit.levels[1])
        ax.set_xlim(fit.ml_best - 2, fit.ml_best + 2)
        ax.set_title(f"{method}, offset {offset}{_budget_text(study, method)}")
    for ax in list(axes.flat)[len(methods):]:
        ax.set_visible(False)
    return fig


def plot_sparse_images(study, method: str = "dcnn", coefficient: int = 2, *,
                       ml_show: float, offset: int = 0) -> plt.Figure:
    """The predicted h_l image at ``ml_show`` for each step (thesis Fig. 6.1), one offset."""
    orbit_models = study.orbit_models
    keys = sorted((key for key in study.preds if key[0] == method and key[2] == offset
                   and study.preds[key].attrs.get("gh_show") is not None),
                  key=lambda q: (q[1], q[3]))
    keys = list({key[1]: key for key in reversed(keys)}.values())[::-1]
    i_show = nearest_index(orbit_models.ml, ml_show)
    imgs = [orbit_models.gh[i_show, ..., coefficient]] + [
        study.preds[key].attrs["gh_show"][..., coefficient] for key in keys]
    titles = ["orbit model"] + [f"k = {key[1]} ({subset_size(orbit_models, key[1], offset)} models)"
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
    fig.suptitle(f"{GH_NAMES[coefficient]} at M/L = {orbit_models.ml[i_show]:.2f}, {method}, "
                 f"offset {offset}{_budget_text(study, method)}")
    return fig


def _budget_text(study, method: str) -> str:
    """", 760 gradient steps" for a network (the budget whose predictions were kept)."""
    budget = study.settings.get("shown_budget", {}).get(method)
    return "" if budget is None else f", {budget} gradient steps"


def subset_size(orbit_models, k: int, offset: int) -> int:
    """Number of models in the set (``k``, ``offset``) of ``orbit_models``' grid."""
    from orbitnet.judge.subsets import every_kth

    return int(every_kth(orbit_models.ml.size, k, offset).size)


# --- tables ------------------------------------------------------------------------


def cost_table(summ: dict[str, Any]):
    """What each method ran: steps, offsets per step, runs planned and done, weight solves
    planned, wall seconds."""
    from astropy.table import Table

    proto = summ["protocol"]
    rows = []
    for method, p in proto["plan"].items():
        offs = proto["offsets"].get(method, {})
        per_k = ", ".join(f"{k}: {len(v)}" for k, v in offs.items())
        rows.append((method, per_k, p["runs"], proto.get("runs_done", {}).get(method, p["runs"]),
                     p["solves"], proto["seconds"].get(method, np.nan)))
    t = Table(rows=rows, names=("method", "offsets per k", "runs planned", "runs done",
                                "weight solves planned", "wall s (this build)"))
    t["wall s (this build)"].format = ".0f"
    return t


def table(summ: dict[str, Any]):
    """Method × step: set size, runs, fraction inside 1σ/2σ, best fits, residual, time."""
    from astropy.table import Table

    rows = []
    for method in SPARSE_STYLE:
        for k, r in summ.get(method, {}).items():
            size = (str(r["n_train"]) if r["n_train"] == r["n_train_max"]
                    else f"{r['n_train']}–{r['n_train_max']}")
            res = r["median_abs_heldout_residual_over_err"]
            rows.append((method, int(k), size, f"{r['n_offsets']}×{r['n_seeds']}",
                         r["frac_inside_1sigma"], r["frac_inside_2sigma"],
                         f"{r['ml_best_median']:.3f} [{r['ml_best_min']:.2f}, "
                         f"{r['ml_best_max']:.2f}]",
                         r["abs_delta_over_halfwidth_median"],
                         np.nan if res is None else res, r["train_seconds_median"]))
    t = Table(rows=rows, names=("method", "k", "models", "offsets×seeds", "inside 1σ",
                                "inside 2σ", "best M/L: median [min, max]",
                                "median |Δ|/half-width", "held-out |pred−model|/err",
                                "training s"))
    for name, fmt in (("inside 1σ", ".0%"), ("inside 2σ", ".0%"),
                      ("median |Δ|/half-width", ".2f"), ("held-out |pred−model|/err", ".3g"),
                      ("training s", ".2g")):
        t[name].format = fmt
    return t


def sets_table(orbit_models: OrbitModels, steps: Sequence[int]):
    """The training sets of each step: offsets, sizes and the M/L range judged."""
    from astropy.table import Table

    rows = []
    n = orbit_models.ml.size
    for k in sorted(int(k) for k in steps):
        sizes = [subsets.every_kth(n, k, o).size for o in range(k)]
        first = subsets.every_kth(n, k, 0)
        rows.append((k, k, f"{min(sizes)}–{max(sizes)}" if min(sizes) != max(sizes)
                     else str(sizes[0]), f"{orbit_models.ml[k] - orbit_models.ml[0]:.2f}",
                     f"{orbit_models.ml[first[0]]:.2f}–{orbit_models.ml[first[-1]]:.2f}"))
    return Table(rows=rows, names=("k", "offsets", "models per set", "M/L spacing",
                                   "judged range (offset 0)"))


def control_table(ctrl: Mapping[str, Mapping[str, Any]], rows: Mapping[str, Mapping[str, Any]],
          ks: Sequence[int] = ()):
    """Budget × step: set size, runs (offsets × seeds), inside 1σ with the interval, steps
    taken, and whether the budget's sparse rows are read; a step of ``ks`` a budget did not
    run (it stopped below the threshold at a denser one) is a row saying so."""
    from astropy.table import Table

    out = []
    for b in sorted(ctrl, key=int):
        per_k = ctrl[b]
        for k in sorted({int(q) for q in per_k} | {int(q) for q in ks}):
            if str(k) not in per_k:
                out.append((int(b), k, "", "", "", float("nan"), "", "",
                            f"not run (below 90 % at k = {rows[b]['stopped_at']})"))
                continue
            c = per_k[str(k)]
            size = (str(c["n_train"]) if c["n_train"] == c["n_train_max"]
                    else f"{c['n_train']}–{c['n_train_max']}")
            used = (str(c["steps_used"]) if c["steps_used"] == c["steps_used_max"]
                    else f"{c['steps_used']}–{c['steps_used_max']}")
            lo, hi = c["ci95"]
            read = "yes" if rows[b]["read"] or k == 1 else "no"
            out.append((int(b), k, size, f"{c['n_offsets']}×{c['n_seeds']}",
                        f"{c['inside']}/{c['n_runs']}", c["frac_inside_1sigma"],
                        f"{lo:.2f}–{hi:.2f}", used, read))
    t = Table(rows=out, names=("budget (steps)", "k", "models", "offsets×seeds", "inside 1σ",
                               "fraction", "95 % interval", "steps taken", "read"))
    t["fraction"].format = ".0%"
    return t
