"""Typed chapter parameters: checked before any work, one source for runner, list, docs, book.

The ``test_cli_*`` tests are issue 13 item 4's bad values, given on the command line as a
user would; a value that is refused must be refused before papermill starts a kernel.
"""

import re

import papermill
import pytest

from orbitnet.book import cli, notebooks, params, registry, rules, runner, tables
from orbitnet.data import paths


@pytest.fixture
def executed(monkeypatch, tmp_path):
    """Replace papermill's execution by a recorder: the parameters it would have run with."""
    calls = []

    def fake(source, output, parameters=None, **kwargs):
        calls.append(dict(parameters or {}))
        raise RuntimeError("stop: recorded instead of executed")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.setattr(paths, "CHAPTERS_OUT", tmp_path / "out")
    monkeypatch.setattr(paths, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path / "artifacts")  # no cube: its rules pass
    return calls


def _refused(capsys, executed, argv, *fragments):
    """``orbitnet chapter argv`` exits 2 before any work, its message holding ``fragments``."""
    assert cli.main(["chapter", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"
    assert executed == [], "a kernel was started for a bad value"
    return err


# --- issue 13 item 4: each bad value -------------------------------------------------------


def test_cli_ml_step_5e_2_is_the_float_0_05(capsys, executed):
    assert params.parse_value("5e-2") == 0.05
    assert params.parse_value("[1e-3, 2E2]") == [0.001, 200.0]
    cli.main(["chapter", "02_orbit_libraries", "-p", "ml_step", "5e-2", "--no-progress"])
    assert len(executed) == 1
    value = executed[0]["ml_step"]
    assert isinstance(value, float) and value == 0.05


def test_cli_epochs_abc_is_refused(capsys, executed):
    _refused(capsys, executed, ["03_dcnn", "-p", "dcnn_epochs", "abc"],
             "parameter dcnn_epochs = 'abc'", "int in [1, 10000] or None")


def test_cli_n_jobs_many_is_refused(capsys, executed):
    _refused(capsys, executed, ["02_orbit_libraries", "-p", "n_jobs", "many"],
             "parameter n_jobs = 'many'", "int in [1, 256] or None")
    _refused(capsys, executed, ["05_gan", "-p", "n_jobs", "many"], "parameter n_jobs = 'many'")


def test_cli_empty_steps_is_refused(capsys, executed):
    _refused(capsys, executed, ["06_sparse", "-p", "steps", "[]"],
             "parameter steps = []", "at least 1")


def test_cli_ablation_coefficient_5_is_refused(capsys, executed):
    _refused(capsys, executed, ["03_dcnn", "-p", "ablation_coefficient", "5"],
             "parameter ablation_coefficient = 5", "out of range", "int in [1, 4]")


def test_cli_show_loss_not_among_losses_is_refused(capsys, executed):
    _refused(capsys, executed, ["04_losses", "-p", "show_loss", "l2", "-p", "losses", "[l1_err]"],
             "show_loss = 'l2' must be one of losses = ['l1_err']")


def test_cli_tiny_ml_step_is_refused_with_its_memory_estimate(capsys, executed):
    err = _refused(capsys, executed, ["02_orbit_libraries", "-p", "ml_step", "0.00001"],
                   "parameter ml_step = 1e-05 needs about", "800001 orbit models", "--force")
    size = float(re.search(r"needs about ([0-9.]+) GiB", err).group(1))
    assert 640 < size < 660  # 800001 x (360 x 152 x 4 float32 + 360 float64) = 654.5 GiB
    # insisting lets the value through (the kernel would start)
    cli.main(["chapter", "02_orbit_libraries", "-p", "ml_step", "0.00001", "--force",
              "--no-progress"])
    assert len(executed) == 1 and executed[0]["ml_step"] == 1e-5


# --- more bad values ----------------------------------------------------------------------


@pytest.mark.parametrize(("chapter", "name", "value", "fragment"), [
    ("03_dcnn", "dcnn_epochs", "0", "out of range"),
    ("03_dcnn", "dcnn_epochs", "2.5", "not a whole number"),
    ("03_dcnn", "dcnn_epochs", "true", "int in [1, 10000]"),
    ("03_dcnn", "loss", "l3", "one of l2, l1, l2_err, l1_err"),
    ("02_orbit_libraries", "ml_step", "0", "out of range"),
    ("02_orbit_libraries", "ml_step", ".nan", "not finite"),
    ("02_orbit_libraries", "compare_engine", "maybe", "true or false"),
    ("02_orbit_libraries", "orblib_dir", "data/ngc6278/dynamite-3.O.O", "no such file"),
    ("06_sparse", "methods", "[dcnn, nope]", "one of grid_parabola"),
    ("05_gan", "seeds", "[-1]", "out of range"),
    ("01_galaxy", "frame", "null", "one of galaxy, sky"),
])
def test_bad_values_name_parameter_value_and_range(chapter, name, value, fragment):
    with pytest.raises(runner.ChapterError) as err:
        runner.resolve_parameters(chapter, "full", {name: params.parse_value(value)})
    assert f"parameter {name} = " in str(err.value) and fragment in str(err.value)


def test_cross_parameter_rules():
    with pytest.raises(runner.ChapterError, match="ml_start = 9.0 must be smaller than ml_stop"):
        runner.resolve_parameters("02_orbit_libraries", "full", {"ml_start": 9.0, "ml_stop": 2.0})
    with pytest.raises(runner.ChapterError, match=r"ml_show = 12.0 is not on the M/L grid"):
        runner.resolve_parameters("02_orbit_libraries", "full", {"ml_show": 12.0})
    with pytest.raises(runner.ChapterError, match="orbit_source = 'engine'"):
        runner.resolve_parameters("02_orbit_libraries", "full",
                                  {"orbit_source": "engine",
                                   "orblib_dir": str(paths.dynamite_run_dir())})
    with pytest.raises(runner.ChapterError, match="show_recipe = 'thesis' must be one of recipes"):
        runner.resolve_parameters("04_losses", "quick", {"show_recipe": "thesis"})


def test_values_are_converted_to_their_type():
    got = runner.resolve_parameters("03_dcnn", "full", {"dcnn_epochs": 3.0, "ml_show": 5})
    assert got["dcnn_epochs"] == 3 and isinstance(got["dcnn_epochs"], int)
    assert got["ml_show"] == 5.0 and isinstance(got["ml_show"], float)
    got = runner.resolve_parameters("03_dcnn", "full", {"dcnn_epochs": None})
    assert got["dcnn_epochs"] is None


def test_memory_limit_from_environment(monkeypatch):
    monkeypatch.setenv("ORBITNET_MEMORY_LIMIT_GB", "1")
    with pytest.raises(runner.ChapterError, match="1601 orbit models.*ORBITNET_MEMORY_LIMIT_GB"):
        runner.resolve_parameters("02_orbit_libraries", "full", {"ml_step": 0.005})
    monkeypatch.setenv("ORBITNET_MEMORY_LIMIT_GB", "2")
    assert runner.resolve_parameters("02_orbit_libraries", "full",
                                     {"ml_step": 0.005})["ml_step"] == 0.005


# --- one source -------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", [c.id for c in registry.CHAPTERS])
def test_parameters_cell_holds_no_values_and_is_generated(chapter):
    """The source's parameters cell is the stub (no values); the cell the kernel runs is made
    from the registry: every declared name with its full-profile default, then ``profile``."""
    import ast

    nb = notebooks.read(notebooks.source_path(chapter))
    assert notebooks.parameters_source(nb)[1] == notebooks.STUB.format(id=chapter)
    cell = notebooks.parameters_source(notebooks.with_parameters(nb, chapter))[1]
    assigned = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(cell).body}
    assert assigned == {**registry.get_chapter(chapter).defaults, "profile": "full"}


def test_a_parameters_cell_with_values_is_refused(tmp_path, monkeypatch):
    """A value typed into the notebook would be a second declaration: the runner names it."""
    src = notebooks.source_path("01_galaxy").read_text()
    stub = notebooks.STUB.format(id="01_galaxy")
    monkeypatch.setattr(paths, "NOTEBOOKS", tmp_path)
    (tmp_path / "01_galaxy.md").write_text(src.replace(stub, 'frame = "sky"'))
    with pytest.raises(runner.ChapterError, match=r"parameters cell assigns \['frame'\]"):
        runner.run_chapter("01_galaxy", progress=False, log=lambda *_: None)


def test_the_stub_runs_by_hand():
    """Run outside the ``orbitnet`` command, the stub sets the full profile's values."""
    scope: dict = {}
    exec(notebooks.STUB.format(id="02_orbit_libraries"), scope)  # noqa: S102 - our own cell
    assert scope["ml_step"] == 0.05 and scope["profile"] == "full"


def test_recipe_defaults_come_from_the_recipes():
    """``None`` epochs mean the recipe's own, in one helper; the registry shows its values."""
    from orbitnet.emulators.recipes import RECIPES, get_recipe

    assert get_recipe("fast", epochs=None) == RECIPES["fast"]
    assert get_recipe("fast", epochs=3.0).epochs == 3
    meaning = registry.get_chapter("03_dcnn").param("dcnn_epochs").meaning
    assert all(f"{name} {r.epochs}" in meaning for name, r in RECIPES.items())


def test_each_parameter_name_means_one_thing():
    """``epochs`` was the DCNN's in Chapters 3, 4, 7 and the GAN's in Chapter 5; a name shared
    by chapters now has one meaning (the DCNN's recipe epochs are ``dcnn_epochs``)."""
    names = {p.name for ch in registry.CHAPTERS for p in ch.params}
    assert "epochs" not in names and {"dcnn_epochs", "gan_epochs", "cube_dcnn_epochs"} <= names
    for ch in ("03_dcnn", "04_losses", "05_gan", "07_maps"):
        assert "None: the recipe's own" in registry.get_chapter(ch).param("dcnn_epochs").meaning
    # n_samples is an orbit's samples (Chapters 8 and 9); the GAN's images are gan_samples
    assert [c.id for c in registry.CHAPTERS if "n_samples" in c.defaults] == [
        "08_convergence", "09_beyond_ml"]
    assert "gan_samples" in registry.get_chapter("05_gan").defaults
    kinds: dict[str, set] = {}
    for ch in registry.CHAPTERS:
        for p in ch.params:
            kinds.setdefault(p.name, set()).add(p.kind)
    assert all(len(k) == 1 for k in kinds.values()), kinds


def test_the_thesis_grid_is_declared_once():
    from orbitnet.fit.mlgrid import THESIS, ml_grid

    ch2 = registry.get_chapter("02_orbit_libraries")
    assert tuple(ch2.defaults[k] for k in ("ml_start", "ml_stop", "ml_step")) == THESIS
    assert ml_grid().size == 161


@pytest.mark.parametrize("profile", registry.PROFILES)
def test_profiles_pass_their_own_checks(profile, monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path)  # no cube (checked against one below)
    for ch in registry.CHAPTERS:
        values = runner.resolve_parameters(ch.id, profile)
        assert values == {p.name: (p.quick if profile == "quick" else p.default)
                          for p in ch.params}


def test_choices_match_the_package():
    from orbitnet.emulators.gan import SCALINGS
    from orbitnet.emulators.gan_cache import VARIANTS
    from orbitnet.emulators.losses import LOSSES
    from orbitnet.emulators.recipes import RECIPES
    from orbitnet.studies.sparse import METHODS

    assert tuple(LOSSES) == registry.LOSSES
    assert set(registry.RECIPES) == set(RECIPES)
    assert tuple(SCALINGS) == registry.GAN_SCALINGS
    assert set(registry.GAN_VARIANTS) == set(VARIANTS)
    assert tuple(METHODS) == registry.SPARSE_METHODS


def test_model_size_matches_the_reference_library():
    import h5py

    with h5py.File(paths.reference_h5(), "r") as f:
        n_orbits, _, n_bins = f["losvd"].shape
    assert (n_orbits, n_bins) == (rules.REFERENCE_ORBITS, rules.REFERENCE_BINS)


def test_docs_parameter_section_is_generated():
    text = (paths.ROOT / "docs" / "parameters.md").read_text()
    begin, end = "<!-- parameters: begin -->\n", "<!-- parameters: end -->"
    assert begin in text and end in text
    section = text[text.index(begin) + len(begin):text.index(end)]
    assert section.strip() == cli.list_text(markdown=True).strip(), (
        "docs/parameters.md's tables are stale: regenerate them with "
        "`orbitnet list --markdown`")


def test_list_and_table_show_every_parameter(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for ch in registry.CHAPTERS:
        assert ch.id in out
        rows = tables.table_rows(ch.id)
        assert [r["name"] for r in rows] == [p.name for p in ch.params]
        for p in ch.params:
            assert f"    {p.name} = {p.default!r}" in out
    rows = tables.table_rows("04_losses", used={"recipes": ["fast"]})
    row = [r for r in rows if r["name"] == "recipes"][0]
    assert row["this run"] == "['fast']"
    assert row["quick"] == "['fast']" and row["default (full)"] == "['thesis', 'fast']"


def test_quick_gan_chapter_reuses_the_quick_dcnn_chapter_network():
    """Chapter 5's quick DCNN has Chapter 3's quick epochs, so it is loaded, not retrained
    (a mismatch once cost 170 s of the quick book)."""
    dcnn = registry.get_chapter("03_dcnn").param("dcnn_epochs")
    gan = registry.get_chapter("05_gan").param("dcnn_epochs")
    assert gan.quick == dcnn.quick
    assert gan.default == dcnn.default
    assert registry.get_chapter("05_gan").param("dcnn_recipe").quick == \
        registry.get_chapter("03_dcnn").param("recipe").quick


def test_page_block_is_compact():
    """Issue 21 item 5: the invited parameters in a short table, every parameter one line in
    a collapsed dropdown (Chapter 9's table filled two screens and ran past the text width)."""
    block = tables.page_block("09_beyond_ml", {"budgets": [4]})
    ch = registry.get_chapter("09_beyond_ml")
    table, dropdown = block.split(":::{admonition}")
    invited = [p.name for p in ch.params if p.invited]
    assert 0 < len(invited) <= 6 and table.count("\n| `") == len(invited)
    assert "| `budgets` | `[4]` |" in table
    assert ":class: dropdown" in dropdown and dropdown.count("\n* `") == len(ch.params)
    assert "log10(M200/M\\*)" in dropdown  # Markdown escaped
    assert max(len(line) for line in table.splitlines()) < 120


def test_parameter_meanings_leave_papermill_one_assignment_per_line():
    """The generated parameters cell carries each meaning as a comment; papermill reads a
    line with a second '=' as unparseable and warns 'Passed unknown parameter'."""
    bad = [(c.id, p.name) for c in registry.CHAPTERS for p in c.params if "=" in p.meaning]
    assert bad == []
