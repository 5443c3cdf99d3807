"""Typed chapter parameters: the declaration format, value parsing and checking.

Each chapter declares its parameters as :class:`Param` values, its cross-parameter rules and
its resource estimates in :mod:`orbitnet.book.registry` (this module knows no chapter). A value
given on the command line is parsed as YAML 1.2 (:func:`parse_value`) and checked before the
notebook starts (:func:`validate`): type, range or choices, the chapter's rules, and the memory
and CPU time a value would need (refused with the estimate unless the caller insists,
``--force``). Every error is one line naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
import os
import re
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orbitnet import ParameterError

KINDS = ("int", "float", "str", "bool", "path", "name", "list[int]", "list[float]",
         "list[str]")
#: A name (``galaxy``): a folder name, never a path (no ``/``, no leading dot, no ``..``).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
#: The largest seed: 31 bits, which numpy, Python and TensorFlow all accept, with room for the
#: per-coefficient offsets of a recipe (``seed + i``).
SEED_MAX = 2**31 - 1
MEMORY_ENV = "ORBITNET_MEMORY_LIMIT_GB"
CPU_ENV = "ORBITNET_CPU_LIMIT_HOURS"
#: CPU time one value may ask for without ``--force`` (the full book takes about 4 CPU hours).
DEFAULT_CPU_HOURS = 24.0


def short(value: Any) -> str:
    """``repr(value)`` cut to one short line (safe for deeply nested or huge values)."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxstring, r.maxother = 2, 8, 60, 60
    return r.repr(value)


@dataclass(frozen=True)
class Estimate:
    """What parameter values would cost: ``bytes`` of memory, ``cpu_seconds`` of CPU time,
    ``processes`` running at once, and how that was counted (``what``)."""

    bytes: float
    what: str
    cpu_seconds: float = 0.0
    processes: int = 0
    names: tuple[str, ...] = ()  # the parameters it depends on (default: the one it is of)


@dataclass(frozen=True)
class Param:
    """One chapter parameter.

    Attributes
    ----------
    name : the variable in the notebook's parameters cell (generated from this declaration).
    kind : one of :data:`KINDS`; ``path`` names an existing file or folder (passed on as an
        absolute path); ``name`` is a folder name such as a galaxy's (no ``/``, no ``..``).
    default : the full profile's value (the thesis settings).
    quick : the quick profile's value.
    meaning : one line for tables and ``orbitnet list``.
    unit : of the value (or of each list element).
    lo, hi : inclusive bounds of a number (of each element of a list); ``lo_open`` excludes
        ``lo`` itself (``ml_step > 0``).
    choices : the allowed values of a string (of each element of a list).
    nullable : ``None`` is allowed (it means what ``meaning`` says); true when ``default`` is.
    min_len, max_len : fewest and most elements of a list.
    cost : ``cost(values) -> Estimate | None``, what this value needs given all the chapter's
        values; checked against :func:`memory_limit` and :func:`cpu_limit`.
    invited : shown on the chapter page outside the collapsed table of all parameters (the
        values a reader is invited to change).
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
    max_len: int | None = None
    invited: bool = False

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
            lo = "-∞" if self.lo is None else _number(self.lo)
            hi = "∞)" if self.hi is None else _number(self.hi) + "]"
            text = f"{self.element} in {left}{lo}, {hi}"
        else:
            text = {"path": "an existing path", "str": "text", "bool": "true or false",
                    "name": "a folder name (no / or ..)"}.get(self.element, f"a {self.element}")
        if self.is_list:
            n = (f", {self.min_len} to {self.max_len}" if self.max_len is not None
                 else f", at least {self.min_len}" if self.min_len else "")
            text = f"a list of {text}" + (f" (exactly {self.min_len})"
                                          if self.min_len == self.max_len else n)
        return text + (" or None" if self.nullable else "")

    def check(self, value: Any) -> Any:
        """``value`` converted to this parameter's type, or a :class:`ParameterError`."""
        if isinstance(value, str) and self.element not in ("str", "name", "path"):
            value = parse_value(value, self.name)
        if value is None:
            if self.nullable:
                return None
            raise self._error(value)
        if not self.is_list:
            return self._scalar(value, value)
        if isinstance(value, str):
            value = parse_value(value, self.name)
        if not isinstance(value, (list, tuple)):
            raise self._error(value)
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            raise self._error(value, f"{len(value)} element(s)")
        return [self._scalar(v, value) for v in value]

    def _error(self, value: Any, why: str = "") -> ParameterError:
        why = f" ({why})" if why else ""
        return ParameterError(f"parameter {self.name} = {short(value)}{why}: allowed is "
                              f"{self.allowed()}")

    def _scalar(self, v: Any, whole: Any) -> Any:
        kind = self.element
        if kind == "bool":
            if isinstance(v, bool):
                return v
            raise self._error(whole)
        if kind in ("int", "float"):
            if isinstance(v, str):
                v = parse_value(v, self.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self._error(whole, "not a number" if isinstance(v, str) else "")
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
        elif kind in ("str", "path", "name"):
            if not isinstance(v, str) or not v:
                raise self._error(whole)
            if kind == "name" and (not NAME_PATTERN.fullmatch(v) or ".." in v):
                raise self._error(whole, "a name, not a path")
            if kind == "path":
                v = resolve_path(v)
                if not os.path.exists(v):
                    raise self._error(whole, f"no such file or folder: {v}")
        if self.choices is not None and v not in self.choices:
            raise self._error(whole)
        return v


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def resolve_path(text: str) -> str:
    """``text`` as an absolute path: ``~`` expanded, relative to the current folder (the
    checked value is what the kernel gets, so both read the same place)."""
    return str(Path(os.path.expanduser(text)).absolute())


#: A cross-parameter rule: returns an error message, or ``None`` when the values agree.
Rule = Callable[[Mapping[str, Any]], "str | None"]


# --- YAML 1.2 values ---------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_OWN = {_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "timestamp"}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's core-schema scalars: decimal integers and floats
    (``5e-2`` is 0.05), ``true``/``false``. YAML 1.1's octal ``010``, hexadecimal ``0x10``,
    sexagesimal ``1:30``, ``1_000``, ``yes``/``no`` and dates stay text, which a number or
    boolean parameter then refuses."""

    yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag not in _OWN]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


_Loader.add_implicit_resolver(_TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver(_TAG + "int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"),
                              list("-+0123456789"))
_Loader.add_implicit_resolver(
    _TAG + "float",
    re.compile(r"""^[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?
                   |\.[0-9]+(?:[eE][-+]?[0-9]+)?
                   |\.(?:inf|Inf|INF))$
                   |^\.(?:nan|NaN|NAN)$""", re.X),
    list("-+0123456789."))


def parse_value(text: str, name: str = "") -> Any:
    """A command-line value as YAML 1.2 (numbers, lists, booleans, null, strings).

    ``5e-2`` is the float 0.05; ``010``, ``0x10`` and ``1:30`` stay text (YAML 1.1 would read
    8, 16 and 90); text that is not valid YAML stays a string. A value nested too deeply to
    read is a :class:`ParameterError` naming ``name``.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return text
    except RecursionError:
        raise ParameterError(f"parameter {name or '?'} = {text[:40]}... is nested too deeply "
                             "to read: give a number, a word or a flat list") from None


# --- limits ------------------------------------------------------------------------------


def _env_number(var: str, unit: str) -> float | None:
    text = os.environ.get(var)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"environment variable {var} = {text!r}: allowed is a positive "
                             f"number of {unit}")
    return value


def memory_limit() -> tuple[int, str]:
    """Bytes a value may ask for without ``--force``, and where that limit comes from:
    half of this machine's memory, unless ``ORBITNET_MEMORY_LIMIT_GB`` says otherwise."""
    env = _env_number(MEMORY_ENV, "GB")
    if env is not None:
        return int(env * 2**30), MEMORY_ENV
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total // 2, "half of this machine's memory"


def cpu_limit() -> tuple[float, str]:
    """CPU seconds a value may ask for without ``--force``, and where that limit comes from."""
    env = _env_number(CPU_ENV, "hours")
    if env is not None:
        return env * 3600, CPU_ENV
    return DEFAULT_CPU_HOURS * 3600, f"the default of {DEFAULT_CPU_HOURS:g} CPU hours"


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def format_seconds(s: float) -> str:
    if s < 3600:
        return f"{s / 60:.1f} CPU minutes"
    return f"{s / 3600:.3g} CPU hours" if s < 3600 * 1e4 else f"{s / 3600:.2e} CPU hours"


# --- checking ----------------------------------------------------------------------------


def validate(params: Sequence[Param], values: Mapping[str, Any], rules: Sequence[Rule] = (),
             force: bool = False, chapter: str = "") -> dict[str, Any]:
    """Every declared parameter with its checked value (declared default where not given).

    Raises :class:`ParameterError` for an undeclared name, a bad value, a broken rule, or a
    value whose :attr:`Param.cost` exceeds :func:`memory_limit` or :func:`cpu_limit` (unless
    ``force``).
    """
    where = f"chapter {chapter}: " if chapter else ""
    by_name = {p.name: p for p in params}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ParameterError(f"{where}no parameter(s) {unknown}; the parameters are "
                             f"{sorted(by_name)}")
    out: dict[str, Any] = {}
    try:
        for p in params:
            out[p.name] = p.check(values[p.name]) if p.name in values else p.default
        for rule in rules:
            msg = rule(out)
            if msg:
                raise ParameterError(msg)
        if not force:
            check_costs(params, out)
    except ParameterError as exc:
        raise ParameterError(f"{where}{exc}") from None
    return out


def check_costs(params: Sequence[Param], values: Mapping[str, Any]) -> None:
    """Refuse a value whose estimate exceeds the memory or CPU limit (one line, with the
    estimate, the limit and ``--force``)."""
    mem, mem_why = memory_limit()
    cpu, cpu_why = cpu_limit()
    for p in params:
        est = p.cost(values) if p.cost else None
        if est is None:
            continue
        need = None
        if est.bytes > mem:
            need = (f"about {format_bytes(est.bytes)} of memory ({est.what}); the limit is "
                    f"{format_bytes(mem)} ({mem_why})")
        elif est.cpu_seconds > cpu:
            need = (f"about {format_seconds(est.cpu_seconds)} ({est.what}); the limit is "
                    f"{format_seconds(cpu)} ({cpu_why})")
        elif est.processes > usable_cores():
            need = (f"{est.processes} processes at once ({est.what}), more than the "
                    f"{usable_cores()} usable core(s) of this machine, each with its own memory")
        if need:
            names = est.names or (p.name,)
            given = ", ".join(f"{n} = {short(values[n])}" for n in names)
            raise ParameterError(f"parameter{'s' if len(names) > 1 else ''} {given} "
                                 f"need{'' if len(names) > 1 else 's'} {need}. Choose a "
                                 "smaller value, or insist with --force")


def rule_member(item: str, collection: str) -> Rule:
    """A rule: the value of ``item`` must be one of the list ``collection``."""
    def rule(v: Mapping[str, Any]) -> str | None:
        if v[item] not in v[collection]:
            return (f"parameter {item} = {v[item]!r} must be one of {collection} = "
                    f"{short(v[collection])}")
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
            return (f"parameter {item} = {short(v[item])} must lie in [{lo}, {hi}] = "
                    f"[{v[lo]!r}, {v[hi]!r}]")
        return None
    return rule


def workers(name: str) -> Callable[[Mapping[str, Any]], Estimate | None]:
    """A cost: the parameter ``name`` is a number of worker processes (None: one per core)."""
    def cost(v: Mapping[str, Any]) -> Estimate | None:
        n = v[name]
        return None if n is None else Estimate(0, "one worker process each", processes=n)
    return cost
