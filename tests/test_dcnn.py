"""The DCNN emulator: Table B.1 network, losses, recipes, training, artifacts."""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest

from orbitnet.emulators import (
    FAST,
    LOSSES,
    THESIS,
    THESIS_PARAMS,
    Emulator,
    ExtrapolationWarning,
    GHLoss,
    Normaliser,
    Recipe,
    build_dcnn,
    copy_weights,
    fit_coefficient,
    get_recipe,
    loss_value,
    seed_grid,
    split_models,
    train_emulator,
)

N_ORBITS, N_BINS, N_MODELS = 12, 8, 24

# Table B.1: trainable parameters per layer (the rows with parameters, in table order).
TABLE_B1 = {"dense_in": 4, "dense_hidden": 18, "dense_seed": 510720, "deconv_1": 6192,
            "deconv_2": 13872, "mask_in": 4, "dense_pixel": 49, "mask_dense": 164160}

TINY = Recipe(name="tiny", epochs=2, batch_size=4, learning_rate=0.01, validation_split=0.0,
              normalisation="centre", seed=3)


def synthetic_cube(n_models: int = N_MODELS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth-in-M/L images with a fixed zero pattern, and positive per-bin errors."""
    rng = np.random.default_rng(0)
    ml = np.linspace(1.0, 9.0, n_models)
    occupied = rng.random((N_ORBITS, N_BINS)) > 0.3
    a, b = rng.normal(size=(2, N_ORBITS, N_BINS, 4))
    s = np.sqrt(ml)[:, None, None, None]
    cube = occupied[None, ..., None] * 1e-3 * (a + b * np.sin(s + a))
    err = 1e-4 * (1 + rng.random((N_BINS, 4)))
    return ml, cube.astype(np.float32), err


@pytest.fixture(scope="module")
def data():
    return synthetic_cube()


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    ml, cube, err = data
    out = tmp_path_factory.mktemp("emu")
    emu = train_emulator(ml, cube, err, loss="l1_err", recipe=TINY, out_dir=out, progress=False)
    return emu, out


# --- network ----------------------------------------------------------------------------

def test_table_b1_network():
    model = build_dcnn(360, 152)
    assert seed_grid(360, 152) == (60, 38)
    assert model.output_shape == (None, 360, 152)
    assert model.get_layer("seed").output.shape[1:] == (60, 38, 32)
    assert model.get_layer("deconv_1").output.shape[1:] == (120, 76, 48)
    assert model.get_layer("deconv_2").output.shape[1:] == (360, 152, 48)
    counts = {layer.name: layer.count_params() for layer in model.layers if layer.weights}
    assert counts == TABLE_B1
    assert model.count_params() == sum(TABLE_B1.values()) == THESIS_PARAMS == 695_019
    assert build_dcnn(360, 152, fused=True).count_params() == THESIS_PARAMS
    # 701,931 needs a 3 x 3 second kernel (20,784 parameters instead of Table B.1's 13,872)
    assert build_dcnn(360, 152, kernels=((2, 2), (3, 3))).count_params() == 701_931


@pytest.mark.parametrize("shape", [(12, 8), (13, 9), (7, 5)])
def test_other_sizes_and_no_mask(shape):
    assert build_dcnn(*shape).output_shape == (None, *shape)
    plain = build_dcnn(*shape, mask=False)
    assert plain.output_shape == (None, *shape)
    assert not any(layer.name.startswith("mask") for layer in plain.layers)


@pytest.mark.parametrize("shape,kernels", [((12, 8), ((2, 2), (3, 2))),
                                           ((13, 9), ((2, 2), (3, 2))),
                                           ((13, 9), ((3, 3), (5, 4)))])
def test_fused_equals_layered(shape, kernels):
    layered = build_dcnn(*shape, kernels=kernels)
    rng = np.random.default_rng(1)
    for layer in layered.layers:
        if layer.weights:
            layer.set_weights([w + rng.normal(0, 0.1, w.shape).astype("float32")
                               for w in layer.get_weights()])
    fused = build_dcnn(*shape, kernels=kernels, fused=True)
    copy_weights(layered, fused)
    x = np.linspace(0, 1, 5, dtype="float32")[:, None]
    a, b = (keras.ops.convert_to_numpy(m(x)) for m in (layered, fused))
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
    back = build_dcnn(*shape, kernels=kernels)
    copy_weights(fused, back)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(back(x)), a)


# --- losses -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("err_shape", [(3,), (2, 3)])
def test_losses_by_hand(kind, err_shape):
    rng = np.random.default_rng(2)
    y_true = rng.normal(size=(4, 2, 3)).astype("float32")
    y_pred = rng.normal(size=(4, 2, 3)).astype("float32")
    err = (0.5 + rng.random(err_shape)).astype("float32")
    r = y_pred.astype(float) - y_true
    want = {"l2": np.mean(r**2), "l1": np.mean(np.abs(r)),
            "l2_err": np.mean((r / err) ** 2), "l1_err": np.mean(np.abs(r) / err)}[kind]
    got = float(keras.ops.convert_to_numpy(GHLoss(kind, err=err)(y_true, y_pred)))
    assert got == pytest.approx(want, rel=1e-5)
    assert loss_value(kind, y_pred, y_true, err) == pytest.approx(want, rel=1e-12)
    # on normalised targets the loss keeps cube units
    scale = (1 + rng.random((2, 3))).astype("float32")
    got_n = GHLoss(kind, err=err, target_scale=scale)(y_true / scale, y_pred / scale)
    assert float(keras.ops.convert_to_numpy(got_n)) == pytest.approx(want, rel=1e-5)
    config = GHLoss(kind, err=err).get_config()
    again = GHLoss.from_config(config)
    assert float(keras.ops.convert_to_numpy(again(y_true, y_pred))) == pytest.approx(got)


def test_loss_errors():
    with pytest.raises(ValueError, match="needs err"):
        GHLoss("l1_err")
    with pytest.raises(ValueError, match="unknown loss"):
        GHLoss("huber")
    with pytest.raises(ValueError, match="positive"):
        GHLoss("l2_err", err=np.array([1.0, 0.0]))


# --- recipes ----------------------------------------------------------------------------

def test_recipes():
    assert (THESIS.learning_rate, THESIS.epochs, THESIS.validation_split,
            THESIS.batch_size, THESIS.validation) == (0.01, 20, 0.1, 2, "last")
    assert get_recipe("fast") == FAST
    assert get_recipe("thesis", epochs=3).epochs == 3
    assert Recipe.from_dict(FAST.to_dict()) == FAST
    with pytest.raises(ValueError, match="unknown recipe"):
        get_recipe("slow")
    with pytest.raises(ValueError):
        Recipe(schedule="linear")


def test_split_models():
    train, val = split_models(161, THESIS)
    assert (train.size, val.size) == (145, 16) and val.min() == 145
    train, val = split_models(161, THESIS.with_(validation="shuffled"))
    assert val.size == 16 and 0 in train and 160 in train
    assert np.intersect1d(train, val).size == 0


def test_normaliser_round_trip(data):
    _, cube, _ = data
    for kind in ("none", "std", "centre", "pixel"):
        norm = Normaliser.fit(kind, cube[..., 0])
        np.testing.assert_allclose(norm.inverse(norm.forward(cube[..., 0])), cube[..., 0],
                                   atol=1e-8)


# --- training and artifacts -------------------------------------------------------------

@pytest.mark.slow
def test_training_lowers_the_loss(trained):
    emu, _ = trained
    for i in range(4):
        loss = emu.meta["history"][f"h{i + 1}"]["loss"]
        assert len(loss) == 2 and loss[1] < loss[0]


def test_predict_shape_and_artifacts(trained, data):
    emu, out = trained
    ml, cube, _ = data
    pred = emu.predict(ml[:5])
    assert pred.shape == (5, N_ORBITS, N_BINS, 4) and pred.dtype == np.float32
    names = sorted(p.name for p in out.iterdir())
    assert names == ["emulator.json", "h1.weights.h5", "h2.weights.h5", "h3.weights.h5",
                     "h4.weights.h5", "normalisation.h5"]
    meta = json.loads((out / "emulator.json").read_text())
    assert meta["recipe"]["name"] == "tiny" and meta["loss"] == "l1_err"
    assert meta["ml_range"] == [1.0, 9.0] and set(meta["train_seconds"]) == {"h1", "h2", "h3",
                                                                            "h4"}
    # the Table B.1 layered net reads the weights files directly
    build_dcnn(N_ORBITS, N_BINS).load_weights(out / "h1.weights.h5")


def test_save_load_identical(trained, data):
    emu, out = trained
    ml = np.linspace(1.0, 9.0, 7)
    again = Emulator.load(out)
    np.testing.assert_array_equal(again.predict(ml), emu.predict(ml))
    assert again.meta["history"] == emu.meta["history"]


def test_extrapolation_guard(trained):
    emu, _ = trained
    with pytest.raises(ValueError, match="outside the trained range"):
        emu.predict([0.5, 2.0])
    with pytest.warns(ExtrapolationWarning):
        pred = emu.predict([9.5], allow_extrapolation=True)
    assert pred.shape == (1, N_ORBITS, N_BINS, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emu.predict([1.0, 9.0])


def test_mismatched_weights_file(trained, tmp_path):
    emu, _ = trained
    emu.save(tmp_path)
    build_dcnn(13, 9).save_weights(tmp_path / "h3.weights.h5")
    with pytest.raises(ValueError, match=r"h3\.weights\.h5"):
        Emulator.load(tmp_path)
    build_dcnn(N_ORBITS, N_BINS, mask=False).save_weights(tmp_path / "h3.weights.h5")
    with pytest.raises(ValueError, match=r"h3\.weights\.h5"):
        Emulator.load(tmp_path)
    (tmp_path / "h3.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"h3\.weights\.h5"):
        Emulator.load(tmp_path)


@pytest.mark.slow
def test_same_seed_same_weights(data):
    ml, cube, err = data
    x = (ml - ml[0]) / (ml[-1] - ml[0])
    recipe = TINY.with_(validation_split=0.2, validation="shuffled", schedule="cosine")
    runs = [fit_coefficient(x, cube[..., 1], "l2_err", err[:, 1], r, progress=False)
            for r in (recipe, recipe, recipe.with_(seed=4))]
    same = [np.array_equal(a, b) for a, b in zip(runs[0].model.get_weights(),
                                                 runs[1].model.get_weights(), strict=True)]
    assert all(same)
    assert runs[0].history["loss"] == runs[1].history["loss"]
    assert not np.array_equal(runs[0].model.get_weights()[0], runs[2].model.get_weights()[0])


def test_train_emulator_checks_inputs(data):
    ml, cube, err = data
    with pytest.raises(ValueError, match="gh_cube"):
        train_emulator(ml[:-1], cube, err, progress=False)
    with pytest.raises(ValueError, match="err"):
        train_emulator(ml, cube, err[:, :3], progress=False)
    with pytest.raises(ValueError, match="needs err"):
        train_emulator(ml, cube, None, loss="l2_err", progress=False)
    with pytest.raises(ValueError, match="unknown loss"):
        train_emulator(ml, cube, err, loss="mse", progress=False)


@pytest.mark.slow
def test_no_mask_emulator_round_trip(data, tmp_path):
    ml, cube, err = data
    emu = train_emulator(ml, cube, err, loss="l2", recipe=TINY.with_(epochs=1),
                         out_dir=tmp_path, progress=False, mask=False)
    again = Emulator.load(tmp_path)
    assert not again.mask
    np.testing.assert_array_equal(again.predict(ml[:3]), emu.predict(ml[:3]))
