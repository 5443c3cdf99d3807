"""Clopper-Pearson intervals and the rule that names one strategy better than another."""

import numpy as np
import pytest

from orbitnet.judge.intervals import (
    better,
    clopper_pearson,
    fraction,
    name_winner,
    separated_from_all,
)


def test_clopper_pearson_known_values():
    # all or nothing: closed forms (alpha/2)^(1/n)
    assert clopper_pearson(3, 3) == pytest.approx((0.025 ** (1 / 3), 1.0))
    assert clopper_pearson(3, 3)[0] == pytest.approx(0.2924, abs=1e-4)  # issue 24's 3 of 3
    assert clopper_pearson(0, 20) == pytest.approx((0.0, 1 - 0.025 ** (1 / 20)))
    lo, hi = clopper_pearson(5, 10)
    assert (lo, hi) == pytest.approx((0.18709, 0.81291), abs=1e-5)
    assert clopper_pearson(5, 10, 0.9)[0] > lo  # a narrower interval at lower confidence


def test_clopper_pearson_covers_at_least_95_percent():
    rng = np.random.default_rng(0)
    for p in (0.05, 0.3, 0.8):
        k = rng.binomial(20, p, size=2000)
        cover = np.mean([lo <= p <= hi for lo, hi in (clopper_pearson(int(x), 20) for x in k)])
        assert cover >= 0.94


@pytest.mark.parametrize("k,n", [(-1, 5), (6, 5), (0, 0)])
def test_clopper_pearson_refuses_bad_counts(k, n):
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(k, n)


def test_better_only_when_intervals_clear():
    a = fraction([True] * 20)  # [0.83, 1]
    b = fraction([True] * 10 + [False] * 10)  # [0.27, 0.73]
    c = fraction([True] * 3)  # [0.29, 1]: three of three separates from nothing above 0.29
    assert a["runs"] == 20 and a["inside"] == 20 and a["frac"] == 1.0
    assert better(a, b) and not better(b, a)
    assert not better(c, b) and not better(a, c)
    rows = {"a": a, "b": b, "z": fraction([False] * 20)}
    assert separated_from_all("a", rows)
    assert not separated_from_all("b", rows)
    rows["c"] = c
    assert not separated_from_all("a", rows)


def test_winner_is_named_only_when_its_interval_clears_everyone_else():
    table = {"random": {"4": fraction([True] * 8 + [False] * 92),
                        "9": fraction([True] * 60 + [False] * 40)},
             "gp": {"4": fraction([True] * 6 + [False] * 14), "9": fraction([True] * 20)},
             "grid": {"4": fraction([True] * 5 + [False] * 20),
                      "9": fraction([True] * 15 + [False] * 10)}}
    out = name_winner(table)
    assert out["winner"] == "gp" and out["budget"] == "9"
    assert out["beats_baseline"]["4"] == [] and out["beats_baseline"]["9"] == ["gp"]
    # the same numbers with a grid search as good as the GP: no winner, and the reason says so
    table["grid"]["9"] = fraction([True] * 20)
    out = name_winner(table)
    assert out["winner"] is None
    assert "gp, grid" in out["reason"] and "cannot separate" in out["reason"]
    # nothing clears the baseline: the reason says luck cannot be excluded
    table["gp"]["9"] = table["grid"]["9"] = fraction([True] * 14 + [False] * 6)
    out = name_winner(table)
    assert out["winner"] is None and "baseline" in out["reason"]
    with pytest.raises(ValueError, match="baseline"):
        name_winner({"gp": table["gp"]})
