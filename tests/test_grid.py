"""Grids of engine libraries on real Dask clusters: designs, bad input, a killed worker, an
interrupted run, and bit-identical results on 1 and 2 workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from orbitnet.data import paths
from orbitnet.fit.grids import grid_sweeps, read_sweep
from orbitnet.orblib.cluster import GridError, connect, local_cluster
from orbitnet.orblib.grid import design
from orbitnet.orblib.params import ParameterError, ParameterSpace

# small libraries (2x2x2 start grid: 24 orbits, short orbits) so that a point takes ~1 s
TINY = {"n_e": 2, "n_i2": 2, "n_i3": 2, "n_periods": 5.0, "n_samples": 500, "n_cross": 20}
FREE = {"f-dh": (0.0, 1.5), "q-stars": (0.45, 0.54)}
ML = np.round(np.arange(3.0, 9.0001, 0.1), 10)


@pytest.fixture(scope="module")
def space():
    return ParameterSpace.from_config().free_over(FREE)


def test_designs(space):
    reg = design(space, "regular", n=3)
    assert len(reg) == 9 and reg[0] == {"f-dh": 0.0, "q-stars": 0.45}
    assert reg[-1] == {"f-dh": 1.5, "q-stars": 0.54} and reg[4] == {"f-dh": 0.75, "q-stars": 0.495}
    assert len(design(space, "regular", n={"f-dh": 4, "q-stars": 2})) == 8
    sob = design(space, "sobol", n=8, seed=3)
    assert sob == design(space, "sobol", n=8, seed=3) != design(space, "sobol", n=8, seed=4)
    lhs = np.array([[p["f-dh"], p["q-stars"]] for p in design(space, "lhs", n=5, seed=1)])
    assert lhs.shape == (5, 2) and np.all((lhs >= [0.0, 0.45]) & (lhs <= [1.5, 0.54]))
    # Latin hypercube: one point in each fifth of each range
    np.testing.assert_array_equal(np.sort(np.floor((lhs[:, 0] - 0.0) / 0.3)), np.arange(5))
    assert design(space, "list", points=[{"f-dh": 0.5}]) == [{"f-dh": 0.5}]


def test_empty_and_bad_designs(space):
    with pytest.raises(GridError, match="empty design: the list of points is empty"):
        design(space, "list", points=[])
    with pytest.raises(GridError, match="empty design"):
        design(space, "regular", n=0)
    with pytest.raises(GridError, match="empty design"):
        design(space, "sobol", n=0)
    all_fixed = ParameterSpace(tuple(replace(p, fixed=True) for p in space.parameters),
                               space.mge_q)
    with pytest.raises(GridError, match="no free parameter"):
        design(all_fixed, "regular")
    with pytest.raises(GridError, match="design must be one of"):
        design(space, "random")
    with pytest.raises(ParameterError, match=r"design point \{'q-stars': 0.6\}.*cannot be "
                                             r"deprojected"):
        design(ParameterSpace.from_config(), "list", points=[{"q-stars": 0.6}])
    with pytest.raises(ParameterError, match="unknown parameter 'halo'"):
        design(space, "list", points=[{"halo": 1.0}])


def test_scheduler_that_does_not_answer():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.perf_counter()
    with pytest.raises(GridError, match=rf"no Dask scheduler answered at '{address}' within "
                                        r"2 s"):
        connect(address, timeout=2.0)
    assert time.perf_counter() - t0 < 20  # the stated timeout, plus client start-up


def _arrays(res) -> list[dict[str, np.ndarray]]:
    return [read_sweep(s) for s in res.summaries]


def _assert_same(res, ref) -> None:
    assert [s["key"] for s in res.summaries] == [s["key"] for s in ref.summaries]
    assert ([s["content_sha256"] for s in res.summaries]
            == [s["content_sha256"] for s in ref.summaries])  # bit-identical libraries
    for a, b in zip(_arrays(res), _arrays(ref), strict=True):
        for name in ("ml", "chi2", "kinchi2", "weights"):
            np.testing.assert_array_equal(a[name], b[name])


@pytest.fixture(scope="module")
def reference(galaxy, tmp_path_factory):
    """The 3x3 grid on a one-worker LocalCluster."""
    out = tmp_path_factory.mktemp("grid_ref")
    res = grid_sweeps(galaxy, FREE, n=3, out_dir=out, ml=ML, n_workers=1, progress=False,
                      **TINY)
    assert res.workers == 1 and res.n_built == 9
    return res


@pytest.mark.slow
def test_reference_grid_and_cache(galaxy, reference):
    d = reference.to_dict()
    assert len(d["points"]) == 9 and len(d["ml_best"]) == 9
    assert all(3.0 <= m <= 9.0 for m in d["ml_best"])
    for s in reference.summaries:
        assert s["n_failed"] == 0 and s["max_abs_dE_over_E"] < 1e-5
        assert s["analysis"]["kinchi2_min"] > 0
    again = grid_sweeps(galaxy, FREE, n=3, out_dir=reference.out_dir, ml=ML, n_workers=1,
                        progress=False, **TINY)
    assert again.n_built == 0 and not any(s["analysis_built"] for s in again.summaries)
    _assert_same(again, reference)
    record = json.loads(Path(again.extra["record"]).read_text())
    assert record["keys"] == [s["key"] for s in reference.summaries]


@pytest.mark.slow
def test_killed_worker_grid_completes_identically(galaxy, reference, tmp_path):
    """Kill a worker process of a 2-worker LocalCluster while it builds a library; the grid,
    run through the cluster's address (the --scheduler path), completes bit-identically."""
    from distributed import Client

    killed: list[int] = []
    with local_cluster(2) as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)

        def killer() -> None:
            deadline = time.time() + 300
            while time.time() < deadline and not killed:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(0.3)  # inside build_point
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(pids[busy[0]])
                time.sleep(0.05)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        res = grid_sweeps(galaxy, FREE, n=3, out_dir=tmp_path, ml=ML,
                          scheduler=cluster.scheduler_address, progress=False, **TINY)
        thread.join(5)
    assert killed, "no worker was killed"
    assert res.workers == 2 and len(res.summaries) == 9
    _assert_same(res, reference)


@pytest.mark.slow
def test_interrupted_cli_run_resumes_identically(reference, tmp_path):
    """SIGINT to `orbitnet grid` mid-run, a corrupted library, then the same command again:
    only the missing or untrusted points are built, and the grid equals the reference."""
    cmd = [sys.executable, "-m", "orbitnet.book.cli", "grid", "--free", "f-dh=0:1.5",
           "--free", "q-stars=0.45:0.54", "-n", "3", "--ml", "3:9:0.1", "--workers", "2",
           "--out", str(tmp_path), "--no-progress"]
    cmd += [f"--set={k}={v}" for k, v in TINY.items()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,  # a Ctrl-C even where the test runner ignores SIGINT
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and len(list(tmp_path.glob("analysis_*.json"))) < 2:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted; nothing was written, re-run to resume" in err
    assert "Traceback" not in err, err
    done = len(list(tmp_path.glob("analysis_*.json")))
    assert 2 <= done < 9, f"{done} points finished before the interrupt"
    # a half-written library behind a manifest: its checksum no longer verifies
    lib = sorted(tmp_path.glob("library_*.json"))[0].with_suffix(".h5")
    data = lib.read_bytes()
    lib.write_bytes(data[: len(data) // 2])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    n_built = int(out.stdout.split(" libraries built")[0].split()[-1])
    n_libs_before = 9 - n_built  # libraries reused
    assert 1 <= n_built <= 9 - done + 1 and n_libs_before >= done - 1
    rec = json.loads(Path(out.stdout.strip().split("record ")[-1]).read_text())
    assert rec["workers"] == 2
    assert [s["content_sha256"] for s in rec["summaries"]] == [
        s["content_sha256"] for s in reference.summaries]
    for s, r in zip(rec["summaries"], reference.summaries, strict=True):
        a, b = read_sweep(s), read_sweep(r)
        np.testing.assert_array_equal(a["kinchi2"], b["kinchi2"])
        np.testing.assert_array_equal(a["weights"], b["weights"])


def _fake_grid(log_f, best):
    from orbitnet.orblib.grid import GridResult

    summ = [{"key": f"k{i}", "library_seconds": 2.0 + i, "n_orbits": 54, "library_built": True,
             "analysis": {"ml_best": b, "ml_best_refined": b, "kinchi2_min": 100.0 + i,
                          "sweep_seconds": 1.0}}
            for i, b in enumerate(best)]
    return GridResult(points=[{"f-dh": v} for v in log_f], summaries=summ, workers=2,
                      wall_seconds=9.0, out_dir=Path("."))


@pytest.mark.parametrize(("best", "trend"), [([6.0, 5.8, 5.5], "falls"),
                                             ([5.5, 5.6, 5.9], "rises"),
                                             ([5.8, 5.85, 5.8], "stays put")])
def test_chapter2_grid_summary_chooses_the_verdict_from_the_numbers(best, trend):
    from orbitnet.studies.orbit_libraries import VERDICTS, grid_summary

    perm = [1, 0, 2]  # the points need not come sorted by halo mass
    s = grid_summary(_fake_grid([[0.5, 1.0, 1.5][i] for i in perm], [best[i] for i in perm]))
    assert s["trend"] == trend and s["verdict"] == VERDICTS[trend]
    assert s["workers"] == 2 and s["wall_seconds"] == 9.0 and s["n_points"] == 3
    assert s["library_seconds_median"] == 3.0 and s["log_f_text"] == "0.5, 1, 1.5"
    assert s["ml_best_text"] == ", ".join(f"{b:.2f}" for b in best)
    assert set(grid_summary(None)) == set(s)  # no grid: the same keys, all None


def test_unwritable_out_folder_is_refused_before_a_cluster_starts(galaxy, tmp_path):
    """A grid folder nothing can be written to (read-only; /proc for root, whom chmod does not
    stop) is one error naming it, before any library is built (issue 22)."""
    out = Path("/proc") if os.geteuid() == 0 else tmp_path / "ro"
    if out != Path("/proc"):
        out.mkdir()
        out.chmod(0o500)
    t0 = time.perf_counter()
    with pytest.raises(GridError, match=rf"cannot write the grid folder {out} .*--out"):
        grid_sweeps(galaxy, {"f-dh": (0.0, 1.5)}, n=2, out_dir=out, ml=ML, n_workers=1,
                    progress=False, **TINY)
    assert time.perf_counter() - t0 < 5  # no cluster was started, no library built


def test_full_out_folder_is_refused_before_a_cluster_starts(galaxy, tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=3 * 2**20))
    t0 = time.perf_counter()
    with pytest.raises(GridError, match=rf"the grid folder {tmp_path} has only 3 MiB free, a "
                                        r"grid needs 64 MiB: choose another with --out"):
        grid_sweeps(galaxy, {"f-dh": (0.0, 1.5)}, n=2, out_dir=tmp_path, ml=ML, n_workers=1,
                    progress=False, **TINY)
    assert time.perf_counter() - t0 < 5 and not list(tmp_path.iterdir())


@pytest.mark.slow
def test_failed_points_are_reported_not_hidden(galaxy, tmp_path):
    """Libraries over the orbit-failure threshold fail their point; the grid names them."""
    with pytest.raises(GridError, match=r"(?s)2 of 2 grid points failed.*point 0 \{'f-dh': 0.0\}"
                                        r": OrbitFailureError: 4 of 16 orbit integrations"):
        grid_sweeps(galaxy, {"f-dh": (0.0, 1.5)}, n=2, out_dir=tmp_path, ml=ML, n_workers=1,
                    progress=False, **{**TINY, "max_steps": 60})


def test_the_distributed_cancel_bug_log_is_dropped_and_nothing_else():
    import logging

    from orbitnet.orblib.cluster import CancelBugFilter

    def record(exc):
        try:
            raise exc
        except Exception:
            import sys

            return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1,
                                     "Exception in callback", None, sys.exc_info())

    f = CancelBugFilter()
    assert not f.filter(record(NameError("cannot access free variable 'future' where it is "
                                         "not associated with a value in enclosing scope")))
    assert f.filter(record(NameError("name 'x' is not defined")))
    assert f.filter(record(ValueError("'future'")))
    assert f.filter(logging.LogRecord("x", logging.ERROR, __file__, 1, "plain", None, None))


def test_local_workers_drop_only_lost_scheduler_logs():
    """After Ctrl-C a local worker may outlive the scheduler by a heartbeat; that traceback is
    dropped, any other worker log passes, and a local grid installs the filter in each worker."""
    import logging

    from distributed import Client
    from distributed.comm.core import CommClosedError

    from orbitnet.orblib.cluster import LostSchedulerFilter, quiet_lost_scheduler

    def record(msg, exc=None):
        info = None
        if exc is not None:
            try:
                raise exc
            except Exception:
                info = sys.exc_info()
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, msg, None,
                                 info)

    f = LostSchedulerFilter()
    assert not f.filter(record("Failed to communicate with scheduler during heartbeat.",
                               CommClosedError("in <TCP (closed)>: Stream is closed")))
    assert not f.filter(record("Worker stream died", CommClosedError("closed")))
    assert f.filter(record("Compute Failed", ValueError("boom")))
    assert f.filter(record("Worker is at 95% memory"))
    with local_cluster(2) as cluster, Client(cluster) as client:
        assert sorted(client.run(quiet_lost_scheduler).values()) == [1, 1]
        assert sorted(client.run(quiet_lost_scheduler).values()) == [1, 1]  # idempotent
        assert client.run(lambda: sum(isinstance(x, LostSchedulerFilter) for h in
                                      logging.getLogger("distributed").handlers
                                      for x in h.filters)) == dict.fromkeys(
            client.scheduler_info()["workers"], 1)


def test_run_configs_needs_one_configuration_per_point(tmp_path):
    from orbitnet.orblib.engine import EngineConfig
    from orbitnet.orblib.grid import run_configs

    with pytest.raises(GridError, match="one engine configuration per point, got 2 points "
                                        "and 1 configurations"):
        run_configs([{"log_f": 0.5}, {"log_f": 1.0}], [EngineConfig()], None, {}, tmp_path)
    with pytest.raises(GridError, match="got 0 points"):
        run_configs([], [], None, {}, tmp_path)


def test_library_sweep_with_a_cube_matches_the_chapters_cube(galaxy, small_cube):
    """One analysis class for `orbitnet grid` and Chapter 9's lattice: with `ml_cube` it also
    keeps the GH cube and mass rows, and both solvers give the chapters' cube's numbers."""
    from orbitnet.fit import cube
    from orbitnet.fit.grids import LibrarySweep

    orbit_models, _ = small_cube()
    lib, _ = cube.load_dynamite_library(paths.dynamite_run_dir())
    out = {}
    for solver in ("warm", "scipy"):
        an = LibrarySweep.for_galaxy(galaxy, orbit_models.ml, ml_cube=orbit_models.ml[[2, 9]],
                                     solver=solver)
        data, summ = an(lib)
        out[solver] = data
        np.testing.assert_allclose(data["kinchi2"], orbit_models.kinchi2, rtol=1e-9)
        np.testing.assert_allclose(data["gh"], orbit_models.gh[[2, 9]], rtol=1e-5, atol=1e-6)
        assert data["gh"].dtype == np.float32 and data["aperture_mass"].shape == (
            lib.n_orbits, lib.n_bins)
        best = orbit_models.ml[np.argmin(orbit_models.kinchi2)]
        assert summ["cpu_seconds"] > 0 and summ["ml_best"] == best
        assert an.params()["ml_cube"] == list(orbit_models.ml[[2, 9]])
    assert LibrarySweep.for_galaxy(galaxy, orbit_models.ml).params()["solver"] == "nnls_warm-2"
    assert "ml_cube" not in LibrarySweep.for_galaxy(galaxy, orbit_models.ml).params()
    assert (LibrarySweep.for_galaxy(galaxy, orbit_models.ml, solver="scipy").params()
            != LibrarySweep.for_galaxy(galaxy, orbit_models.ml).params())
    with pytest.raises(ValueError, match="solver must be 'warm' or 'scipy', got 'lsq'"):
        LibrarySweep.for_galaxy(galaxy, orbit_models.ml, solver="lsq")


# --- issue 22 #3: a wrong scheduler fails fast, in one line naming it ----------------------


def _grid_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 90):
    """``orbitnet grid ARGS`` in a process of its own: (exit code, stderr, seconds)."""
    cmd = [sys.executable, "-m", "orbitnet.book.cli", "grid", "--free", "f-dh=0:1.5", "-n",
           "2", "--no-progress", *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stderr, time.perf_counter() - t0


@pytest.fixture
def http_port():
    """A local HTTP server (a port that answers, but not as a Dask scheduler)."""
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


@pytest.fixture
def silent_port():
    """A listener that accepts connections and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.mark.parametrize("kind", ["http", "silent"])
def test_a_wrong_scheduler_fails_within_the_timeout_in_one_line(kind, request):
    port = request.getfixturevalue(f"{kind}_port")
    address = f"tcp://127.0.0.1:{port}"
    code, err, seconds = _grid_cli("--scheduler", address, "--connect-timeout", "3")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"orbitnet grid: error: no Dask scheduler answered at '{address}' "
                          "within 3 s (it accepted the connection but did not answer as a "
                          "Dask scheduler)")
    assert seconds < 3 + 15  # the timeout, plus the interpreter's start


def test_a_stale_scheduler_in_the_environment_stops_a_chapter_before_its_kernel(
        tmp_path, monkeypatch, silent_port):
    import toybook

    from orbitnet.book import runner

    toybook.write_notebook(tmp_path / "notebooks" / "90_ok.md", ["y = x * 2"])
    toybook.configure(tmp_path, monkeypatch.setattr)
    address = f"tcp://127.0.0.1:{silent_port}"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    t0 = time.perf_counter()
    with pytest.raises(runner.ChapterError, match=rf"no Dask scheduler answered at "
                                                  rf"'{address}' \(from DASK_SCHEDULER_ADDRESS"
                                                  r"\) within 10 s"):
        runner.run_chapter("90_ok", progress=False, log=lambda *_: None)
    assert time.perf_counter() - t0 < 10 + 5
    assert not (paths.CHAPTERS_OUT / "90_ok.ipynb").exists()
    assert not (paths.CHAPTERS_OUT / ".90_ok.running.ipynb").exists()  # no kernel started


# --- issue 22 #6: grid values refused, not reinterpreted; one build per library ------------


@pytest.mark.parametrize(("args", "message"), [
    (["--free", "f-dh=0:1:2"], "--free f-dh=0:1:2: expected NAME or NAME=LO:HI"),
    (["--workers", "0"], "argument --workers: must be an integer >= 1, got '0'"),
    (["--connect-timeout", "-5"], "argument --connect-timeout: must be a number of seconds "
                                  "> 0, got '-5'"),
    (["--set", "n_e=abc"], "--set n_e=abc: n_e is a whole number (int), got 'abc'"),
    (["--set", "n_e=2.5"], "--set n_e=2.5: n_e is a whole number (int), got 2.5"),
    (["--set", "halo=3"], "--set halo=3: the engine has no setting 'halo'"),
    (["--ml", "1:9"], "--ml 1:9: expected START:STOP:STEP"),
])
def test_grid_values_are_refused_before_any_work(args, message, capsys):
    from orbitnet.book import cli

    with socket.socket() as s:  # a scheduler nobody runs: work would fail there instead
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["grid", "--free", "q-stars=0.45:0.54", "--no-progress",
            "--scheduler", f"tcp://127.0.0.1:{port}", *args]
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err and "no Dask scheduler" not in err, err


def _build_together(task, barrier, out: str) -> None:
    """Child process: build ``task``'s point once every child is ready."""
    from orbitnet.orblib.grid import build_point

    barrier.wait(120)
    Path(out).write_text(json.dumps(build_point(task), default=str))


def test_two_runs_never_build_one_library_at_once(galaxy, tmp_path):
    import multiprocessing as mp

    from orbitnet.fit.cube import galaxy_input_files
    from orbitnet.orblib.engine import EngineConfig
    from orbitnet.orblib.engine.inputs import from_galaxy
    from orbitnet.orblib.grid import PointTask
    from orbitnet.store.fingerprint import input_hashes

    task = PointTask(0, {"f-dh": 1.0}, EngineConfig.from_constants(galaxy.constants, **TINY),
                     from_galaxy(galaxy), input_hashes(galaxy_input_files(galaxy)),
                     str(tmp_path / "grid"))
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_build_together, args=(task, barrier, str(tmp_path / f"{i}")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    runs = [json.loads((tmp_path / f"{i}").read_text()) for i in range(2)]
    assert sorted(r["library_built"] for r in runs) == [False, True]  # one built, one read it
    assert runs[0]["content_sha256"] == runs[1]["content_sha256"]


# --- issue 22 #8: no dashboard, no fixed port ------------------------------------------------


def test_a_local_cluster_starts_no_dashboard_on_a_fixed_port():
    import contextlib
    import warnings

    with socket.socket() as s:
        with contextlib.suppress(OSError):  # 8787 held here, or already by another cluster
            s.bind(("127.0.0.1", 8787))
            s.listen(1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client, cluster = connect(n_workers=1)
        try:
            http = [x.getsockname()[:2] for x in cluster.scheduler.http_server._sockets.values()]
        finally:
            client.close()
            cluster.close()
    assert http and all(host == "127.0.0.1" and port != 8787 for host, port in http), http
    assert [str(w.message) for w in caught if "already in use" in str(w.message)] == []
