import json

import h5py
import numpy as np
import pytest

from orbitnet import store


def test_write_read_provenance(tmp_path):
    p = tmp_path / "a" / "x.h5"
    params = {"ml": [1.0, 2.0], "seed": 0}
    inputs = {"f": "abc"}
    store.write_artifact(p, {"gh": np.ones((2, 3)), "grp/y": np.arange(3)}, params, inputs)
    data = store.read_artifact(p)
    assert np.array_equal(data["gh"], np.ones((2, 3))) and np.array_equal(data["grp/y"], [0, 1, 2])
    attrs = store.read_attrs(p)
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

    store.cached(p, {"a": 1}, {"f": "h"}, compute)
    store.cached(p, {"a": 1}, {"f": "h"}, compute)
    assert len(calls) == 1
    store.cached(p, {"a": 2}, {"f": "h"}, compute)  # new parameter
    store.cached(p, {"a": 2}, {"f": "h2"}, compute)  # new input hash
    assert len(calls) == 3


def test_corrupt_artifact_is_recomputed(tmp_path, capfd):
    p = tmp_path / "x.h5"
    store.cached(p, {"a": 1}, {}, lambda: {"y": np.zeros(3)})
    p.write_bytes(p.read_bytes()[:100])  # truncate
    out = store.cached(p, {"a": 1}, {}, lambda: {"y": np.ones(3)})
    assert "x.h5 is unreadable" in capfd.readouterr().err
    assert np.array_equal(out["y"], np.ones(3))
    with h5py.File(p) as h5:
        assert np.array_equal(h5["y"][()], np.ones(3))


def test_interrupted_write_leaves_old_file(tmp_path):
    p = tmp_path / "x.h5"
    store.write_artifact(p, {"y": np.zeros(2)}, {}, {})

    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        store.write_artifact(p, {"y": np.ones(2), "z": Boom()}, {}, {})
    assert np.array_equal(store.read_artifact(p)["y"], np.zeros(2))
    assert [f.name for f in tmp_path.iterdir()] == ["x.h5"]


def test_input_hashes(inputs_dir):
    h = store.input_hashes([inputs_dir / "bins.dat"])
    assert list(h.values()) == ["149c50e9db1c15150157582432d805d66a72f4234c53768b4d352fc68b4b7c2c"]


def test_results_roundtrip_and_format(tmp_path, monkeypatch):
    monkeypatch.setattr(store.paths, "RESULTS", tmp_path)
    out = store.write_results("99_test", {"a": np.float64(1.5), "b": {"c": np.arange(2)}})
    assert {k: v for k, v in out.items() if k != "provenance"} == {"a": 1.5, "b": {"c": [0, 1]}}
    assert store.load_results("99_test") == out
    assert store.flatten({"a": 1.5, "b": {"c": [0, 1]}}) == {"a": 1.5, "b.c": [0, 1]}
    assert store.format_number(1.624875e10) == "1.625 × 10¹⁰"
    assert store.format_number(34.8712) == "34.87"
    with pytest.raises(FileNotFoundError, match="orbitnet chapter 98_missing"):
        store.load_results("98_missing")
