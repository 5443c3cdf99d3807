import json
import multiprocessing as mp
import os
import stat
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from orbitnet.book.results import (
    flatten,
    format_number,
    load_results,
    open_interval_text,
    write_results,
)
from orbitnet.data import paths
from orbitnet.store import code
from orbitnet.store.artifacts import (
    CorruptArtifact,
    cached,
    read_artifact,
    read_attrs,
    staleness,
    stored_fingerprint,
    write_artifact,
    write_text_atomic,
)
from orbitnet.store.code import code_modules, code_version
from orbitnet.store.fingerprint import Fingerprint, fingerprint, input_hashes
from orbitnet.store.locks import Busy, lock_file, locked


def test_write_read_provenance(tmp_path):
    p = tmp_path / "a" / "x.h5"
    params = {"ml": [1.0, 2.0], "seed": 0}
    inputs = {"f": "abc"}
    write_artifact(p, {"gh": np.ones((2, 3)), "grp/y": np.arange(3)}, params, inputs)
    data = read_artifact(p)
    assert np.array_equal(data["gh"], np.ones((2, 3))) and np.array_equal(data["grp/y"], [0, 1, 2])
    attrs = read_attrs(p)
    assert json.loads(attrs["parameters"]) == params
    assert json.loads(attrs["input_sha256"]) == inputs
    for key in ("orbitnet_version", "git_commit", "created"):
        assert attrs[key]
    assert [f.name for f in p.parent.iterdir()] == ["x.h5"]  # no temporary file left


def test_freshness_and_recompute(tmp_path):
    p = tmp_path / "x.h5"
    calls = []

    def compute():
        calls.append(1)
        return {"y": np.arange(4.0)}

    cached(p, {"a": 1}, {"f": "h"}, compute)
    cached(p, {"a": 1}, {"f": "h"}, compute)
    assert len(calls) == 1
    cached(p, {"a": 2}, {"f": "h"}, compute)  # new parameter
    cached(p, {"a": 2}, {"f": "h2"}, compute)  # new input hash
    assert len(calls) == 3


def test_corrupt_artifact_is_recomputed(tmp_path, capfd):
    p = tmp_path / "x.h5"
    cached(p, {"a": 1}, {}, lambda: {"y": np.zeros(3)})
    p.write_bytes(p.read_bytes()[:100])  # truncate
    out = cached(p, {"a": 1}, {}, lambda: {"y": np.ones(3)})
    assert "x.h5 is unreadable" in capfd.readouterr().err
    assert np.array_equal(out["y"], np.ones(3))
    with h5py.File(p) as h5:
        assert np.array_equal(h5["y"][()], np.ones(3))


def test_interrupted_write_leaves_old_file(tmp_path):
    p = tmp_path / "x.h5"
    write_artifact(p, {"y": np.zeros(2)}, {}, {})

    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_artifact(p, {"y": np.ones(2), "z": Boom()}, {}, {})
    assert np.array_equal(read_artifact(p)["y"], np.zeros(2))
    assert [f.name for f in tmp_path.iterdir()] == ["x.h5"]


def test_input_hashes(inputs_dir):
    h = input_hashes([inputs_dir / "bins.dat"])
    assert list(h.values()) == ["149c50e9db1c15150157582432d805d66a72f4234c53768b4d352fc68b4b7c2c"]


def test_results_roundtrip_and_format(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RESULTS", tmp_path)
    out = write_results("99_test", {"a": np.float64(1.5), "b": {"c": np.arange(2)}})
    assert {k: v for k, v in out.items() if k != "provenance"} == {"a": 1.5, "b": {"c": [0, 1]}}
    assert load_results("99_test") == out
    assert flatten({"a": 1.5, "b": {"c": [0, 1]}}) == {"a": 1.5, "b.c": [0, 1]}
    assert format_number(1.624875e10) == "1.625 × 10¹⁰"
    assert format_number(34.8712) == "34.87"
    with pytest.raises(FileNotFoundError, match="orbitnet chapter 98_missing"):
        load_results("98_missing")


# --- fingerprints and code versions (issue 13 item 2, issue 11's one cache) ----------


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A throwaway ``orbitnet`` source tree that code_version reads instead of the real one."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text('"""A."""\nfrom orbitnet.sub import b\n\n\ndef f(x):\n'
                                      '    return b.g(x) + 1\n')
    (pkg / "sub" / "b.py").write_text("def g(x):\n    return 2 * x\n")
    (pkg / "sub" / "c.py").write_text("def h(x):\n    return x\n")
    monkeypatch.setattr(code, "PACKAGE", pkg)
    return pkg


def test_code_version_follows_imports_not_docstrings(fake_package):
    v0 = code_version("orbitnet.sub.a")
    assert code_modules("orbitnet.sub.a") == ["orbitnet.sub.a", "orbitnet.sub.b"]
    a = fake_package / "sub" / "a.py"
    a.write_text(a.read_text().replace('"""A."""', '"""Another docstring."""  # and a comment'))
    assert code_version("orbitnet.sub.a") == v0  # docs and comments are not code
    (fake_package / "sub" / "c.py").write_text("def h(x):\n    return -x\n")
    assert code_version("orbitnet.sub.a") == v0  # an unrelated module changed
    (fake_package / "sub" / "b.py").write_text("def g(x):\n    return 3 * x\n")
    assert code_version("orbitnet.sub.a") != v0  # a module it imports changed


def test_artifact_made_by_older_code_is_stale(fake_package, tmp_path, capfd):
    p = tmp_path / "x.h5"
    calls = []

    def compute():
        calls.append(1)
        return {"y": np.arange(3.0) * len(calls)}

    cached(p, {"a": 1}, {}, compute, code=("orbitnet.sub.a",))
    cached(p, {"a": 1}, {}, compute, code=("orbitnet.sub.a",))
    assert len(calls) == 1
    (fake_package / "sub" / "b.py").write_text("def g(x):\n    return 3 * x\n")
    out = cached(p, {"a": 1}, {}, compute, code=("orbitnet.sub.a",))
    assert len(calls) == 2 and np.array_equal(out["y"], [0.0, 2.0, 4.0])
    assert "changed: the code that computes it; recomputing" in capfd.readouterr().err


def test_fingerprint_names_what_changed(tmp_path):
    up = fingerprint("cube", {"ml": [1.0, 2.0]})
    a = fingerprint("pred", {"seed": 0, "epochs": 2}, {"mge.ecsv": "aa"}, {"cube": up})
    b = fingerprint("pred", {"seed": 0, "epochs": 3}, {"mge.ecsv": "bb"},
                    {"cube": fingerprint("cube", {"ml": [1.0]})})
    assert b.differences(a) == ["parameters epochs", "input mge.ecsv", "upstream cube"]
    assert Fingerprint.from_json(a.to_json()) == a
    with pytest.raises(ValueError, match="digest"):
        Fingerprint.from_json(a.to_json().replace('"epochs":2', '"epochs":5'))
    write_artifact(tmp_path / "p.h5", {"y": np.ones(2)}, a)
    assert stored_fingerprint(tmp_path / "p.h5") == a
    assert staleness(tmp_path / "p.h5", b).startswith("changed: parameters epochs")
    (tmp_path / "old.h5").write_bytes((tmp_path / "p.h5").read_bytes())
    with h5py.File(tmp_path / "old.h5", "a") as h5:  # as older code wrote it
        del h5.attrs["fingerprint"]
    assert "older orbitnet" in staleness(tmp_path / "old.h5", a)


# --- checksums (item 3) ----------------------------------------------------------------


def test_flipped_bytes_are_caught_and_recomputed(tmp_path, capfd):
    p = tmp_path / "cube.h5"
    gh = np.random.default_rng(1).normal(size=(40, 100, 25)).astype(np.float32)
    fp = fingerprint("cube", {"n": 40})
    cached(p, fp, None, lambda: {"gh": gh, "n": np.int64(40)})
    raw = bytearray(p.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 16] = bytes(b ^ 0xFF for b in raw[mid:mid + 16])  # 16 bytes mid-file
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptArtifact, match="cube.h5"):
        read_artifact(p)
    out = cached(p, fp, None, lambda: {"gh": gh + 1, "n": np.int64(40)})
    assert np.array_equal(out["gh"], gh + 1)
    assert "cube.h5 is corrupt" in capfd.readouterr().err
    np.testing.assert_array_equal(read_artifact(p)["gh"], gh + 1)


def test_scalar_datasets_carry_a_digest(tmp_path):
    p = tmp_path / "s.h5"
    write_artifact(p, {"seconds": np.float64(12.5), "name": np.bytes_(b"x")}, {}, {})
    with h5py.File(p, "a") as h5:
        sha = h5["seconds"].attrs["sha256"]
        del h5["seconds"]
        h5["seconds"] = np.float64(99.0)
        h5["seconds"].attrs["sha256"] = sha
    with pytest.raises(CorruptArtifact, match="seconds fails its checksum"):
        read_artifact(p)


# --- permissions (item 6) and locks (item 7) -------------------------------------------


def _tiny_library():
    from orbitnet.orblib.library import OrbitLibrary

    rng = np.random.default_rng(0)
    n_orb, n_vel, n_bins, n_cells = 4, 5, 3, 6
    return OrbitLibrary(
        losvd=rng.random((n_orb, n_vel, n_bins)), vel_centres=np.linspace(-10, 10, n_vel),
        ml_library=5.0, intrinsic_mass=rng.random((n_orb, n_cells)),
        aperture_mass=rng.random((n_orb, n_bins)), intrinsic_mass_target=rng.random(n_cells),
        aperture_mass_target=rng.random(n_bins), orbit_ids=np.zeros((n_orb, 5), int),
        orbit_type=np.full(n_orb, 3), is_box=np.zeros(n_orb, bool),
        is_flipped=np.array([False, True] * 2), source="engine", meta={"config": {}},
        twin_index=np.array([1, 0, 3, 2]))


def test_artifacts_get_the_users_normal_permissions(tmp_path):
    from orbitnet.orblib.engine import load_library, save_library

    old = os.umask(0o022)
    try:
        a = write_artifact(tmp_path / "a.h5", {"y": np.ones(3)}, {}, {})
        lib = _tiny_library()
        b = save_library(lib, tmp_path / "engine_library_x.h5")
        c = write_text_atomic(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    for f in (a, b, c):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    np.testing.assert_array_equal(load_library(b).losvd, lib.losvd)


def _hold(lock: str, ready: str, seconds: float) -> None:
    """Child process: hold ``lock`` for ``seconds``."""
    with locked(lock, what="the test's other run"):
        Path(ready).write_text("held")
        time.sleep(seconds)


def _start_until_ready(target, args: tuple, ready: Path, timeout: float):
    """Start ``target(*args)`` in a spawned process; return it once ``ready`` exists (or
    ``timeout`` seconds passed, so the test's own assertions report what went wrong)."""
    proc = mp.get_context("spawn").Process(target=target, args=args)
    proc.start()
    end = time.monotonic() + timeout
    while not ready.exists() and time.monotonic() < end:
        time.sleep(0.05)
    return proc


def test_a_held_lock_names_its_holder_and_waiters_wait(tmp_path, capfd):
    lock, ready = tmp_path / ".run.lock", tmp_path / "ready"
    proc = _start_until_ready(_hold, (str(lock), str(ready), 2.0), ready, 10.0)
    try:
        busy = rf"another run holds .*pid {proc.pid}, the test's"
        with pytest.raises(Busy, match=busy), locked(lock, wait=False):
            pass
        t0 = time.perf_counter()
        with locked(lock):  # waits for the other process
            assert time.perf_counter() - t0 > 0.5
        err = capfd.readouterr().err
        assert f"waiting for pid {proc.pid}, the test's other run, since " in err
    finally:
        proc.join(10)


def _compute_slowly(path: str, ready: str) -> None:
    def compute():
        Path(ready).write_text("computing")
        time.sleep(2.0)
        return {"y": np.full(3, 7.0)}

    cached(path, {"a": 1}, {}, compute)


def test_two_runs_never_compute_one_artifact_at_once(tmp_path):
    p, ready = tmp_path / "x.h5", tmp_path / "ready"
    proc = _start_until_ready(_compute_slowly, (str(p), str(ready)), ready, 20.0)
    try:
        out = cached(p, {"a": 1}, {}, lambda: pytest.fail("computed twice"))
        assert np.array_equal(out["y"], np.full(3, 7.0))
    finally:
        proc.join(10)
    assert proc.exitcode == 0


def test_an_interval_open_at_an_end_is_glued_as_text():
    assert open_interval_text([8.668988, None]) == "≥ 8.669 (open: the grid ends first)"
    assert open_interval_text([None, 1.25]) == "≤ 1.25 (open: the grid starts later)"
    assert open_interval_text([None, None]).startswith("the whole grid")
    assert open_interval_text([5.7, 5.9]) == "5.7–5.9"


# --- issue 22 #1: locks that cannot be hijacked ------------------------------------------


def test_a_symlink_planted_as_a_lock_file_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    p = tmp_path / "x.h5"
    lock = lock_file(p)  # its name can be computed in advance: plant a link there
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    try:
        with pytest.raises(OSError, match=rf"{lock.name}.*symbolic link"):
            cached(p, {"a": 1}, {}, lambda: {"y": np.zeros(2)})
    finally:
        lock.unlink()
    assert victim.read_text() == "precious" and not p.exists()


def test_locks_live_in_the_checkouts_private_build_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    lock = lock_file(tmp_path / "elsewhere" / "x.h5")
    assert lock.parent == tmp_path / "build" / "locks"
    with locked(lock):
        assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    (tmp_path / "build" / "locks").rename(tmp_path / "old")
    (tmp_path / "other").mkdir()
    (tmp_path / "build" / "locks").symlink_to(tmp_path / "other")  # a redirected folder
    with pytest.raises(OSError, match=r"locks.*symbolic link"), locked(lock_file("y.h5")):
        pass
    assert list((tmp_path / "other").iterdir()) == []
