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
