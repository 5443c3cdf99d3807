"""The DCNN pipeline on a small slice of the real orbit-model cube (one epoch)."""

import numpy as np
import pytest

from orbitnet.emulators import cache
from orbitnet.judge import compare
from orbitnet.studies import losses


@pytest.fixture(scope="module")
def small_truth(small_cube):
    return small_cube(5.6, 6.0)


@pytest.mark.slow
def test_train_or_load_reuses_matching_runs(small_truth, tmp_path):
    orbit_models, problem = small_truth
    out = tmp_path / "fast_l1"
    emu = cache.train_or_load(orbit_models, problem, "fast", "l1_err", out_dir=out, epochs=1,
                                  progress=False)
    stamp = (out / "h1.weights.h5").stat().st_mtime_ns
    again = cache.train_or_load(orbit_models, problem, "fast", "l1_err", out_dir=out, epochs=1,
                                    progress=False)
    assert (out / "h1.weights.h5").stat().st_mtime_ns == stamp  # loaded, not retrained
    np.testing.assert_array_equal(emu.predict(orbit_models.ml[:2]),
                                  again.predict(orbit_models.ml[:2]))
    cache.train_or_load(orbit_models, problem, "fast", "l1_err", out_dir=out, epochs=1,
                            train_idx=[0, 2, 4, 6, 8], progress=False)
    assert (out / "h1.weights.h5").stat().st_mtime_ns != stamp  # new training set: retrained

    pred, res = compare.predict_and_judge(again, orbit_models, problem, tmp_path / "pred.h5",
                                            ml_show=5.0, n_jobs=1, progress=False)
    assert pred.gh.shape == orbit_models.gh.shape and pred.kinchi2.shape == orbit_models.ml.shape
    assert len(res["train_seconds"]) == 4
    assert res["median_abs_residual_over_err"] > 0
    assert isinstance(res["inside_model_1sigma"], bool)


def test_chapter4_headline_ignores_the_best_fit(small_truth):
    """The headline run is the lowest held-out residual, even when another run's best fit is
    closer to the orbit models' (choosing by that would tune on the answer)."""
    orbit_models, _ = small_truth
    fit = orbit_models.fit
    base = {"train_seconds": [1.0] * 4, "ml_1sigma": [5.7, 5.9], "ml_2sigma": [5.6, 6.0],
            "inside_model_2sigma": True}
    results = {"fast": {
        "l1": {**base, "ml_best": 6.0, "ml_best_refined": fit.ml_best_refined + 0.3,
               "inside_model_1sigma": False, "median_abs_residual_over_err": 0.05,
               "median_abs_heldout_residual_over_err": 0.02},
        "l1_err": {**base, "ml_best": fit.ml_best, "ml_best_refined": fit.ml_best_refined,
                   "inside_model_1sigma": True, "median_abs_residual_over_err": 0.01,
                   "median_abs_heldout_residual_over_err": 0.1}}}
    engine = {"recipe": "fast", "main_loss": "l1_err",
              "l1_err": {"ml_best": 5.8, "ml_1sigma": [5.7, 5.9], "inside_engine_1sigma": True}}
    out = losses.chapter4_summary(results, orbit_models, 5.8, "fast", "l1_err", engine=engine)
    assert out["best"]["loss"] == "l1" and out["best"]["inside_phrase"] == "outside"
    assert out["n_inside_model_1sigma"] == 1 and out["n_runs"] == 2
    assert out["fast"]["l1"]["ml_best"] == 6.0
    assert out["truth"]["ml_best"] == fit.ml_best
    assert out["engine_cube"]["l1_err"]["inside_engine_1sigma"] is True


@pytest.mark.slow
def test_mask_ablation_reuses_the_emulators_net(small_truth, tmp_path, monkeypatch):
    """With the l1_err loss the with-mask net is the emulator's own: same image as a net
    trained alone with the same recipe and seed, and no second training."""
    from orbitnet.data import paths
    from orbitnet.studies import dcnn

    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path / "artifacts")
    truth, problem = small_truth
    with_mask, without_mask = dcnn.mask_ablation(truth, problem, 1, recipe="fast",
                                                 loss="l1_err", ml_show=5.8, epochs=1,
                                                 progress=False)
    ablation = paths.dcnn_dir() / "ablation"
    assert [p.name for p in ablation.iterdir()] == ["h2_nomask_fast.h5"]
    assert (paths.emulator_dir(paths.GALAXY, "fast", "l1_err") / "h2.weights.h5").is_file()
    alone = dcnn.single_net_image(truth, problem, 1, mask=True, recipe="fast", ml_show=5.8,
                                  epochs=1, progress=False)
    np.testing.assert_allclose(with_mask["image"], alone["image"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(with_mask["loss"], alone["loss"], rtol=1e-3)
    np.testing.assert_array_equal(with_mask["truth"], alone["truth"])
    assert without_mask["image"].shape == with_mask["image"].shape


@pytest.mark.slow
def test_a_stored_network_is_used_only_while_fresh_and_intact(small_cube, tmp_path, monkeypatch,
                                                              capfd):
    """Issue 13 items 2-3 for trained networks (Chapter 5 reused any stored DCNN before)."""
    from dataclasses import replace

    from orbitnet.data import paths
    from orbitnet.store.fingerprint import fingerprint

    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path)
    orbit_models, problem = small_cube()
    assert cache.find_stored(orbit_models, "fast", "l1_err", epochs=1) is None
    emu = cache.train_or_load(orbit_models, problem, "fast", "l1_err", epochs=1, progress=False)
    found = cache.find_stored(orbit_models, "fast", "l1_err", epochs=1)
    np.testing.assert_array_equal(found.predict(orbit_models.ml[:2]),
                                  emu.predict(orbit_models.ml[:2]))
    # the same settings on another cube (Chapter 2 re-run): not the stored network
    other = replace(orbit_models, attrs={**orbit_models.attrs, "fingerprint": fingerprint(
        "orbit_models", {"ml": [1.0]}).to_json()})
    assert cache.find_stored(other, "fast", "l1_err", epochs=1) is None
    # 16 flipped bytes in a weights file: detected, not used, retrained with a notice
    weights = cache.emulator_dir(paths.GALAXY, "fast", "l1_err") / "h2.weights.h5"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2:len(raw) // 2 + 16] = bytes(16)
    weights.write_bytes(bytes(raw))
    assert cache.find_stored(orbit_models, "fast", "l1_err", epochs=1) is None
    from orbitnet.emulators import emulator

    retrained = []  # saving the first network stands in for training it again
    monkeypatch.setattr(emulator, "train_emulator",
                        lambda *a, out_dir, **k: retrained.append(1) or emu.save(out_dir) and emu)
    cache.train_or_load(orbit_models, problem, "fast", "l1_err", epochs=1, progress=False)
    assert retrained == [1]
    assert "corrupt (h2.weights.h5 fails its checksum); recomputing" in capfd.readouterr().err
    assert cache.find_stored(orbit_models, "fast", "l1_err", epochs=1) is not None
