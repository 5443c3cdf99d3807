"""Where Chapter 9's lattice jitter comes from, and what the smooth start space does to it.

    .venv/bin/python benchmarks/bench_start_space.py [--start-space dynamite|smooth]
        [--log-f 0.5 0.75 ...] [--q 0.38 0.42 ...] [--workers N] [--json out.json]

Builds (or loads from the cache under build/artifacts/<galaxy>/lattice/) the 360-orbit
libraries of Chapter 9's 5 x 5 truth lattice with its full-profile M/L grid (2.5 ... 8.5 by
0.1) through the same Dask grid as the chapter, prints the chapter's own
``studies.beyond_ml.jitter`` (median
|second difference| / 2 of min-over-M/L kinchi2 along log f and along q), and for every
lattice edge (two neighbouring libraries):

* ``dchi2``: the change of min-over-M/L kinchi2;
* ``flip``: sub-orbits whose raw orbit class (1 x-tube, 3 z-tube, 4 box, 5 other) differs;
* ``fail`` / ``degr``: excluded / degraded integrations (sum over both libraries);
* ``bin``: max over (E, I2) of |change of b_in / b_out| (the thin-tube fraction; a smooth
  start space changes it by about as much as ``bout``, the change of b_out / R_i);
* ``tc``: max over E of |change of ln(r_t / R_i)| (the time-scale radius, in units of the
  energy's radius) and ``tcirc`` the max |change of ln t_circ|;
* ``moved``: library orbits whose aperture light pattern moved by L1/2 > 0.1, of those how
  many are boxes, and how many have a flipped sub-orbit (``moved/boxes/flipped``).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from orbitnet.book.registry import get_chapter
from orbitnet.data.galaxy import load_galaxy
from orbitnet.fit.lattice import lattice_points, point_results
from orbitnet.fit.sweep import ml_grid
from orbitnet.orblib.engine import load_library
from orbitnet.studies.beyond_ml import Lattice, jitter

LOG_F = [0.5, 0.75, 1.0, 1.25, 1.5]
Q = [0.38, 0.42, 0.46, 0.50, 0.54]


def library_summary(path: str) -> dict:
    """What the edge table needs from one library file (not its 100 MB LOSVD cube)."""
    lib = load_library(path)
    m = lib.meta
    fov = lib.aperture_mass.sum(1)
    n_tube = 2 * (lib.n_orbits // 3)
    sub_lib = _sub_to_library(m)
    return {
        "radii": _radii(m),
        "b_in": np.array(m["b_in_km"]), "b_out": np.array(m["b_out_km"]),
        "t_circ": np.array(m["t_circ_s"]),
        "cls": np.array(m["orbit_class_raw"]), "status": np.array(m["orbit_status"]),
        "de": np.array(m["orbit_dE_over_E"]), "energy_tol": m["config"]["energy_tol"],
        "pattern": lib.aperture_mass[:n_tube:2] / np.maximum(fov[:n_tube:2], 1e-300)[:, None],
        "pattern_box": lib.aperture_mass[n_tube:] / np.maximum(fov[n_tube:], 1e-300)[:, None],
        "sub_lib": sub_lib,
    }


def _radii(meta: dict) -> np.ndarray:
    """R_i of the (dithered) energies from the configuration (the start-space radii)."""
    c = meta["config"]
    ne = c["n_e"] * c["dithering"]
    from orbitnet.orblib.engine.mass import arcsec_km

    lf = np.log10(arcsec_km(c["distance_mpc"]))
    lmin, lmax = c["logrmin"] + lf, c["logrmax"] + lf
    return 10.0 ** (lmin + (lmax - lmin) * np.arange(ne) / max(ne - 1, 1))


def _sub_to_library(meta: dict) -> np.ndarray:
    """Library orbit (0 .. 2 n_lib - 1: tubes, then boxes) of every sub-orbit."""
    c = meta["config"]
    d, ni2, ni3 = c["dithering"], c["n_i2"], c["n_i3"]
    n_lib = c["n_e"] * ni2 * ni3
    ne, nj, nk = c["n_e"] * d, ni2 * d, ni3 * d
    idx = np.array([(i, j, k) for i in range(ne) for j in range(nj) for k in range(nk)])
    lib = ((idx[:, 0] // d) * ni2 + idx[:, 1] // d) * ni3 + idx[:, 2] // d
    return np.r_[lib, lib + n_lib]


def edge(a: dict, b: dict) -> dict:
    """The table row of two neighbouring libraries."""
    flip = a["cls"] != b["cls"]
    ok = (a["status"] == 0) & (b["status"] == 0)
    degr = ((a["status"] == 0) & (a["de"] >= a["energy_tol"])).sum() + (
        (b["status"] == 0) & (b["de"] >= b["energy_tol"])).sum()
    frac_a, frac_b = a["b_in"] / a["b_out"], b["b_in"] / b["b_out"]
    out_a, out_b = a["b_out"] / a["radii"][:, None], b["b_out"] / b["radii"][:, None]
    rt_a, rt_b = a["b_in"][:, -1] / a["radii"], b["b_in"][:, -1] / b["radii"]
    pat = np.vstack([a["pattern"], a["pattern_box"]]), np.vstack([b["pattern"],
                                                                  b["pattern_box"]])
    moved = 0.5 * np.abs(pat[0] - pat[1]).sum(1) > 0.1
    flipped_lib = np.zeros(moved.size, bool)
    flipped_lib[np.unique(a["sub_lib"][flip & ok])] = True
    return {
        "flip": int((flip & ok).sum()),
        "flip_kinds": sorted({f"{x}>{y}" for x, y in zip(a["cls"][flip & ok],
                                                          b["cls"][flip & ok], strict=True)}),
        "fail": int((a["status"] != 0).sum() + (b["status"] != 0).sum()),
        "degr": int(degr),
        "bin": float(np.abs(frac_b - frac_a).max()),
        "bout": float(np.abs(out_b - out_a).max()),
        "tc": float(np.abs(np.log(rt_b / rt_a)).max()),
        "tcirc": float(np.abs(np.log(b["t_circ"] / a["t_circ"])).max()),
        "moved": int(moved.sum()),
        "moved_boxes": int(moved[len(a["pattern"]):].sum()),
        "moved_flipped": int((moved & flipped_lib).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start-space", default="dynamite")
    ap.add_argument("--log-f", type=float, nargs="+", default=LOG_F)
    ap.add_argument("--q", type=float, nargs="+", default=Q)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--json", default=None, help="write the table and jitter here")
    args = ap.parse_args()
    gal = load_galaxy()
    engine = {} if args.start_space == "dynamite" else {"start_space": args.start_space}
    pts = lattice_points(args.log_f, args.q)
    d = get_chapter("09_beyond_ml").defaults  # Chapter 9's full-profile grids
    res, grid = point_results(gal, pts, ml_grid(d["ml_start"], d["ml_stop"], d["ml_step"]),
                              ml_grid(d["ml_cube_start"], d["ml_cube_stop"], d["ml_cube_step"]),
                              [engine] * len(pts), n_workers=args.workers, progress=False)
    nf, nq = len(args.log_f), len(args.q)
    c = np.array([r.chi2_min for r in res]).reshape(nf, nq)
    jit = jitter(Lattice(np.asarray(args.log_f), np.asarray(args.q), res))
    cpu = sum(s["library_seconds"] for s in grid.summaries)
    print(f"start_space={args.start_space}: {len(pts)} libraries ({grid.n_built} built, "
          f"{grid.workers} workers, {grid.wall_seconds:.0f} s wall, library CPU {cpu:.0f} s)")
    print(f"jitter (median |2nd difference| / 2 of min kinchi2): log_f {jit['log_f']:.1f}, "
          f"q {jit['q']:.1f}")
    print("min kinchi2 (rows log f, columns q):")
    for a, row in zip(args.log_f, c, strict=True):
        print(f"  {a:5.2f} " + " ".join(f"{v:8.1f}" for v in row))
    summ = [library_summary(s["library"]) for s in grid.summaries]
    rows = []
    for i in range(nf):
        for j in range(nq):
            for di, dj, axis in ((1, 0, "log_f"), (0, 1, "q")):
                if i + di >= nf or j + dj >= nq:
                    continue
                a, b = i * nq + j, (i + di) * nq + j + dj
                row = {"axis": axis, "from": [args.log_f[i], args.q[j]],
                       "to": [args.log_f[i + di], args.q[j + dj]],
                       "dchi2": float(c.flat[b] - c.flat[a]), **edge(summ[a], summ[b])}
                rows.append(row)
    head = (f"{'axis':5} {'from':>12} {'to':>12} {'dchi2':>8} {'flip':>4} {'fail':>4} "
            f"{'degr':>4} {'bin':>6} {'bout':>6} {'tc':>6} {'tcirc':>6} {'moved':>11}  kinds")
    print(head)
    for r in rows:
        print(f"{r['axis']:5} {r['from'][0]:5.2f},{r['from'][1]:.2f} {r['to'][0]:5.2f},"
              f"{r['to'][1]:.2f} {r['dchi2']:8.1f} {r['flip']:4d} {r['fail']:4d} "
              f"{r['degr']:4d} {r['bin']:6.3f} {r['bout']:6.3f} {r['tc']:6.3f} "
              f"{r['tcirc']:6.3f} {r['moved']:3d}/{r['moved_boxes']:3d}/{r['moved_flipped']:<3d} "
              f"{','.join(r['flip_kinds'])}")
    for key in ("flip", "fail", "degr", "bin", "bout", "tc", "tcirc", "moved", "moved_boxes"):
        vals = np.array([r[key] for r in rows], float)
        big = np.array([abs(r["dchi2"]) for r in rows])
        corr = np.corrcoef(vals, big)[0, 1] if vals.std() > 0 else float("nan")
        print(f"  {key:6}: median {np.median(vals):.3g}, max {vals.max():.3g}; "
              f"correlation with |dchi2| {corr:+.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"start_space": args.start_space, "jitter": jit, "chi2_min": c.tolist(),
                       "edges": rows, "library_cpu_s": cpu,
                       "wall_s": grid.wall_seconds}, fh, indent=1)


if __name__ == "__main__":
    main()
