import numpy as np
import pytest

from orbitnet.emulators.baselines import LinearInterpolation, PCAGaussianProcess


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
