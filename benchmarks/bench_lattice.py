"""Time Chapter 9's truth lattice through the Dask grid on 1 and 2 workers.

    .venv/bin/python benchmarks/bench_lattice.py [--log-f 0.5 1.0 1.5] [--q 0.46 0.50 0.54]
                                                 [--orbits 6x5x4] [--workers 1 2]

Each run builds every library and its sweep (Chapter 9's full profile: M/L 2.5 ... 8.5 step
0.1, GH cubes 3 ... 8 step 0.25) into a fresh book root (nothing cached), exactly as
``orbitnet.fit.lattice.build_lattice`` does in the chapter, and prints the wall time, the median
library and sweep CPU seconds and whether the libraries are bit-identical across worker counts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys
from orbitnet.book.registry import get_chapter
from orbitnet.data.galaxy import load_galaxy
from orbitnet.fit.sweep import ml_grid
from orbitnet.fit.lattice import build_lattice
from orbitnet.studies import beyond_ml
a = json.loads(sys.argv[1])
d = get_chapter("09_beyond_ml").defaults  # the full profile's grids
gal = load_galaxy()
engine = beyond_ml.engine_overrides(gal, n_e=a["n"][0], n_i2=a["n"][1], n_i3=a["n"][2])
lat = build_lattice(gal, a["log_f"], a["q"], ml_grid(d["ml_start"], d["ml_stop"], d["ml_step"]),
                    ml_grid(d["ml_cube_start"], d["ml_cube_stop"], d["ml_cube_step"]),
                    engine=engine, n_workers=a["workers"], progress=False)
print(json.dumps({"grid": lat.grid, "keys": [r.meta["key"] for r in lat.results],
                  "digests": [r.meta["content_sha256"] for r in lat.results],
                  "library_s": [r.library_seconds for r in lat.results],
                  "sweep_s": [r.sweep_seconds for r in lat.results],
                  "chi2_min": [r.chi2_min for r in lat.results]}))
"""


def main() -> None:
    import json

    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--log-f", type=float, nargs="+", default=[0.5, 1.0, 1.5])
    ap.add_argument("--q", type=float, nargs="+", default=[0.46, 0.50, 0.54])
    ap.add_argument("--orbits", default="6x5x4")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    n = [int(x) for x in args.orbits.split("x")]
    repo = Path(__file__).resolve().parents[1]
    print(f"lattice {len(args.log_f)} x {len(args.q)}, libraries {args.orbits}; "
          f"load average {os.getloadavg()}")
    runs = {}
    for w in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name in ("_config.yml", "pyproject.toml"):
                (root / name).symlink_to(repo / name)
            (root / "data").mkdir()
            (root / "data" / "ngc6278").symlink_to((repo / "data" / "ngc6278").resolve())
            env = {**os.environ, "ORBITNET_ROOT": str(root)}
            arg = json.dumps({"n": n, "log_f": args.log_f, "q": args.q, "workers": w})
            out = subprocess.run([sys.executable, "-c", CHILD, arg], env=env, cwd=root,
                                 capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
        runs[w] = res
        g = res["grid"]
        print(f"{w} worker(s): {len(res['keys'])} libraries in {g['wall_seconds']:.1f} s "
              f"({g['libraries_built']} built); median library {np.median(res['library_s']):.1f} "
              f"CPU-s, "
              f"sweep {np.median(res['sweep_s']):.1f} CPU-s; load average {os.getloadavg()}")
    if len(runs) > 1:
        first, *rest = runs.values()
        same = all(r["digests"] == first["digests"] and r["chi2_min"] == first["chi2_min"]
                   for r in rest)
        w = sorted(runs)
        print(f"speed-up {w[0]} -> {w[-1]} workers: "
              f"{runs[w[0]]['grid']['wall_seconds'] / runs[w[-1]]['grid']['wall_seconds']:.2f}x;"
              f" bit-identical libraries and χ² on every node: {same}")


if __name__ == "__main__":
    main()
