"""The model's parameter space, read from a DYNAMITE-style configuration file.

Each parameter has DYNAMITE's name (``f-dh``, ``q-stars``, ``ml``, ...), a value, the
``lo``/``hi`` limits of the configuration, and whether it is fixed and logarithmic (the value
is then log10 of the physical one, as in DYNAMITE). M/L is never an orbit-library parameter:
as in DYNAMITE every library is rescaled to any M/L.

``ParameterSpace.from_config()`` reads ``NGC6278_config.yaml``; ``space.free_over({...})``
frees parameters over ranges inside the configuration's limits; ``space.check(point)``
validates a point, including whether the MGE can be deprojected at its intrinsic shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from orbitnet import ParameterError
from orbitnet.data import paths
from orbitnet.orblib.engine.mass import deproject, viewing_angles

CONFIG_FILE = "NGC6278_config.yaml"

# DYNAMITE parameter name -> EngineConfig field (logarithmic values are converted)
ENGINE_FIELDS = {"m-bh": "bh_mass", "a-bh": "bh_soft_arcsec", "c-dh": "nfw_c",
                 "f-dh": "nfw_f", "q-stars": "q", "p-stars": "p", "u-stars": "u"}
RESCALED = ("ml",)  # parameters applied by rescaling a library, never by a new one


@dataclass(frozen=True)
class Parameter:
    """One model parameter in the configuration's units (log10 when ``logarithmic``)."""

    name: str
    value: float
    lo: float
    hi: float
    fixed: bool = True
    logarithmic: bool = False
    label: str = ""

    def physical(self, value: float | None = None) -> float:
        """The value in physical units (10**value when logarithmic)."""
        v = self.value if value is None else float(value)
        return 10.0**v if self.logarithmic else v


def default_config() -> Path:
    """The NGC 6278 configuration in the galaxy's inputs folder."""
    return paths.input_file(CONFIG_FILE)


def _read_parameters(config: Path) -> dict[str, Parameter]:
    try:
        doc = yaml.safe_load(config.read_text())
    except FileNotFoundError as exc:
        raise ParameterError(f"configuration file {config} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ParameterError(f"{config} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or "system_components" not in doc:
        raise ParameterError(f"{config} has no 'system_components' section")
    raw: dict[str, dict] = {}
    for comp, body in (doc.get("system_components") or {}).items():
        for pname, spec in ((body or {}).get("parameters") or {}).items():
            raw[f"{pname}-{comp}"] = spec
    for pname, spec in (doc.get("system_parameters") or {}).items():
        raw[pname] = spec
    out = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or "value" not in spec:
            raise ParameterError(f"{config}: parameter {name!r} has no 'value'")
        gen = spec.get("par_generator_settings") or {}
        value = float(spec["value"])
        out[name] = Parameter(name=name, value=value, lo=float(gen.get("lo", value)),
                              hi=float(gen.get("hi", value)), fixed=bool(spec.get("fixed", True)),
                              logarithmic=bool(spec.get("logarithmic", False)),
                              label=str(spec.get("LaTeX", name)))
    return out


@dataclass(frozen=True)
class ParameterSpace:
    """Named parameters of a model; the free ones span the grid (M/L excepted).

    ``mge_q`` are the observed flattenings q'_j of the MGE, which limit the intrinsic shape.
    """

    parameters: tuple[Parameter, ...]
    mge_q: tuple[float, ...]
    source: str = ""

    @classmethod
    def from_config(cls, config: Path | str | None = None,
                    mge_q: Iterable[float] | None = None) -> ParameterSpace:
        """Read the parameters of a DYNAMITE configuration (default: NGC 6278's) and the
        MGE flattenings (default: ``mge.ecsv`` beside the configuration)."""
        config = Path(config) if config is not None else default_config()
        params = _read_parameters(config)
        if mge_q is None:
            from orbitnet.data.galaxy import MGE_FILE, read_mge

            mge_q = read_mge(config.parent / MGE_FILE).q
        return cls(tuple(params.values()), tuple(float(q) for q in mge_q), str(config))

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise ParameterError(f"unknown parameter {name!r} in {self.source or 'the space'}; "
                             f"known: {', '.join(self.names)}")

    @property
    def free(self) -> list[Parameter]:
        """The free parameters that need new orbit libraries (M/L is rescaled instead)."""
        return [p for p in self.parameters if not p.fixed and p.name not in RESCALED]

    def free_over(self, ranges: Mapping[str, tuple[float, float] | None]) -> ParameterSpace:
        """Free exactly the parameters in ``ranges`` (others fixed), each over (lo, hi) in
        configuration units, or over its configuration limits when the range is None."""
        if not ranges:
            raise ParameterError("no free parameters given")
        params = {p.name: replace(p, fixed=True) for p in self.parameters}
        for name, rng in ranges.items():
            par = self[name]
            if name in RESCALED:
                raise ParameterError(f"{name!r} is applied by rescaling each library (as in "
                                     "DYNAMITE), not by new orbits: it cannot be a grid "
                                     "parameter")
            lo, hi = (par.lo, par.hi) if rng is None else (float(rng[0]), float(rng[1]))
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
                raise ParameterError(f"range of {name!r} must be finite with lo <= hi, got "
                                     f"({lo}, {hi})")
            if lo < par.lo or hi > par.hi:
                raise ParameterError(
                    f"range ({lo}, {hi}) of {name!r} lies outside the limits "
                    f"[{par.lo}, {par.hi}] of {self.source or 'the configuration'}")
            params[name] = replace(par, lo=lo, hi=hi, fixed=False)
        space = replace(self, parameters=tuple(params.values()))
        for name in ranges:  # the shape limits hold at both ends of each range
            for end in (space[name].lo, space[name].hi):
                space.check({name: end})
        return space

    def point(self, values: Mapping[str, float] | None = None) -> dict[str, float]:
        """All parameter values (configuration units) with ``values`` replacing some."""
        values = dict(values or {})
        for name in values:
            self[name]  # unknown names raise
        return {p.name: float(values.get(p.name, p.value)) for p in self.parameters}

    def check(self, values: Mapping[str, float]) -> dict[str, float]:
        """Validate a point (names, limits, deprojection); return the full point."""
        full = self.point(values)
        for name, v in values.items():
            par = self[name]
            if not np.isfinite(v):
                raise ParameterError(f"{name} = {v} is not a finite number")
            if not par.lo <= v <= par.hi:
                raise ParameterError(f"{name} = {v} lies outside [{par.lo}, {par.hi}] "
                                     f"({'free range' if not par.fixed else 'limits'} of "
                                     f"{self.source or 'the configuration'})")
        self.check_shape(full)
        return full

    def check_shape(self, full: Mapping[str, float]) -> None:
        """Raise unless the MGE deprojects at (p, q, u) of ``full``, naming the limit."""
        if "q-stars" not in full:
            return
        p = self["p-stars"].physical(full["p-stars"])
        q = self["q-stars"].physical(full["q-stars"])
        u = self["u-stars"].physical(full["u-stars"])
        qmin = min(self.mge_q)
        j = int(np.argmin(self.mge_q))
        limit = u * qmin
        ref = self["q-stars"].value
        try:
            angles = viewing_angles(p, ref, u, qmin) if ref < limit else (np.nan,) * 3
        except (ValueError, ZeroDivisionError, FloatingPointError):
            angles = (np.nan,) * 3
        why = (f"the MGE's flattest Gaussian (Gaussian {j + 1} of {len(self.mge_q)} in mge.ecsv, q' = {qmin:.5f}) limits "
               f"the intrinsic flattening to q < u q'_min = {limit:.5f} at u = {u}, p = {p} "
               f"(and q < p); as q approaches the limit the viewing angles go edge-on "
               f"(at q = {ref}: theta = {angles[0]:.3f}, phi = {angles[1]:.3f}, "
               f"psi = {angles[2]:.3f} deg)")
        if not (0.0 < q < limit and q < p):
            raise ParameterError(f"q-stars = {q} cannot be deprojected: {why}")
        with np.errstate(all="ignore"):
            theta, phi, psi = np.radians(viewing_angles(p, q, u, qmin))
            if not np.all(np.isfinite([theta, phi, psi])):
                raise ParameterError(f"q-stars = {q} (p = {p}, u = {u}) gives no viewing "
                                     f"angles: {why}")
            try:
                deproject(np.asarray(self.mge_q), theta, phi, np.full(len(self.mge_q), psi))
            except ValueError as exc:
                raise ParameterError(f"q-stars = {q} cannot be deprojected ({exc}): "
                                     f"{why}") from exc

    def engine_overrides(self, values: Mapping[str, float]) -> dict[str, float]:
        """EngineConfig fields (physical units) of a checked point."""
        full = self.check(values)
        return {ENGINE_FIELDS[n]: self[n].physical(v) for n, v in full.items()
                if n in ENGINE_FIELDS}

    def describe(self) -> list[dict[str, Any]]:
        """One row per parameter (for tables and results)."""
        return [{"name": p.name, "value": p.value, "lo": p.lo, "hi": p.hi, "fixed": p.fixed,
                 "logarithmic": p.logarithmic} for p in self.parameters]
