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

__all__ = ["better", "clopper_pearson", "fraction", "name_winner", "separated_from_all"]


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


def name_winner(table: Mapping[str, Mapping[str, Mapping[str, Any]]],
                baseline: str = "random") -> dict[str, Any]:
    """The strategy named best, by the intervals alone.

    ``table`` is strategy -> budget (str) -> row with ``ci95``. At each budget (ascending)
    the strategies that ran there are compared: the first budget at which one strategy is
    :func:`better` than every other, ``baseline`` included, names it. Otherwise the winner is
    None and ``reason`` says why: nothing beats the baseline, or the strategies that do
    cannot be told apart. ``beats_baseline`` lists, per budget, who clears the baseline.
    """
    if baseline not in table:
        raise ValueError(f"the baseline {baseline!r} is not in the table")
    budgets = sorted({b for per in table.values() for b in per}, key=int)
    beats: dict[str, list[str]] = {}
    for b in budgets:
        rows = {n: per[b] for n, per in table.items() if b in per}
        if baseline not in rows:
            continue
        beats[b] = [n for n in rows if n != baseline and better(rows[n], rows[baseline])]
        lead = [n for n in beats[b] if separated_from_all(n, rows)]
        if lead:
            return {"winner": lead[0], "budget": b, "beats_baseline": beats,
                    "reason": f"at {b} libraries its interval clears every other strategy's"}
    ever = sorted({n for ns in beats.values() for n in ns})
    if not ever:
        reason = (f"no strategy's interval clears the {baseline} baseline's at any budget: "
                  "the budgets cannot separate them from luck")
    else:
        reason = (f"{', '.join(ever)} clear the {baseline} baseline at some budget, but at no "
                  "budget does one interval clear all the others: the budgets cannot "
                  "separate them")
    return {"winner": None, "budget": None, "beats_baseline": beats, "reason": reason}
