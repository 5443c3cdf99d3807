"""Each chapter's headline numbers: ``build/results/<chapter>.json``.

The book's prose never types a number: notebooks write them here and glue them with
myst-nb, and later chapters (and the Conclusions) read them back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import paths
from .artifacts import _jsonable, write_text_atomic


def write_results(chapter: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``data`` to ``build/results/<chapter>.json`` atomically and return it as JSON types."""
    clean = _jsonable(dict(data))
    write_text_atomic(paths.results_path(chapter), json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return clean


def load_results(chapter: str) -> dict[str, Any]:
    """Read a chapter's results; a clear error names the chapter to run when missing."""
    path = paths.results_path(chapter)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run `orbitnet chapter {chapter}` (or `make book`) first"
        )
    return json.loads(path.read_text())


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``a.b.c`` keys (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_number(value: float, fmt: str = "{:.4g}") -> str:
    """Format a float for prose: plain for ordinary sizes, ``1.625 × 10¹⁰`` for large/small."""
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        mant, exp = f"{value:.3e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant} × 10{str(int(exp)).translate(_SUPERSCRIPT)}"
    return fmt.format(value)


class GluedText:
    """A preformatted value whose text/plain form has no quotes (for ``{glue:text}``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)


def glue_results(data: Mapping[str, Any], fmt: str = "{:.4g}") -> None:
    """Glue every scalar (and short list) of ``data`` into the notebook for the prose.

    Keys are flattened with dots; floats are shown with ``fmt``. Use in Markdown as
    ``{glue:text}`key``` (the value is already formatted).
    """
    from myst_nb import glue

    for key, value in flatten(data).items():
        if isinstance(value, bool) or value is None:
            text = str(value)
        elif isinstance(value, float):
            text = format_number(value, fmt)
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, (int, float)) for v in value):  # an interval
            text = "–".join(format_number(float(v), fmt) for v in value)
        elif isinstance(value, list) and 0 < len(value) <= 8 and all(
                isinstance(v, (int, float)) for v in value):
            text = ", ".join(format_number(float(v), "{:.2g}") for v in value)
        elif isinstance(value, str):
            text = value
        else:
            continue
        glue(key, GluedText(text), display=False)
