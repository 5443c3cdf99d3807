"""Run after `make book`: the built HTML must need no network (CI runs this)."""

import re

import pytest

from orbitnet.data import paths

REMOTE = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)=["'](https?:)?//""", re.I)
CSS_REMOTE = re.compile(r"""@import\s+(url\()?["']?(https?:)?//|url\(["']?https?://""", re.I)


def _html_files():
    html = paths.HTML
    if not (html / "index.html").is_file():
        pytest.fail(f"{html} has no index.html: run `make book` first")
    return sorted(html.rglob("*.html"))


def test_no_remote_scripts_or_styles():
    offenders = []
    for f in _html_files():
        for m in REMOTE.finditer(f.read_text(errors="replace")):
            offenders.append(f"{f.relative_to(paths.HTML)}: {m.group(0)[:120]}")
    for f in sorted((paths.HTML / "_static").rglob("*.css")):
        if CSS_REMOTE.search(f.read_text(errors="replace")):
            offenders.append(f"{f.relative_to(paths.HTML)}: remote url() in CSS")
    assert not offenders, "\n".join(offenders)


def test_mathjax_is_vendored_and_math_rendered():
    page = paths.HTML / "book" / "chapters" / "01_galaxy.html"
    text = page.read_text()
    assert '_static/mathjax/tex-chtml.js' in text
    assert (paths.HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (paths.HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    assert "\\sigma" in text  # TeX source is on the page for MathJax to typeset


def test_chapter_1_has_maps_and_numbers():
    text = (paths.HTML / "book" / "chapters" / "01_galaxy.html").read_text()
    assert text.count("<img") >= 4
    assert "1786" in text and "152" in text  # glued from build/results/01_galaxy.json


def test_reproducibility_appendix_lists_every_run():
    import json

    from orbitnet.book.record import run_record_path
    from orbitnet.book.registry import CHAPTERS

    text = (paths.HTML / "book" / "chapters" / "reproducibility.html").read_text()
    for ch in CHAPTERS:
        rec = json.loads(run_record_path(ch.id).read_text())
        assert ch.id in text
        assert f"{rec['peak_memory_bytes'] / 2**30:.2f} GiB" in text
        assert f"{rec['wall_seconds']:.0f} s" in text
    assert "Package versions" in text and "numpy" in text
    assert "CPU" in text and "usable" in text


def _chapter_pages():
    from orbitnet.book.registry import CHAPTERS

    return [(ch.id, paths.HTML / "book" / "chapters" / f"{ch.id}.html") for ch in CHAPTERS]


def _profile(chapter_id: str) -> str:
    import nbformat

    nb = nbformat.read(paths.CHAPTERS_OUT / f"{chapter_id}.ipynb", as_version=4)
    return nb.metadata["papermill"]["parameters"].get("profile", "full")


def test_quick_pages_carry_the_banner_and_full_pages_do_not():
    for chapter_id, page in _chapter_pages():
        text = page.read_text()
        quick = _profile(chapter_id) != "full"
        assert ("Built with the quick profile" in text) == quick, chapter_id
        assert "support no conclusion" in text or not quick, chapter_id


def test_every_page_has_exercises_with_hidden_solutions_and_prerequisites():
    for chapter_id, page in _chapter_pages():
        text = page.read_text()
        assert 2 <= text.count('class="solution dropdown') <= 4, chapter_id
        assert 'id="prerequisites"' in text and 'id="exercises"' in text, chapter_id
        assert "None models" not in text, chapter_id
