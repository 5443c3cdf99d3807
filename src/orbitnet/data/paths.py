"""Every path the project uses, in one place (showyourwork style).

The repository root is found from ``ORBITNET_ROOT`` or by walking up from the current
directory to the folder holding ``_config.yml`` and ``pyproject.toml``; outside a checkout
the current directory is used. Other modules never join a folder below one of these:
``tests/test_layout.py`` refuses ``paths.X / ...`` outside this module. Functions read the
folder constants when called, so a test can point ``BUILD`` or ``ARTIFACTS`` elsewhere.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

GALAXY = "ngc6278"


def _find_root() -> Path:
    env = os.environ.get("ORBITNET_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for cand in (here, *here.parents):
        if (cand / "_config.yml").is_file() and (cand / "pyproject.toml").is_file():
            return cand
    src_root = Path(__file__).resolve().parents[3]
    if (src_root / "pyproject.toml").is_file():
        return src_root
    return here


ROOT = _find_root()
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
BUILD = ROOT / "build"
ARTIFACTS = BUILD / "artifacts"
RESULTS = BUILD / "results"
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
CHAPTERS_OUT = BOOK / "chapters"
HTML = ROOT / "_build" / "html"
PYPROJECT = ROOT / "pyproject.toml"

INPUTS = "inputs"
DYNAMITE_RUN = "dynamite-3.0.0"
CUBE_FILE = "orbit_models.h5"  # the orbit-model cube Chapter 2 makes
ENGINE_CUBE_FILE = "orbit_models_engine.h5"  # the engine's cube beside DYNAMITE's
STAGING_PREFIX = ".staging-"


# --- data -------------------------------------------------------------------------------


def galaxy_dir(galaxy: str = GALAXY) -> Path:
    """Folder with a galaxy's data (``data/<galaxy>``)."""
    return DATA / galaxy


def known_galaxies() -> list[str]:
    """The galaxies with an inputs folder under ``data/``."""
    return sorted(p.parent.name for p in DATA.glob(f"*/{INPUTS}") if p.is_dir())


def inputs_of(folder: Path | str, name: str | None = None) -> Path:
    """The inputs folder of a galaxy data folder (``<folder>/inputs``), or its file ``name``."""
    inputs = Path(folder) / INPUTS
    return inputs / name if name else inputs


def inputs_dir(galaxy: str = GALAXY) -> Path:
    """The four model inputs: MGE, kinematics, aperture, bins."""
    return inputs_of(galaxy_dir(galaxy))


def input_file(name: str, galaxy: str = GALAXY) -> Path:
    """One of a galaxy's input files (``data/<galaxy>/inputs/<name>``)."""
    return inputs_of(galaxy_dir(galaxy), name)


def dynamite_run_of(folder: Path | str) -> Path:
    """The DYNAMITE reference run in a galaxy data folder."""
    return Path(folder) / DYNAMITE_RUN


def dynamite_run_dir(galaxy: str = GALAXY) -> Path:
    """The DYNAMITE reference run copied by ``make data`` (absent on download-only machines)."""
    return dynamite_run_of(galaxy_dir(galaxy))


def reference_h5(galaxy: str = GALAXY) -> Path:
    """DYNAMITE's numbers to match (``reference.h5``)."""
    return dynamite_run_dir(galaxy) / "reference.h5"


def dynamite_model_kinematics(run_dir: Path | str, ml: float) -> Path:
    """DYNAMITE's model kinematics of one M/L in a run (``ml<M/L>/nn_kinem.out``)."""
    return Path(run_dir) / f"ml{ml:.2f}" / "nn_kinem.out"


def shared_data(galaxy: str = GALAXY) -> Path:
    """The project's shared copy of a galaxy's data (``$ORBITNET_SHARED`` or ``../shared``,
    then ``data/<galaxy>``)."""
    return Path(os.environ.get("ORBITNET_SHARED", SHARED)) / "data" / galaxy


# --- artifacts --------------------------------------------------------------------------


def artifacts_dir(galaxy: str = GALAXY) -> Path:
    """``build/artifacts/<galaxy or run>``: every cached artifact of a run."""
    return ARTIFACTS / galaxy


def artifact(galaxy: str, name: str) -> Path:
    """An artifact file directly in a run's folder."""
    return artifacts_dir(galaxy) / name


def cube_file(galaxy: str = GALAXY) -> Path:
    """The orbit-model cube of a run (``orbit_models.h5``)."""
    return artifact(galaxy, CUBE_FILE)


def engine_cube_file(galaxy: str = GALAXY) -> Path:
    """The engine's cube made beside DYNAMITE's (``orbit_models_engine.h5``)."""
    return artifact(galaxy, ENGINE_CUBE_FILE)


def engine_library_file(galaxy: str, key: str) -> Path:
    """An engine library cached by its settings and inputs (``engine_library_<key>.h5``)."""
    return artifact(galaxy, f"engine_library_{key}.h5")


def grid_dir(galaxy: str = GALAXY) -> Path:
    """Default folder of ``orbitnet grid``'s libraries and sweeps."""
    return artifacts_dir(galaxy) / "grid"


def lattice_dir(galaxy: str = GALAXY) -> Path:
    """The (log f, q) lattice's libraries and sweeps."""
    return artifacts_dir(galaxy) / "lattice"


def dcnn_dir(galaxy: str = GALAXY) -> Path:
    """Trained DCNNs and their predictions."""
    return artifacts_dir(galaxy) / "dcnn"


def emulator_dir(galaxy: str, recipe: str, loss: str, tag: str | None = None) -> Path:
    """A DCNN trained with ``recipe`` and ``loss`` (a tagged run: in ``<tag>`` below it)."""
    d = dcnn_dir(galaxy) / recipe / loss
    return d / tag if tag else d


def dcnn_predictions(galaxy: str, recipe: str, loss: str) -> Path:
    """A DCNN's predicted cube with its judged χ² (``predictions_<recipe>_<loss>.h5``)."""
    return dcnn_dir(galaxy) / f"predictions_{recipe}_{loss}.h5"


def dcnn_ablation(galaxy: str, coefficient: int, mask: bool, recipe: str) -> Path:
    """Chapter 3's one-coefficient network (``ablation/h<n>_<mask|nomask>_<recipe>.h5``)."""
    return dcnn_dir(galaxy) / "ablation" / (
        f"h{coefficient + 1}_{'mask' if mask else 'nomask'}_{recipe}.h5")


def gan_root(galaxy: str = GALAXY) -> Path:
    """Chapter 5's GANs, their generated cubes and the DCNN they are compared with."""
    return artifacts_dir(galaxy) / "gan"


def gan_artifact(galaxy: str, name: str) -> Path:
    """A file or folder directly in :func:`gan_root`."""
    return gan_root(galaxy) / name


def gan_dir(galaxy: str, variant: str, tag: str, coefficient: int) -> Path:
    """One trained GAN (``gan/<variant>/<tag>/h<n>``)."""
    return gan_root(galaxy) / variant / tag / f"h{coefficient + 1}"


def sparse_prediction(galaxy: str, method: str, k: int, offset: int, seed: int,
                      gradient_steps: int | None = None) -> Path:
    """Chapter 6's prediction of the cube from ``k`` training models (a network's: of
    ``gradient_steps``)."""
    steps = "" if gradient_steps is None else f"_steps{gradient_steps}"
    return artifacts_dir(galaxy) / "sparse" / f"{method}_k{k}_o{offset}_seed{seed}{steps}.h5"


# --- runs: locks, kernels, results, records, logs ---------------------------------------


def lock_dir() -> Path:
    """``build/locks``: the owner-only folder of the artifacts' lock files."""
    return BUILD / "locks"


def lock_path(name: str) -> Path:
    """A lock file in :func:`lock_dir`."""
    return lock_dir() / name


def run_lock() -> Path:
    """``build/locks/run.lock``: held by a chapter or book run (one at a time per checkout)."""
    return lock_path("run.lock")


def kernels_dir() -> Path:
    """``build/.kernels``: running chapter kernels' connection files and IPC sockets."""
    return BUILD / ".kernels"


def results_path(chapter: str) -> Path:
    """``build/results/<chapter>.json``."""
    return RESULTS / f"{chapter}.json"


def new_staging_dir() -> Path:
    """A new folder for a running chapter's results (``build/results/.staging-*``), moved in
    only when the chapter succeeds."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=RESULTS))


def staged_results(staging: Path | str, chapter: str) -> Path:
    """A chapter's results JSON in a staging folder."""
    return Path(staging) / f"{chapter}.json"


def notices_file(staging: Path | str) -> Path:
    """The notices a running chapter's kernel writes for the command line to echo."""
    return Path(staging) / "notices.log"


def staging_dirs() -> list[Path]:
    """Every staging folder in ``build/results`` (a killed run's are swept)."""
    return sorted(RESULTS.glob(f"{STAGING_PREFIX}*"))


def run_record(chapter: str) -> Path:
    """``build/results/<chapter>.run.json``: what a chapter run cost."""
    return RESULTS / f"{chapter}.run.json"


def book_record() -> Path:
    """``build/book.run.json``: profile, chapters at a time and wall time of the last book run."""
    return BUILD / "book.run.json"


def logs_dir() -> Path:
    """``build/logs``: output of chapters run in processes of their own."""
    return BUILD / "logs"


def log_file(chapter: str) -> Path:
    """``build/logs/<chapter>.log``."""
    return logs_dir() / f"{chapter}.log"


# --- the book -----------------------------------------------------------------------------


def notebook_source(chapter: str) -> Path:
    """A chapter's MyST notebook (``notebooks/<chapter>.md``)."""
    return NOTEBOOKS / f"{chapter}.md"


def notebook_sources() -> list[Path]:
    """Every chapter notebook, sorted."""
    return sorted(NOTEBOOKS.glob("*.md"))


def executed_chapter(chapter: str) -> Path:
    """A chapter executed for the book (``book/chapters/<chapter>.ipynb``)."""
    return CHAPTERS_OUT / f"{chapter}.ipynb"


def running_chapter(chapter: str) -> Path:
    """A chapter being executed (``book/chapters/.<chapter>.running.ipynb``)."""
    return CHAPTERS_OUT / f".{chapter}.running.ipynb"


def running_chapters() -> list[Path]:
    """Every chapter left running (a killed run's are swept)."""
    return sorted(CHAPTERS_OUT.glob(".*.running.ipynb"))


def failed_chapter(chapter: str) -> Path:
    """A chapter that failed, kept to read (``book/chapters/<chapter>.failed.ipynb``)."""
    return CHAPTERS_OUT / f"{chapter}.failed.ipynb"


def book_page(name: str) -> Path:
    """A generated page of the book (``book/chapters/<name>``)."""
    return CHAPTERS_OUT / name


def mathjax_dir() -> Path:
    """The vendored MathJax (``book/_vendor/mathjax``)."""
    return BOOK / "_vendor" / "mathjax"


def mathjax_licence() -> Path:
    """MathJax's licence beside it."""
    return BOOK / "_vendor" / "MathJax-LICENSE"


def html_index() -> Path:
    """The built book's front page."""
    return HTML / "index.html"
