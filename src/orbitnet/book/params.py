"""Typed chapter parameters: one declaration for the runner, ``orbitnet list``, README and book.

Each chapter declares its parameters as :class:`Param` values in
:mod:`orbitnet.book.registry`. A value given on the command line is parsed as YAML (with
``5e-2`` read as a float, as YAML 1.2 does) and checked against its declaration before the
notebook starts: type, range or choices, the chapter's cross-parameter rules, and the memory
a value would need (refused with the estimate unless the caller insists, ``--force``).
Errors name the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

KINDS = ("int", "float", "str", "bool", "path", "list[int]", "list[float]", "list[str]")


class ParameterError(ValueError):
    """A chapter parameter has a wrong type, is out of range, or conflicts with another."""


@dataclass(frozen=True)
class Estimate:
    """What a parameter value would cost: ``bytes`` of memory, and how that was counted."""

    bytes: int
    what: str


@dataclass(frozen=True)
class Param:
    """One chapter parameter.

    Attributes
    ----------
    name : the variable in the notebook's parameters cell.
    kind : one of :data:`KINDS`; ``path`` is a string naming a file or folder that must exist.
    default : the full profile's value (the thesis settings), also the notebook's default.
    quick : the quick profile's value.
    meaning : one line for tables and ``orbitnet list``.
    unit : of the value (or of each list element).
    lo, hi : inclusive bounds of a number (of each element of a list); ``lo_open`` excludes
        ``lo`` itself (``ml_step > 0``).
    choices : the allowed values of a string (of each element of a list).
    nullable : ``None`` is allowed (it means what ``meaning`` says); true when ``default`` is.
    min_len : fewest elements of a list.
    cost : ``cost(values) -> Estimate | None``, the memory this value needs, given all the
        chapter's values; checked against :func:`memory_limit`.
    """

    name: str
    kind: str
    default: Any
    quick: Any
    meaning: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    min_len: int = 0
    lo_open: bool = False
    cost: Callable[[Mapping[str, Any]], Estimate | None] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: kind must be one of {KINDS}")
        if self.default is None and not self.nullable:
            object.__setattr__(self, "nullable", True)

    @property
    def is_list(self) -> bool:
        return self.kind.startswith("list[")

    @property
    def element(self) -> str:
        return self.kind[5:-1] if self.is_list else self.kind

    def allowed(self) -> str:
        """What values are allowed, in words (``int in [1, 1000] or None``)."""
        if self.choices is not None:
            text = "one of " + ", ".join(str(c) for c in self.choices)
        elif self.lo is not None or self.hi is not None:
            left = "(" if self.lo_open else "["
            lo = "-∞" if self.lo is None else f"{self.lo:g}"
            hi = "∞)" if self.hi is None else f"{self.hi:g}]"
            text = f"{self.element} in {left}{lo}, {hi}"
        else:
            text = {"path": "an existing path", "str": "text", "bool": "true or false"}.get(
                self.element, f"a {self.element}")
        if self.is_list:
            text = f"a list of {text}" + (f", at least {self.min_len}" if self.min_len else "")
        return text + (" or None" if self.nullable else "")

    def check(self, value: Any) -> Any:
        """``value`` converted to this parameter's type, or a :class:`ParameterError`."""
        if isinstance(value, str) and not self.is_list and self.element != "str":
            value = parse_value(value)
        if value is None:
            if self.nullable:
                return None
            raise self._error(value)
        if not self.is_list:
            return self._scalar(value, value)
        if isinstance(value, str):
            value = parse_value(value)
        if not isinstance(value, (list, tuple)):
            raise self._error(value)
        if len(value) < self.min_len:
            raise self._error(value, f"needs at least {self.min_len} element(s)")
        return [self._scalar(v, value) for v in value]

    def _error(self, value: Any, why: str = "") -> ParameterError:
        why = f" ({why})" if why else ""
        return ParameterError(f"parameter {self.name} = {value!r}{why}: allowed is "
                              f"{self.allowed()}")

    def _scalar(self, v: Any, whole: Any) -> Any:
        kind = self.element
        if kind == "bool":
            if isinstance(v, bool):
                return v
            raise self._error(whole)
        if kind in ("int", "float"):
            if isinstance(v, str):
                v = parse_value(v)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self._error(whole)
            if kind == "int":
                if isinstance(v, float) and not v.is_integer():
                    raise self._error(whole, "not a whole number")
                v = int(v)
            else:
                v = float(v)
                if not math.isfinite(v):
                    raise self._error(whole, "not finite")
            too_low = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
            if too_low or (self.hi is not None and v > self.hi):
                raise self._error(whole, "out of range")
        elif kind in ("str", "path"):
            if not isinstance(v, str) or not v:
                raise self._error(whole)
            if kind == "path" and not os.path.exists(os.path.expanduser(v)):
                raise self._error(whole, "no such file or folder")
        if self.choices is not None and v not in self.choices:
            raise self._error(whole)
        return v


#: A cross-parameter rule: returns an error message, or ``None`` when the values agree.
Rule = Callable[[Mapping[str, Any]], "str | None"]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with YAML 1.2's floats (``5e-2``, ``1E3``, not only ``5.0e-2``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[0-9][0-9_]*[eE][-+]?[0-9]+
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def parse_value(text: str) -> Any:
    """A command-line value as YAML (numbers, lists, booleans, null, strings).

    ``5e-2`` is the float 0.05 (PyYAML alone would return the string); text that is not
    valid YAML stays a string.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return text


def memory_limit() -> tuple[int, str]:
    """Bytes a single value may ask for without ``--force``, and where that limit comes from.

    Half of this machine's memory, unless ``ORBITNET_MEMORY_LIMIT_GB`` says otherwise.
    """
    env = os.environ.get("ORBITNET_MEMORY_LIMIT_GB")
    if env:
        return int(float(env) * 2**30), "ORBITNET_MEMORY_LIMIT_GB"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total // 2, "half of this machine's memory"


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def validate(params: Sequence[Param], values: Mapping[str, Any], rules: Sequence[Rule] = (),
             force: bool = False, chapter: str = "") -> dict[str, Any]:
    """Every declared parameter with its checked value (declared default where not given).

    Raises :class:`ParameterError` for an undeclared name, a bad value, a broken rule, or a
    value whose :attr:`Param.cost` exceeds :func:`memory_limit` (unless ``force``).
    """
    where = f"chapter {chapter}: " if chapter else ""
    by_name = {p.name: p for p in params}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ParameterError(f"{where}no parameter(s) {unknown}; the parameters are "
                             f"{sorted(by_name)}")
    out: dict[str, Any] = {}
    for p in params:
        try:
            out[p.name] = p.check(values[p.name]) if p.name in values else p.default
        except ParameterError as exc:
            raise ParameterError(f"{where}{exc}") from None
    for rule in rules:
        msg = rule(out)
        if msg:
            raise ParameterError(f"{where}{msg}")
    limit, why = memory_limit()
    for p in params:
        est = p.cost(out) if p.cost else None
        if est is not None and est.bytes > limit and not force:
            raise ParameterError(
                f"{where}parameter {p.name} = {out[p.name]!r} needs about "
                f"{format_bytes(est.bytes)} of memory ({est.what}); the limit is "
                f"{format_bytes(limit)} ({why}). Choose a smaller "
                f"value, or insist with --force")
    return out


def rule_member(item: str, collection: str) -> Rule:
    """A rule: the value of ``item`` must be one of the list ``collection``."""
    def rule(v: Mapping[str, Any]) -> str | None:
        if v[item] not in v[collection]:
            return (f"parameter {item} = {v[item]!r} must be one of {collection} = "
                    f"{v[collection]!r}")
        return None
    return rule


def rule_less(a: str, b: str) -> Rule:
    """A rule: ``a < b``."""
    def rule(v: Mapping[str, Any]) -> str | None:
        if not v[a] < v[b]:
            return f"parameter {a} = {v[a]!r} must be smaller than {b} = {v[b]!r}"
        return None
    return rule


def rule_within(item: str, lo: str, hi: str) -> Rule:
    """A rule: the number ``item`` (or each number of a list) lies in [``lo``, ``hi``]."""
    def rule(v: Mapping[str, Any]) -> str | None:
        vals = v[item] if isinstance(v[item], list) else [v[item]]
        bad = [x for x in vals if x is not None and not v[lo] <= x <= v[hi]]
        if bad:
            return (f"parameter {item} = {v[item]!r} must lie in [{lo}, {hi}] = "
                    f"[{v[lo]!r}, {v[hi]!r}]")
        return None
    return rule


def notebook_parameters(nb: Any) -> dict[str, Any]:
    """The names and literal defaults assigned in a notebook's ``parameters`` cell.

    A default that is not a Python literal is an error naming the parameter: the declaration
    in the registry must be comparable with it.
    """
    import ast

    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return {}
    out: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            name = node.targets[0].id
            try:
                out[name] = ast.literal_eval(node.value)
            except ValueError:
                raise ParameterError(f"parameters cell: {name} = {ast.unparse(node.value)} is "
                                     f"not a literal") from None
    return out


# --- tables -----------------------------------------------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return "None" if value is None else str(value)


def table_rows(chapter_id: str, used: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per parameter: name, default (full), quick, unit, allowed, meaning (and ``used``)."""
    from orbitnet.book.registry import get_chapter

    rows = []
    for p in get_chapter(chapter_id).params:
        row = {"name": p.name, "default (full)": _show(p.default), "quick": _show(p.quick)}
        if used is not None:
            row["this run"] = _show(used.get(p.name, p.default))
        row.update({"unit": p.unit, "allowed": p.allowed(), "meaning": p.meaning})
        rows.append(row)
    return rows


def parameter_table(chapter_id: str, used: Mapping[str, Any] | None = None):
    """The chapter's parameters as an :class:`astropy.table.Table` (the book displays it).

    With ``used`` (e.g. ``globals()`` in the notebook) a column shows this run's values.
    """
    from astropy.table import Table

    class ParameterTable(Table):
        """A table shown in the book without astropy's dtype row and length caption."""

        def _repr_html_(self) -> str:
            return self._base_repr_(html=True, descr_vals=[], show_dtype=False,
                                    max_width=-1, max_lines=-1, tableclass="table")

    rows = table_rows(chapter_id, used)
    if not rows:
        return ParameterTable(names=("name",), dtype=(str,))
    return ParameterTable(rows=[list(r.values()) for r in rows], names=list(rows[0]))


def markdown_table(chapter_id: str) -> str:
    """The chapter's parameters as a Markdown table (README, ``orbitnet list --markdown``)."""
    rows = table_rows(chapter_id)
    if not rows:
        return "(no parameters)\n"
    head = list(rows[0])
    esc = [[str(r[h]).replace("|", "\\|") for h in head] for r in rows]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [f"| `{r[0]}` | " + " | ".join(r[1:]) + " |" for r in esc]
    return "\n".join(lines) + "\n"
