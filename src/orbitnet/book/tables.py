"""The chapters' parameters as tables: rows, Markdown (``orbitnet list --markdown``) and the
compact block on each chapter page (:func:`page_block`), all from the registry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orbitnet.book.params import Param
from orbitnet.book.registry import get_chapter

_MARKDOWN = re.compile(r"([\\`*_\[\]<>|$])")


def show(value: Any) -> str:
    """A value as written in a notebook (strings quoted, ``None``)."""
    if isinstance(value, str):
        return f'"{value}"'
    return "None" if value is None else str(value)


def table_rows(chapter_id: str, used: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per parameter: name, default (full), quick, unit, allowed, meaning (and ``used``)."""
    rows = []
    for p in get_chapter(chapter_id).params:
        row = {"name": p.name, "default (full)": show(p.default), "quick": show(p.quick)}
        if used is not None:
            row["this run"] = show(used.get(p.name, p.default))
        row.update({"unit": p.unit, "allowed": p.allowed(), "meaning": p.meaning})
        rows.append(row)
    return rows


def markdown_table(chapter_id: str) -> str:
    """The chapter's parameters as a Markdown table (``orbitnet list --markdown``)."""
    rows = table_rows(chapter_id)
    if not rows:
        return "(no parameters)\n"
    head = list(rows[0])
    esc = [[str(r[h]).replace("|", "\\|") for h in head] for r in rows]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [f"| `{r[0]}` | " + " | ".join(r[1:]) + " |" for r in esc]
    return "\n".join(lines) + "\n"


def _text(s: str) -> str:
    return _MARKDOWN.sub(r"\\\1", s)


def _code(value: Any, unit: str = "") -> str:
    text = show(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"`{text}`" + (f" {unit}" if unit and value is not None else "")


def _item(p: Param, used: Mapping[str, Any]) -> str:
    full = "" if p.quick == p.default else f", quick profile {_code(p.quick)}"
    return (f"* `{p.name}` = {_code(used.get(p.name, p.default), p.unit)}: {_text(p.meaning)}. "
            f"Default {_code(p.default)}{full}; {_text(p.allowed())}.")


def page_block(chapter_id: str, used: Mapping[str, Any]) -> str:
    """MyST for a chapter page: the parameters a reader is invited to change (``invited``) in
    a short table with this run's values, and every parameter (default, quick profile,
    allowed values) in a collapsed dropdown, one line each so that nothing runs past the
    text width."""
    params = get_chapter(chapter_id).params
    invited = [p for p in params if p.invited]
    lines = []
    if invited:
        lines += ["| parameter | this run | meaning |", "|---|---|---|"]
        lines += [f"| `{p.name}` | {_code(used.get(p.name, p.default), p.unit)} | "
                  f"{_text(p.meaning)} |" for p in invited]
        lines.append("")
    lines += [f":::{{admonition}} All {len(params)} parameters: this run's value, the "
              "default (full profile), the quick profile's, what is allowed",
              ":class: dropdown", ""]
    lines += [_item(p, used) for p in params] or ["(no parameters)"]
    lines.append(":::")
    return "\n".join(lines) + "\n"
