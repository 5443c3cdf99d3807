"""Chapter 8, "How many orbits?": the orbit-count ladder and a lattice of converged libraries.

A *rung* is a library size: ``n_e × n_i2 × n_i3`` start points per family (3 families: tubes,
their velocity-reversed twins, boxes) with ``dithering`` d (d³ sub-orbits pooled per orbit)
and a start space (``smooth`` or DYNAMITE's). At ladder points (DYNAMITE's start point
first) every rung is built with several engine seeds, and at the first ``jitter_points`` of
them, with the base seed, one lattice step away along log f and q (the neighbour jitter).
Every library is one task of the Dask grid of ``orbitnet grid`` (cached under
``build/artifacts/<galaxy>/lattice/``) with a coarse-then-fine χ²(M/L) sweep
(:class:`~orbitnet.fit.refine.RefinedSweep`).

The 1σ level is Δχ² = sqrt(2 N_obs) = 34.9 for N_obs = 4 × 152 (DYNAMITE's convention).
A rung is *converged* when the next rung of its chain (more orbits, or more dithering)
agrees on the best M/L within the larger rung's 1σ half-width at every ladder point, and
its neighbour jitter along both axes is below the 1σ level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orbitnet.data import paths
from orbitnet.data.galaxy import Galaxy
from orbitnet.fit.chi2 import interval, sigma_levels
from orbitnet.fit.cube import galaxy_input_files
from orbitnet.fit.lattice import Point, point_config
from orbitnet.fit.refine import RefinedSweep
from orbitnet.orblib.grid import connect, run_configs
from orbitnet.orblib.rungs import Rung, parse_rung
from orbitnet.store.artifacts import read_artifact
from orbitnet.store.fingerprint import input_hashes

LOG_F_LIMITS = (-1.5, 1.5)  # the configuration's limits of log10(M200/M*)


# --- libraries ------------------------------------------------------------------------


@dataclass
class Library:
    """One built library: its rung, point, seed, χ²(M/L) and costs."""

    rung: Rung
    point: Point
    seed: int
    ml: np.ndarray
    kinchi2: np.ndarray
    ml_best: float
    ml_1sigma: tuple[float, float]
    library_cpu_seconds: float
    sweep_cpu_seconds: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def chi2_min(self) -> float:
        return float(np.min(self.kinchi2))

    @property
    def cpu_seconds(self) -> float:
        return self.library_cpu_seconds + self.sweep_cpu_seconds


@dataclass(frozen=True)
class Sweep:
    """The M/L sweep of every library: a coarse grid refined around its minimum."""

    ml: tuple[float, ...]
    fine_step: float = 0.05
    fine_half_width: float = 0.3


def q_limit(galaxy: Galaxy) -> float:
    """The deprojection limit of the intrinsic flattening: q < u · min q' of the MGE."""
    return float(galaxy.constants.u * np.min(galaxy.mge.q))


def check_points(points: Sequence[Point]) -> None:
    """Raise (naming the point) unless every point lies within the configuration's limits
    and deprojects; before anything is built."""
    from orbitnet.orblib.params import ParameterSpace

    space = ParameterSpace.from_config()
    for p in points:
        space.check({"f-dh": p.log_f, "q-stars": p.q})


def _num(v: Any) -> float:
    """A number of a JSON summary (an open interval end is stored as null: nan)."""
    return math.nan if v is None else float(v)


def build_libraries(galaxy: Galaxy, jobs: Sequence[tuple[Rung, Point, int]], sweep: Sweep,
                    engine: Mapping[str, Any] | None = None, n_workers: int | None = None,
                    scheduler: str | None = None, progress: bool = True,
                    desc: str = "ladder libraries", client=None
                    ) -> tuple[list[Library], dict[str, Any]]:
    """Build (or read from the cache) every (rung, point, seed) library on the Dask grid
    (``client``, else a LocalCluster of ``n_workers``, or ``scheduler``); also how the grid
    ran."""
    from orbitnet.orblib.engine.inputs import from_galaxy

    if not jobs:
        raise ValueError("no libraries to build")
    configs = [point_config(galaxy, p, r.engine(engine or {}, s)) for r, p, s in jobs]
    analysis = RefinedSweep.for_galaxy_refined(galaxy, sweep.ml, sweep.fine_step,
                                               sweep.fine_half_width)
    grid = run_configs([{"log_f": p.log_f, "q": p.q} for _, p, _ in jobs], configs,
                       from_galaxy(galaxy), input_hashes(galaxy_input_files(galaxy)),
                       paths.lattice_dir(galaxy.name), analysis=analysis,
                       scheduler=scheduler, n_workers=n_workers, progress=progress, desc=desc,
                       client=client)
    out = []
    for (rung, p, seed), s in zip(jobs, grid.summaries, strict=True):
        data = read_artifact(s["analysis_file"])
        a = s["analysis"]
        out.append(Library(rung, p, int(seed), data["ml"], data["kinchi2"],
                           float(a["ml_best_refined"]),
                           (_num(a["ml_1sigma_lo"]), _num(a["ml_1sigma_hi"])),
                           float(s.get("library_cpu_seconds", math.nan)),
                           float(a["cpu_seconds"]),
                           {"key": s["key"], "n_failed": s["n_failed"],
                            "n_degraded": s.get("n_degraded", 0),
                            "built": s.get("library_built", False),
                            "library_wall_seconds": s["library_seconds"],
                            "interval_inside_fine_window": a.get("interval_inside_fine_window")}))
    info = {"workers": grid.workers, "wall_seconds": grid.wall_seconds,
            "libraries_built": grid.n_built, "scheduler": grid.scheduler}
    return out, info


# --- the ladder -------------------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """Where and how often each rung is built."""

    points: tuple[Point, ...]  # ladder points, DYNAMITE's start point first
    seeds: tuple[int, ...]  # engine seeds; the first builds the neighbours
    jitter_points: int = 1  # the first k ladder points get neighbours
    log_f_step: float = 0.25
    q_step: float = 0.04
    q_max: float = 0.551

    def neighbours(self, p: Point) -> dict[str, tuple[Point, Point, Point]]:
        """Three points along each axis for a second difference around ``p`` (one-sided
        where a step beyond ``p`` leaves the limits: q must deproject)."""
        out = {}
        for axis, step, lo, hi in (("log_f", self.log_f_step, *LOG_F_LIMITS),
                                   ("q", self.q_step, 0.05, self.q_max)):
            v = getattr(p, axis)
            beyond = v + step >= hi - 1e-9 if axis == "q" else v + step > hi + 1e-9
            centre = v - step if beyond else (v + step if v - step < lo - 1e-9 else v)
            vals = [round(centre + k * step, 6) for k in (-1, 0, 1)]
            pts = tuple(Point(x, p.q) if axis == "log_f" else Point(p.log_f, x) for x in vals)
            out[axis] = pts
        return out

    def jobs(self, rungs: Sequence[Rung]) -> list[tuple[Rung, Point, int]]:
        """Every (rung, point, seed) library, each once."""
        seen: dict[tuple, None] = {}
        for r in rungs:
            for p in self.points:
                for s in self.seeds:
                    seen[(r, p.key(), s)] = None
            for p in self.points[:self.jitter_points]:
                for pts in self.neighbours(p).values():
                    for n in pts:
                        seen[(r, n.key(), self.seeds[0])] = None
        return [(r, Point(*k), s) for r, k, s in seen]


def _find(libs: Sequence[Library], rung: Rung, p: Point, seed: int) -> Library:
    for lib in libs:
        if lib.rung == rung and lib.point.key() == p.key() and lib.seed == seed:
            return lib
    raise KeyError(f"no library {rung.label} at {p} seed {seed}")


def _sd(x: Sequence[float]) -> float | None:
    return float(np.std(x, ddof=1)) if len(x) > 1 else None


def ladder_rows(libs: Sequence[Library], rungs: Sequence[Rung], design: Design
                ) -> list[dict[str, Any]]:
    """One row per rung: at DYNAMITE's start point (the first ladder point) the seed means of
    χ²min, best M/L and its 1σ interval, the seed scatter of χ²min (and of the best M/L),
    the neighbour jitter along log f and q (median over the jitter points of half the
    absolute second difference of χ²min), mean CPU seconds per library; every point's
    values under ``points``."""
    rows = []
    for r in rungs:
        per_point = []
        for p in design.points:
            ls = [_find(libs, r, p, s) for s in design.seeds]
            ml = [x.ml_best for x in ls]
            per_point.append({
                "log_f": p.log_f, "q": p.q,
                "chi2_min": float(np.mean([x.chi2_min for x in ls])),
                "ml_best": float(np.mean(ml)),
                "ml_1sigma": [float(np.mean([x.ml_1sigma[k] for x in ls])) for k in (0, 1)],
                "seed_scatter": _sd([x.chi2_min for x in ls]), "seed_scatter_ml": _sd(ml),
                "ml_best_seeds": ml})
        jit: dict[str, list[float]] = {"log_f": [], "q": []}
        for p in design.points[:design.jitter_points]:
            for axis, pts in design.neighbours(p).items():
                c = [_find(libs, r, n, design.seeds[0]).chi2_min for n in pts]
                jit[axis].append(abs(c[0] - 2 * c[1] + c[2]) / 2)
        mine = [x for x in libs if x.rung == r]
        first = per_point[0]
        rows.append({
            "label": r.label, "n_orbits": r.n_orbits, "dithering": r.dithering,
            "start_space": r.start_space, "n_integrations": r.n_integrations,
            "seeds": list(design.seeds), "chi2_min": first["chi2_min"],
            "ml_best": first["ml_best"], "ml_1sigma": first["ml_1sigma"],
            "seed_scatter": first["seed_scatter"], "seed_scatter_ml": first["seed_scatter_ml"],
            "jitter_log_f": float(np.median(jit["log_f"])) if jit["log_f"] else None,
            "jitter_q": float(np.median(jit["q"])) if jit["q"] else None,
            "cpu_seconds": float(np.mean([x.cpu_seconds for x in mine])),
            "library_cpu_seconds": float(np.mean([x.library_cpu_seconds for x in mine])),
            "sweep_cpu_seconds": float(np.mean([x.sweep_cpu_seconds for x in mine])),
            "n_libraries": len(mine), "points": per_point})
    return rows


def half_width(row: Mapping[str, Any]) -> float:
    """Half the 1σ interval of the best M/L (inf when an end is open)."""
    lo, hi = row["ml_1sigma"]
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return math.inf
    return (hi - lo) / 2


def chains(rows: Sequence[Mapping[str, Any]], space: str = "smooth"
           ) -> dict[str, list[Mapping[str, Any]]]:
    """Successive rungs in start space ``space``: more orbits at dithering 1, and more
    dithering on the smallest grid."""
    mine = [r for r in rows if r["start_space"] == space]
    if not mine:
        return {"orbits": [], "dithering": []}
    smallest = min(r["n_orbits"] for r in mine)
    return {"orbits": sorted((r for r in mine if r["dithering"] == 1),
                             key=lambda r: r["n_orbits"]),
            "dithering": sorted((r for r in mine if r["n_orbits"] == smallest),
                                key=lambda r: r["dithering"])}


def pair_check(a: Mapping[str, Any], b: Mapping[str, Any], sigma1: float) -> dict[str, Any]:
    """Does rung ``a`` agree with the next rung ``b``? Best M/L at every ladder point within
    b's 1σ half-width, and a's jitter below the 1σ level along both axes."""
    hw = half_width(b)
    pts = [abs(pa["ml_best"] - pb["ml_best"]) for pa, pb in zip(a["points"], b["points"],
                                                                  strict=True)]
    jit = [v for v in (a["jitter_log_f"], a["jitter_q"]) if v is not None]
    shift = max(pts)
    worst_jit = max(jit) if jit else math.inf
    return {"from": a["label"], "to": b["label"], "ml_shift": shift, "half_width": hw,
            "shift_over_half_width": shift / hw if np.isfinite(hw) and hw > 0 else math.inf,
            "jitter_over_sigma1": worst_jit / sigma1,
            "agree": bool(shift <= hw), "smooth": bool(worst_jit < sigma1),
            "converged": bool(shift <= hw and worst_jit < sigma1)}


def converged(rows: Sequence[Mapping[str, Any]], sigma1: float, space: str = "smooth"
              ) -> dict[str, Any]:
    """The cheapest converged rung (None if none) and every successive pair's check."""
    checks = []
    for chain in chains(rows, space).values():
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            checks.append({**pair_check(a, b, sigma1), "cpu_seconds": a["cpu_seconds"],
                           "n_orbits": a["n_orbits"], "dithering": a["dithering"]})
    ok = [c for c in checks if c["converged"]]
    best = min(ok, key=lambda c: c["cpu_seconds"]) if ok else None
    out: dict[str, Any] = {"n_orbits": None, "dithering": None, "label": None,
                           "checks": checks}
    if best is not None:
        out.update(n_orbits=best["n_orbits"], dithering=best["dithering"], label=best["from"])
    return out


def extrapolate(rows: Sequence[Mapping[str, Any]], sigma1: float, space: str = "smooth"
                ) -> dict[str, Any] | None:
    """A power-law extrapolation (stated as such) along the orbit-count chain: the orbit
    count at which the M/L shift between successive rungs falls below the largest rung's
    1σ half-width and the jitter below the 1σ level. None without two measured pairs or
    when either does not fall with the orbit count."""
    chain = chains(rows, space)["orbits"]
    if len(chain) < 3:
        return None
    n = np.array([r["n_orbits"] for r in chain], float)
    shift = np.array([pair_check(a, b, sigma1)["ml_shift"]
                      for a, b in zip(chain[:-1], chain[1:], strict=True)])
    jit = np.array([max(v for v in (r["jitter_log_f"], r["jitter_q"], 0.0) if v is not None)
                    for r in chain])
    hw = half_width(chain[-1])
    out: dict[str, Any] = {"basis": [r["label"] for r in chain]}
    for name, x, y, target in (("ml_shift", n[:-1], shift, hw), ("jitter", n, jit, sigma1)):
        if np.any(y <= 0) or not np.isfinite(target):
            out[name] = {"exponent": None, "n_orbits": None}
            continue
        slope, icpt = np.polyfit(np.log(x), np.log(y), 1)
        need = float(np.exp((np.log(target) - icpt) / slope)) if slope < 0 else None
        if need is not None and y[-1] < target:  # already below: no extrapolation needed
            need = float(x[-1])
        out[name] = {"exponent": float(slope), "n_orbits": need}
    needs = [out[k]["n_orbits"] for k in ("ml_shift", "jitter")]
    out["n_orbits"] = max(needs) if all(v is not None for v in needs) else None
    return out


# --- the lattice of converged libraries -----------------------------------------------


def surface(libs: Sequence[Library], log_f: Sequence[float], q: Sequence[float],
            level: float) -> dict[str, Any]:
    """Best fit and Δχ² < ``level`` region of a (log f × q) lattice of libraries.

    The best fit is the node of least χ²min with its M/L parabola vertex. A node is inside
    the region when its χ²min is within ``level`` of the lattice minimum; its M/L range is
    where its own curve stays below the rest of the level (ends interpolated between the
    sweep's M/L values). ``bracketed`` says, per axis, whether the region stays off the
    lattice's edges."""
    lf, qq = np.asarray(log_f, float), np.asarray(q, float)
    node = {lib.point.key(): lib for lib in libs}
    grid = np.array([[node[Point(a, b).key()].chi2_min for b in qq] for a in lf])
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    best = node[Point(lf[i], qq[j]).key()]
    inside = grid - grid.min() < level
    ml_lo, ml_hi, open_end = math.inf, -math.inf, False
    for a, b in zip(*np.nonzero(inside), strict=True):
        lib = node[Point(lf[a], qq[b]).key()]
        rest = level - (lib.chi2_min - grid.min())
        lo, hi = interval(lib.ml, lib.kinchi2, rest)
        open_end |= not (np.isfinite(lo) and np.isfinite(hi))
        ml_lo = min(ml_lo, lo if np.isfinite(lo) else float(lib.ml[0]))
        ml_hi = max(ml_hi, hi if np.isfinite(hi) else float(lib.ml[-1]))
    rows, cols = np.nonzero(inside)
    return {
        "best": {"log_f": float(lf[i]), "q": float(qq[j]), "ml": best.ml_best},
        "chi2_min": float(grid.min()), "level": float(level),
        "region": {"log_f": [float(lf[rows.min()]), float(lf[rows.max()])],
                   "q": [float(qq[cols.min()]), float(qq[cols.max()])],
                   "ml": [float(ml_lo), float(ml_hi)]},
        "ml_region_open": bool(open_end),
        "touches": {"log_f_lo": bool(rows.min() == 0), "log_f_hi": bool(rows.max() == lf.size - 1),
                    "q_lo": bool(cols.min() == 0), "q_hi": bool(cols.max() == qq.size - 1)},
        "lattice": {"log_f": lf.tolist(), "q": qq.tolist(), "chi2_min": grid.tolist(),
                    "ml_best": [[node[Point(a, b).key()].ml_best for b in qq] for a in lf]}}


def extend(axis: np.ndarray, lo_edge: bool, hi_edge: bool, limits: tuple[float, float],
           exclusive_hi: bool = False) -> np.ndarray:
    """``axis`` with one more step (its end spacing) beyond each touched edge, inside the
    limits (an exclusive upper limit must not be reached)."""
    vals = list(np.round(axis, 6))
    if lo_edge and axis.size > 1:
        v = round(axis[0] - (axis[1] - axis[0]), 6)
        if v >= limits[0] - 1e-9:
            vals.insert(0, v)
    if hi_edge and axis.size > 1:
        v = round(axis[-1] + (axis[-1] - axis[-2]), 6)
        if v < limits[1] - 1e-9 or (not exclusive_hi and v <= limits[1] + 1e-9):
            vals.append(v)
    return np.array(vals, float)


def bracketed_lattice(galaxy: Galaxy, rung: Rung, log_f: Sequence[float], q: Sequence[float],
                      seed: int, sweep: Sweep, engine: Mapping[str, Any] | None = None,
                      max_rounds: int = 3, n_workers: int | None = None,
                      scheduler: str | None = None, progress: bool = True, client=None
                      ) -> tuple[list[Library], dict[str, Any]]:
    """Build the (log f × q) lattice of ``rung`` libraries; while the 1σ region touches an
    edge that the limits allow to move (log f −1.5 … 1.5; q above 0.05 and below the
    deprojection limit), add a row or column there and build again (at most
    ``max_rounds`` extensions). Returns the libraries and :func:`surface` with the rounds,
    the grid's runs and whether each edge is a limit."""
    lf, qq = np.round(np.asarray(log_f, float), 6), np.round(np.asarray(q, float), 6)
    q_max = q_limit(galaxy)
    sigma1 = sigma_levels(4 * galaxy.n_bins)[0]
    runs, rounds = [], 0
    while True:
        pts = [Point(float(a), float(b)) for a in lf for b in qq]
        check_points(pts)
        libs, info = build_libraries(galaxy, [(rung, p, seed) for p in pts], sweep, engine,
                                     n_workers, scheduler, progress, "lattice libraries",
                                     client)
        runs.append(info)
        res = surface(libs, lf, qq, sigma1)
        t = res["touches"]
        new_lf = extend(lf, t["log_f_lo"], t["log_f_hi"], LOG_F_LIMITS)
        new_q = extend(qq, t["q_lo"], t["q_hi"], (0.05, q_max), exclusive_hi=True)
        if rounds >= max_rounds or (new_lf.size == lf.size and new_q.size == qq.size):
            break
        lf, qq, rounds = new_lf, new_q, rounds + 1
    res["rounds"] = rounds
    res["grid_runs"] = runs
    res["edge_is_limit"] = {
        "log_f_lo": bool(lf[0] - (lf[1] - lf[0]) < LOG_F_LIMITS[0] - 1e-9) if lf.size > 1
        else True,
        "log_f_hi": bool(lf[-1] + (lf[-1] - lf[-2]) > LOG_F_LIMITS[1] + 1e-9) if lf.size > 1
        else True,
        "q_lo": bool(qq[0] - (qq[1] - qq[0]) < 0.05 - 1e-9) if qq.size > 1 else True,
        "q_hi": bool(qq[-1] + (qq[-1] - qq[-2]) >= q_max - 1e-9) if qq.size > 1 else True}
    res["bracketed"] = {ax: not ((t[f"{ax}_lo"] and not res["edge_is_limit"][f"{ax}_lo"])
                                 or (t[f"{ax}_hi"] and not res["edge_is_limit"][f"{ax}_hi"]))
                        for ax in ("log_f", "q")}
    res["cpu_seconds"] = float(sum(x.cpu_seconds for x in libs))
    res["rung"] = rung.label
    return libs, res


# --- the chapter's numbers and sentences ----------------------------------------------


def lattice_rung(name: str, rows: Sequence[Mapping[str, Any]], conv: Mapping[str, Any],
                 space: str = "smooth") -> Rung:
    """The rung of the lattice: ``auto`` is the converged rung, else the largest rung of the
    orbit-count chain (the nearest to convergence that was built); or an explicit rung."""
    if name != "auto":
        return parse_rung(name, space)
    if conv.get("label"):
        return parse_rung(conv["label"])
    chain = chains(rows, space)["orbits"] or list(rows)
    return parse_rung(max(chain, key=lambda r: r["n_orbits"])["label"])


def sentences(res: Mapping[str, Any]) -> dict[str, str]:
    """Verdict sentences chosen from the numbers."""
    conv, rows, s1 = res["converged"], res["ladder"], res["sigma1"]
    out = {}
    checks = conv["checks"]
    if conv["n_orbits"] is not None:
        c = next(x for x in checks if x["from"] == conv["label"] and x["converged"])
        out["converged"] = (
            f"The ladder converges at {conv['label']} ({conv['n_orbits']} orbits, dithering "
            f"{conv['dithering']}): the next rung, {c['to']}, moves the best M/L by at most "
            f"{c['ml_shift']:.2f} at the ladder points, within its 1σ half-width of "
            f"{c['half_width']:.2f}, and the neighbour jitter is "
            f"{c['jitter_over_sigma1']:.2f} × the 1σ level.")
    elif checks:
        last = max(checks, key=lambda x: x["cpu_seconds"])
        out["converged"] = (
            f"No rung built here is converged. The costliest step checked, {last['from']} → "
            f"{last['to']}, still moves the best M/L by {last['ml_shift']:.2f} "
            f"({last['shift_over_half_width']:.1f} × the 1σ half-width) with a neighbour "
            f"jitter of {last['jitter_over_sigma1']:.1f} × the 1σ level.")
    else:
        out["converged"] = "The ladder has fewer than two rungs in one chain: nothing to check."
    ex = res.get("extrapolation")
    if conv["n_orbits"] is None and ex and ex.get("n_orbits"):
        out["extrapolation"] = (
            f"Extrapolating the measured power laws along {', '.join(ex['basis'])} (an "
            f"extrapolation, not a measurement): the M/L shift falls as N^"
            f"{ex['ml_shift']['exponent']:.2f} and the jitter as N^"
            f"{ex['jitter']['exponent']:.2f}, so about {ex['n_orbits']:.0f} orbits would "
            f"meet both criteria.")
    elif conv["n_orbits"] is None:
        out["extrapolation"] = ("The measured shifts or jitters do not fall steadily with the "
                                "orbit count, so no extrapolation is made.")
    else:
        out["extrapolation"] = ""
    chain = chains(rows, rows[0]["start_space"])["orbits"] or list(rows)
    ref = next((r for r in rows if r["label"] == res["lattice"]["rung"]),
               max(chain, key=lambda r: r["n_orbits"]))
    lo, hi = ref["ml_1sigma"]
    thesis = res["chapter2"]["thesis_ml"]
    out["thesis"] = (
        f"At DYNAMITE's start point the {ref['label']} libraries give M/L = "
        f"{ref['ml_best']:.2f} (1σ {lo:.2f} … {hi:.2f}); the thesis' {thesis:.2f} "
        + ("lies inside that interval." if lo <= thesis <= hi else "lies outside it: it is "
           "a property of the thesis' 360-orbit library."))
    ch2 = res["chapter2"]
    out["chapter2"] = (
        "Chapter 2 built no engine library in this run." if ch2.get("engine_ml") is None else
        f"orbitnet's engine library of the same size gives {ch2['engine_ml']:.2f} (1σ "
        f"{ch2['engine_ml_1sigma'][0]:.2f} … {ch2['engine_ml_1sigma'][1]:.2f}) there.")
    dyn = [r for r in rows if r["start_space"] == "dynamite"]
    smooth = [r for r in rows if r["start_space"] != "dynamite"
              and r["n_orbits"] == (dyn[0]["n_orbits"] if dyn else -1) and r["dithering"] == 1]
    if dyn and smooth and dyn[0]["jitter_log_f"] is not None:
        d, m = dyn[0], smooth[0]
        out["start_space"] = (
            f"With DYNAMITE's start space the {d['n_orbits']}-orbit libraries jitter by "
            f"{d['jitter_log_f']:.0f} along log f and {d['jitter_q']:.0f} along q; with the "
            f"smooth one by {m['jitter_log_f']:.0f} and {m['jitter_q']:.0f} (1σ = {s1:.1f}).")
    else:
        out["start_space"] = ""
    lat = res["lattice"]
    b, reg = lat["best"], lat["region"]
    unb = [ax for ax, ok in lat["bracketed"].items() if not ok]
    out["best"] = (
        f"On the lattice of {lat['rung']} libraries NGC 6278's best fit is log10 f = "
        f"{b['log_f']:.2f}, q = {b['q']:.2f}, M/L = {b['ml']:.2f}; its 1σ region spans "
        f"log10 f {reg['log_f'][0]:.2f} … {reg['log_f'][1]:.2f}, q {reg['q'][0]:.2f} … "
        f"{reg['q'][1]:.2f} and M/L {reg['ml'][0]:.2f} … {reg['ml'][1]:.2f}"
        + (", bracketed in both parameters (an edge that is the configuration's limit "
           "counts as bracketed)." if not unb else
           f"; it is not bracketed along {' and '.join(unb)} after {lat['rounds']} "
           "extensions of the lattice."))
    return out


def chapter2_reference(results: Mapping[str, Any]) -> dict[str, Any]:
    """From Chapter 2's results: the thesis' best M/L (DYNAMITE's 360-orbit run) and the
    engine's 360-orbit best M/L with its 1σ interval (None when Chapter 2 built none)."""
    eng = results.get("engine") or {}
    return {"thesis_ml": float(results["dynamite"]["ml_best"]),
            "engine_ml": eng.get("ml_best_refined"), "engine_ml_1sigma": eng.get("ml_1sigma")}


def chapter_results(rows: list[dict[str, Any]], conv: dict[str, Any],
                    extrapolation: dict[str, Any] | None, lattice: dict[str, Any],
                    design: Design, sweep: Sweep, engine: Mapping[str, Any],
                    grid: Mapping[str, Any], sigma1: float, chapter2: Mapping[str, Any]
                    ) -> dict[str, Any]:
    """The results JSON of Chapter 8 (``ladder``, ``converged``, ``best``, ``region`` …);
    ``chapter2`` from :func:`chapter2_reference`."""
    out = {
        "ladder": rows,
        "converged": conv,
        "extrapolation": extrapolation,
        "best": lattice["best"], "region": lattice["region"],
        "lattice": lattice,
        "chapter2": dict(chapter2),
        "sigma1": sigma1,
        "sigma_convention": "1σ: Δχ² = sqrt(2 N_obs), N_obs = 4 × bins (DYNAMITE's)",
        "design": {"points": [{"log_f": p.log_f, "q": p.q} for p in design.points],
                   "ladder_q": design.points[0].q,
                   "seeds": list(design.seeds), "jitter_points": design.jitter_points,
                   "log_f_step": design.log_f_step, "q_step": design.q_step,
                   "q_max": design.q_max},
        "sweep": {"ml_coarse": list(sweep.ml), "ml_step": float(np.diff(sweep.ml).min())
                  if len(sweep.ml) > 1 else None, "fine_step": sweep.fine_step,
                  "fine_half_width": sweep.fine_half_width},
        "engine": dict(engine),
        "grid": dict(grid),
        "cpu_seconds": {"ladder": float(sum(r["cpu_seconds"] * r["n_libraries"]
                                            for r in rows)),
                        "lattice": lattice["cpu_seconds"]},
    }
    out["sentences"] = sentences(out)
    return out


def run_study(galaxy: Galaxy, rungs: Sequence[str], start_space: str, ladder_log_f:
              Sequence[float], ladder_q: float, seeds: Sequence[int], jitter_points: int,
              sweep: Sweep, lattice_rung_name: str, lattice_log_f: Sequence[float],
              lattice_q: Sequence[float], max_rounds: int = 3,
              engine: Mapping[str, Any] | None = None, log_f_step: float = 0.25,
              q_step: float = 0.04, n_workers: int | None = None,
              scheduler: str | None = None, progress: bool = True,
              chapter2: Mapping[str, Any] | None = None
              ) -> tuple[dict[str, Any], list[Library], list[Library]]:
    """The whole chapter: the ladder, the converged rung, the bracketing lattice. Every
    point is checked before anything is built; ``chapter2`` is
    :func:`chapter2_reference` of Chapter 2's results. Returns (results, ladder libraries,
    lattice libraries)."""
    parsed = list(dict.fromkeys(parse_rung(r, start_space) for r in rungs))
    if not seeds:
        raise ValueError("seeds: at least one engine seed is needed")
    design = Design(tuple(Point(float(f), float(ladder_q)) for f in ladder_log_f),
                    tuple(int(s) for s in seeds), int(jitter_points), float(log_f_step),
                    float(q_step), q_limit(galaxy))
    jobs = design.jobs(parsed)
    check_points([p for _, p, _ in jobs])
    check_points([Point(float(a), float(b)) for a in lattice_log_f for b in lattice_q])
    client, cluster = connect(scheduler, n_workers)  # one cluster for every grid run
    try:
        libs, grid = build_libraries(galaxy, jobs, sweep, engine, progress=progress,
                                     client=client)
        sigma1 = sigma_levels(4 * galaxy.n_bins)[0]
        rows = ladder_rows(libs, parsed, design)
        conv = converged(rows, sigma1, start_space)
        extra = extrapolate(rows, sigma1, start_space)
        rung = lattice_rung(lattice_rung_name, rows, conv, start_space)
        lat_libs, lattice = bracketed_lattice(galaxy, rung, lattice_log_f, lattice_q,
                                              design.seeds[0], sweep, engine, max_rounds,
                                              progress=progress, client=client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if cluster is not None:
        grid["scheduler"] = "local"
    res = chapter_results(rows, conv, extra, lattice, design, sweep, engine or {}, grid,
                          sigma1, chapter2 or {"thesis_ml": math.nan, "engine_ml": None,
                                               "engine_ml_1sigma": None})
    return res, libs, lat_libs
