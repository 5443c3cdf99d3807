"""Hostile values refused before the kernel (issue 22 items 2, 4, 5 and 7).

Each probe is given on the command line as a user would; a refused value exits with status 2
and one line naming the parameter, and no kernel starts (papermill is replaced by a recorder).
A cube of orbit models is faked where a rule reads it: only its M/L values are read before a
chapter runs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import papermill
import pytest
import toybook

from orbitnet.book import cli, execution, params, results, runner
from orbitnet.data import paths
from orbitnet.fit.mlgrid import ml_grid


@pytest.fixture
def executed(monkeypatch, tmp_path):
    """papermill replaced by a recorder; build folders under ``tmp_path``; no cube."""
    calls = []

    def fake(source, output, parameters=None, **kwargs):
        calls.append(dict(parameters or {}))
        raise RuntimeError("stop: recorded instead of executed")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    monkeypatch.setattr(paths, "CHAPTERS_OUT", tmp_path / "out")
    monkeypatch.setattr(paths, "RESULTS", tmp_path / "build" / "results")
    monkeypatch.setattr(paths, "ARTIFACTS", tmp_path / "build" / "artifacts")
    return calls


def _cube(ml: np.ndarray, galaxy: str = paths.GALAXY) -> Path:
    """A stand-in for Chapter 2's cube (its M/L values) and results, so later chapters pass
    their prerequisites."""
    path = paths.artifacts_dir(galaxy) / "orbit_models.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["ml"] = ml
    paths.RESULTS.mkdir(parents=True, exist_ok=True)
    paths.results_path("02_orbit_libraries").write_text("{}")
    return path


def _main(capsys, argv: list[str]) -> tuple[int, str]:
    code = cli.main(["chapter", *argv, "--no-progress"])
    return code, capsys.readouterr().err


def _refused(capsys, executed, argv, *fragments) -> str:
    code, err = _main(capsys, argv)
    assert code == 2, err
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert executed == [], "a kernel was started for a refused value"
    return err


# --- item 2: a grid too small, an M/L off the grid -----------------------------------------


def test_a_parameter_given_twice_is_refused_not_overwritten(capsys, executed):
    _refused(capsys, executed, ["01_galaxy", "-p", "frame", "sky", "-p", "frame", "galaxy"],
             "chapter 01_galaxy: parameter(s) given more than once: frame = sky, galaxy")


def test_ml_step_100_never_replaces_the_cube(capsys, executed):
    cube = _cube(ml_grid())
    before = cube.read_bytes()
    _refused(capsys, executed, ["02_orbit_libraries", "-p", "ml_step", "100", "-p",
                                "compare_engine", "false"],
             "parameter ml_step = 100.0 gives 1 model(s)", "at least 3")
    assert cube.read_bytes() == before


def test_ml_show_off_the_grid_is_refused(capsys, executed):
    _refused(capsys, executed, ["02_orbit_libraries", "-p", "ml_show", "5.01"],
             "ml_show = 5.01 is not on the M/L grid", "nearest values are 5 and 5.05")
    _cube(ml_grid(1.0, 9.0, 0.25))
    for chapter in ("03_dcnn", "04_losses", "05_gan", "06_sparse"):
        _refused(capsys, executed, [chapter, "--profile", "quick", "-p", "ml_show", "5.1"],
                 "ml_show = 5.1 is not an M/L of the orbit-model cube (33 models",
                 "5 and 5.25")
    code, _ = _main(capsys, ["03_dcnn", "--profile", "quick", "-p", "ml_show", "5.25"])
    assert len(executed) == 1 and executed[0]["ml_show"] == 5.25


# --- item 4: values that passed and failed later -------------------------------------------


def test_grid_orbits_needs_exactly_three(capsys, executed):
    _refused(capsys, executed, ["02_orbit_libraries", "-p", "grid_orbits", "[3,3,2,9]"],
             "parameter grid_orbits = [3, 3, 2, 9] (4 element(s))", "(exactly 3)")


def test_seeds_beyond_31_bits_are_refused(capsys, executed):
    _refused(capsys, executed, ["07_maps", "-p", "seed", "4294967296"],
             "parameter seed = 4294967296 (out of range)", "[0, 2147483647]")
    _refused(capsys, executed, ["05_gan", "-p", "seeds", "[4294967296]"],
             "parameter seeds = [4294967296] (out of range)")


def test_ml_start_above_ml_stop_in_chapter_9(capsys, executed):
    _refused(capsys, executed, ["09_beyond_ml", "-p", "ml_start", "8", "-p", "ml_stop", "3"],
             "parameter ml_start = 8.0 must be smaller than ml_stop = 3.0")


def test_steps_beyond_the_cube_are_refused(capsys, executed):
    _cube(ml_grid(1.0, 9.0, 0.2))  # the quick profile's 41 models
    _refused(capsys, executed, ["06_sparse", "--profile", "quick", "-p", "steps", "[1000]"],
             "parameter steps = [1000]: every 1000-th model of the cube's 41 leaves 0",
             "the largest step allowed is 20")
    _refused(capsys, executed, ["06_sparse", "--profile", "quick", "-p", "network_steps",
                                "[32]"], "every 32-th model of the cube's 41 leaves 1")
    _main(capsys, ["06_sparse", "--profile", "quick", "-p", "steps", "[20]"])
    assert len(executed) == 1


def test_a_galaxy_without_its_folder_is_refused(capsys, executed):
    _refused(capsys, executed, ["01_galaxy", "-p", "galaxy", "nosuch"],
             "parameter galaxy = 'nosuch': no folder", "the galaxies here: ngc6278")


def test_resource_estimates_refuse_before_any_work(capsys, executed):
    ch9 = ["09_beyond_ml", "--profile", "full"]
    _refused(capsys, executed, [*ch9, "-p", "ml_step", "1e-5"],
             "parameter ml_step = 1e-05 needs about", "GiB of memory", "--force")
    # the GH cubes exist only on a plain sweep (the full profile refines instead)
    _refused(capsys, executed, [*ch9, "-p", "ml_fine_step", "null", "-p", "ml_cube_step",
                                "1e-5"],
             "parameter ml_cube_step = 1e-05 needs about", "500001 models")
    _refused(capsys, executed, [*ch9, "-p", "n_e", "40", "-p", "n_i2", "40", "-p", "n_i3",
                                "40", "-p", "n_samples", "1000000"],
             "parameters n_e = 40, n_i2 = 40, n_i3 = 40", "n_samples = 1000000 need about",
             "CPU hours", "192000 orbits")
    _refused(capsys, executed, ["02_orbit_libraries", "-p", "n_jobs", "256"],
             "parameter n_jobs = 256 needs 256 processes at once", "usable core(s)")
    _refused(capsys, executed, ["02_orbit_libraries", "-p", "ml_multiples",
                                json.dumps([2.0] * 2000)],
             "(2000 element(s)): allowed is a list of float in (0, ∞), 1 to 12")
    # with the refined sweep no cube is built, so its step costs nothing (the kernel starts)
    _main(capsys, [*ch9, "-p", "ml_cube_step", "1e-5"])
    assert len(executed) == 1 and executed.pop()["ml_cube_step"] == 1e-5
    # insisting lets an estimate through (the kernel would start)
    _main(capsys, ["02_orbit_libraries", "-p", "n_jobs", "256", "--force"])
    assert len(executed) == 1 and executed[0]["n_jobs"] == 256


def test_cpu_estimate_of_a_valid_value_passes():
    """The full profile itself is within every estimate (checked without a cube)."""
    for chapter in ("02_orbit_libraries", "09_beyond_ml"):
        assert runner.resolve_parameters(chapter, "full")


# --- item 5: names are names, paths resolved once ------------------------------------------


@pytest.mark.parametrize("name", ["/some/other/folder", "../..", "..", ".hidden", "a/b"])
def test_galaxy_names_are_names(capsys, executed, name):
    _refused(capsys, executed, ["01_galaxy", "-p", "galaxy", name],
             f"parameter galaxy = {name!r} (a name, not a path)")


def test_data_dir_is_resolved_once_for_check_and_kernel(capsys, executed, tmp_path,
                                                        monkeypatch):
    """``~/inputs`` and a relative folder reach the kernel as the absolute path checked."""
    home = tmp_path / "home"
    shutil.copytree(paths.inputs_dir(), home / "inputs")
    monkeypatch.setenv("HOME", str(home))
    _main(capsys, ["01_galaxy", "-p", "data_dir", "~/inputs"])
    assert executed[-1]["data_dir"] == str(home / "inputs")
    monkeypatch.chdir(home)
    _main(capsys, ["01_galaxy", "-p", "data_dir", "inputs"])
    assert executed[-1]["data_dir"] == str(home / "inputs")
    (home / "inputs" / "bins.dat").unlink()
    executed.clear()
    _refused(capsys, executed, ["01_galaxy", "-p", "data_dir", "inputs"],
             f"parameter data_dir = '{home / 'inputs'}' lacks bins.dat")


# --- item 7: tracebacks where a message belongs --------------------------------------------


def test_ml_step_5e_324_is_refused_without_overflow(capsys, executed):
    _refused(capsys, executed, ["02_orbit_libraries", "-p", "ml_step", "5e-324"],
             "parameter ml_step = 5e-324: step 5e-324 from 1.0 to 9.0 gives more than")


def test_deeply_nested_value_is_refused(capsys, executed):
    _refused(capsys, executed, ["06_sparse", "-p", "steps", "[" * 3000 + "]" * 3000],
             "parameter steps = [[[[", "nested too deeply")


def test_memory_limit_variable_is_checked(capsys, executed, monkeypatch):
    monkeypatch.setenv("ORBITNET_MEMORY_LIMIT_GB", "abc")
    _refused(capsys, executed, ["01_galaxy"],
             "environment variable ORBITNET_MEMORY_LIMIT_GB = 'abc'", "positive number of GB")


@pytest.mark.parametrize(("text", "yaml11"), [("010", 8), ("0x10", 16), ("1:30", 90),
                                              ("0o10", 8), ("1_000", 1000)])
def test_yaml_11_numbers_are_refused(capsys, executed, text, yaml11):
    assert params.parse_value(text) == text  # YAML 1.1 read it as yaml11
    _refused(capsys, executed, ["03_dcnn", "-p", "dcnn_epochs", text],
             f"parameter dcnn_epochs = {text!r} (not a number)")


def test_yaml_12_numbers_and_words_are_read():
    assert params.parse_value("10") == 10 and params.parse_value("-0.5") == -0.5
    assert params.parse_value("5e-2") == 0.05 and params.parse_value(".inf") == float("inf")
    assert params.parse_value("[1, 2.5, null, true]") == [1, 2.5, None, True]
    assert params.parse_value("yes") == "yes" and params.parse_value("2024-01-01") == "2024-01-01"


def _fail_writes_under(monkeypatch, root: Path, code: int) -> None:
    """Every file opened for writing under ``root`` fails with ``code`` (a read-only or full
    file system), the way the kernel would meet it."""
    real = os.open

    def fake(path, flags, *args, **kwargs):
        if str(path).startswith(str(root)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake)


def test_read_only_build_folder_is_one_line(capsys, executed, monkeypatch):
    _fail_writes_under(monkeypatch, paths.BUILD, errno.EROFS)
    _refused(capsys, executed, ["01_galaxy"],
             f"chapter 01_galaxy: cannot write {paths.BUILD}", "Read-only file system")


def test_full_disk_at_chapter_start_is_one_line(capsys, executed, monkeypatch):
    usage = shutil.disk_usage(paths.ROOT)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: usage._replace(free=100 * 2**20))
    _refused(capsys, executed, ["01_galaxy"], "only 100 MiB free, a chapter needs 512 MiB")
    assert not list((paths.BUILD / ".kernels").glob("*"))
    monkeypatch.undo()


def test_full_disk_on_the_first_write_names_the_file(capsys, executed, monkeypatch):
    """The file system has an inode but no block left: the probe's write fails, and the
    line names where (os.write's error names no file)."""
    real = os.write

    def full(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(paths.BUILD)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", full)
    _refused(capsys, executed, ["01_galaxy"],
             f"chapter 01_galaxy: cannot write {paths.BUILD}/.write-test-",
             "No space left on device")
    monkeypatch.undo()


def test_results_edited_by_hand_name_the_file(tmp_path, monkeypatch):
    """The Conclusions read other chapters' results: a missing key names file and key."""
    from orbitnet.studies import conclusions

    monkeypatch.setattr(paths, "RESULTS", tmp_path)
    (tmp_path / "04_losses.json").write_text(json.dumps({"fast": {"l1_err": {}}}))
    res = results.load_results("04_losses")
    with pytest.raises(KeyError, match=r"04_losses.json: no key 'best'"):
        res["best"]
    with pytest.raises(results.ResultsError, match=r"04_losses.json: no key 'fast.l1_err.x'"):
        res["fast"]["l1_err"]["x"]
    assert res.get("best") is None and json.loads(json.dumps(res)) == res
    with pytest.raises(KeyError, match=r"02_orbit_libraries.json: no key 'n_models'"):
        (tmp_path / "02_orbit_libraries.json").write_text("{}")
        (tmp_path / "06_sparse.json").write_text("{}")
        conclusions.summary({c: results.load_results(c)
                             for c in ("02_orbit_libraries", "04_losses", "06_sparse")})
    (tmp_path / "06_sparse.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"06_sparse.json is not valid JSON"):
        results.load_results("06_sparse")


# --- item 7: leftovers of killed runs are swept at the next start --------------------------


@pytest.fixture
def book(tmp_path, monkeypatch):
    toybook.write_notebook(tmp_path / "notebooks" / "90_ok.md", ["y = x * 2"])
    toybook.configure(tmp_path, monkeypatch.setattr)
    return tmp_path


def test_leftovers_of_a_killed_run_are_swept_at_the_next_start(book):
    stale = paths.RESULTS / ".staging-dead1234"
    stale.mkdir(parents=True)
    (stale / "90_ok.json").write_text("{}")
    paths.CHAPTERS_OUT.mkdir(parents=True)
    running = paths.CHAPTERS_OUT / ".90_ok.running.ipynb"
    running.write_text("{}")
    runner.run_chapter("90_ok", progress=False, log=lambda *_: None)
    assert not stale.exists() and not running.exists()
    assert (paths.CHAPTERS_OUT / "90_ok.ipynb").is_file()


@pytest.mark.slow
def test_sighup_stops_the_run_and_leaves_nothing(book):
    """A closed terminal (SIGHUP) stops a chapter as Ctrl-C does: no staged results, no
    partly executed notebook, the kernel gone."""
    pidfile = book / "kernel.pid"
    toybook.write_notebook(book / "notebooks" / "95_hup.md", [
        f"import os, pathlib, time\npathlib.Path(r'{pidfile}').write_text(str(os.getpid()))\n"
        "from orbitnet.book.results import write_results\n"
        "write_results('95_hup', {'started': True})\ntime.sleep(120)"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(runner.__file__).parents[2]), str(Path(toybook.__file__).parent)])}
    proc = subprocess.Popen([sys.executable, toybook.__file__, str(book), "95_hup"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        t_end = time.monotonic() + 120
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < t_end:
            time.sleep(0.1)
        kernel = int(pidfile.read_text())
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    for _ in range(150):
        if not Path(f"/proc/{kernel}").exists():
            break
        time.sleep(0.1)
    results_dir = book / "build" / "results"
    assert not list(results_dir.glob(".staging-*")) and not list(results_dir.glob("95_hup*"))
    assert not list((book / "out").glob(".95_hup*")) and not list((book / "out").glob("95_hup*"))


def test_check_writable_names_the_folder(tmp_path, monkeypatch):
    _fail_writes_under(monkeypatch, tmp_path / "ro", errno.EROFS)
    with pytest.raises(OSError) as err:
        execution.check_writable([tmp_path / "ok", tmp_path / "ro"])
    assert err.value.errno == errno.EROFS and str(tmp_path / "ro") in str(err.value)


def test_training_estimates_of_chapters_5_and_6(capsys, executed):
    """Chapter 5's GANs and Chapter 6's networks are counted before any is trained."""
    _cube(ml_grid(1.0, 9.0, 0.2))
    _refused(capsys, executed, ["05_gan", "--profile", "quick", "-p", "seeds",
                                json.dumps(list(range(5000))), "-p", "gan_epochs", "1000"],
             "parameters gan_epochs = 1000, seeds = [0, 1, 2, 3, 4, 5, 6, 7, ...]",
             "10011 GANs of 1000 epochs over 3 images", "CPU hours")
    _refused(capsys, executed, ["06_sparse", "--profile", "quick", "-p", "seeds",
                                json.dumps(list(range(5000))), "-p", "budgets", "[100000]"],
             "need about", "5001 networks of 4 coefficients", "CPU hours")
    _main(capsys, ["05_gan", "--profile", "quick"])
    _main(capsys, ["06_sparse", "--profile", "quick"])
    assert len(executed) == 2  # the profiles themselves pass
