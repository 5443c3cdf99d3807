"""A toy book of MyST notebooks for the runner's tests, and a command line that runs one of its
chapters in a process of its own, the way ``orbitnet chapter`` does:

    python tests/toybook.py ROOT CHAPTER

``ROOT`` holds ``notebooks/<id>.md``; executed notebooks, results and locks go under ``ROOT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

FRONT = """---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def write_notebook(path: Path, cells: list[str],
                   parameters: str = "# generated from the registry") -> Path:
    """A MyST Markdown notebook: a parameters cell (no values: the runner generates them from
    the registry), then ``cells``."""
    blocks = [f"```{{code-cell}}\n:tags: [parameters]\n\n{parameters}\n```"]
    blocks += [f"```{{code-cell}}\n{c}\n```" for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FRONT + "\n# A toy chapter\n\n" + "\n\n".join(blocks) + "\n")
    return path


def configure(root: Path, setattr=setattr) -> None:
    """Point the runner at the toy book in ``root`` (``setattr`` may be a monkeypatch's)."""
    from orbitnet.book import registry
    from orbitnet.book.params import Param
    from orbitnet.data import paths

    setattr(paths, "NOTEBOOKS", root / "notebooks")
    setattr(paths, "CHAPTERS_OUT", root / "out")
    setattr(paths, "BUILD", root / "build")
    setattr(paths, "RESULTS", root / "build" / "results")
    declared = (Param("x", "int", 1, 5, "a number"), Param("name", "str", "a", "a", "a name"))
    chapters = tuple(registry.Chapter(p.stem, p.stem, declared)
                     for p in sorted((root / "notebooks").glob("*.md")))
    setattr(registry, "CHAPTERS", chapters)


def main(argv: list[str]) -> int:
    from orbitnet.book import cli

    root, chapter = Path(argv[0]), argv[1]
    configure(root)
    return cli.main(["chapter", chapter, "--no-progress"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
