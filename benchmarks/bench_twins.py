"""How much a lattice library's χ² moves when nothing physical changes (Chapter 9's noise).

    .venv/bin/python benchmarks/bench_twins.py [--point 1.25 0.46] [--offsets 0 1e-12 -1e-12 1e-10]
                                               [--orbits 6x5x4] [--start-space dynamite]

Builds the library of one (log10 f, q) node, as Chapter 9's full profile does (its M/L grid), with log10 f moved by each offset (a "twin": the same potential to many
digits, other floating-point rounding), in this process on two numba threads and once more on
one thread, and prints each library's content digest, minimum χ² and best M/L. Equal digests
across thread counts show that a build is deterministic; the spread over twins is the part of
the χ² that is rounding, not physics.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    import numpy as np

    from orbitnet.book.registry import get_chapter
    from orbitnet.data.galaxy import load_galaxy
    from orbitnet.fit.grids import LibrarySweep
    from orbitnet.fit.lattice import Point, point_config
    from orbitnet.fit.sweep import ml_grid
    from orbitnet.orblib.engine import build_library
    from orbitnet.orblib.engine.inputs import from_galaxy
    from orbitnet.orblib.grid import library_content_digest

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--point", type=float, nargs=2, default=[1.25, 0.46])
    ap.add_argument("--offsets", type=float, nargs="+", default=[0.0, 1e-12, -1e-12, 1e-10])
    ap.add_argument("--orbits", default="6x5x4")
    ap.add_argument("--start-space", default=None)
    args = ap.parse_args()
    n_e, n_i2, n_i3 = (int(x) for x in args.orbits.split("x"))
    gal = load_galaxy()
    inputs = from_galaxy(gal)
    d = get_chapter("09_beyond_ml").defaults  # the full profile's M/L grid
    sweep = LibrarySweep.for_galaxy(gal, ml_grid(d["ml_start"], d["ml_stop"], d["ml_step"]),
                                    None, solver="scipy")
    engine = {"n_e": n_e, "n_i2": n_i2, "n_i3": n_i3}
    if args.start_space:
        engine["start_space"] = args.start_space
    print(f"node {args.point}, {args.orbits}; load average {os.getloadavg()}")
    chi2 = []
    for k, off in enumerate(args.offsets):
        cfg = point_config(gal, Point(args.point[0] + off, args.point[1]), engine)
        digests = []
        for threads in ((2, 1) if k == 0 else (2,)):
            c0 = time.process_time()
            lib = build_library(cfg, inputs=inputs, n_threads=threads, progress=False)
            digests.append(library_content_digest(lib)[:16])
        data, _ = sweep(lib)
        i = int(np.argmin(data["kinchi2"]))
        chi2.append(float(data["kinchi2"][i]))
        print(f"log f {args.point[0]} {off:+.0e}: digest {' = '.join(digests)}, min χ² "
              f"{chi2[-1]:.1f} at M/L {data['ml'][i]:.2f} ({time.process_time() - c0:.0f} CPU-s)")
    print(f"spread over twins: std {np.std(chi2, ddof=1):.1f}, range {np.ptp(chi2):.1f}")


if __name__ == "__main__":
    main()
