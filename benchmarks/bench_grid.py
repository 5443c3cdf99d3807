"""Time `orbitnet grid`: libraries per minute on 1 and 2 workers, peak memory per worker, a
5 x 5 grid on a LocalCluster and the same grid through `--scheduler` (a separately started
`dask scheduler` and two `dask worker` processes).

    .venv/bin/python benchmarks/bench_grid.py [--orbits 6x5x4] [--n 5] [--skip-external]

Every run builds into a fresh folder (nothing cached). Libraries are the tutorial size by
default (6 x 5 x 4: 360 orbits), each with its 161-model χ²(M/L) sweep.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from orbitnet.data.galaxy import load_galaxy
from orbitnet.fit.grids import grid_sweeps

FREE = {"f-dh": (0.0, 1.5), "q-stars": (0.45, 0.54)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def local_run(galaxy, n_workers: int, n: int | dict, engine: dict, free=FREE):
    from distributed import Client

    from orbitnet.orblib.cluster import local_cluster

    with tempfile.TemporaryDirectory() as tmp, local_cluster(
            n_workers) as cluster, Client(cluster) as client:
        res = grid_sweeps(galaxy, free, n=n, out_dir=tmp, client=client, progress=False,
                          **engine)
        rss = client.run(_peak_rss_mb)
    return res, rss


def external_run(galaxy, n: int, engine: dict):
    """`dask scheduler` + 2 `dask worker` processes, started like a cluster user would."""
    dask = Path(sys.executable).with_name("dask")
    with tempfile.TemporaryDirectory() as tmp:
        sched_file = Path(tmp) / "scheduler.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        procs = [subprocess.Popen([str(dask), "scheduler", "--scheduler-file", str(sched_file),
                                   "--no-dashboard", "--port", "0"], env=env,
                                  stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)]
        while not sched_file.is_file():
            time.sleep(0.2)
        import json

        address = json.loads(sched_file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen(
                [str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                 "--no-dashboard"], env=env, stderr=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL))
        from distributed import Client

        try:
            with Client(address) as c:
                c.wait_for_workers(2, timeout=120)
            t0 = time.perf_counter()
            res = grid_sweeps(galaxy, FREE, n=n, out_dir=Path(tmp) / "grid",
                              scheduler=address, progress=False, **engine)
            wall = time.perf_counter() - t0
        finally:
            for p in procs[::-1]:
                p.terminate()
                p.wait(30)
    return res, wall, address


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orbits", default="6x5x4")
    ap.add_argument("--n", type=int, default=5, help="points per parameter of the big grid")
    ap.add_argument("--scaling-points", type=int, default=6)
    ap.add_argument("--skip-external", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    args = ap.parse_args()
    n_e, n_i2, n_i3 = (int(x) for x in args.orbits.split("x"))
    engine = {"n_e": n_e, "n_i2": n_i2, "n_i3": n_i3}
    galaxy = load_galaxy()
    print(f"libraries {args.orbits} ({3 * n_e * n_i2 * n_i3} orbits) + 161-model sweep each; "
          f"load average {os.getloadavg()}")
    rates = {}
    for workers in () if args.skip_scaling else (1, 2):
        res, rss = local_run(galaxy, workers, {"f-dh": args.scaling_points},
                             engine, free={"f-dh": (0.0, 1.5)})
        rate = len(res.points) / res.wall_seconds * 60
        rates[workers] = rate
        lib_s = np.median(res.library_seconds)
        sweep_s = np.median([s["analysis"]["sweep_seconds"] for s in res.summaries])
        print(f"{workers} worker(s): {len(res.points)} points in {res.wall_seconds:.1f} s = "
              f"{rate:.2f} libraries/min; median library {lib_s:.1f} s, sweep {sweep_s:.1f} s; "
              f"peak RSS per worker {', '.join(f'{v:.0f}' for v in rss.values())} MB")
    if rates:
        print(f"scaling 1 -> 2 workers: {rates[2] / rates[1]:.2f}x "
              f"(efficiency {rates[2] / rates[1] / 2:.0%}); load average {os.getloadavg()}")
    res, rss = local_run(galaxy, 2, args.n, engine)
    print(f"{args.n}x{args.n} grid, LocalCluster 2 workers: {res.wall_seconds:.1f} s "
          f"({len(res.points) / res.wall_seconds * 60:.2f} libraries/min); ml_best range "
          f"{min(res.to_dict()['ml_best']):.2f}-{max(res.to_dict()['ml_best']):.2f}; "
          f"load average {os.getloadavg()}")
    if not args.skip_external:
        ext, wall, address = external_run(galaxy, args.n, engine)
        same = ([s["content_sha256"] for s in ext.summaries]
                == [s["content_sha256"] for s in res.summaries])
        print(f"{args.n}x{args.n} grid, --scheduler {address} (dask scheduler + 2 dask worker): "
              f"{wall:.1f} s; libraries bit-identical to the LocalCluster run: {same}; "
              f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
