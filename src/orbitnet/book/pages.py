"""Generated parts of every chapter page: the quick-profile banner, the prerequisites and the
parameters.

The notebooks call these in cells whose input is hidden; their Markdown output is rendered
as MyST (cell metadata ``mystnb: {markdown_format: myst}``), so admonitions and
cross-references work and a broken reference fails ``jupyter-book build -W``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.display import Markdown

from orbitnet.book.registry import PRODUCES, get_chapter, requires

QUICK_BANNER = """\
:::{{warning}} Built with the quick profile
The numbers on this page come from short runs ({what}). They show that the chapter runs,
not what its method can do, and **support no conclusion**: the sentences that judge are
chosen from these numbers and may say the opposite of a full run. Build the book with
`make book` (the full profile, the thesis' settings) before quoting anything.
:::
"""

QUICK_WHAT = "few epochs, small training sets, few seeds"


def banner(profile: str) -> Markdown | None:
    """A warning admonition for pages built with the ``quick`` profile; nothing otherwise."""
    if profile == "full":
        return None
    return Markdown(QUICK_BANNER.format(what=QUICK_WHAT if profile == "quick"
                                        else f"the `{profile}` profile"))


def prerequisites(chapter_id: str, galaxy: str = "ngc6278") -> Markdown:
    """What the chapter reads from earlier chapters, with links (from the registry)."""
    reads = requires(chapter_id)
    if not reads:
        return Markdown("This chapter reads no other chapter's results: it starts from the "
                        "galaxy's input files.")
    lines = ["This chapter reads what earlier chapters computed; `orbitnet chapter "
             f"{chapter_id}` stops and names the chapter to run first if it is missing:", ""]
    for req in reads:
        files = [f"`build/results/{req}.json`"]
        files += [f"`build/artifacts/{galaxy}/{name}`" for name in PRODUCES.get(req, ())]
        lines.append(f"* {{doc}}`{req}` ({get_chapter(req).title}): " + ", ".join(files))
    return Markdown("\n".join(lines))


def parameters(chapter_id: str, used: Mapping[str, Any]) -> Markdown:
    """The chapter's parameters (``used``: this run's values, e.g. ``globals()``): those a
    reader is invited to change in a short table, all of them in a collapsed dropdown."""
    from orbitnet.book.tables import page_block

    return Markdown(page_block(chapter_id, used))
