"""Rules and resource estimates that chapters declare beside their parameters.

Each builder returns a rule (``values -> message | None``) or a cost (``values -> Estimate``)
for :mod:`orbitnet.book.registry`; :func:`orbitnet.book.params.validate` runs them before a
kernel starts. Rules that need the orbit-model cube read only its M/L values
(:func:`stored_ml`); without a cube they pass and the runner names the chapter to run first.
The per-unit costs are the measurements of ``benchmarks/README.md`` (one core).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from orbitnet.book.params import Estimate, Rule, short
from orbitnet.fit import mlgrid

Cost = Callable[[Mapping[str, Any]], "Estimate | None"]

#: Size of one orbit model in the cube (and in every prediction of it): per-orbit h1..h4 in
#: float32 plus float64 weights, for the reference library (360 orbits, 152 Voronoi bins).
REFERENCE_ORBITS, REFERENCE_BINS = 360, 152
#: Fewest models of a grid whose minimum of χ² has a neighbour on either side.
MIN_MODELS = 3
#: Measured CPU seconds (benchmarks/README.md): one cold NNLS weight solve and one GH
#: projection of the reference library; one orbit integration of 200 periods, 50000 samples
#: (a median library of 240 integrations took 14.9 s).
SOLVE_S, PROJECT_S, ORBIT_S = 0.050, 0.014, 14.9 / 240


def model_seconds(n_orbits: int) -> float:
    """CPU seconds to project and solve one model of ``n_orbits`` orbits: the projection grows
    with the orbits, the NNLS solve with their square (scipy on 1121 rows, measured: 0.6, 5.7
    and 47 ms for 36, 120 and 360 orbits)."""
    r = n_orbits / REFERENCE_ORBITS
    return SOLVE_S * r * r + PROJECT_S * r


def model_bytes(n_orbits: int = REFERENCE_ORBITS, n_bins: int = REFERENCE_BINS) -> int:
    """Bytes of one orbit model: h1..h4 of every orbit and bin (float32) and the weights."""
    return n_orbits * n_bins * 4 * 4 + n_orbits * 8


MODEL_BYTES = model_bytes()


def _models(v: Mapping[str, Any], start: str, stop: str, step: str) -> int:
    return mlgrid.n_models(v[start], v[stop], v[step])


def grid(start: str, stop: str, step: str, min_models: int = MIN_MODELS) -> Rule:
    """A rule: ``start < stop`` and the grid ``start:stop:step`` has ``min_models`` to
    :data:`orbitnet.fit.mlgrid.MAX_MODELS` models."""
    def rule(v: Mapping[str, Any]) -> str | None:
        if not v[start] < v[stop]:
            return f"parameter {start} = {v[start]!r} must be smaller than {stop} = {v[stop]!r}"
        try:
            n = _models(v, start, stop, step)
        except ValueError as exc:
            return f"parameter {step} = {v[step]!r}: {exc}"
        if n < min_models:
            return (f"parameter {step} = {v[step]!r} gives {n} model(s) from {start} = "
                    f"{v[start]!r} to {stop} = {v[stop]!r}; at least {min_models} are needed")
        return None
    return rule


def on_grid(item: str, start: str, stop: str, step: str) -> Rule:
    """A rule: the number ``item`` is one of the grid's M/L values (or None)."""
    def rule(v: Mapping[str, Any]) -> str | None:
        if v[item] is None:
            return None
        ml = mlgrid.ml_grid(v[start], v[stop], v[step])
        if not mlgrid.on_grid(v[item], ml):
            return (f"parameter {item} = {v[item]!r} is not on the M/L grid {v[start]!r}:"
                    f"{v[stop]!r}:{v[step]!r} ({start}:{stop}:{step}); the nearest values "
                    f"are {_nearest(ml, v[item])}")
        return None
    return rule


def _nearest(ml: Sequence[float], value: float) -> str:
    ranked = sorted(ml, key=lambda x: abs(x - value))[:2]
    return " and ".join(f"{x:g}" for x in sorted(ranked))


def exactly(item: str, lengths: Sequence[int]) -> Rule:
    """A rule: the list ``item`` has one of ``lengths`` elements."""
    def rule(v: Mapping[str, Any]) -> str | None:
        if len(v[item]) not in lengths:
            return (f"parameter {item} = {short(v[item])} must have "
                    f"{' or '.join(map(str, lengths))} elements")
        return None
    return rule


# --- rules on the galaxy's data and its stored cube ----------------------------------------


def inputs(galaxy: str = "galaxy", data_dir: str | None = None) -> Rule:
    """A rule: the galaxy's input files exist (in ``data_dir`` when given, else under
    ``data/<galaxy>/inputs``)."""
    def rule(v: Mapping[str, Any]) -> str | None:
        from orbitnet.data import paths
        from orbitnet.data.galaxy import INPUT_FILES

        given = data_dir is not None and v.get(data_dir) is not None
        folder = v[data_dir] if given else paths.inputs_dir(v[galaxy])
        missing = [f for f in INPUT_FILES if not (Path(folder) / f).is_file()]
        if not missing:
            return None
        if given:
            return f"parameter {data_dir} = {folder!r} lacks {', '.join(missing)}"
        known = paths.known_galaxies()
        if v[galaxy] == paths.GALAXY:
            return f"{folder} lacks {', '.join(missing)}: run `make data` first"
        if not Path(folder).is_dir():
            return (f"parameter {galaxy} = {v[galaxy]!r}: no folder {folder} (the galaxies "
                    f"here: {', '.join(known) or 'none; run `make data`'})")
        return f"parameter {galaxy} = {v[galaxy]!r}: {folder} lacks {', '.join(missing)}"
    return rule


def stored_ml(galaxy: str) -> Any:
    """The M/L values of the galaxy's stored orbit-model cube, or None when there is none
    (or it cannot be read: the chapter then reports it)."""
    from orbitnet.data import paths

    path = paths.cube_file(galaxy)
    if not path.is_file():
        return None
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return f["ml"][()]
    except (OSError, KeyError):
        return None


def on_cube(item: str) -> Rule:
    """A rule: the M/L ``item`` is one of the stored cube's (Chapter 2's grid)."""
    def rule(v: Mapping[str, Any]) -> str | None:
        ml = stored_ml(v["galaxy"])
        if ml is None or v[item] is None or mlgrid.on_grid(v[item], ml):
            return None
        return (f"parameter {item} = {v[item]!r} is not an M/L of the orbit-model cube "
                f"({len(ml)} models, {ml[0]:g} to {ml[-1]:g}); the nearest values are "
                f"{_nearest(ml.tolist(), v[item])}")
    return rule


def within_cube(item: str) -> Rule:
    """A rule: the M/L ``item`` lies inside the stored cube's M/L range (or is None)."""
    def rule(v: Mapping[str, Any]) -> str | None:
        ml = stored_ml(v["galaxy"])
        if ml is None or v[item] is None or ml[0] <= v[item] <= ml[-1]:
            return None
        return (f"parameter {item} = {v[item]!r} lies outside the orbit-model cube's M/L "
                f"range {ml[0]:g} to {ml[-1]:g}")
    return rule


def every_kth(items: Sequence[str], least: int) -> Rule:
    """A rule: training on every k-th model of the stored cube (k the value of each of
    ``items``, an int or a list) leaves at least ``least`` models at every offset."""
    def rule(v: Mapping[str, Any]) -> str | None:
        ml = stored_ml(v["galaxy"])
        if ml is None:
            return None
        for item in items:
            ks = v[item] if isinstance(v[item], list) else [v[item]]
            bad = [k for k in ks if k is not None and len(ml) // k < least]
            if bad:
                return (f"parameter {item} = {short(v[item])}: every {bad[0]}-th model of the "
                        f"cube's {len(ml)} leaves {len(ml) // bad[0]} model(s) to train on, "
                        f"fewer than {least}; the largest step allowed is "
                        f"{len(ml) // least}")
        return None
    return rule


# --- costs ---------------------------------------------------------------------------------


def cube_cost(start: str, stop: str, step: str) -> Cost:
    """Memory and CPU of the cube of orbit models on the grid ``start:stop:step``."""
    def cost(v: Mapping[str, Any]) -> Estimate:
        n = _models(v, start, stop, step)
        return Estimate(n * MODEL_BYTES,
                        f"{n} orbit models of {MODEL_BYTES / 2**20:.2f} MiB each: h1..h4 of "
                        f"{REFERENCE_ORBITS} orbits x {REFERENCE_BINS} bins; "
                        f"{model_seconds(REFERENCE_ORBITS) * 1e3:.0f} ms of CPU each",
                        cpu_seconds=n * model_seconds(REFERENCE_ORBITS))
    return cost


def n_libraries(v: Mapping[str, Any]) -> int:
    """Libraries Chapter 9 builds before its strategies: its lattice and the re-seeded nodes
    that measure its noise (answers off the lattice add a few, cached)."""
    return len(v["log_f"]) * len(v["q"]) + v["noise_nodes"] * (len(v["noise_seeds"])
                                                               + v["noise_twins"])


def _orbits(v: Mapping[str, Any]) -> int:
    return 3 * v["n_e"] * v["n_i2"] * v["n_i3"]


def library_cost(v: Mapping[str, Any]) -> Estimate:
    """CPU of integrating Chapter 9's libraries (linear in periods and samples; the larger)."""
    n_lib = n_libraries(v)
    n_int = 2 * v["n_e"] * v["n_i2"] * v["n_i3"] * v.get("dithering", 1) ** 3
    scale = max(v["n_periods"] / 200, v["n_samples"] / 50000)
    return Estimate(0, f"{n_lib} libraries of {_orbits(v)} orbits (3 x n_e x n_i2 x n_i3), "
                    f"{n_int} integrations each at {ORBIT_S * scale:.2g} s",
                    cpu_seconds=n_lib * n_int * ORBIT_S * scale,
                    names=("n_e", "n_i2", "n_i3", "dithering", "n_periods", "n_samples"))


def sweep_cost(start: str, stop: str, step: str) -> Cost:
    """Memory (weights) and CPU (solves) of Chapter 9's χ²(M/L) sweep of every library."""
    def cost(v: Mapping[str, Any]) -> Estimate:
        n, n_lib, orbits = _models(v, start, stop, step), n_libraries(v), _orbits(v)
        per = model_seconds(orbits)
        return Estimate(n_lib * n * orbits * 8,
                        f"{n_lib} libraries x {n} M/L values, {orbits} weights and "
                        f"{per:.2g} CPU-s each", cpu_seconds=n_lib * n * per)
    return cost


def gh_cube_cost(start: str, stop: str, step: str, fine_step: str | None = None) -> Cost:
    """Memory of Chapter 9's GH cubes (every library on the grid ``start:stop:step``); none
    where the refined sweep (``fine_step`` not None) keeps no cube."""
    def cost(v: Mapping[str, Any]) -> Estimate | None:
        if fine_step is not None and v[fine_step] is not None:
            return None
        n, n_lib, orbits = _models(v, start, stop, step), n_libraries(v), _orbits(v)
        size = model_bytes(orbits)
        return Estimate(n_lib * n * size, f"{n_lib} libraries x {n} models of "
                        f"{size / 2**20:.2f} MiB",
                        cpu_seconds=n_lib * n * PROJECT_S * orbits / REFERENCE_ORBITS)
    return cost



#: Measured (benchmarks/README.md): a GAN epoch costs about 0.02 CPU-s per training image
#: (3.2 s for 161 images at batch 2), plus about 4 s of tracing per GAN; a DCNN gradient step
#: of the fast recipe 35 ms, plus about 5 s of graph building per network and coefficient.
GAN_IMAGE_EPOCH_S, GAN_TRACE_S, DCNN_STEP_S, DCNN_BUILD_S = 3.2 / 161, 4.0, 0.035, 5.0


def _cube_size(v: Mapping[str, Any]) -> int:
    ml = stored_ml(v["galaxy"])
    return len(ml) if ml is not None else mlgrid.n_models(*mlgrid.THESIS)


def gan_cost(v: Mapping[str, Any]) -> Estimate:
    """CPU of Chapter 5's GANs: every variant on four coefficients, the spread variants once
    more per further seed, each ``gan_epochs`` over every ``train_step``-th model."""
    n_gans = 3 * 4 + len(v["spread_variants"]) * (len(v["seeds"]) - 1) + 1
    n_train = -(-_cube_size(v) // v["train_step"])
    per = v["gan_epochs"] * n_train * GAN_IMAGE_EPOCH_S + GAN_TRACE_S
    return Estimate(0, f"{n_gans} GANs of {v['gan_epochs']} epochs over {n_train} images, "
                    f"{per:.3g} CPU-s each", cpu_seconds=n_gans * per,
                    names=("gan_epochs", "seeds", "spread_variants", "train_step"))


def sparse_cost(v: Mapping[str, Any]) -> Estimate | None:
    """CPU of Chapter 6's study on the stored cube (its plan: networks of every budget at
    every step, an upper bound since a budget stops at its first step below 90 %, and weight
    solves)."""
    ml = stored_ml(v["galaxy"])
    if ml is None:
        return None
    from orbitnet.studies.sparse import DCNN_RECIPES, offset_limits, plan

    limits = offset_limits(v["offsets"], v["pca_offsets"], v["network_offsets"])
    steps = {m: v["network_steps"] for m in DCNN_RECIPES} if v["network_steps"] else None
    try:
        todo = plan(len(ml), v["steps"], v["methods"], v["seeds"], limits, steps, v["budgets"])
    except ValueError:  # a step beyond the cube: its rule (every_kth) names it
        return None
    nets = [t for m, t in todo.items() if m in DCNN_RECIPES]
    runs = sum(t["runs"] for t in nets)
    net_cpu = 4 * sum(t["gradient_steps"] * DCNN_STEP_S + t["runs"] * DCNN_BUILD_S
                      for t in nets)
    solves = sum(t["solves"] for t in todo.values())
    return Estimate(0, f"{runs} networks of 4 coefficients ({net_cpu:.3g} CPU-s) and "
                    f"{solves} weight solves", cpu_seconds=net_cpu
                    + solves * model_seconds(REFERENCE_ORBITS),
                    names=("steps", "methods", "seeds", "network_steps", "budgets"))


# --- Chapter 8's ladder ---------------------------------------------------------------------


def rungs(item: str, space: str, auto: bool = False) -> Rule:
    """A rule: every rung of ``item`` (a list, or one value; ``auto`` allowed when ``auto``)
    reads as ``NExNI2xNI3[/dD][/smooth|/dynamite]``."""
    from orbitnet.orblib.rungs import parse_rung

    def rule(v: Mapping[str, Any]) -> str | None:
        vals = v[item] if isinstance(v[item], list) else [v[item]]
        for text in vals:
            if auto and text == "auto":
                continue
            try:
                parse_rung(text, v[space])
            except ValueError as exc:
                return f"parameter {item} = {short(v[item])}: {exc}"
        return None
    return rule


def _sweep_solves(v: Mapping[str, Any]) -> int:
    """M/L values one library's coarse-then-fine sweep solves (at most)."""
    coarse = mlgrid.n_models(v["ml_start"], v["ml_stop"], v["ml_step"])
    return coarse + int(2 * v["ml_fine_half_width"] / v["ml_fine_step"])


def _rung_seconds(v: Mapping[str, Any], text: str) -> float:
    from orbitnet.orblib.rungs import parse_rung

    r = parse_rung(text, v["start_space"])
    scale = max(v["n_periods"] / 200, v["n_samples"] / 50000)
    return r.n_integrations * ORBIT_S * scale + _sweep_solves(v) * model_seconds(r.n_orbits)


def ladder_cost(v: Mapping[str, Any]) -> Estimate | None:
    """CPU of Chapter 8's ladder and of its first lattice (before any extension), from the
    measured per-integration and per-solve costs."""
    from orbitnet.orblib.rungs import parse_rung

    try:
        per = {t: _rung_seconds(v, t) for t in v["rungs"]}
        big = max(v["rungs"], key=lambda t: parse_rung(t, v["start_space"]).n_orbits)
        lat = v["lattice_rung"] if v["lattice_rung"] != "auto" else big
        lat_s = _rung_seconds(v, lat)
    except ValueError:
        return None  # the rung rule names the bad value
    n_lib = len(v["ladder_log_f"]) * len(v["seeds"]) + 4 * v["jitter_points"]
    n_lat = len(v["lattice_log_f"]) * len(v["lattice_q"])
    return Estimate(0, f"{n_lib} libraries per rung ({len(per)} rungs) and a lattice of "
                    f"{n_lat} {lat} libraries before extensions",
                    cpu_seconds=n_lib * sum(per.values()) + n_lat * lat_s,
                    names=("rungs", "seeds", "ladder_log_f", "lattice_log_f", "lattice_q",
                           "lattice_rung", "n_periods", "n_samples"))


def cube_needs_plain_sweep(strategies: str, fine_step: str, cube_kinds: Sequence[str]
                           ) -> Rule:
    """A rule: strategies that learn GH cubes (``cube_kinds``) need a plain sweep, which
    keeps the cube (``fine_step`` None): the refined sweep keeps none."""
    def rule(v: Mapping[str, Any]) -> str | None:
        cube = [s for s in v[strategies] if s in cube_kinds]
        if v[fine_step] is None or not cube:
            return None
        return (f"parameter {strategies} = {short(v[strategies])}: {cube} learn GH cubes, "
                f"which the refined sweep ({fine_step} = {v[fine_step]}) does not keep; set "
                f"{fine_step} None or leave them out")
    return rule
