import numpy as np
import pytest

from orbitnet.data.galaxy import DataError, load_galaxy


def test_ngc6278_numbers(galaxy):
    assert galaxy.n_bins == 152
    assert galaxy.n_pixels == 3016
    assert galaxy.n_binned_pixels == 1786
    assert galaxy.mge.n == 6
    # DYNAMITE: M* = 8.12437582e10 Msun at M/L = 5 (ENGINE.md section 1)
    assert galaxy.total_luminosity * 5.0 == pytest.approx(8.12437582e10, rel=1e-8)
    assert galaxy.aperture.shape == (58, 52)
    assert galaxy.aperture.origin == (-29.5, -26.5)
    assert galaxy.aperture.angle_deg == -36.0
    assert galaxy.kinematics.psf_sigma.tolist() == [1.06]
    assert galaxy.constants.distance_mpc == 39.96
    k = galaxy.kinematics
    assert k.v[0] == pytest.approx(-44.7704) and k.dsigma[-1] > 0
    summary = galaxy.summary()
    assert summary["n_bins"] == 152 and summary["n_binned_pixels"] == 1786


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataError, match="make data"):
        load_galaxy(tmp_path / "nowhere")


def test_missing_file(inputs_copy):
    (inputs_copy / "mge.ecsv").unlink()
    with pytest.raises(DataError, match=r"mge\.ecsv.*make data"):
        load_galaxy(inputs_copy)


def test_truncated_ecsv(inputs_copy):
    f = inputs_copy / "gauss_hermite_kins.ecsv"
    text = f.read_text()
    f.write_text(text[: len(text) // 3])
    with pytest.raises(DataError, match="gauss_hermite_kins.ecsv"):
        load_galaxy(inputs_copy)


def test_truncated_ecsv_header(inputs_copy):
    f = inputs_copy / "mge.ecsv"
    f.write_text("\n".join(f.read_text().splitlines()[:6]))
    with pytest.raises(DataError, match=r"mge\.ecsv"):
        load_galaxy(inputs_copy)


def test_bins_do_not_match_kinematics(inputs_copy):
    f = inputs_copy / "bins.dat"
    text = f.read_text().replace("\t144\t", "\t153\t", 1)
    f.write_text(text)
    with pytest.raises(DataError, match=r"disagree.*\[153\]"):
        load_galaxy(inputs_copy)


def test_truncated_bins(inputs_copy):
    f = inputs_copy / "bins.dat"
    f.write_text("\n".join(f.read_text().splitlines()[:100]))
    with pytest.raises(DataError, match="truncated"):
        load_galaxy(inputs_copy)


def test_nan_in_kinematics(inputs_copy):
    f = inputs_copy / "gauss_hermite_kins.ecsv"
    lines = f.read_text().splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("5 "))
    parts = lines[i].split()
    parts[3] = "nan"
    lines[i] = " ".join(parts)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"sigma has non-finite values in bins \[5\]"):
        load_galaxy(inputs_copy)


def test_non_positive_error(inputs_copy):
    f = inputs_copy / "gauss_hermite_kins.ecsv"
    lines = f.read_text().splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("7 "))
    parts = lines[i].split()
    parts[2] = "0.0"
    lines[i] = " ".join(parts)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"dv must be positive.*\[7\]"):
        load_galaxy(inputs_copy)


def test_mge_surface_brightness_centre(galaxy):
    assert galaxy.mge.surface_brightness(0.0, 0.0) == pytest.approx(np.sum(galaxy.mge.surf))
