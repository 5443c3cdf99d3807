"""GANs of Chapter 5: networks, the adversarial training step, seeding, conditioning, caching
(train-or-load in :mod:`orbitnet.emulators.gan_cache`)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from orbitnet.emulators.gan import (
    GANConfig,
    GANTrainer,
    Scaling,
    TrainedGAN,
    build_discriminator,
    build_generator,
    train_gan,
)
from orbitnet.emulators.gan_cache import train_or_load
from orbitnet.studies.gan import blank_level, nearest_residual

N_ORBITS, N_BINS, N_IMAGES = 12, 8, 10
TINY = GANConfig(epochs=2, batch_size=2, latent_dim=4, disc_filters=(4, 8), seed=5)


def toy_images(n: int = N_IMAGES) -> tuple[np.ndarray, np.ndarray]:
    """Images with a fixed blank block and an M/L-dependent pattern, in cube-like units."""
    ml = np.linspace(1.0, 9.0, n)
    rows = np.linspace(-1, 1, N_ORBITS)[:, None]
    cols = np.linspace(0, 1, N_BINS)[None, :]
    y = 1e-3 * np.sin(3 * rows + ml[:, None, None] * cols)
    y[:, :3] = 0.0
    return y.astype(np.float32), ml


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("gan")


@pytest.fixture(scope="module")
def trained(store) -> TrainedGAN:
    y, _ = toy_images()
    return train_or_load(store / "cached", y, TINY, inputs={"cube": "abc"}, progress=False)


def test_scaling_maps_into_unit_interval_and_back():
    y, _ = toy_images()
    for kind in ("global", "pixel"):
        s = Scaling.fit(kind, y)
        ys = s.forward(y)
        assert np.abs(ys).max() == pytest.approx(1.0)
        assert np.all(ys[:, :3] == 0)
        np.testing.assert_allclose(s.inverse(ys), y, rtol=1e-6, atol=1e-12)
    with pytest.raises(ValueError):
        Scaling.fit("minmax", y)


@pytest.mark.parametrize("mask", [True, False])
def test_generator_shape_and_range(mask):
    keras.utils.set_random_seed(0)
    gen = build_generator(N_ORBITS, N_BINS, 5, mask=mask)
    z = np.random.default_rng(0).uniform(-1, 1, (3, 5)).astype("float32") * 50
    out = keras.ops.convert_to_numpy(gen(z))
    assert out.shape == (3, N_ORBITS, N_BINS)
    assert np.all(np.abs(out) <= 1.0)
    assert ("mask" in [layer.name for layer in gen.layers]) == mask


def test_discriminator_gives_one_logit():
    disc = build_discriminator(N_ORBITS, N_BINS, filters=(4, 8))
    assert disc.output.shape[1:] == (1,)
    cond = build_discriminator(N_ORBITS, N_BINS, conditional=True, filters=(4, 8))
    img = np.zeros((2, N_ORBITS, N_BINS), "float32") + 0.3
    a = keras.ops.convert_to_numpy(cond([img, np.zeros((2, 1), "float32")]))
    b = keras.ops.convert_to_numpy(cond([img, np.ones((2, 1), "float32")]))
    assert a.shape == (2, 1) and not np.allclose(a, b)


def _trainer(seed: int = 0, conditional: bool = False) -> GANTrainer:
    keras.utils.set_random_seed(seed)
    gen = build_generator(N_ORBITS, N_BINS, 4 + conditional)
    disc = build_discriminator(N_ORBITS, N_BINS, conditional=conditional, filters=(4, 8))
    trainer = GANTrainer(gen, disc, conditional=conditional)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    return trainer


@pytest.mark.slow
def test_one_step_changes_both_networks():
    trainer = _trainer()
    y, _ = toy_images(4)
    batch = {"real": Scaling.fit("global", y).forward(y),
             "noise": np.random.default_rng(1).uniform(-1, 1, (4, 4)).astype("float32"),
             "ml": np.zeros((4, 1), "float32")}
    trainer(batch)
    g0, d0 = weights_of(trainer.generator), weights_of(trainer.discriminator)
    logs = trainer.train_on_batch(batch, return_dict=True)
    assert {"g_loss", "d_loss"} <= set(logs)
    assert logs["d_loss"] == pytest.approx(2 * np.log(2), abs=0.3)  # near chance at start
    for before, net in ((g0, trainer.generator), (d0, trainer.discriminator)):
        after = weights_of(net)
        changed = [not np.array_equal(a, b) for a, b in zip(before, after, strict=True)]
        assert sum(changed) >= len(changed) - 1  # every kernel moves


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape")
def test_each_network_gets_the_gradient_of_its_own_loss():
    tf = pytest.importorskip("tensorflow")
    trainer = _trainer(seed=4)
    rng = np.random.default_rng(4)
    batch = {"real": rng.uniform(-1, 1, (3, N_ORBITS, N_BINS)).astype("float32"),
             "noise": rng.uniform(-1, 1, (3, 4)).astype("float32"),
             "ml": np.zeros((3, 1), "float32")}
    gen, disc = trainer.generator, trainer.discriminator
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape(persistent=True) as tape:
        total = trainer.compute_loss(batch, y_pred=trainer(batch))
        fake = gen(batch["noise"])
        d_real, d_fake = disc(batch["real"]), disc(fake)
        l_d = bce(tf.ones_like(d_real), d_real) + bce(tf.zeros_like(d_fake), d_fake)
        l_g = bce(tf.ones_like(d_fake), d_fake)
    assert float(total) == pytest.approx(float(l_d), rel=1e-5)
    for net, own in ((disc, l_d), (gen, l_g)):
        got = tape.gradient(total, net.trainable_variables)
        want = tape.gradient(own, net.trainable_variables)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4,
                                       atol=1e-6 * float(np.abs(np.asarray(b)).max() + 1e-12))


def test_discriminator_separates_real_from_obvious_fakes():
    trainer = _trainer(seed=2)
    trainer.generator.trainable = False  # its untrained, near-zero images are the fakes
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(2)
    real = np.ones((8, N_ORBITS, N_BINS), "float32") * 0.9
    real[:, N_ORBITS // 2:] = -0.9
    for _ in range(20):
        trainer.train_on_batch({"real": real, "noise": rng.uniform(-1, 1, (8, 4)).astype("float32"),
                                "ml": np.zeros((8, 1), "float32")})
    fake = keras.ops.convert_to_numpy(trainer.generator(rng.uniform(-1, 1, (8, 4)).astype("float32")))
    p_real = keras.ops.convert_to_numpy(keras.ops.sigmoid(trainer.discriminator(real)))
    p_fake = keras.ops.convert_to_numpy(keras.ops.sigmoid(trainer.discriminator(fake)))
    assert p_real.min() > 0.5 > p_fake.max()


@pytest.mark.slow
def test_same_seed_same_result(trained):
    y, _ = toy_images()
    again = train_gan(y, TINY, progress=False)
    np.testing.assert_allclose(again.history["g_loss"], trained.history["g_loss"], rtol=1e-5)
    np.testing.assert_allclose(again.history["d_loss"], trained.history["d_loss"], rtol=1e-5)
    for a, b in zip(weights_of(again.generator), weights_of(trained.generator), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(again.generate(3, seed=1), trained.generate(3, seed=1),
                               rtol=1e-5, atol=1e-9)
    steps = int(np.ceil(N_IMAGES / TINY.batch_size)) * TINY.epochs
    assert len(trained.history["g_loss"]) == len(trained.history["d_loss"]) == steps
    assert len(trained.history["epoch_seconds"]) == TINY.epochs


@pytest.mark.slow
def test_conditioning_changes_the_output():
    y, ml = toy_images()
    cgan = train_gan(y, GANConfig(**{**TINY.to_dict(), "conditional": True, "epochs": 1}),
                     ml=ml, progress=False)
    a, b = cgan.generate(2, ml=1.0, seed=3), cgan.generate(2, ml=9.0, seed=3)
    assert a.shape == (2, N_ORBITS, N_BINS)
    assert not np.allclose(a, b)
    mean, std = cgan.conditional_mean([1.0, 5.0], n_draws=3)
    assert mean.shape == std.shape == (2, N_ORBITS, N_BINS) and np.all(std >= 0)
    with pytest.raises(ValueError, match="needs ml"):
        cgan.generate(2)
    with pytest.raises(ValueError, match="needs ml"):
        train_gan(y, cgan.config, progress=False)


def test_generated_images_are_in_cube_units(trained):
    scaled = trained.generate(4, seed=0, scaled=True)
    assert np.abs(scaled).max() <= 1.0
    np.testing.assert_allclose(trained.generate(4, seed=0), scaled * trained.scaling.scale,
                               rtol=1e-6)


def test_save_load_and_cache(tmp_path, store, trained, monkeypatch):
    y, _ = toy_images()
    trained.save(tmp_path / "a")
    back = TrainedGAN.load(tmp_path / "a")
    np.testing.assert_allclose(back.generate(3, seed=2), trained.generate(3, seed=2), rtol=1e-6)
    assert back.history == trained.history and back.config == trained.config
    assert not list((tmp_path / "a").glob(".*"))  # no temporary files left

    from orbitnet.emulators import gan as gan_module

    calls = []

    def fake_train(images, config, ml=None, progress=True, desc=""):
        calls.append(config)
        return trained

    monkeypatch.setattr(gan_module, "train_gan", fake_train)
    from orbitnet.store.folders import dir_fingerprint

    fp = dir_fingerprint(store / "cached")
    assert fp.inputs == {"cube": "abc"} and fp.params["config"]["seed"] == TINY.seed
    again = train_or_load(store / "cached", y, TINY, inputs={"cube": "abc"}, progress=False)
    assert calls == [] and again.seconds == pytest.approx(trained.seconds)  # read back
    train_or_load(store / "cached", y, TINY, inputs={"cube": "changed"}, progress=False)
    train_or_load(store / "cached", y[:-1], TINY, inputs={"cube": "changed"}, progress=False)
    assert len(calls) == 2  # stale inputs, other images: trained again


def test_nearest_residual_and_blank_level():
    y, _ = toy_images(6)
    err = np.full(N_BINS, 1e-4)
    samples = y[[4, 1]] + 1e-5
    res, nearest = nearest_residual(samples, y, err)
    assert list(nearest) == [4, 1]
    assert res == pytest.approx(0.1, rel=1e-3)
    assert blank_level(samples, y, err) == pytest.approx(0.1, rel=1e-3)


def test_config_checks():
    with pytest.raises(ValueError):
        GANConfig(scaling="minmax")
    with pytest.raises(ValueError):
        GANConfig(epochs=0)
    assert GANConfig.from_dict(TINY.to_dict()) == TINY


def test_chapter_gans_lists_each_network_once():
    from orbitnet.studies.gan import chapter_gans

    configs = {"gan": TINY, "gan_nomask": TINY, "cgan": TINY.with_(scaling="pixel")}
    jobs = chapter_gans(configs, [TINY.seed, 6], ["gan", "cgan"], 1)
    # 3 variants x 4 coefficients, the second seed of the two spread variants, cgan_global
    assert len(jobs) == 12 + 2 + 1
    assert [(v, c.seed, k) for v, c, k in jobs[12:]] == [("gan", 6, 1), ("cgan", 6, 1),
                                                         ("cgan_global", TINY.seed, 1)]


@pytest.mark.slow
def test_gans_train_in_worker_processes_then_load(tmp_path, monkeypatch):
    """The chapter's GANs are trained in two worker processes and then only read back; one
    retrained in another worker process is identical."""
    from orbitnet.emulators import gan as gan_module
    from orbitnet.emulators import gan_cache as study
    from orbitnet.fit.cube import OrbitModels

    y, ml = toy_images()
    gh = np.stack([y * (c + 1) for c in range(4)], axis=-1)
    truth = OrbitModels(ml, gh, np.zeros(ml.size), np.zeros(ml.size), np.zeros((ml.size, 1)), 1)
    monkeypatch.setattr(study.paths, "ARTIFACTS", tmp_path)
    jobs = [("gan", TINY, 1), ("cgan", TINY, 1)]
    idx = np.arange(ml.size)
    kw = dict(galaxy="g", progress=False)
    assert study.train_in_processes(truth, jobs, None, idx, n_jobs=2, **kw) == 2
    assert study.train_in_processes(truth, jobs, None, idx, n_jobs=2, **kw) == 0  # stored

    def no_training(*args, **kwargs):
        raise AssertionError("a stored GAN was trained again")

    monkeypatch.setattr(gan_module, "train_gan", no_training)
    first = {v: study.train_variant(v, truth, c, [k], None, idx, **kw)[k] for v, c, k in jobs}
    assert (tmp_path / "g" / "gan" / "cgan").is_dir()
    monkeypatch.undo()
    monkeypatch.setattr(study.paths, "ARTIFACTS", tmp_path)
    assert study.train_in_processes(truth, jobs[:1], None, idx, n_jobs=1, **kw) == 0
    (study.gan_dir("gan", study.run_tag(TINY.with_(mask=True), idx), 1, "g")
     / "fingerprint.json").unlink()
    assert study.train_in_processes(truth, jobs, None, idx, min_gans=1, **kw) == 1
    again = study.train_variant("gan", truth, TINY, [1], None, idx, **kw)[1]
    np.testing.assert_array_equal(again.generate(3, seed=1), first["gan"].generate(3, seed=1))
