import numpy as np
import pytest

from orbitnet.judge import subsets


@pytest.mark.parametrize(("n", "k"), [(161, k) for k in (1, 2, 3, 4, 8, 16, 32, 64)]
                         + [(15, 1), (15, 4), (15, 7), (7, 3)])
def test_offsets_cover_the_grid_exactly_once(n, k):
    sets = [subsets.every_kth(n, k, o) for o in range(k)]
    counts = np.bincount(np.concatenate(sets), minlength=n)
    assert counts.tolist() == [1] * n
    assert all(np.all(np.diff(s) == k) for s in sets if s.size > 1)


def test_spread_offsets():
    assert subsets.offsets(4).tolist() == [0, 1, 2, 3]
    assert subsets.offsets(4, 8).tolist() == [0, 1, 2, 3]
    assert subsets.offsets(32, 8).tolist() == [0, 4, 8, 12, 16, 20, 24, 28]
    assert subsets.offsets(64, 8).tolist() == [0, 8, 16, 24, 32, 40, 48, 56]
    spread = subsets.offsets(10, 3)
    assert spread.tolist() == [0, 3, 6] and np.unique(spread).size == 3
    with pytest.raises(ValueError, match="positive integer"):
        subsets.offsets(0)
    with pytest.raises(ValueError, match="offset"):
        subsets.every_kth(161, 4, 4)


def test_heldout_never_contains_a_training_model():
    for k, o in [(1, 0), (2, 1), (8, 3), (64, 40), (64, 0)]:
        train = subsets.every_kth(161, k, o)
        held = subsets.heldout(train)
        rng = subsets.judged_range(train)
        assert np.intersect1d(held, train).size == 0
        assert np.union1d(held, train).tolist() == rng.tolist()
        assert rng[0] == train[0] and rng[-1] == train[-1]
    assert subsets.heldout(subsets.every_kth(161, 1)).size == 0
    # M/L 5.80 (index 96) is in the set of only one offset per step
    for k in (2, 8, 32):
        assert sum(96 in subsets.every_kth(161, k, o) for o in range(k)) == 1


def test_with_last_spans_the_grid():
    assert subsets.every_kth(161, 64, with_last=True).tolist() == [0, 64, 128, 160]
    assert subsets.every_kth(161, 8, with_last=True)[-1] == 160
    assert subsets.every_kth(161, 8, with_last=True).size == 21
