"""DYNAMITE orbit-library reader against reference.h5 and on bad input."""

from __future__ import annotations

import bz2
from pathlib import Path

import numpy as np
import pytest
import refdata
from scipy.io import FortranFile

from orbitnet.data import paths
from orbitnet.orblib.dynamite import read_orblib, velocity_grid
from orbitnet.orblib.library import LibraryError


@pytest.fixture(scope="session")
def lib():
    return refdata.library()


@pytest.mark.parametrize(
    ("attr", "name"),
    [
        ("losvd", "losvd"),
        ("intrinsic_mass", "intrinsic_mass"),
        ("aperture_mass", "aperture_mass"),
        ("intrinsic_mass_target", "intrinsic_mass_target"),
        ("aperture_mass_target", "aperture_mass_target"),
        ("vel_centres", "vel_centres"),
    ],
)
def test_arrays_match_reference(lib, attr, name):
    want = refdata.ref(name)
    got = getattr(lib, attr)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_labels_match_reference(lib):
    np.testing.assert_array_equal(lib.orbit_ids, refdata.ref("orbit_ids"))
    np.testing.assert_array_equal(lib.orbit_type, refdata.ref("orbit_type"))
    np.testing.assert_array_equal(lib.twin_index, refdata.ref("orbit_twin_index"))
    np.testing.assert_array_equal(lib.is_box, refdata.ref("orbit_is_box").astype(bool))
    np.testing.assert_array_equal(lib.is_flipped, refdata.ref("orbit_is_flipped").astype(bool))
    np.testing.assert_array_equal(lib.meta["orbit_type_raw"], refdata.ref("orbit_type_raw"))
    assert lib.ml_library == 5.0
    assert (lib.n_orbits, lib.n_vel, lib.n_bins) == (360, 267, 152)
    assert lib.meta["dv"] == 5.2228344569288385


def test_velocity_grid_edges_recipe():
    dv = 5.2228344569288385
    np.testing.assert_array_equal(velocity_grid(dv, 133), refdata.ref("vel_centres"))


# ---------------------------------------------------------------- bad input


def _mirror_run(tmp_path: Path, skip: tuple[str, ...] = ()) -> Path:
    """A run folder of symlinks to the reference run, without the files in ``skip``."""
    src = paths.dynamite_run_dir()
    run = tmp_path / "run"
    for sub in ("datfil", "infil"):
        (run / sub).mkdir(parents=True)
        for f in (src / sub).iterdir():
            if f.name not in skip:
                (run / sub / f.name).symlink_to(f)
    return run


def test_missing_file(tmp_path):
    run = _mirror_run(tmp_path, skip=("orblibbox.dat.bz2",))
    with pytest.raises(LibraryError, match=r"orblibbox\.dat.*not found"):
        read_orblib(run)
    run2 = _mirror_run(tmp_path / "b", skip=("mass_aper.dat",))
    with pytest.raises(ValueError, match=r"mass_aper\.dat.*not found"):
        read_orblib(run2)
    with pytest.raises(LibraryError, match="datfil"):
        read_orblib(tmp_path)


def test_truncated_orblib(tmp_path):
    run = _mirror_run(tmp_path, skip=("orblib.dat.bz2",))
    raw = bz2.decompress((paths.dynamite_run_dir() / "datfil" / "orblib.dat.bz2").read_bytes())
    (run / "datfil" / "orblib.dat").write_bytes(raw[: len(raw) // 10 + 3])
    with pytest.raises(LibraryError, match=r"orblib\.dat.*truncated.*orbit \d+ of 120"):
        read_orblib(run)


# ------------------------------------------------------- synthetic libraries

_H6 = np.dtype([("nap", "<i4"), ("nvhalf", "<i4"), ("dv", "<f8")])


def _write_orblib(path: Path, norb: int, nap: int, nvhalf: int, rng, code: int,
                  nan_at: tuple[int, int] | None = None) -> np.ndarray:
    """Write a tiny legacy orbit file; return its histograms (norb, nvel, nap)."""
    nr, nth, nph, nmom = 2, 2, 3, 16
    hist = np.zeros((norb, 2 * nvhalf + 1, nap))
    with FortranFile(path, "w") as f:
        f.write_record(np.array([norb, norb, 1, 1, 1], np.int32))
        f.write_record(np.array([nmom, nph, nth, nr], np.int32))
        f.write_record(np.linspace(0, 1e17, nr + 1))
        f.write_record(np.linspace(0, np.pi / 2, nth + 1))
        f.write_record(np.linspace(0, np.pi / 2, nph + 1))
        f.write_record(np.array([(nap, nvhalf, 7.5)], _H6))
        for j in range(norb):
            f.write_record(np.array([j + 1, j + 1, 1, 1, 0], np.int32))
            f.write_record(np.array([code], np.int32))
            f.write_record(np.arange(nmom * nr * nth * nph, dtype=float) + j)
            for a in range(nap):
                if a == 1:  # an empty aperture
                    f.write_record(np.array([400, -668], np.int32))
                    continue
                lo, hi = -nvhalf + a, nvhalf - j % 2
                y = rng.integers(0, 40, hi - lo + 1) * 2.5e-6
                if nan_at == (j, a):
                    y[0] = np.nan
                hist[j, lo + nvhalf:hi + nvhalf + 1, a] = y
                f.write_record(np.array([lo, hi], np.int32))
                f.write_record(y)
        f.write_record(np.array([32], np.uint8))
    return hist


def _synthetic_run(root: Path, nan_at=None, compress: bool = False):
    rng = np.random.default_rng(1)
    (root / "datfil").mkdir(parents=True)
    (root / "infil").mkdir()
    nap, nvhalf = 3, 4
    tube = _write_orblib(root / "datfil" / "orblib.dat", 3, nap, nvhalf, rng, 3, nan_at)
    box = _write_orblib(root / "datfil" / "orblibbox.dat", 2, nap, nvhalf, rng, 4)
    if compress:
        for name in ("orblib.dat", "orblibbox.dat"):
            p = root / "datfil" / name
            p.with_suffix(".dat.bz2").write_bytes(bz2.compress(p.read_bytes()))
            p.unlink()
    (root / "datfil" / "mass_qgrid.dat").write_text(
        "  3 2 2\n" + " ".join(f"{x:.16E}" for x in np.full(12, 1 / 12)) + "\n")
    (root / "datfil" / "mass_aper.dat").write_text(
        "3\n" + "".join(f"{i + 1} {m:.12E}\n" for i, m in enumerate([0.5, 0.3, 0.2])))
    (root / "infil" / "parameters_pot.in").write_text(
        "1\n 1.0 1.0 1.0 0.0\n40.0\n90 45 90\n3.5\n1e5\n0.001\n")
    return tube, box


@pytest.mark.parametrize("compress", [False, True])
def test_synthetic_user_layout(tmp_path, compress):
    run = tmp_path / "models" / "orblib_000_000"
    tube, box = _synthetic_run(run, compress=compress)
    lib = read_orblib(run)
    assert lib.ml_library == 3.5
    assert lib.losvd.shape == (8, 9, 3)
    np.testing.assert_array_equal(lib.losvd[0:6:2], tube)
    np.testing.assert_array_equal(lib.losvd[1:6:2], tube[:, ::-1])
    np.testing.assert_array_equal(lib.losvd[6:], box)
    np.testing.assert_array_equal(lib.aperture_mass, lib.losvd.sum(axis=1))
    np.testing.assert_array_equal(lib.orbit_ids[:, 0], np.arange(1, 9))
    np.testing.assert_array_equal(lib.orbit_ids[:, 1], [1, 1, 2, 2, 3, 3, -1, -2])
    np.testing.assert_array_equal(lib.orbit_ids[:, 2], [1, -1, 1, -1, 1, -1, 1, 1])
    np.testing.assert_array_equal(lib.orbit_type, [3] * 6 + [4] * 2)
    np.testing.assert_array_equal(lib.twin_index, [1, 0, 3, 2, 5, 4, -1, -1])
    # moment 0 of q(nmom, nph, nth, nr): every 16th value of the record
    np.testing.assert_array_equal(lib.intrinsic_mass[0], np.arange(0, 192, 16))
    np.testing.assert_array_equal(lib.intrinsic_mass[1], lib.intrinsic_mass[0])
    assert lib.vel_centres[4] == 0.0 and lib.dv == pytest.approx(7.5)
    # the datfil folder itself is accepted too
    assert read_orblib(run / "datfil").n_orbits == 8


def test_nan_in_losvd(tmp_path):
    _synthetic_run(tmp_path, nan_at=(2, 2))
    with pytest.raises(LibraryError, match=r"orblib\.dat.*NaN.*orbit 3.*aperture 3"):
        read_orblib(tmp_path)
