"""Library sizes ("rungs") of a convergence ladder, written ``NExNI2xNI3[/dD][/space]``.

Kept free of heavy imports: the chapter registry checks rung parameters with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

START_SPACES = ("smooth", "dynamite")
_RUNG = re.compile(r"^(\d+)x(\d+)x(\d+)((?:/(?:d\d+|smooth|dynamite))*)$")


@dataclass(frozen=True)
class Rung:
    """One library size of the ladder."""

    n_e: int
    n_i2: int
    n_i3: int
    dithering: int = 1
    start_space: str = "smooth"

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.n_e, self.n_i2, self.n_i3)

    @property
    def n_orbits(self) -> int:
        """Orbits (weights) of the library: 3 families × n_e n_i2 n_i3."""
        return 3 * self.n_e * self.n_i2 * self.n_i3

    @property
    def n_integrations(self) -> int:
        """Orbits integrated (tubes and boxes, d³ sub-orbits each; twins are free)."""
        return 2 * self.n_e * self.n_i2 * self.n_i3 * self.dithering**3

    @property
    def label(self) -> str:
        text = "x".join(map(str, self.grid))
        if self.dithering > 1:
            text += f"/d{self.dithering}"
        return text + f"/{self.start_space}"

    def engine(self, base: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """Engine settings of this rung on top of ``base`` (the chapter's overrides)."""
        return {**base, "n_e": self.n_e, "n_i2": self.n_i2, "n_i3": self.n_i3,
                "dithering": self.dithering, "seed": int(seed), "start_space": self.start_space}


def parse_rung(text: str, start_space: str = "smooth") -> Rung:
    """``"14x10x7"``, ``"6x5x4/d2"`` or ``"6x5x4/dynamite"`` (start space of the suffix,
    else ``start_space``) as a :class:`Rung`; a clear error otherwise."""
    m = _RUNG.match(str(text).strip().replace("×", "x"))
    if m is None:
        raise ValueError(f"rung {text!r} is not 'NExNI2xNI3' with optional '/dD' (dithering) "
                         "and '/smooth' or '/dynamite' (start space), e.g. '6x5x4/d2'")
    n_e, n_i2, n_i3 = (int(g) for g in m.groups()[:3])
    d, space = 1, start_space
    for part in filter(None, m.group(4).split("/")):
        if part in START_SPACES:
            space = part
        else:
            d = int(part[1:])
    if min(n_e, n_i2, n_i3) < 2 or not 1 <= d <= 5:
        raise ValueError(f"rung {text!r}: need at least 2 start points per integral and "
                         "dithering 1 ... 5")
    if space not in START_SPACES:
        raise ValueError(f"rung {text!r}: start space must be one of {START_SPACES}")
    return Rung(n_e, n_i2, n_i3, d, space)
