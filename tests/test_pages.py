"""Generated parts of the chapter pages: the quick-profile banner and the prerequisites."""

from orbitnet.book import pages, registry


def test_quick_pages_carry_a_warning_banner_and_full_pages_none():
    text = pages.banner("quick").data
    assert text.startswith(":::{warning}") and "support no conclusion" in text
    assert pages.banner("full") is None


def test_prerequisites_link_every_chapter_read():
    text = pages.prerequisites("10_conclusions").data
    for req in registry.requires("10_conclusions"):
        assert f"{{doc}}`{req}`" in text and f"build/results/{req}.json" in text
    assert "build/artifacts/ngc6278/orbit_models.h5" in text
    assert "reads no other chapter" in pages.prerequisites("01_galaxy").data


def test_every_chapter_follows_the_template():
    from orbitnet.book import notebooks

    heads = ["## Overview", "## Prerequisites", "## What you will learn", "## Parameters",
             "## Summary", "## What's next", "## Exercises"]
    for ch in registry.CHAPTERS:
        text = notebooks.source_path(ch.id).read_text()
        pos = [text.find(h) for h in heads]
        assert -1 not in pos and pos == sorted(pos), (ch.id, dict(zip(heads, pos, strict=True)))
        twice = [h for h in heads if text.splitlines().count(h) != 1]
        assert twice == [], f"{ch.id}: each template heading once, not {twice}"
        assert "pages.banner(profile)" in text and f'pages.prerequisites("{ch.id}"' in text
        assert f'pages.parameters("{ch.id}", globals())' in text
        n_ex = text.count("```{exercise}")
        assert 2 <= n_ex <= 4 and text.count("```{solution}") == n_ex, ch.id
        assert text.count(":class: dropdown") >= n_ex, ch.id
