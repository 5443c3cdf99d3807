"""Fractions of successes with exact intervals, and when one fraction beats another.

A strategy that lands inside a region in ``k`` of ``n`` independent runs has success
probability p with the 95 % Clopper–Pearson interval :func:`clopper_pearson` (exact: it
covers p at least 95 % of the time for every p). One strategy is named better than another
only when its interval lies wholly above the other's (:func:`better`): a conservative rule,
so that two strategies whose intervals overlap are reported as not separated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scipy.stats import beta

__all__ = ["better", "clopper_pearson", "fraction", "separated_from_all"]


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided interval of a binomial proportion from ``k`` successes in ``n``."""
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    a = 1 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def fraction(outcomes: Sequence[bool], confidence: float = 0.95) -> dict[str, Any]:
    """``{runs, inside, frac, ci95}`` of a list of successes."""
    n, k = len(outcomes), int(sum(bool(o) for o in outcomes))
    return {"runs": n, "inside": k, "frac": k / n, "ci95": list(clopper_pearson(k, n,
                                                                               confidence))}


def better(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when ``a``'s interval lies wholly above ``b``'s (lower bound of ``a`` above the
    upper bound of ``b``); entries carry ``ci95`` = [lo, hi]."""
    return float(a["ci95"][0]) > float(b["ci95"][1])


def separated_from_all(name: str, rows: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether ``rows[name]`` is :func:`better` than every other row."""
    return all(better(rows[name], r) for n, r in rows.items() if n != name)
