"""Chapters 3–8 open the cube with the data and library it came from, and trust nothing stale.

Issue 13 items 1–3 and issue 12 item 5, on a real (short) cube of the DYNAMITE reference run.
"""

import json
import shutil

import h5py
import numpy as np
import pytest
from astropy.table import Table
from conftest import make_cube

from orbitnet.book.results import load_results, write_results
from orbitnet.data import paths
from orbitnet.data.galaxy import load_galaxy
from orbitnet.fit import cube
from orbitnet.orblib.dynamite import LibraryError
from orbitnet.store.artifacts import CorruptArtifact, StaleArtifact
from orbitnet.store.fingerprint import lineage, reset_lineage
from orbitnet.studies import conclusions

ML = [5.0, 5.5, 6.0]


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path / "artifacts")
    monkeypatch.setattr(paths, "RESULTS", tmp_path / "results")
    reset_lineage()
    yield tmp_path / "artifacts"
    reset_lineage()


@pytest.fixture
def default_run(galaxy, artifacts):
    """Chapter 2's cube of the default galaxy, where chapters 3-8 look for it."""
    return make_cube(galaxy, ML, paths.cube_file(cube.run_name(galaxy)))


# --- item 1: an explicit orblib_dir is never silently replaced ---------------------------


def test_a_mistyped_orblib_dir_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="dynamite-3.O.O does not exist"):
        cube.resolve_source("auto", tmp_path / "dynamite-3.O.O")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cube.resolve_source("dynamite", tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LibraryError, match="no 'datfil' subfolder"):
        cube.resolve_source("auto", tmp_path / "empty")
    assert cube.resolve_source("auto", paths.dynamite_run_dir()) == "dynamite"


def test_engine_with_an_orblib_dir_is_a_conflict():
    with pytest.raises(ValueError, match="'engine' builds its own library.*drop one"):
        cube.resolve_source("engine", paths.dynamite_run_dir())


# --- issue 12 item 5: one call opens a chapter's inputs --------------------------------


def test_open_inputs_gives_the_cube_its_data_and_its_library(default_run):
    reset_lineage()
    opened = cube.open_inputs(paths.GALAXY)
    np.testing.assert_array_equal(opened.orbit_models.kinchi2, default_run.models.kinchi2)
    assert opened.source == "dynamite" and opened.library.n_orbits == 360
    assert opened.galaxy.source.resolve() == paths.inputs_dir().resolve()
    # the weight problem of that library: solving the cube's coefficients gives its χ²
    res = opened.problem.solve(opened.orbit_models.gh[1].astype(float))
    assert res.kinchi2 == pytest.approx(default_run.models.kinchi2[1], rel=1e-6)
    assert opened.err.shape == (152, 4)
    assert lineage() == {"cube": default_run.models.fingerprint}
    with pytest.raises(ValueError, match="made with the library of DYNAMITE run"):
        cube.open_inputs(paths.GALAXY, orbit_source="engine")


# --- item 2: stale upstream artifacts, runs on other data, results that say their source ----


def test_a_run_on_other_data_keeps_its_own_folder_and_notices_edits(inputs_copy, artifacts,
                                                                    capfd):
    gal = load_galaxy(inputs_copy)
    run = cube.run_name(gal)
    assert run.startswith(f"{paths.GALAXY}-") and run != paths.GALAXY
    made = make_cube(gal, ML, paths.cube_file(run))
    assert not paths.cube_file(paths.GALAXY).exists()
    assert cube.open_inputs(run).orbit_models.fingerprint == made.models.fingerprint
    # every V + 10 km/s: the cube no longer matches its inputs
    kin = Table.read(inputs_copy / "gauss_hermite_kins.ecsv", format="ascii.ecsv")
    kin["v"] += 10.0
    kin.write(inputs_copy / "gauss_hermite_kins.ecsv", format="ascii.ecsv", overwrite=True)
    with pytest.raises(StaleArtifact,
                       match=r"input gauss_hermite_kins.ecsv .*run chapter 02_orbit_libraries"):
        cube.open_inputs(run)


def test_cube_path_follows_the_data(galaxy, inputs_copy, artifacts, capfd):
    gal = load_galaxy(inputs_copy)
    lib, fp = cube.load_dynamite_library()
    models = cube.build_orbit_models(gal, lib, fp, ml=[5.0, 6.0], n_jobs=1, progress=False)
    assert models.path.parent.name == cube.run_name(gal) != paths.GALAXY
    assert f"later chapters: -p galaxy {cube.run_name(gal)}" in capfd.readouterr().err
    assert cube.run_name(galaxy) == paths.GALAXY


def test_a_changed_library_makes_the_cube_stale(default_run, tmp_path):
    other = tmp_path / "run"
    shutil.copytree(paths.dynamite_run_dir() / "datfil", other / "datfil")
    shutil.copytree(paths.dynamite_run_dir() / "infil", other / "infil")
    with open(other / "infil" / "parameters_pot.in", "a") as fh:
        fh.write("\n")
    with h5py.File(default_run.path, "a") as h5:  # as if the cube had been made from `other`
        h5.attrs["orblib_dir"] = str(other)
    with pytest.raises(StaleArtifact, match=r"upstream library .*parameters_pot.in"):
        cube.open_inputs(paths.GALAXY)


def test_results_record_the_cube_they_came_from(default_run):
    reset_lineage()
    opened = cube.open_inputs(paths.GALAXY)
    out = write_results("03_dcnn", {"n_models": int(opened.orbit_models.ml.size)})
    assert out["provenance"]["fingerprints"] == {"cube": default_run.models.fingerprint}
    on_disk = json.loads(paths.results_path("03_dcnn").read_text())
    assert on_disk["provenance"]["fingerprints"]["cube"] == default_run.models.fingerprint


def _results(chapter: str, cube_fp: str | None, **data) -> None:
    prov = {"fingerprints": {"cube": cube_fp}} if cube_fp else {}
    paths.RESULTS.mkdir(parents=True, exist_ok=True)
    paths.results_path(chapter).write_text(json.dumps({**data, "provenance": prov}))


def test_conclusions_refuse_results_from_different_cubes(artifacts):
    for ch in conclusions.CHAPTER_RESULTS:
        _results(ch, "cubeA" if ch != "01_galaxy" else None)
    assert conclusions.check_same_cube(conclusions.gather(load_results)) == "cubeA"
    _results("02_orbit_libraries", "cubeB", n_models=81)  # Chapter 2 re-run with ml_step 0.1
    with pytest.raises(ValueError, match=r"03_dcnn, 04_losses, 05_gan, 06_sparse, 07_maps "
                       r"were computed from another cube"):
        conclusions.gather(load_results)
    _results("02_orbit_libraries", "cubeA")
    _results("04_losses", None)  # written before results recorded their cube
    with pytest.raises(ValueError, match=r"04_losses were computed.*orbitnet chapter 04_losses"):
        conclusions.gather(load_results)


# --- item 3: corrupt or truncated cubes name the file and the chapter that rebuilds them --


def test_a_truncated_cube_names_file_and_chapter(default_run):
    path = default_run.path
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptArtifact,
                       match=rf"{path}.*truncated.*chapter 02_orbit_libraries"):
        cube.open_inputs(paths.GALAXY)


def test_flipped_bytes_in_the_cube_are_not_used(default_run):
    path = default_run.path
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 16] = bytes(b ^ 0x5A for b in raw[mid:mid + 16])
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptArtifact, match=rf"{path}.*chapter 02_orbit_libraries"):
        cube.open_inputs(paths.GALAXY)


@pytest.mark.slow
def test_an_engine_cube_is_opened_with_its_engine_library(galaxy, artifacts):
    small = {"n_e": 2, "n_i2": 2, "n_i3": 2, "n_periods": 20, "n_samples": 4000, "n_cross": 40}
    lib, fp = cube.engine_library(galaxy, progress=False, n_threads=2, **small)
    made = cube.build_orbit_models(galaxy, lib, fp, ml=[5.0, 6.0], n_jobs=1, progress=False,
                                   source="engine")
    opened = cube.open_inputs(paths.GALAXY)
    assert opened.source == "engine" and opened.orbit_models.fingerprint == made.fingerprint
    np.testing.assert_array_equal(opened.library.losvd, lib.losvd)  # read back, not rebuilt
    with pytest.raises(ValueError, match="made with the library of the engine"):
        cube.open_inputs(paths.GALAXY, orblib_dir=paths.dynamite_run_dir())
