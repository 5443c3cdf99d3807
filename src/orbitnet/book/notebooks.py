"""Chapter notebooks as MyST Markdown text (jupytext's ``myst`` format).

Each chapter's source is ``notebooks/<id>.md``; the runner converts it to a notebook in
memory (`read`) and papermill executes that. ``python -m orbitnet.book.notebooks lint``
runs ruff on every chapter's code cells (ruff reads ``.ipynb`` but not MyST Markdown).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

from orbitnet.data import paths

FORMAT = "myst"


def source_path(chapter_id: str) -> Path:
    """``notebooks/<id>.md`` (not checked for existence)."""
    return paths.NOTEBOOKS / f"{chapter_id}.md"


def read(path: Path | str) -> nbformat.NotebookNode:
    """A MyST Markdown notebook as an nbformat notebook (kernel from its front matter)."""
    return jupytext.read(path, fmt=FORMAT)


def to_text(nb: nbformat.NotebookNode) -> str:
    """A notebook as MyST Markdown text (the inverse of `read`)."""
    return jupytext.writes(nb, fmt=FORMAT)


def write_ipynb(source: Path | str, dest: Path | str) -> Path:
    """Convert a MyST notebook to ``dest`` (``.ipynb``)."""
    dest = Path(dest)
    nbformat.write(read(source), dest)
    return dest


def lint(sources: list[Path] | None = None, ruff_args: tuple[str, ...] = ()) -> int:
    """Run ``ruff check`` on the code cells of the given (default: all) chapter notebooks.

    Each ``.md`` is converted to an ``.ipynb`` of the same name in a temporary folder, so
    ruff judges cells as it judges notebooks (an import after the parameters cell is fine)
    and reports them under the chapter's name. Returns ruff's exit status.
    """
    sources = sorted(paths.NOTEBOOKS.glob("*.md")) if sources is None else list(sources)
    if not sources:
        raise FileNotFoundError(f"no notebooks (*.md) in {paths.NOTEBOOKS}")
    ruff = Path(sys.executable).parent / "ruff"
    with tempfile.TemporaryDirectory(prefix="orbitnet-lint-") as tmp:
        targets = [str(write_ipynb(src, Path(tmp) / f"{Path(src).stem}.ipynb"))
                   for src in sources]
        cmd = [str(ruff) if ruff.exists() else "ruff", "check",
               "--config", str(paths.ROOT / "pyproject.toml"), *ruff_args, *targets]
        return subprocess.run(cmd, cwd=tmp).returncode


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] != ["lint"]:
        sys.exit("usage: python -m orbitnet.book.notebooks lint [ruff options]")
    sys.exit(lint(ruff_args=tuple(sys.argv[2:])))
