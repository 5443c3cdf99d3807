"""The chapters' MyST Markdown sources: stable under jupytext, one parameters cell, lint-clean."""

import jupytext
import pytest

from orbitnet.book import notebooks
from orbitnet.book.registry import CHAPTERS
from orbitnet.data import paths

IDS = [ch.id for ch in CHAPTERS]


def test_every_chapter_is_text_and_no_ipynb_is_left():
    assert sorted(p.stem for p in paths.NOTEBOOKS.glob("*.md")) == sorted(IDS)
    assert list(paths.NOTEBOOKS.glob("*.ipynb")) == []


@pytest.mark.parametrize("chapter_id", IDS)
def test_round_trip_md_ipynb_md_is_unchanged(chapter_id, tmp_path):
    source = notebooks.source_path(chapter_id)
    ipynb = notebooks.write_ipynb(source, tmp_path / f"{chapter_id}.ipynb")
    back = jupytext.writes(jupytext.read(ipynb), fmt="myst")
    assert back == source.read_text()


@pytest.mark.parametrize("chapter_id", IDS)
def test_one_parameters_cell_and_a_python_kernel(chapter_id):
    nb = notebooks.read(notebooks.source_path(chapter_id))
    assert nb.metadata["kernelspec"]["name"] == "python3"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"


def test_notebook_code_is_ruff_clean():
    assert notebooks.lint() == 0


def test_lint_catches_an_unused_import(tmp_path):
    bad = tmp_path / "99_bad.md"
    bad.write_text("---\nkernelspec:\n  display_name: Python 3\n  language: python\n"
                   "  name: python3\n---\n\n```{code-cell}\nimport os\n```\n")
    assert notebooks.lint([bad]) == 1
