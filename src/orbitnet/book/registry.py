"""The book's chapters, in order, with each one's typed parameters, rules and estimates.

This is the one declaration of every chapter parameter (:class:`orbitnet.book.params.Param`):
its default is the ``full`` profile (the thesis settings), its ``quick`` value the small, fast
profile (CI and a first look). Beside the parameters each chapter declares its cross-parameter
rules and its memory/CPU estimates (:mod:`orbitnet.book.rules`), all checked before a kernel
starts. The notebook's parameters cell (:func:`orbitnet.book.notebooks.parameters_cell`), the
runner, ``orbitnet list`` and the table on each chapter page are all made from here. Defaults
that belong to the package (the thesis' M/L grid, the training recipes) are read from it.

The choices (losses, GAN scalings, sparse methods) repeat the package's constants so that
listing parameters needs no TensorFlow import; ``tests/test_chapter_params.py`` checks they
agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orbitnet.book import rules
from orbitnet.book.params import (
    SEED_MAX,
    Param,
    ParameterError,
    Rule,
    rule_member,
    rule_within,
    validate,
    workers,
)
from orbitnet.data.galaxy import ModelConstants
from orbitnet.emulators.gan_config import SCALINGS, GANConfig
from orbitnet.emulators.recipes import RECIPES as _RECIPES
from orbitnet.fit.mlgrid import THESIS
from orbitnet.orblib.rungs import START_SPACES

PROFILES = ("quick", "full")

RECIPES = tuple(_RECIPES)
LOSSES = ("l2", "l1", "l2_err", "l1_err")
GAN_SCALINGS = SCALINGS
_GAN = GANConfig()  # Table 5.1: the GAN chapter's defaults
_MODEL = ModelConstants()  # the galaxy's model: its library's orbit counts and periods
GAN_VARIANTS = ("gan", "gan_nomask", "cgan", "cgan_global")
SPARSE_METHODS = ("grid_parabola", "linear", "pca_gp", "dcnn", "dcnn_thesis")
ORBIT_SOURCES = ("auto", "dynamite", "engine")
FRAMES = ("galaxy", "sky")
BEYOND_STRATEGIES = ("random", "dynamite_grid", "quadratic", "gp_chi2", "cube_multilinear",
                     "cube_pca_gp", "cube_dcnn")
ML_UNIT = "M☉/L☉"
#: The most panels of a small-multiples figure.
MAX_PANELS = 12

__all__ = ["CHAPTERS", "PROFILES", "Chapter", "ParameterError", "get_chapter", "requires"]


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    params: tuple[Param, ...] = ()
    rules: tuple[Rule, ...] = field(default=())

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"chapter {self.id} has no parameter {name!r}")

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def profile(self, name: str) -> dict[str, Any]:
        """Every parameter's value in profile ``name`` (``full``: the defaults)."""
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; choose one of {PROFILES}")
        return {p.name: (p.quick if name == "quick" else p.default) for p in self.params}

    def validate(self, values: Mapping[str, Any], force: bool = False) -> dict[str, Any]:
        """All parameters, checked (see :func:`orbitnet.book.params.validate`)."""
        return validate(self.params, values, self.rules, force=force, chapter=self.id)


def _recipe_epochs() -> str:
    return ", ".join(f"{name} {r.epochs}" for name, r in _RECIPES.items())


def _source_conflict(v: Mapping[str, Any]) -> str | None:
    if v["orbit_source"] == "engine" and v["orblib_dir"] is not None:
        return (f"parameter orblib_dir = {v['orblib_dir']!r} names a DYNAMITE run, but "
                f"orbit_source = 'engine' builds orbitnet's own library: drop one of them")
    return None


def _galaxy(meaning: str = "galaxy folder under data/") -> Param:
    return Param("galaxy", "name", "ngc6278", "ngc6278", meaning)


def _ml_show(meaning: str = "M/L of the images shown (an M/L of the cube)") -> Param:
    return Param("ml_show", "float", 5.0, 5.0, meaning, unit=ML_UNIT, lo=0, lo_open=True,
                 invited=True)


def _n_jobs(meaning: str = "worker processes") -> Param:
    return Param("n_jobs", "int", None, None, f"{meaning} (None: all cores)", lo=1, hi=256,
                 cost=workers("n_jobs"))


def _grid_workers(meaning: str) -> Param:
    return Param("grid_workers", "int", None, None, meaning, lo=1, hi=256,
                 cost=workers("grid_workers"))


def _orbit_source(meaning: str) -> Param:
    return Param("orbit_source", "str", "auto", "auto", meaning, choices=ORBIT_SOURCES)


def _orblib_dir(meaning: str) -> Param:
    return Param("orblib_dir", "path", None, None, meaning)


def _dcnn_epochs(meaning: str = "epochs of the DCNN recipe", quick: int = 1) -> Param:
    return Param("dcnn_epochs", "int", None, quick, f"{meaning} (None: the recipe's own: "
                 f"{_recipe_epochs()})", lo=1, hi=10000, invited=True)


#: the thesis' library size as a ladder rung (6x5x4: 360 orbits)
_THESIS_RUNG = f"{_MODEL.n_e}x{_MODEL.n_i2}x{_MODEL.n_i3}"


def _orbit_sampling(cost: Any = None) -> tuple[Param, Param]:
    """An engine library's orbital periods per orbit and samples stored per orbit."""
    return (Param("n_periods", "float", float(_MODEL.orbital_periods), 20.0,
                  "orbital periods integrated per orbit", lo=1, hi=1000),
            Param("n_samples", "int", 50000, 2000, "samples stored per orbit", lo=100,
                  hi=1_000_000, cost=cost))


def _seeds(name: str, default: list[int], quick: list[int], meaning: str,
           min_len: int = 1) -> Param:
    return Param(name, "list[int]", default, quick, meaning, lo=0, hi=SEED_MAX, min_len=min_len)


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_galaxy", "The galaxy and its data", (
        _galaxy("name of the folder under data/"),
        Param("data_dir", "path", None, None,
              "folder with mge.ecsv, gauss_hermite_kins.ecsv, aperture.dat, bins.dat "
              "(None: data/<galaxy>/inputs)"),
        Param("frame", "str", "galaxy", "galaxy",
              "galaxy: major axis horizontal; sky: the pixel grid as stored", choices=FRAMES,
              invited=True),
    ), (rules.inputs("galaxy", "data_dir"),)),
    Chapter("02_orbit_libraries", "Orbit libraries", (
        _galaxy(),
        Param("data_dir", "path", None, None,
              "folder with the four input files (None: data/<galaxy>/inputs)"),
        _orbit_source("dynamite (a DYNAMITE run), engine (orbitnet's own) or auto"),
        _orblib_dir("a DYNAMITE run or models/orblib_XXX_YYY folder (None: the reference run)"),
        Param("ml_start", "float", THESIS[0], THESIS[0], "first M/L of the grid", unit=ML_UNIT,
              lo=0, lo_open=True, invited=True),
        Param("ml_stop", "float", THESIS[1], THESIS[1], "last M/L of the grid", unit=ML_UNIT,
              lo=0, lo_open=True, invited=True),
        Param("ml_step", "float", THESIS[2], 0.2, "M/L grid step", unit=ML_UNIT, lo=0,
              lo_open=True, cost=rules.cube_cost("ml_start", "ml_stop", "ml_step"), invited=True),
        _ml_show("M/L whose coefficient images are shown (an M/L of the grid)"),
        Param("ml_multiples", "list[float]", [2.0, 4.0, 6.0, 8.0], [2.0, 4.0, 6.0, 8.0],
              "M/L values of the small-multiples figure", unit=ML_UNIT, lo=0, lo_open=True,
              min_len=1, max_len=MAX_PANELS),
        _n_jobs("worker processes for the sweep"),
        Param("compare_engine", "bool", True, True,
              "with a DYNAMITE run present, also build orbitnet's own library and compare",
              invited=True),
        Param("grid_log_f", "list[float]", [0.0, 0.5, 1.0, 1.5], [0.5, 1.0, 1.5],
              "halo masses log10(M200/M*) of the small engine grid (None: no grid)",
              lo=-1.5, hi=1.5, min_len=1, nullable=True),
        Param("grid_orbits", "list[int]", [_MODEL.n_e, _MODEL.n_i2, _MODEL.n_i3], [3, 3, 2],
              "energies, I2 and I3 start points of each grid library", lo=1, hi=40,
              min_len=3, max_len=3),
        _grid_workers("Dask workers of the grid (None: one per core)"),
    ), (rules.inputs("galaxy", "data_dir"), rules.grid("ml_start", "ml_stop", "ml_step"),
        rules.on_grid("ml_show", "ml_start", "ml_stop", "ml_step"),
        rule_within("ml_multiples", "ml_start", "ml_stop"), _source_conflict)),
    Chapter("03_dcnn", "A deconvolutional emulator", (
        _galaxy(),
        Param("recipe", "str", "fast", "fast", "training recipe of the networks shown here",
              choices=RECIPES, invited=True),
        Param("loss", "str", "l1_err", "l1_err", "loss of the networks shown here",
              choices=LOSSES, invited=True),
        _dcnn_epochs(),
        Param("ablation_coefficient", "int", 1, 1, "h_l trained with and without the mask",
              lo=1, hi=4),
        _ml_show(),
    ), (rules.inputs(), rules.on_cube("ml_show"))),
    Chapter("04_losses", "First results and the choice of loss", (
        _galaxy(),
        Param("recipes", "list[str]", ["thesis", "fast"], ["fast"],
              "training recipes to compare", choices=RECIPES, min_len=1, invited=True),
        Param("losses", "list[str]", list(LOSSES), ["l2", "l1_err"], "losses to compare",
              choices=LOSSES, min_len=1, invited=True),
        _dcnn_epochs("epochs of every recipe"),
        _ml_show("M/L of the image comparison (thesis Figure 4.1; an M/L of the cube)"),
        Param("show_recipe", "str", "fast", "fast", "recipe of the image comparison",
              choices=RECIPES),
        Param("show_loss", "str", "l1_err", "l1_err", "loss of the image comparison",
              choices=LOSSES),
        Param("engine_losses", "list[str]", list(LOSSES), ["l1_err"],
              "losses of the fast recipe's out-of-sample check on the engine's cube "
              "([]: no check)", choices=LOSSES),
    ), (rules.inputs(), rule_member("show_recipe", "recipes"),
        rule_member("show_loss", "losses"), rules.on_cube("ml_show"))),
    Chapter("05_gan", "A generative adversarial network", (
        _galaxy(),
        _orbit_source("the weight solver's library: the cube's (auto), else must match it"),
        _orblib_dir("a DYNAMITE run; must be the one the cube came from (None: the cube's)"),
        Param("gan_epochs", "int", _GAN.epochs, 1, "passes of each GAN over the training images "
              "(Table 5.1)", lo=1, hi=10000, invited=True, cost=rules.gan_cost),
        Param("batch_size", "int", _GAN.batch_size, _GAN.batch_size, "images per step (Table 5.1)", lo=1, hi=1024),
        Param("latent_dim", "int", _GAN.latent_dim, _GAN.latent_dim, "length of the noise vector, uniform in [-1, 1]",
              lo=1, hi=1024),
        Param("learning_rate", "float", _GAN.learning_rate, _GAN.learning_rate,
              "Adam's, Keras' default (Table 5.1 sets none)", lo=0, hi=1, lo_open=True),
        Param("scaling", "str", _GAN.scaling, _GAN.scaling,
              "thesis GANs: one scale per coefficient into [-1, 1]", choices=GAN_SCALINGS),
        Param("cgan_scaling", "str", "pixel", "pixel",
              "cGAN: each pixel divided by its largest value over the models",
              choices=GAN_SCALINGS),
        Param("train_step", "int", 1, 16, "train on every n-th orbit model (1: all of them)",
              lo=1, invited=True),
        Param("gan_samples", "int", 32, 8, "images drawn from each unconditional GAN to measure it",
              lo=1, hi=10000),
        Param("n_draws", "int", 16, 2, "noise draws averaged at each M/L for the cGAN",
              lo=1, hi=10000),
        _seeds("seeds", [0, 1, 2], [0, 1],
               "the first trains every network; all train the spread coefficient"),
        Param("spread_coefficient", "int", 2, 2, "coefficient trained with every seed",
              lo=1, hi=4),
        Param("spread_variants", "list[str]", ["gan", "cgan"], ["gan", "cgan"],
              "variants trained with every seed", choices=GAN_VARIANTS),
        Param("dcnn_recipe", "str", "fast", "fast",
              "DCNN to compare with, read from its chapter or trained here", choices=RECIPES),
        Param("dcnn_loss", "str", "l1_err", "l1_err", "its loss", choices=LOSSES),
        _dcnn_epochs("epochs of that DCNN; the DCNN chapter's network of these epochs is "
                     "used when stored, else one is trained here"),
        _ml_show("M/L of the cGAN images shown (an M/L of the cube)"),
        _n_jobs("worker processes training the GANs and solving weights"),
    ), (rules.inputs(), _source_conflict, rules.on_cube("ml_show"),
        rules.every_kth(["train_step"], 2))),
    Chapter("06_sparse", "How little data?", (
        _galaxy(),
        Param("steps", "list[int]", [1, 2, 4, 8, 16, 32, 64], [4, 16],
              "train on the sets of every k-th model, for each k", lo=1, min_len=1,
              invited=True),
        Param("methods", "list[str]", ["grid_parabola", "linear", "pca_gp", "dcnn"],
              ["grid_parabola", "linear", "pca_gp", "dcnn"], "methods to compare",
              choices=SPARSE_METHODS, min_len=1, invited=True),
        Param("offsets", "int", None, 2, "at most this many offsets per k for grid_parabola "
              "and linear, evenly spread (None: all k)", lo=1),
        Param("pca_offsets", "int", 16, 1, "at most this many offsets per k for pca_gp "
              "(None: all k)", lo=1, nullable=True),
        Param("network_offsets", "int", 2, 1, "evenly spread offsets per k > 1 for the "
              "networks (all k where k is smaller)", lo=1),
        Param("network_steps", "list[int]", [1, 2, 4, 8, 16, 32], [1, 16],
              "the k at which the networks run (the training-budget control)", lo=1,
              min_len=1),
        _seeds("seeds", [0, 1, 2], [0], "seeds of the networks: every one on the full grid "
               "(k of 1), the first on each offset of a larger k"),
        Param("budgets", "list[int]", [150, 760, 1500], [5, 10],
              "gradient steps per network, the same at every set size: the training-budget "
              "control runs every one", lo=1, hi=100000, min_len=1, invited=True,
              cost=rules.sparse_cost),
        _ml_show("M/L of the image comparison (an M/L of the cube)"),
        _n_jobs(),
    ), (rules.inputs(), rules.on_cube("ml_show"),
        rules.every_kth(["steps", "network_steps"], 2))),
    Chapter("07_maps", "Kinematic maps", (
        _galaxy(),
        Param("train_step", "int", 4, 4, "the network is trained on every k-th model "
              "(4: the thesis' set of about 40)", lo=1, invited=True),
        Param("recipe", "str", "fast", "fast", "training recipe of that network",
              choices=RECIPES),
        _dcnn_epochs("epochs of that network", quick=2),
        Param("seed", "int", 0, 0, "seed of that network", lo=0, hi=SEED_MAX),
        Param("ml_map", "float", None, None, "M/L of the maps (None: the orbit models' best fit)",
              unit=ML_UNIT, lo=0, lo_open=True, invited=True),
        Param("frame", "str", "galaxy", "galaxy",
              "galaxy: major axis horizontal; sky: the pixel grid as stored", choices=FRAMES),
    ), (rules.inputs(), rules.within_cube("ml_map"), rules.every_kth(["train_step"], 3))),
    Chapter("08_convergence", "How many orbits?", (
        _galaxy(),
        Param("rungs", "list[str]", [_THESIS_RUNG, "10x7x5", "14x10x7", f"{_THESIS_RUNG}/d2",
                                     f"{_THESIS_RUNG}/dynamite"],
              ["3x2x2", "4x3x2", "5x4x2", "3x2x2/d2", "3x2x2/dynamite"],
              "library sizes NExNI2xNI3 (3 NE NI2 NI3 orbits); /dD dithering, /dynamite "
              "DYNAMITE's start space", min_len=2, invited=True, cost=rules.ladder_cost),
        Param("start_space", "str", "smooth", "smooth", "start space of rungs without a "
              "suffix: smooth in the potential, or DYNAMITE's", choices=START_SPACES,
              invited=True),
        Param("ladder_log_f", "list[float]", [1.0, 0.5, 0.0], [1.0, 0.5],
              "log10(M200/M*) of the ladder points (DYNAMITE's start first)", lo=-1.5, hi=1.5,
              min_len=1),
        Param("ladder_q", "float", 0.54, 0.54, "intrinsic flattening of the ladder points",
              lo=0.05, hi=0.55),
        _seeds("seeds", [4242, 1, 2], [4242, 1], "engine seeds at every ladder point (the "
               "first also builds the neighbours and the lattice)"),
        Param("jitter_points", "int", 1, 1, "the first k ladder points get neighbours one "
              "lattice step away along log f and q", lo=1, hi=10),
        Param("log_f_step", "float", 0.25, 0.25, "lattice step in log10 f", lo=0,
              lo_open=True, hi=1.0),
        Param("q_step", "float", 0.04, 0.04, "lattice step in q (DYNAMITE's)", lo=0,
              lo_open=True, hi=0.2),
        *_orbit_sampling(),
        Param("ml_start", "float", 3.0, 3.0, "first M/L of the coarse sweep", unit=ML_UNIT,
              lo=0, lo_open=True),
        Param("ml_stop", "float", 8.5, 8.0, "last M/L of the coarse sweep", unit=ML_UNIT,
              lo=0, lo_open=True),
        Param("ml_step", "float", 0.5, 0.5, "M/L step of the coarse sweep", unit=ML_UNIT,
              lo=0, lo_open=True),
        Param("ml_fine_step", "float", 0.1, 0.1, "M/L step around the coarse minimum",
              unit=ML_UNIT, lo=0, lo_open=True),
        Param("ml_fine_half_width", "float", 0.3, 0.3, "half width of the fine M/L window",
              unit=ML_UNIT, lo=0, lo_open=True, hi=5.0),
        Param("lattice_rung", "str", "auto", "auto", "rung of the lattice (auto: the "
              "converged one, else the largest)"),
        Param("lattice_log_f", "list[float]", [0.0, 0.25, 0.5, 0.75, 1.0], [0.5, 1.0],
              "first lattice in log10 f (extended to bracket the region)", lo=-1.5, hi=1.5,
              min_len=2),
        Param("lattice_q", "list[float]", [0.42, 0.46, 0.50, 0.54], [0.50, 0.54],
              "first lattice in q (extended to bracket the region)", lo=0.05, hi=0.55,
              min_len=2),
        Param("max_rounds", "int", 3, 1, "extensions of the lattice at most", lo=0, hi=20),
        _grid_workers("Dask workers (None: one per core; DASK_SCHEDULER_ADDRESS: a cluster)"),
    ), (rules.inputs(), rules.grid("ml_start", "ml_stop", "ml_step"),
        rules.rungs("rungs", "start_space"), rules.rungs("lattice_rung", "start_space", True))),
    Chapter("09_beyond_ml", "Beyond M/L: the dark halo and the shape", (
        _galaxy(),
        Param("log_f", "list[float]", [0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 1.0],
              "truth lattice in log10(M200/M*) (the halo; full: Chapter 8's lattice)",
              lo=-1.5, hi=1.5, min_len=2),
        Param("q", "list[float]", [0.42, 0.46, 0.50, 0.54], [0.46, 0.50, 0.54],
              "truth lattice in the intrinsic flattening q (full: Chapter 8's lattice)",
              lo=0.05, hi=0.55, min_len=2),
        Param("n_e", "int", 14, 3, "library energies (3 x 14 x 10 x 7: 2940 orbits; "
              "the thesis: 6 x 5 x 4)", lo=2, hi=40, invited=True),
        Param("n_i2", "int", 10, 2, "library second integrals", lo=2, hi=40),
        Param("n_i3", "int", 7, 2, "library third integrals", lo=2, hi=40),
        Param("dithering", "int", _MODEL.dithering, 1, "sub-orbits per integral and library "
              "orbit (dithering^3 integrations per orbit)", lo=1, hi=5),
        Param("start_space", "str", "smooth", "dynamite", "orbit starts: DYNAMITE's or "
              "smooth in the potential", choices=("dynamite", "smooth"), invited=True),
        *_orbit_sampling(rules.library_cost),
        Param("max_failed_fraction", "float", None, None, "orbit integrations a library may "
              "exclude (None: the engine's 2 %)", lo=0, hi=0.2),
        Param("ml_start", "float", 3.0, 3.0, "first M/L of each library's sweep", unit=ML_UNIT,
              lo=0, lo_open=True),
        Param("ml_stop", "float", 8.5, 8.0, "last M/L of the sweep", unit=ML_UNIT, lo=0,
              lo_open=True),
        Param("ml_step", "float", 0.5, 0.25, "M/L step of the sweep", unit=ML_UNIT, lo=0,
              lo_open=True, cost=rules.sweep_cost("ml_start", "ml_stop", "ml_step")),
        Param("ml_fine_step", "float", 0.1, None, "M/L step around each sweep's minimum "
              "(Chapter 8's refined sweep, shared with its lattice; None: the grid alone, "
              "which keeps the GH cubes that the cube strategies learn)", unit=ML_UNIT, lo=0,
              lo_open=True, nullable=True),
        Param("ml_fine_half_width", "float", 0.3, 0.3, "half width of that fine window",
              unit=ML_UNIT, lo=0, lo_open=True, hi=5.0),
        Param("ml_cube_start", "float", 3.0, 3.0, "first M/L of the GH cubes the emulators "
              "learn", unit=ML_UNIT, lo=0, lo_open=True),
        Param("ml_cube_stop", "float", 8.0, 8.0, "last M/L of those cubes", unit=ML_UNIT, lo=0,
              lo_open=True),
        Param("ml_cube_step", "float", 0.25, 0.5, "M/L step of those cubes", unit=ML_UNIT, lo=0,
              lo_open=True, cost=rules.gh_cube_cost("ml_cube_start", "ml_cube_stop",
                                                    "ml_cube_step", "ml_fine_step")),
        Param("budgets", "list[int]", [4, 6, 9, 12, 16], [4, 6],
              "libraries each strategy may build", lo=1, min_len=1, invited=True),
        Param("n_seeds", "int", 20, 5, "runs (seeds) of every randomised strategy but random "
              "and the network", lo=1, hi=1000, invited=True),
        Param("random_draws", "int", 200, 100, "runs of the random baseline per budget",
              lo=1, hi=100000),
        Param("strategies", "list[str]", list(BEYOND_STRATEGIES[:4]), list(BEYOND_STRATEGIES),
              "strategies to judge (random, the baseline, always runs; the cube_ ones need "
              "ml_fine_step None)",
              choices=BEYOND_STRATEGIES, min_len=1),
        _seeds("cube_dcnn_seeds", [0, 1, 2], [0], "seeds of the conditioned network (at every "
               "budget)"),
        Param("cube_dcnn_epochs", "int", 10, 2, "epochs of the conditioned network", lo=1,
              hi=10000),
        Param("floor", "float", None, None, "judging level in χ² at least this (None: the "
              "measured noise of the truth; 0: the strict 1σ level)", lo=0),
        _seeds("noise_seeds", [1, 2], [1], "other engine seeds of the nodes that measure the "
               "truth's noise"),
        Param("noise_twins", "int", 1, 1, "twins of each such node: log10 f moved by k x 1e-9 "
              "(the same physics, other rounding)", lo=0, hi=10),
        Param("noise_nodes", "int", 3, 3, "nodes rebuilt with those seeds and as twins", lo=3,
              hi=100),
        _grid_workers("Dask workers building the libraries (None: one per core)"),
        Param("grid_start_log_f", "float", None, None, "log10(M200/M*) where DYNAMITE's grid "
              "search starts when reported apart (None: the configuration's 1.0)",
              lo=-1.5, hi=1.5),
        Param("grid_start_q", "float", None, None, "q where that grid search starts "
              "(None: the configuration's 0.54)", lo=0.05, hi=0.55),
    ), (rules.inputs(), rules.grid("ml_start", "ml_stop", "ml_step"),
        rules.grid("ml_cube_start", "ml_cube_stop", "ml_cube_step"),
        rules.cube_needs_plain_sweep("strategies", "ml_fine_step", BEYOND_STRATEGIES[4:]))),
    Chapter("10_conclusions", "Conclusions", (
        _galaxy("galaxy whose chapters are summarised"),
    )),
)


def get_chapter(chapter_id: str) -> Chapter:
    """Look up a chapter; an unknown id is an error listing the known ones."""
    for ch in CHAPTERS:
        if ch.id == chapter_id:
            return ch
    known = ", ".join(c.id for c in CHAPTERS)
    raise KeyError(f"unknown chapter {chapter_id!r}; the chapters are: {known}")


def chapter_ids() -> Sequence[str]:
    return tuple(c.id for c in CHAPTERS)


# --- prerequisites: what each chapter reads from earlier ones ----------------------------
# A chapter may run only when the chapters it reads have written their results
# (build/results/<id>.json) and the artifacts listed in PRODUCES (under
# build/artifacts/<galaxy>/); the runner checks this before executing anything.
REQUIRES: dict[str, tuple[str, ...]] = {
    "03_dcnn": ("02_orbit_libraries",),
    "04_losses": ("02_orbit_libraries",),
    "05_gan": ("02_orbit_libraries",),
    "06_sparse": ("02_orbit_libraries",),
    "07_maps": ("02_orbit_libraries",),
    "08_convergence": ("02_orbit_libraries",),
    "10_conclusions": ("01_galaxy", "02_orbit_libraries", "03_dcnn", "04_losses", "06_sparse",
                       "07_maps"),
}
PRODUCES: dict[str, tuple[str, ...]] = {
    "02_orbit_libraries": ("orbit_models.h5",),
}


#: Chapters that must finish before another starts when the book runs several at a time
#: (``orbitnet book --jobs``), beyond what it reads: Chapters 4 and 5 reuse the network
#: Chapter 3 stores (training it twice at once would race for its folder), and the
#: Conclusions read every chapter's results.
AFTER: dict[str, tuple[str, ...]] = {
    "04_losses": ("03_dcnn",),
    "05_gan": ("03_dcnn",),
}


def waits_for(chapter_id: str) -> tuple[str, ...]:
    """The chapters that must have finished before ``chapter_id`` starts in a book run."""
    if chapter_id == "10_conclusions":
        return tuple(c.id for c in CHAPTERS if c.id != chapter_id)
    return tuple(dict.fromkeys((*requires(chapter_id), *AFTER.get(chapter_id, ()))))


def requires(chapter_id: str) -> tuple[str, ...]:
    """The chapters whose results and artifacts ``chapter_id`` reads, in book order."""
    get_chapter(chapter_id)
    return REQUIRES.get(chapter_id, ())
