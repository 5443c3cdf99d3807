"""A training-budget control: is a network short of models or of training?

The network is trained on the sets of every step ``k`` with several budgets of gradient steps
(the same budget at every set size). The full grid (``k = 1``) is one set, so there the runs
differ only by seed. A budget's sparse rows (``k > 1``) are *read* only when that budget
reaches the threshold on the full grid: a network that misses the best fit with every model
is under-trained (or unable), and its failures on sparse sets say nothing about how many
models it needs. Fractions carry their 95 % Clopper–Pearson interval
(:func:`orbitnet.judge.intervals.clopper_pearson`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orbitnet.judge.intervals import clopper_pearson

THRESHOLD = 0.9  # the headline: the sparsest set with at least this fraction inside 1σ


def sparsest_k(per_k: Mapping[str, Mapping[str, Any]], key: str = "frac_inside_1sigma",
               threshold: float = THRESHOLD) -> int | None:
    """Largest step k (smallest set) at which it and every denser step run reach
    ``threshold``; ``None`` when the densest step run already misses it."""
    found = None
    for k in sorted(int(k) for k in per_k):
        if per_k[str(k)][key] < threshold:
            break
        found = k
    return found


def open_ended(per_k: Mapping[str, Any] | None, k: int | None) -> bool:
    """Whether a sparsest sufficient step ``k`` is only a lower bound: the method reached the
    threshold at every step it ran, so ``k`` is the sparsest step run and a sparser one was
    never tried."""
    return bool(per_k) and k is not None and k == max(int(q) for q in per_k)


def cell(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One budget and step of the control: runs inside 1σ with the interval, offsets,
    seeds, set sizes and the gradient steps the networks took."""
    inside = sum(bool(r["inside_1sigma"]) for r in runs)
    used = [int(r["steps_used"]) for r in runs]
    n_train = [int(r["n_train"]) for r in runs]
    return {"frac_inside_1sigma": inside / len(runs), "inside": inside, "n_runs": len(runs),
            "ci95": list(clopper_pearson(inside, len(runs))),
            "n_offsets": len({r["offset"] for r in runs}),
            "n_seeds": len({r["seed"] for r in runs}),
            "steps_used": min(used), "steps_used_max": max(used),
            "n_train": min(n_train), "n_train_max": max(n_train),
            "train_seconds_median": sorted(r["train_seconds"] for r in runs)[len(runs) // 2]}


def control(runs: Sequence[Mapping[str, Any]], method: str) -> dict[str, dict[str, Any]]:
    """``budget → k → cell`` (strings, in increasing order) of ``method``'s runs."""
    groups: dict[int, dict[int, list]] = {}
    for r in runs:
        if r["method"] == method and r.get("gradient_steps") is not None:
            groups.setdefault(int(r["gradient_steps"]), {}).setdefault(int(r["k"]), []).append(r)
    return {str(b): {str(k): cell(rs) for k, rs in sorted(by.items())}
            for b, by in sorted(groups.items())}


def ordered(ctrl: Mapping[str, Any]) -> list[str]:
    """The budgets (or steps) of ``ctrl`` in increasing order (JSON sorts them as text)."""
    return sorted(ctrl, key=int)


def budget_rows(ctrl: Mapping[str, Mapping[str, Any]],
                stopped: Mapping[str, int] | None = None, threshold: float = THRESHOLD
                ) -> dict[str, dict[str, Any]]:
    """Per budget: whether it reaches ``threshold`` on the full grid (``k = 1``), the
    sparsest sufficient step (``None`` unless it does), its label, the steps taken on the full
    grid and ``stopped_at``: the step below the threshold after which the budget was not run
    further (``stopped``: budget → that step; ``None``: it ran every step)."""
    out = {}
    for b in ordered(ctrl):
        per_k = ctrl[b]
        full = per_k.get("1")
        reached = None if full is None else full["frac_inside_1sigma"] >= threshold
        k = sparsest_k(per_k, threshold=threshold) if reached else None
        if full is None:
            label = "not read (the full grid k = 1 was not run)"
        elif not reached:
            label = (f"not read ({full['inside']} of {full['n_runs']} runs inside 1σ on the "
                     f"full grid)")
        else:
            label = k_label(per_k[str(k)], k)
        out[b] = {"read": bool(reached), "sparsest_k": k, "label": label,
                  "steps_used_full_grid": None if full is None else full["steps_used"],
                  "stopped_at": (stopped or {}).get(b)}
    return out


def k_label(row: Mapping[str, Any], k: int) -> str:
    """``"k = 16 (10–11 models)"``."""
    size = (str(row["n_train"]) if row["n_train"] == row["n_train_max"]
            else f"{row['n_train']}–{row['n_train_max']}")
    return f"k = {k} ({size} models)"


def read_budget(rows: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The budget whose sparse rows stand for the network: of those read, the one with the
    sparsest sufficient step (the fewest gradient steps on a tie); ``None`` if none is read."""
    read = [b for b, r in rows.items() if r["read"]]
    if not read:
        return None
    return max(read, key=lambda b: (rows[b]["sparsest_k"], -int(b)))


def shown_budget(runs: Sequence[Mapping[str, Any]], method: str) -> int | None:
    """The budget whose predictions the chapter draws: the read one, else the largest run."""
    ctrl = control(runs, method)
    if not ctrl:
        return None
    best = read_budget(budget_rows(ctrl))
    return int(best) if best is not None else max(int(b) for b in ctrl)
