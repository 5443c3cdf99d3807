"""A chapter's results JSON (``build/results/<chapter>.json``) and the prose glued from it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orbitnet import __version__
from orbitnet.data import paths
from orbitnet.store.artifacts import write_text_atomic
from orbitnet.store.fingerprint import jsonable, lineage

STAGING_ENV = "ORBITNET_RESULTS_STAGING"  # results of a running chapter, moved in on success
PARAMETERS_ENV = "ORBITNET_PARAMETERS"  # the running chapter's parameters (JSON)


def _results_file(chapter: str) -> Path:
    staging = os.environ.get(STAGING_ENV)
    return paths.staged_results(staging, chapter) if staging else paths.results_path(chapter)


def write_results(chapter: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``data`` to ``build/results/<chapter>.json`` atomically and return it as JSON types.

    The file also records its ``provenance``: the fingerprints of the artifacts this process
    read (:func:`lineage`), the chapter's parameters when run by the ``orbitnet`` command, and
    the package version. Under the ``orbitnet`` command the file is staged and moved into place
    only when the whole chapter succeeds.
    """
    clean = jsonable(dict(data))
    params = os.environ.get(PARAMETERS_ENV)
    clean["provenance"] = {"chapter": chapter, "fingerprints": lineage(),
                           "parameters": json.loads(params) if params else None,
                           "orbitnet_version": __version__}
    write_text_atomic(_results_file(chapter), json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return clean


class ResultsError(KeyError):
    """A results JSON lacks a key its reader needs (hand-edited, or from an older version)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Results(dict):
    """A chapter's results as read from its JSON: a key it lacks is a :class:`ResultsError`
    naming the file and the key (``d[k]``; ``d.get(k)`` still returns ``None``)."""

    def __init__(self, data: Mapping[str, Any] = (), source: str = "", where: str = "") -> None:
        super().__init__(data)
        self.source, self.where = source, where

    def __missing__(self, key: str) -> Any:
        raise ResultsError(f"{self.source}: no key {self.where + str(key)!r} (the file was "
                           "edited or written by another version: re-run the chapter that "
                           "writes it)")


def _wrap(value: Any, source: str, where: str) -> Any:
    if isinstance(value, dict):
        return Results({k: _wrap(v, source, f"{where}{k}.") for k, v in value.items()},
                       source, where)
    if isinstance(value, list):
        return [_wrap(v, source, where) for v in value]
    return value


def load_results(chapter: str) -> dict[str, Any]:
    """Read a chapter's results; a clear error names the chapter to run when missing, and the
    file when it is not JSON or lacks a key its reader asks for (:class:`Results`)."""
    path = _results_file(chapter)
    if not path.is_file():
        path = paths.results_path(chapter)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run `orbitnet chapter {chapter}` (or `make book`) first"
        )
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}): re-run `orbitnet chapter "
                         f"{chapter}`") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds {type(data).__name__}, not a chapter's results: re-run "
                         f"`orbitnet chapter {chapter}`")
    return _wrap(data, str(path), "")


def optional_results(chapter: str) -> dict[str, Any] | None:
    """:func:`load_results` of a chapter that need not have run (None when it has not)."""
    try:
        return load_results(chapter)
    except FileNotFoundError:
        return None


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


def open_interval_text(value: Sequence[float | None], fmt: str = "{:.4g}") -> str:
    """An interval "5.7–5.9", or one whose end(s) lie beyond the grid (None): "≥ 8.669",
    "≤ 1.2" or "the whole grid"."""
    lo, hi = value
    if lo is None and hi is None:
        return "the whole grid (no end inside it)"
    if hi is None:
        return f"≥ {format_number(float(lo), fmt)} (open: the grid ends first)"
    if lo is None:
        return f"≤ {format_number(float(hi), fmt)} (open: the grid starts later)"
    return "–".join(format_number(float(v), fmt) for v in value)


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
    ``{glue:text}`key``` (the value is already formatted). ``provenance`` is not glued.
    """
    from myst_nb import glue

    for key, value in flatten({k: v for k, v in data.items() if k != "provenance"}).items():
        if isinstance(value, bool) or value is None:
            text = str(value)
        elif isinstance(value, float):
            text = format_number(value, fmt)
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, list) and len(value) == 2 and all(
                v is None or isinstance(v, (int, float)) for v in value):  # an interval
            text = open_interval_text(value, fmt)
        elif isinstance(value, list) and 0 < len(value) <= 8 and all(
                isinstance(v, (int, float)) for v in value):
            text = ", ".join(format_number(float(v), "{:.2g}") for v in value)
        elif isinstance(value, str):
            text = value
        else:
            continue
        glue(key, GluedText(text), display=False)
