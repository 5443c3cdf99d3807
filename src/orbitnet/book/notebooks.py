"""Chapter notebooks as MyST Markdown text (jupytext's ``myst`` format).

Each chapter's source is ``notebooks/<id>.md``; the runner converts it to a notebook in
memory (`read`), fills its parameters cell from the registry (`with_parameters`) and
papermill executes that. The source's parameters cell holds no values (:data:`STUB`): the
registry is their one declaration. ``python -m orbitnet.book.notebooks lint`` runs ruff on
every chapter's code cells (ruff reads ``.ipynb`` but not MyST Markdown).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

from orbitnet.data import paths

FORMAT = "myst"
PROFILE_LINE = 'profile = "full"  # profile that built this page ("quick" adds a warning banner)'
#: The parameters cell of every chapter's source, ``{id}`` its chapter: no values, which the
#: runner generates from the registry; run by hand, it sets the full profile's.
STUB = ("# Generated from orbitnet/book/registry.py when the chapter runs; run by hand, this\n"
        "# cell sets the full profile's values.\n"
        "from orbitnet.book.registry import get_chapter\n\n"
        "globals().update(get_chapter(\"{id}\").defaults, profile=\"full\")")


def source_path(chapter_id: str) -> Path:
    """``notebooks/<id>.md`` (not checked for existence)."""
    return paths.notebook_source(chapter_id)


def read(path: Path | str) -> nbformat.NotebookNode:
    """A MyST Markdown notebook as an nbformat notebook (kernel from its front matter)."""
    return jupytext.read(path, fmt=FORMAT)


def to_text(nb: nbformat.NotebookNode) -> str:
    """A notebook as MyST Markdown text (the inverse of `read`)."""
    return jupytext.writes(nb, fmt=FORMAT)


def parameters_cell(chapter_id: str) -> str:
    """The parameters cell of ``chapter_id``, generated from its declarations: one line per
    parameter with its full-profile value and meaning, then ``profile``."""
    from orbitnet.book.registry import get_chapter

    lines = [f"# {chapter_id}: generated from orbitnet/book/registry.py (the full profile; the "
             "values of this run follow in the injected cell)"]
    for p in get_chapter(chapter_id).params:
        lines.append(f"{p.name} = {p.default!r}  # {p.meaning}")
    return "\n".join([*lines, PROFILE_LINE])


def parameters_source(nb: nbformat.NotebookNode) -> tuple[int, str] | None:
    """Index and source of the notebook's cell tagged ``parameters`` (None: it has none)."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            return i, cell.source
    return None


def with_parameters(nb: nbformat.NotebookNode, chapter_id: str,
                    where: str = "") -> nbformat.NotebookNode:
    """``nb`` with its parameters cell replaced by :func:`parameters_cell`.

    The cell must hold no values (a ``ValueError`` names ``where`` and the assignment): the
    registry is the one place a parameter is declared.
    """
    found = parameters_source(nb)
    if found is None:
        raise ValueError(f"{where or chapter_id}: no cell is tagged parameters")
    i, source = found
    names = [t.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)]
    if names:
        raise ValueError(f"{where or chapter_id}: the parameters cell assigns {names}; "
                         "declare parameters in orbitnet/book/registry.py only (the cell is "
                         "generated from there)")
    nb.cells[i].source = parameters_cell(chapter_id)
    return nb


def write_ipynb(source: Path | str, dest: Path | str, chapter_id: str | None = None) -> Path:
    """Convert a MyST notebook to ``dest`` (``.ipynb``), its parameters cell generated when
    ``chapter_id`` is given."""
    dest = Path(dest)
    nb = read(source)
    if chapter_id is not None:
        nb = with_parameters(nb, chapter_id, str(source))
    nbformat.write(nb, dest)
    return dest


def lint(sources: list[Path] | None = None, ruff_args: tuple[str, ...] = ()) -> int:
    """Run ``ruff check`` on the code cells of the given (default: all) chapter notebooks.

    Each ``.md`` is converted to an ``.ipynb`` of the same name in a temporary folder, so
    ruff judges cells as it judges notebooks (an import after the parameters cell is fine)
    and reports them under the chapter's name. Returns ruff's exit status.
    """
    from orbitnet.book.registry import chapter_ids

    sources = paths.notebook_sources() if sources is None else list(sources)
    if not sources:
        raise FileNotFoundError(f"no notebooks (*.md) in {paths.NOTEBOOKS}")
    ruff = Path(sys.executable).parent / "ruff"
    with tempfile.TemporaryDirectory(prefix="orbitnet-lint-") as tmp:
        ids = set(chapter_ids())
        targets = [str(write_ipynb(src, Path(tmp) / f"{Path(src).stem}.ipynb",
                                   Path(src).stem if Path(src).stem in ids else None))
                   for src in sources]
        cmd = [str(ruff) if ruff.exists() else "ruff", "check",
               "--config", str(paths.PYPROJECT), *ruff_args, *targets]
        return subprocess.run(cmd, cwd=tmp).returncode


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] != ["lint"]:
        sys.exit("usage: python -m orbitnet.book.notebooks lint [ruff options]")
    sys.exit(lint(ruff_args=tuple(sys.argv[2:])))
