"""Judging sentences are chosen from the numbers: each verdict flips when its numbers do."""

from orbitnet.studies import conclusions, gan, losses, maps


def _run(ml_best, median, in1, in2):
    return {"ml_best": ml_best, "median_abs_residual_over_err": median,
            "inside_model_1sigma": in1, "inside_model_2sigma": in2}


def _losses_summary():
    return {"fast": {"l2": _run(6.2, 0.9, False, True), "l1_err": _run(5.85, 0.2, True, True)},
            "best": {"recipe": "fast", "loss": "l1_err", "ml_best": 5.85},
            "truth": {"ml_best": 5.85}}


def test_loss_verdicts_follow_the_residuals_and_the_best_fit():
    good = losses.verdicts(_losses_summary())
    assert good["losses"].startswith("The median residuals over all models agree")
    assert good["thesis"] == "The headline run uses the thesis' l1_err loss."
    assert "small fraction" in good["fit"] and "inside the orbit models' 1σ" in good["fit"]
    bad = _losses_summary()
    bad["fast"]["l2"]["median_abs_residual_over_err"] = 0.1
    bad["fast"]["l1_err"].update(_run(7.5, 3.0, False, False))
    bad["best"]["loss"] = "l2"
    v = losses.verdicts(bad)
    assert v["losses"].startswith("The median residuals over all models do not bear it out")
    assert "uses l2" in v["thesis"]
    bad["best"]["loss"] = "l1_err"
    assert "outside even the orbit models' 2σ" in losses.verdicts(bad)["fit"]
    only = {"fast": {"l1_err": _run(5.85, 0.2, True, True)}, "best": bad["best"]}
    assert "cannot say" in losses.verdicts(only)["losses"]
    assert "not run on the engine's cube" in losses.verdicts(only)["engine"]


def test_loss_verdicts_use_heldout_residuals_and_the_engine_cube():
    s = _losses_summary()
    s["fast"]["l2"]["median_abs_heldout_residual_over_err"] = 0.3
    s["fast"]["l1_err"]["median_abs_heldout_residual_over_err"] = 1.2  # all-models: 0.2
    v = losses.verdicts(s)
    assert v["losses"].startswith("The median residuals on the models they did not train on "
                                  "do not bear it out")
    assert "on its validation models (1.2) is comparable" in v["fit"]

    def eng(in1, in2):
        return {"ml_best": 5.8, "ml_1sigma": [5.7, 5.9], "inside_engine_1sigma": in1,
                "inside_engine_2sigma": in2, "median_abs_heldout_residual_over_err": 0.2}
    s["engine_cube"] = {"recipe": "fast", "truth": {"ml_best": 5.8, "ml_1sigma": [5.7, 5.9]},
                        "l2": eng(True, True), "l1_err": eng(True, True), "main_loss": "l1_err"}
    s["engine_cube"]["main"] = s["engine_cube"]["l1_err"]
    assert "all 2 losses land inside it" in losses.verdicts(s)["engine"]
    assert "carries over to orbits" in losses.verdicts(s)["engine"]
    s["engine_cube"]["l2"] = eng(False, True)
    assert "1 of 2 losses land inside it (2 inside 2σ)" in losses.verdicts(s)["engine"]
    s["engine_cube"]["l1_err"].update(inside_engine_1sigma=False)
    v = losses.verdicts(s)["engine"]
    assert "lands at 5.8, outside that cube's own 1σ" in v and "does not carry over" in v


def _gan_summary(cgan_res, cgan_ml, ratio):
    ref = {h: {"zero_image": 1.0, "mean_image": 0.5} for h in ("h1", "h2", "h3", "h4")}
    per = {h: {"median_abs_residual_over_err": cgan_res} for h in ref}
    return {"reference": ref,
            "models": {"ml_best": 5.85, "ml_1sigma": [5.7, 6.0], "ml_2sigma": [5.6, 6.1]},
            "gan": {h: {"median_abs_residual_over_err": 2.0} for h in ref},
            "cgan": {**per, "ml_best": cgan_ml, "residual_over_dcnn": ratio,
                     "vs_models_2sigma": gan._where(cgan_ml, (5.6, 6.1),
                                                    "the orbit models' 2σ interval")},
            "dcnn": {"vs_models_1sigma": "inside the orbit models' 1σ interval"}}


def test_gan_verdicts_follow_the_numbers():
    bad = gan.verdicts(_gan_summary(0.8, 7.0, 4.0))
    assert "by more than an image of zeros would for 4 of 4" in bad["gan"]
    assert bad["cgan"].startswith("The conditional GAN is not a usable emulator")
    assert "for 4 of 4 coefficients and its best fit lies outside" in bad["cgan"]
    assert "4 times closer" in bad["dcnn"] and bad["thesis"].startswith("This agrees")
    good = gan.verdicts(_gan_summary(0.3, 5.9, 0.5))
    assert good["cgan"].startswith("The conditional GAN works as an emulator")
    assert "cGAN's images are 2 times closer" in good["dcnn"]
    assert good["thesis"].startswith("This goes beyond the thesis")


def test_maps_verdict():
    def summary(em):
        return {"comparisons": {"model_pred": {"v": {"median_abs_over_err": em},
                                               "sigma": {"median_abs_over_err": 0.1}},
                                "obs_model": {"v": {"median_abs_over_err": 1.0},
                                              "sigma": {"median_abs_over_err": 1.0}}}}
    assert "tells the same story" in maps.verdicts(summary(0.2))["emulator"]
    assert "In V (0.8 against 1)" in maps.verdicts(summary(0.8))["emulator"]


def test_conclusions_answer_from_the_best_fit():
    base = {"truth_ml_1sigma": [5.74, 5.95], "truth_ml_2sigma": [5.6, 6.1]}
    assert conclusions.verdicts({**base, "best_ml_best": 5.85})["predict"].startswith("Yes")
    part = conclusions.verdicts({**base, "best_ml_best": 6.0})
    assert part["predict"].startswith("Only in part") and "only in part" in part["claim"]
    no = conclusions.verdicts({**base, "best_ml_best": 7.0})
    assert no["predict"].startswith("Not with the runs")
    assert "do not support" in no["claim"]


def _conv_results(converged: bool, thesis: float, bracketed: bool) -> dict:
    from orbitnet.studies import convergence

    def row(label, n, d, ml, jit, space="smooth"):
        return {"label": label, "n_orbits": n, "dithering": d, "start_space": space,
                "ml_best": ml, "ml_1sigma": [ml - 0.1, ml + 0.1], "jitter_log_f": jit,
                "jitter_q": jit, "cpu_seconds": n / 10, "points": [{"ml_best": ml}]}
    rows = [row("6x5x4/smooth", 360, 1, 5.8, 20.0), row("10x7x5/smooth", 1050, 1, 5.3, 20.0),
            row("14x10x7/smooth", 2940, 1, 5.25 if converged else 5.0, 20.0),
            row("6x5x4/dynamite", 360, 1, 5.8, 900.0, "dynamite")]
    sigma1 = 34.87
    res = {"ladder": rows, "sigma1": sigma1,
           "converged": convergence.converged(rows, sigma1),
           "extrapolation": convergence.extrapolate(rows, sigma1),
           "chapter2": {"thesis_ml": thesis, "engine_ml": 5.79 if converged else None,
                        "engine_ml_1sigma": [5.73, 5.85]},
           "lattice": {"rung": "14x10x7/smooth", "rounds": 2,
                       "best": {"log_f": 0.0, "q": 0.5, "ml": 5.2},
                       "region": {"log_f": [-0.25, 0.25], "q": [0.46, 0.54], "ml": [5.0, 5.4]},
                       "bracketed": {"log_f": bracketed, "q": True}}}
    return convergence.sentences(res)


def test_convergence_verdicts_follow_the_ladder():
    good = _conv_results(True, 5.85, True)
    assert good["converged"].startswith("The ladder converges at 10x7x5/smooth (1050 orbits")
    assert good["extrapolation"] == ""
    assert good["chapter2"].endswith("gives 5.79 (1σ 5.73 … 5.85) there.")
    assert _conv_results(False, 5.0, True)["chapter2"].startswith("Chapter 2 built no")
    assert "lies outside it" in good["thesis"]
    assert "bracketed in both parameters" in good["best"]
    assert "jitter by 900 along log f" in good["start_space"]
    bad = _conv_results(False, 5.05, False)
    assert bad["converged"].startswith("No rung built here is converged.")
    assert "10x7x5/smooth → 14x10x7/smooth" in bad["converged"]
    assert "lies inside that interval" in bad["thesis"]
    assert "not bracketed along log_f after 2 extensions" in bad["best"]
