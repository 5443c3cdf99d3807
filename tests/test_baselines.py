import numpy as np
import pytest

from orbitnet.emulators.baselines import LinearInterpolation, PCAGaussianProcess, grid_parabola


def _cube(ml):
    """A smooth synthetic cube: pixel (o, b, l) = a + b*ml + c*ml^2 with random a, b, c."""
    rng = np.random.default_rng(1)
    a, b, c = rng.normal(size=(3, 6, 5, 4))
    ml = np.asarray(ml)[:, None, None, None]
    return a + b * ml + 0.05 * c * ml**2


def test_linear_interpolation_is_exact_for_linear_data():
    ml = np.array([1.0, 2.0, 4.0])
    gh = np.stack([np.full((3, 2, 4), m) for m in ml])
    pred = LinearInterpolation().fit(ml, gh).predict([1.0, 1.5, 3.0, 4.0])
    assert pred.dtype == np.float32 and pred.shape == (4, 3, 2, 4)
    np.testing.assert_allclose(pred[:, 0, 0, 0], [1.0, 1.5, 3.0, 4.0], rtol=1e-6)


def test_pca_gp_reproduces_training_and_interpolates():
    ml = np.linspace(1, 9, 9)
    gh = _cube(ml)
    err = np.full((5, 4), 0.1)
    em = PCAGaussianProcess(err=err).fit(ml, gh)
    np.testing.assert_allclose(em.predict(ml), gh, atol=1e-3)
    mid = np.array([2.5, 5.5])
    assert np.max(np.abs(em.predict(mid) - _cube(mid))) < 0.02
    assert em.train_seconds > 0


def test_out_of_range_guard():
    ml = np.array([2.0, 3.0, 4.0])
    for em in (LinearInterpolation(), PCAGaussianProcess()):
        em.fit(ml, _cube(ml))
        with pytest.raises(ValueError, match="outside the training range"):
            em.predict([1.0])
        with pytest.warns(UserWarning, match="extrapolating"):
            out = em.predict([4.5], allow_extrapolation=True)
        assert np.all(np.isfinite(out))


def test_bad_training_input():
    with pytest.raises(ValueError, match="gh must be"):
        LinearInterpolation().fit([1.0, 2.0], np.zeros((3, 2, 2, 4)))
    with pytest.raises(ValueError, match="strictly increasing"):
        LinearInterpolation().fit([2.0, 1.0], np.zeros((2, 2, 2, 4)))
    with pytest.raises(ValueError, match="err has shape"):
        PCAGaussianProcess(err=np.ones((3, 4))).fit([1.0, 2.0], np.zeros((2, 2, 2, 4)))


def test_grid_parabola_recovers_the_vertex_of_an_exact_parabola():
    ml = np.round(np.arange(1.0, 9.01, 0.4), 2)
    chi2 = 3.0 * (ml - 5.83) ** 2 + 100.0
    assert grid_parabola(ml, chi2) == pytest.approx(5.83, abs=1e-9)
    # shuffled order and a set whose lowest points are not neighbours on a fine grid
    rng = np.random.default_rng(0)
    perm = rng.permutation(ml.size)
    assert grid_parabola(ml[perm], chi2[perm]) == pytest.approx(5.83, abs=1e-9)
    # the vertex never leaves the models' range: a minimum beyond the last model
    assert grid_parabola(ml[:5], chi2[:5]) == ml[4]
    # two models: the lower one; non-convex triple: the lowest point
    assert grid_parabola([5.0, 6.0], [2.0, 1.0]) == 6.0
    assert grid_parabola([5.0, 6.0, 7.0], [1.0, 3.0, 4.0]) == 5.0
    with pytest.raises(ValueError, match="equal"):
        grid_parabola([1.0, 2.0], [1.0])
