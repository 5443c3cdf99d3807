"""Orbit libraries over a grid of parameter points, built on a Dask cluster.

``design(space, ...)`` turns a :class:`~orbitnet.orblib.params.ParameterSpace` into points
(a regular grid, a Sobol or Latin-hypercube design from ``scipy.stats.qmc``, or an explicit
list). ``run_grid(...)`` builds the engine library of every point, and optionally an analysis
of it (the χ²(M/L) sweep of :mod:`orbitnet.fit.sweep`), as artifacts in one folder:

* ``library_<key>.h5`` and ``analysis_<key>_<akey>.h5``, written atomically; ``<key>`` is the
  SHA-256 of the engine configuration (the point's parameters included), the galaxy's input
  files and the engine's source code, ``<akey>`` that of the analysis settings;
* beside each a ``.json`` manifest (written last, atomically) with the file's SHA-256, its
  fingerprint and a summary. An artifact is trusted only when its manifest exists, the
  fingerprint matches and the checksum verifies; anything else is rebuilt. So an interrupted
  grid, run again, builds only what is missing, and a half-written file is never used.

Tasks run on a ``distributed.LocalCluster`` (one single-threaded worker process per core) or
on any running scheduler (``scheduler=`` or ``DASK_SCHEDULER_ADDRESS``). A worker that dies is
replaced and its task re-run by the scheduler; every library is deterministic (per-orbit
seeds, one numba and one BLAS thread per task), so the results do not depend on which worker
built what, or how many there were.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from orbitnet.orblib.cluster import (
    GridError,
    connect,
    quiet_cancel_bug,
    quiet_lost_scheduler,
)
from orbitnet.orblib.engine import EngineConfig, build_library, load_library, save_library
from orbitnet.orblib.engine.inputs import EngineInputs
from orbitnet.orblib.library import OrbitLibrary
from orbitnet.orblib.params import ParameterError, ParameterSpace
from orbitnet.store.artifacts import write_artifact, write_text_atomic
from orbitnet.store.code import code_version
from orbitnet.store.fingerprint import canonical_json, file_sha256, jsonable
from orbitnet.store.locks import lock_file, locked

DESIGNS = ("regular", "sobol", "lhs", "list")
ENGINE_DIR = Path(__file__).parent / "engine"
MIN_FREE_BYTES = 64 * 2**20  # free space a grid folder needs before a cluster starts


# ------------------------------------------------------------------------------ designs


def design(space: ParameterSpace, kind: str = "regular", n: int | Mapping[str, int] = 3,
           seed: int = 0, points: Sequence[Mapping[str, float]] | None = None
           ) -> list[dict[str, float]]:
    """Parameter points over the free parameters of ``space`` (configuration units).

    ``regular``: ``n`` values per free parameter (or ``{name: n}``), ends included;
    ``sobol`` / ``lhs``: ``n`` scrambled points from ``scipy.stats.qmc`` seeded by ``seed``;
    ``list``: the given ``points``. Every point is checked by ``space.check``.
    """
    if kind not in DESIGNS:
        raise GridError(f"design must be one of {DESIGNS}, got {kind!r}")
    free = space.free
    if kind == "list":
        if not points:
            raise GridError("empty design: the list of points is empty")
        out = [{str(k): float(v) for k, v in p.items()} for p in points]
    else:
        if not free:
            raise GridError("empty design: the parameter space has no free parameter "
                            "(M/L is rescaled, not gridded)")
        if kind == "regular":
            counts = {p.name: int(n[p.name] if isinstance(n, Mapping) else n) for p in free}
            if min(counts.values()) < 1:
                raise GridError(f"empty design: {counts} points per parameter")
            axes = [np.linspace(p.lo, p.hi, counts[p.name]) if counts[p.name] > 1
                    else np.array([0.5 * (p.lo + p.hi)]) for p in free]
            unit = list(itertools.product(*axes))
        else:
            if isinstance(n, Mapping) or int(n) < 1:
                raise GridError(f"empty design: a {kind} design needs n >= 1 points, got {n}")
            from scipy.stats import qmc

            sampler = (qmc.Sobol(len(free), scramble=True, seed=seed) if kind == "sobol"
                       else qmc.LatinHypercube(len(free), seed=seed))
            unit = qmc.scale(sampler.random(int(n)), [p.lo for p in free], [p.hi for p in free])
        out = [{p.name: float(np.round(v, 10)) for p, v in zip(free, row, strict=True)}
               for row in unit]
    for p in out:
        try:
            space.check(p)
        except ParameterError as exc:
            raise ParameterError(f"design point {p}: {exc}") from exc
    return out


def engine_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Engine settings for every library of a grid, checked before any work: each names an
    :class:`EngineConfig` field and has its kind (a whole number >= 1 where the default is
    one, ``seed`` >= 0; a finite number where it is a float; text where it is text), and the
    configuration's own checks pass. A :class:`GridError` names the first that does not."""
    from dataclasses import fields

    defaults = EngineConfig()
    known = {f.name: getattr(defaults, f.name) for f in fields(EngineConfig)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise GridError(f"the engine has no setting {name!r}; its settings: "
                            + ", ".join(sorted(known)))
        default, number = known[name], not isinstance(value, bool)
        if isinstance(default, int) and not isinstance(default, bool):
            if not (number and isinstance(value, int)):
                raise GridError(f"{name} is a whole number (int), got {value!r}")
            low = 0 if name == "seed" else 1
            if value < low:
                raise GridError(f"{name} must be >= {low}, got {value}")
        elif isinstance(default, float):
            if not (number and isinstance(value, (int, float)) and math.isfinite(value)):
                raise GridError(f"{name} is a finite number (float), got {value!r}")
            value = float(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise GridError(f"{name} is text (str), got {value!r}")
        out[name] = value
    try:
        replace(defaults, **out)  # the configuration's own checks
    except (TypeError, ValueError) as exc:
        raise GridError(str(exc)) from None
    return out


# ------------------------------------------------------------------------- artifacts


def engine_code_digest() -> str:
    """The engine's code version (:func:`orbitnet.store.code.code_version` of the modules that build
    a library, as for every cached library): a library made by other code is never reused."""
    from orbitnet.orblib.engine.store import ENGINE_CODE

    return code_version(*ENGINE_CODE)


def _digest(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def _manifest(path: Path) -> Path:
    return path.with_suffix(".json")


def write_manifest(path: Path, fingerprint: Mapping[str, Any], summary: Mapping[str, Any]
                   ) -> None:
    """Record the finished artifact ``path``: its checksum, fingerprint and summary."""
    write_text_atomic(_manifest(path), json.dumps(jsonable(
        {"file": path.name, "sha256": file_sha256(path), "fingerprint": fingerprint,
         "summary": summary}), indent=1, sort_keys=True))


def trusted(path: Path, fingerprint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The manifest of ``path`` when the artifact is complete, unchanged and made with
    ``fingerprint``; else None (it must be rebuilt)."""
    man = _manifest(path)
    if not (path.is_file() and man.is_file()):
        return None
    try:
        meta = json.loads(man.read_text())
    except (OSError, ValueError):
        return None
    if canonical_json(meta.get("fingerprint")) != canonical_json(fingerprint):
        return None
    if meta.get("sha256") != file_sha256(path):
        return None
    return meta


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class PointTask:
    """Everything one worker needs to make the artifacts of one point (picklable)."""

    index: int
    point: dict[str, float]
    config: EngineConfig
    inputs: EngineInputs
    input_hashes: dict[str, str]
    out_dir: str
    analysis: Any = None  # callable(OrbitLibrary) -> (datasets, summary), with .params()

    @property
    def fingerprint(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "inputs": self.input_hashes,
                "engine_code": engine_code_digest()}

    @property
    def key(self) -> str:
        return _digest(self.fingerprint)[:16]

    @property
    def library_path(self) -> Path:
        return Path(self.out_dir) / f"library_{self.key}.h5"

    def analysis_fingerprint(self) -> dict[str, Any]:
        return {"library": self.key, "analysis": self.analysis.params()}

    @property
    def analysis_path(self) -> Path:
        akey = _digest(self.analysis.params())[:8]
        return Path(self.out_dir) / f"analysis_{self.key}_{akey}.h5"


def library_content_digest(lib: OrbitLibrary) -> str:
    """SHA-256 of a library's arrays (equal digests: bit-identical libraries)."""
    h = hashlib.sha256()
    for name in ("losvd", "intrinsic_mass", "aperture_mass", "intrinsic_mass_target",
                 "aperture_mass_target", "orbit_type"):
        h.update(np.ascontiguousarray(getattr(lib, name)).tobytes())
    return h.hexdigest()


def build_point(task: PointTask) -> dict[str, Any]:
    """Make (or reuse) the library and analysis artifacts of one point; return its summary."""
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    out: dict[str, Any] = {"index": task.index, "point": task.point, "key": task.key,
                           "library": str(task.library_path), "worker_pid": os.getpid()}
    lib = None
    with threadpool_limits(1), locked(lock_file(task.library_path),
                                      what=f"building {task.library_path.name}"):
        meta = trusted(task.library_path, task.fingerprint)
        if meta is None or "library_cpu_seconds" not in meta["summary"]:
            c0 = time.process_time()
            lib = build_library(task.config, inputs=task.inputs, n_threads=1, progress=False)
            lib_summary = {"library_seconds": lib.meta["timings"]["total_s"],
                           "library_cpu_seconds": time.process_time() - c0,
                           "timings": lib.meta["timings"], "n_orbits": lib.n_orbits,
                           "n_failed": lib.meta["n_failed"],
                           "n_degraded": lib.meta["n_degraded"],
                           "max_abs_dE_over_E": lib.meta["max_abs_dE_over_E"],
                           "content_sha256": library_content_digest(lib)}
            save_library(lib, task.library_path)
            write_manifest(task.library_path, task.fingerprint, lib_summary)
            out["library_built"] = True
        else:
            lib_summary = meta["summary"]
            out["library_built"] = False
        out.update(lib_summary)
        if task.analysis is not None:
            afp = task.analysis_fingerprint()
            ameta = trusted(task.analysis_path, afp)
            if ameta is None:
                if lib is None:
                    lib = load_library(task.library_path)
                datasets, summary = task.analysis(lib)
                write_artifact(task.analysis_path, datasets, afp,
                               {"library": lib_summary["content_sha256"]})
                write_manifest(task.analysis_path, afp, summary)
                out["analysis_built"] = True
            else:
                summary = ameta["summary"]
                out["analysis_built"] = False
            out["analysis"] = summary
            out["analysis_file"] = str(task.analysis_path)
    out["task_seconds"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------- cluster


def warm_up(inputs: EngineInputs) -> float:
    """Load the engine's compiled kernels in this process (a tiny library); seconds taken.
    Run on every worker first, so that library timings measure building, not loading."""
    t0 = time.perf_counter()
    build_library(EngineConfig(n_e=1, n_i2=2, n_i3=1, n_periods=1.0, n_samples=10, n_cross=2),
                  inputs=inputs, n_threads=1, progress=False)
    return time.perf_counter() - t0



# ------------------------------------------------------------------------------- grid


@dataclass
class GridResult:
    """Summaries of every point, in design order, and how the grid ran."""

    points: list[dict[str, float]]
    summaries: list[dict[str, Any]]
    workers: int
    wall_seconds: float
    out_dir: Path
    scheduler: str = "local"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_built(self) -> int:
        return sum(bool(s.get("library_built")) for s in self.summaries)

    @property
    def library_seconds(self) -> list[float]:
        return [float(s["library_seconds"]) for s in self.summaries]

    def to_dict(self) -> dict[str, Any]:
        out = {"points": self.points, "workers": self.workers,
               "wall_seconds": self.wall_seconds, "scheduler": self.scheduler,
               "library_seconds_median": float(np.median(self.library_seconds)),
               "libraries_built": self.n_built, "keys": [s["key"] for s in self.summaries]}
        if self.summaries and "analysis" in self.summaries[0]:
            for name in self.summaries[0]["analysis"]:
                vals = [s["analysis"][name] for s in self.summaries]
                if all(isinstance(v, (int, float)) for v in vals):
                    out[name] = vals
        return out


def point_configs(space: ParameterSpace, points: Sequence[Mapping[str, float]],
                  base: EngineConfig) -> list[EngineConfig]:
    """The engine configuration of each point: ``base`` with the point's parameters."""
    return [replace(base, **space.engine_overrides(p)) for p in points]


def check_out_dir(out_dir: Path | str) -> Path:
    """``out_dir``, created, once a file could be written there: a read-only or otherwise
    unwritable folder is a :class:`GridError` naming it before a cluster starts (not a failure
    of every point after its library was built)."""
    out = Path(out_dir)
    probe = out / f".write-test-{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"0" * 4096)
        finally:
            os.close(fd)
            probe.unlink()
        free = shutil.disk_usage(out).free
    except OSError as exc:
        raise GridError(f"cannot write the grid folder {out} ({exc.strerror or exc}): "
                        "choose another with --out") from None
    if free < MIN_FREE_BYTES:
        raise GridError(f"the grid folder {out} has only {free / 2**20:.0f} MiB free, a grid "
                        f"needs {MIN_FREE_BYTES / 2**20:.0f} MiB: choose another with --out")
    return out


def run_grid(space: ParameterSpace, points: Sequence[Mapping[str, float]], base: EngineConfig,
             inputs: EngineInputs, input_hashes: Mapping[str, str], out_dir: Path | str,
             analysis: Callable | None = None, scheduler: str | None = None,
             n_workers: int | None = None, connect_timeout: float = 10.0,
             progress: bool = True, client=None) -> GridResult:
    """Build the library (and ``analysis``) of every point on a Dask cluster; see the module
    docstring. Points that already have trusted artifacts are only read."""
    if not points:
        raise GridError("empty design: no points to build")
    return run_configs(points, point_configs(space, points, base), inputs, input_hashes,
                       out_dir, analysis=analysis, scheduler=scheduler, n_workers=n_workers,
                       connect_timeout=connect_timeout, progress=progress, client=client)


def run_configs(points: Sequence[Mapping[str, float]], configs: Sequence[EngineConfig],
                inputs: EngineInputs, input_hashes: Mapping[str, str], out_dir: Path | str,
                analysis: Callable | None = None, scheduler: str | None = None,
                n_workers: int | None = None, connect_timeout: float = 10.0,
                progress: bool = True, client=None, desc: str = "grid") -> GridResult:
    """:func:`run_grid` for explicit engine configurations (one per point, e.g. the same
    point with several seeds or library sizes); ``points`` label them in the results."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    if not points or len(points) != len(configs):
        raise GridError(f"need one engine configuration per point, got {len(points)} points "
                        f"and {len(configs)} configurations")
    out_dir = check_out_dir(out_dir)
    tasks = [PointTask(i, dict(p), c, inputs, dict(input_hashes), str(out_dir), analysis)
             for i, (p, c) in enumerate(zip(points, configs, strict=True))]
    t0 = time.perf_counter()
    quiet_cancel_bug()
    own = client is None
    cluster = None
    if own:
        client, cluster = connect(scheduler, n_workers, connect_timeout)
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=desc, unit="library", disable=not progress)
    futures = []
    try:
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        if cluster is not None:  # our own workers write to our stderr
            client.run(quiet_lost_scheduler)
        client.run(warm_up, inputs)
        futures = client.map(build_point, tasks, key=[f"point-{t.index}-{t.key}"
                                                      for t in tasks])
        failed = []
        for fut in as_completed(futures):
            try:
                res = fut.result()
            except Exception as exc:  # a point that cannot be built: report it, go on
                i = futures.index(fut)
                failed.append(f"point {i} {tasks[i].point}: {type(exc).__name__}: {exc}")
                bar.update()
                continue
            results[res["index"]] = res
            bar.update()
        if failed:
            raise GridError(f"{len(failed)} of {len(tasks)} grid points failed (the others "
                            "are stored and a re-run reuses them):\n" + "\n".join(failed))
        address = "local" if cluster is not None else str(client.scheduler.address)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        bar.close()
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    res = GridResult(points=[dict(p) for p in points], summaries=results, workers=workers,
                     wall_seconds=time.perf_counter() - t0, out_dir=out_dir, scheduler=address)
    name = f"grid_{_digest([s['key'] for s in results])[:8]}.json"
    res.extra["record"] = str(write_text_atomic(out_dir / name, json.dumps(
        jsonable({**res.to_dict(), "summaries": results}), indent=1)))
    return res
