import json

import nbformat
import pytest
from toybook import FRONT

from orbitnet.book import cli, registry, runner
from orbitnet.book.params import Param, parse_value
from orbitnet.data import paths


def _notebook(path, source_cells):
    """A MyST Markdown notebook: a parameters cell, then the given code cells."""
    cells = ["```{code-cell}\n:tags: [parameters]\n\n# generated from the registry\n```"]
    cells += [f"```{{code-cell}}\n{s}\n```" for s in source_cells]
    path.write_text(FRONT + "\n# A toy chapter\n\n" + "\n\n".join(cells) + "\n")


@pytest.fixture
def toy_book(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "90_ok.md", ["y = x * 2\nprint(name, y)"])
    _notebook(nbdir / "91_fails.md", ["y = x + 1", "raise ValueError(f'bad value {y}')"])
    monkeypatch.setattr(paths, "NOTEBOOKS", nbdir)
    monkeypatch.setattr(paths, "CHAPTERS_OUT", tmp_path / "out")
    monkeypatch.setattr(paths, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")  # its run lock, not the checkout's
    declared = (Param("x", "int", 1, 5, "a number"), Param("name", "str", "a", "a", "a name"))
    monkeypatch.setattr(registry, "CHAPTERS", (
        registry.Chapter("90_ok", "ok", declared),
        registry.Chapter("91_fails", "fails", declared),
    ))
    return tmp_path


def test_unknown_chapter():
    with pytest.raises(KeyError, match="unknown chapter '99_nope'.*01_galaxy"):
        runner.notebook_path("99_nope")
    assert cli.main(["chapter", "99_nope"]) == 2


def test_unknown_parameter_is_rejected():
    with pytest.raises(runner.ChapterError, match=r"no parameter\(s\) \['colour'\]"):
        runner.resolve_parameters("01_galaxy", "full", {"colour": "red"})


def test_missing_notebook_is_named(toy_book):
    (toy_book / "notebooks" / "90_ok.md").unlink()
    with pytest.raises(runner.ChapterError, match=r"90_ok has no notebook at .*90_ok\.md"):
        runner.run_chapter("90_ok", progress=False, log=lambda *_: None)


def test_unknown_parameter_of_a_toy_chapter(toy_book):
    with pytest.raises(runner.ChapterError, match=r"no parameter\(s\) \['y'\]"):
        runner.run_chapter("90_ok", overrides={"y": 2}, progress=False, log=lambda *_: None)


def test_a_planted_lock_symlink_is_one_plain_line_and_its_target_untouched(toy_book):
    victim = toy_book / "victim.txt"
    victim.write_text("precious")
    lock = paths.run_lock()
    lock.parent.mkdir(parents=True)
    lock.symlink_to(victim)
    with pytest.raises(runner.ChapterError) as err:
        runner.run_chapter("90_ok", progress=False, log=lambda *_: None)
    assert str(err.value) == (f"chapter 90_ok: the lock file {lock} is a symbolic link: "
                              "refusing to open it (remove it)")
    assert victim.read_text() == "precious"


def test_parse_value():
    assert parse_value("0.5") == 0.5
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("true") is True
    assert parse_value("sky") == "sky"


def test_run_with_profile_and_override_hides_parameters(toy_book):
    out = runner.run_chapter("90_ok", profile="quick", overrides={"name": "b"}, progress=False,
                             log=lambda *_: None)
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "x = 5" in injected[0].source and "name = \"b\"" in injected[0].source
    for c in nb.cells:
        tags = c.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            assert "hide-cell" in tags
    assert "b 10" in json.dumps(nb.cells[-1].outputs)


def test_failure_prints_cell_and_error(toy_book):
    with pytest.raises(runner.ChapterError) as err:
        runner.run_chapter("91_fails", progress=False, log=lambda *_: None)
    msg = str(err.value)
    assert "raise ValueError(f'bad value {y}')" in msg
    assert "ValueError: bad value 2" in msg
    assert (toy_book / "out" / "91_fails.failed.ipynb").exists()
    assert not (toy_book / "out" / "91_fails.ipynb").exists()


def test_run_record(toy_book):
    runner.run_chapter("90_ok", profile="quick", progress=False, log=lambda *_: None)
    rec = json.loads((toy_book / "results" / "90_ok.run.json").read_text())
    assert rec["chapter"] == "90_ok" and rec["profile"] == "quick"
    assert rec["parameters"] == {"x": 5, "name": "a", "profile": "quick"}
    assert rec["wall_seconds"] > 0
    # the kernel alone holds tens of MB; the sampler must have seen it
    assert 30 * 2**20 < rec["peak_memory_bytes"] < 4 * 2**30
    cells = [c for c in rec["cells"] if "parameters" not in c["tags"]]
    assert cells and all(c["seconds"] is not None and c["seconds"] >= 0 for c in cells)
    assert rec["machine"]["logical_cores"] >= 1 and rec["machine"]["cpu_model"]


def test_failed_chapter_writes_no_run_record(toy_book):
    with pytest.raises(runner.ChapterError):
        runner.run_chapter("91_fails", progress=False, log=lambda *_: None)
    assert not (toy_book / "results" / "91_fails.run.json").exists()


def test_appendix_from_run_records(toy_book, monkeypatch):
    from orbitnet.book import appendix

    runner.run_chapter("90_ok", profile="quick", overrides={"name": "b"}, progress=False,
                       log=lambda *_: None)
    page = appendix.write_appendix(toy_book / "out" / "reproducibility.md").read_text()
    rec = json.loads((toy_book / "results" / "90_ok.run.json").read_text())
    assert "| `90_ok` | quick |" in page
    assert f"{rec['wall_seconds']:.0f} s" in page
    assert f"{rec['peak_memory_bytes'] / 2**30:.2f} GiB" in page
    assert '| `name` | `"b"` |' in page and "| `x` | `5` |" in page
    assert "Not run in this build: `91_fails`." in page
    assert rec["machine"]["cpu_model"] in page and "| numpy |" in page
    assert rec["cpu_seconds"] > 0


def test_prerequisites_are_declared_for_every_reader():
    ids = [c.id for c in registry.CHAPTERS]
    for ch in ids:
        for req in registry.requires(ch):
            assert ids.index(req) < ids.index(ch), (ch, req)
    assert registry.requires("01_galaxy") == ()
    assert "02_orbit_libraries" in registry.requires("04_losses")


def test_missing_prerequisite_names_the_chapter_to_run_first(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path / "artifacts")
    monkeypatch.setattr(paths, "CHAPTERS_OUT", tmp_path / "out")
    with pytest.raises(runner.ChapterError) as err:
        runner.run_chapter("04_losses", profile="quick", progress=False, log=lambda *_: None)
    msg = str(err.value)
    assert "02_orbit_libraries.json (run chapter 02_orbit_libraries first" in msg
    assert "orbit_models.h5 (run chapter 02_orbit_libraries first" in msg
    assert not (tmp_path / "out").exists()  # nothing was executed
    # with the results and the cube in place (for the galaxy given) the check passes
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "02_orbit_libraries.json").write_text("{}")
    (tmp_path / "artifacts" / "other").mkdir(parents=True)
    (tmp_path / "artifacts" / "other" / "orbit_models.h5").write_text("")
    assert runner.missing_prerequisites("04_losses", "other") == []
    assert len(runner.missing_prerequisites("04_losses")) == 1
    runner.check_prerequisites("04_losses", {"galaxy": "other"})
