from dataclasses import replace

import numpy as np
import pytest
import refdata

from orbitnet.data import paths
from orbitnet.fit import cube
from orbitnet.judge import compare
from orbitnet.studies import orbit_libraries


@pytest.fixture(scope="module")
def small(galaxy, tmp_path_factory):
    lib = refdata.library()
    hashes = cube.dynamite_fingerprint(paths.dynamite_run_dir())
    path = tmp_path_factory.mktemp("models") / "orbit_models.h5"
    out = cube.build_orbit_models(galaxy, lib, hashes, ml=[3.0, 5.0, 7.0], n_jobs=1,
                                  progress=False, path=path)
    return lib, hashes, path, out


def test_cube_matches_dynamite(small):
    _, _, _, out = small
    check = refdata.ref("chi2_check")  # rows ml 1,3,5,7,9; columns 5,6 legacy full precision
    for i, ml in enumerate([3.0, 5.0, 7.0]):
        row = check[check[:, 0] == ml][0]
        assert out.chi2[i] == pytest.approx(row[5], rel=1e-6)
        assert out.kinchi2[i] == pytest.approx(row[6], rel=1e-6)
    assert out.gh.shape == (3, 360, 152, 4) and out.gh.dtype == np.float32
    np.testing.assert_allclose(out.gh[1], refdata.ref("gh_per_orbit_ml5"), atol=1e-8)
    assert out.weights.shape == (3, 360) and np.all(out.weights >= 0)
    assert out.n_kin == 608
    assert out.attrs["sweep_seconds"] > 0
    assert '"source":"dynamite"' in out.attrs["parameters"]


def test_cached_until_parameters_change(galaxy, small):
    lib, hashes, path, out = small
    mtime = path.stat().st_mtime_ns
    again = cube.build_orbit_models(galaxy, lib, hashes, ml=[3.0, 5.0, 7.0], n_jobs=1,
                                    progress=False, path=path)
    assert path.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again.kinchi2, out.kinchi2)
    changed = replace(hashes, inputs={**hashes.inputs, "datfil/orblib.dat.bz2": "0" * 64})
    cube.build_orbit_models(galaxy, lib, changed, ml=[3.0, 5.0, 7.0], n_jobs=1,
                            progress=False, path=path)
    assert path.stat().st_mtime_ns != mtime


def test_predictions_are_solved_by_the_same_solver(galaxy, small, tmp_path):
    lib, _, _, out = small
    problem = cube.weight_problem(galaxy, lib)
    pred, res = compare.evaluate(lambda: (out.gh, 0.0), out, problem, tmp_path / "p.h5",
                                 {"x": 1}, {}, ml_show=5.0, store_gh=True, n_jobs=2,
                                 progress=False)
    np.testing.assert_allclose(pred.kinchi2, out.kinchi2, rtol=1e-6)
    assert res["median_abs_residual_over_err"] == 0.0
    assert cube.read_models(tmp_path / "p.h5").gh.shape == out.gh.shape
    with pytest.raises(ValueError, match="prediction has shape"):
        compare.evaluate(lambda: (out.gh[:2], 0.0), out, problem, tmp_path / "q.h5", {}, {},
                         ml_show=5.0, progress=False)


def test_bin_mismatch_and_bad_grid(galaxy, small):
    lib, hashes, _, _ = small
    with pytest.raises(ValueError, match="strictly increasing"):
        cube.build_orbit_models(galaxy, lib, hashes, ml=[5.0, 4.0], progress=False)
    with pytest.raises(ValueError, match="empty"):
        cube.build_orbit_models(galaxy, lib, hashes, ml=[], progress=False)
    with pytest.raises(ValueError, match="orbit_source"):
        cube.resolve_source("galpy")
    with pytest.raises(FileNotFoundError, match="02_orbit_libraries"):
        cube.read_models("/nonexistent/orbit_models.h5")


def test_family_counts_and_twins(small):
    lib, _, _, out = small
    counts = cube.family_counts(lib)
    assert counts["box orbits (dropped from rest)"] == 120 and counts["total"] == 360
    corr = orbit_libraries.twin_correlation(lib, out.gh[1])
    assert corr[0] < 0 < corr[1]  # mirrored histograms: h1 flips sign, h2 does not
