"""The parameter space read from NGC6278_config.yaml, and every kind of bad input."""

from __future__ import annotations

import pytest

from orbitnet.orblib.params import ParameterError, ParameterSpace


@pytest.fixture(scope="module")
def space():
    return ParameterSpace.from_config()


def test_reads_the_dynamite_configuration(space):
    assert space.names == ["m-bh", "a-bh", "c-dh", "f-dh", "q-stars", "p-stars", "u-stars", "ml"]
    f = space["f-dh"]
    assert (f.value, f.lo, f.hi, f.fixed, f.logarithmic) == (1.0, -1.5, 1.5, False, True)
    assert f.physical() == 10.0 and space["m-bh"].physical() == 1e5
    q = space["q-stars"]
    assert (q.value, q.lo, q.hi, q.fixed) == (0.54, 0.05, 0.99, True)
    assert [p.name for p in space.free] == ["f-dh"]  # M/L is free but rescaled, not a grid axis
    assert space.engine_overrides({}) == {"bh_mass": 1e5, "bh_soft_arcsec": 0.001,
                                          "nfw_c": 8.0, "nfw_f": 10.0, "q": 0.54, "p": 0.99,
                                          "u": 0.9999}
    assert space.engine_overrides({"f-dh": 0.5})["nfw_f"] == pytest.approx(10**0.5, rel=1e-15)


def test_free_over_ranges(space):
    s = space.free_over({"f-dh": (0.0, 1.5), "q-stars": (0.4, 0.55)})
    assert [(p.name, p.lo, p.hi) for p in s.free] == [("f-dh", 0.0, 1.5),
                                                      ("q-stars", 0.4, 0.55)]
    assert s.free_over({"f-dh": None})["f-dh"].hi == 1.5  # the configuration's limits


def test_unknown_parameter_name(space):
    with pytest.raises(ParameterError, match=r"unknown parameter 'halo'.*known: m-bh, a-bh"):
        space.free_over({"halo": (0.0, 1.0)})
    with pytest.raises(ParameterError, match="unknown parameter 'fdh'"):
        space.check({"fdh": 1.0})


def test_range_outside_the_configuration_limits(space):
    with pytest.raises(ParameterError, match=r"range \(-2.0, 1.0\) of 'f-dh' lies outside the "
                                             r"limits \[-1.5, 1.5\] of .*NGC6278_config.yaml"):
        space.free_over({"f-dh": (-2.0, 1.0)})
    with pytest.raises(ParameterError, match=r"f-dh = 1.6 lies outside \[0.0, 1.5\]"):
        space.free_over({"f-dh": (0.0, 1.5)}).check({"f-dh": 1.6})
    with pytest.raises(ParameterError, match="rescaling"):
        space.free_over({"ml": (4.0, 6.0)})


def test_undeprojectable_q_names_the_limit(space):
    msg = (r"q-stars = 0.6 cannot be deprojected: the MGE's flattest Gaussian \(Gaussian 4 of "
           r"6 in mge.ecsv, q' = 0.55097\) limits the intrinsic flattening to q < u q'_min = "
           r"0.55091 at u = 0.9999.*theta = 82.444, phi = 84.245, psi = 90.021 deg")
    with pytest.raises(ParameterError, match=msg):
        space.check({"q-stars": 0.6})
    with pytest.raises(ParameterError, match="q-stars = 0.99 cannot be deprojected"):
        space.free_over({"q-stars": None})  # the configuration's hi end is not deprojectable
    assert space.check({"q-stars": 0.55})["q-stars"] == 0.55  # just inside the limit


def test_bad_configuration_file(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        ParameterSpace.from_config(tmp_path / "missing.yaml")
    bad = tmp_path / "c.yaml"
    bad.write_text("system_attributes: {}\n")
    with pytest.raises(ParameterError, match="no 'system_components'"):
        ParameterSpace.from_config(bad, mge_q=[0.5])
