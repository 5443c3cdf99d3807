"""Train Chapter 6's networks in the kernel or in worker processes: wall time and memory.

    .venv/bin/python benchmarks/bench_networks.py [--networks 8] [--k 8] [--steps 150]

Trains ``--networks`` fast-recipe emulators (offsets 0, 1, ... of every ``k``-th model,
``--steps`` gradient steps each, into a temporary folder, nothing cached) on the book's cube
(``make data`` and Chapter 2 first), once one after another in this process and once with
:func:`orbitnet.emulators.cache.train_in_processes` on two worker processes, each in a fresh
interpreter; prints wall seconds and the peak resident memory of the process and of its
largest child.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, tempfile, time
from dataclasses import replace
from pathlib import Path

def main():
    from orbitnet.emulators.cache import train_in_processes, train_or_load
    from orbitnet.fit import cube
    from orbitnet.studies import sparse

    a = json.loads(sys.argv[1])
    opened = cube.open_inputs()
    orbit_models, problem = opened.orbit_models, opened.problem
    tmp = Path(tempfile.mkdtemp())
    jobs = [replace(sparse.network_job("dcnn", orbit_models.ml.size, a["k"], o, 0, a["steps"]),
                    out_dir=tmp / f"o{o}") for o in range(a["networks"])]
    t0 = time.perf_counter()
    if a["mode"] == "kernel":
        for j in jobs:
            train_or_load(orbit_models, problem, progress=False, **j.kwargs())
    else:
        train_in_processes(orbit_models, problem, jobs, n_jobs=2, progress=False)
    mb = lambda who: resource.getrusage(who).ru_maxrss / 1024
    print(json.dumps({"mode": a["mode"], "wall_s": time.perf_counter() - t0,
                      "peak_self_mb": mb(resource.RUSAGE_SELF),
                      "peak_child_mb": mb(resource.RUSAGE_CHILDREN)}))

if __name__ == "__main__":
    main()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=8)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()
    for mode in ("processes", "kernel"):
        arg = json.dumps({"mode": mode, "networks": args.networks, "k": args.k,
                          "steps": args.steps})
        out = subprocess.run([sys.executable, "-c", CHILD, arg], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{mode:9s} {args.networks} networks: {r['wall_s']:.1f} s, peak "
              f"{r['peak_self_mb']:.0f} MB (largest child {r['peak_child_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
