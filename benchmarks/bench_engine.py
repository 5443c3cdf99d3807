"""Time the embedded orbit-library engine and compare its library with DYNAMITE's run.

    .venv/bin/python benchmarks/bench_engine.py [--threads N] [--skip-large] [--seeds 4242 ...]
    .venv/bin/python benchmarks/bench_engine.py --speed [--start-space smooth] [--threads N]

Builds the 6x5x4 library (360 orbits) and a 10x7x5 library (1050 orbits), reports wall
times, energy conservation, start conditions against DYNAMITE's begin.dat/beginbox.dat,
per-orbit observables against reference.h5, and the kinchi2-vs-M/L minimum against DYNAMITE's.

``--speed`` instead times the library sizes of the orbit-count ladder (issue 23): 6x5x4
(360 orbits), 10x7x5 (1050), 14x10x7 (2940), and 6x5x4 with dithering 2 and 3, each once
after a warm-up build (kernels loaded), and prints wall and CPU seconds per library and ms per
library orbit and per integrated orbit (tubes and boxes of every dithered sub-orbit), with the
load average before and after (the cores may be shared).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from orbitnet.data import paths
from orbitnet.orblib.engine import build_library, save_library


def _minimum(ml: np.ndarray, chi2: np.ndarray) -> tuple[float, float]:
    i = int(np.argmin(chi2))
    lo, hi = max(i - 4, 0), min(i + 5, len(ml))
    c = np.polyfit(ml[lo:hi], chi2[lo:hi], 2)
    return float(ml[i]), float(-c[1] / (2 * c[0]))


def start_report(lib) -> None:
    datfil = paths.dynamite_run_dir() / "datfil"
    if not (datfil / "begin.dat").is_file():
        return
    tubes = np.loadtxt(datfil / "begin.dat", skiprows=1)
    boxes = np.loadtxt(datfil / "beginbox.dat", skiprows=1)
    meta = lib.meta
    b_in, b_out = np.array(meta["b_in_km"]), np.array(meta["b_out_km"])
    ts, bs = np.array(meta["tube_start"]), np.array(meta["box_start"])
    if ts.shape != tubes[:, 3:9].shape:
        return
    r = np.linalg.norm(tubes[:, 3:6], axis=1).reshape(b_in.shape + (-1,))
    dyn_b_in = (r[:, :, 0] - b_out * 0.1 / 3.2) / (1 - 0.1 / 3.2)
    rel_bin = np.abs(b_in / dyn_b_in - 1)
    pos = np.linalg.norm(ts[:, :3] - tubes[:, 3:6], axis=1) / np.linalg.norm(tubes[:, 3:6], axis=1)
    box = np.linalg.norm(bs[:, :3] - boxes[:, 3:6], axis=1) / np.linalg.norm(boxes[:, 3:6], axis=1)
    print("start space vs DYNAMITE begin.dat / beginbox.dat")
    print(f"  R_i: max rel {np.abs(np.repeat(10 ** np.linspace(-0.101275, 1.99123, 6), 20) * 5.977930912419636e15 / tubes[:, 9] - 1).max():.1e}")
    print(f"  thin-tube b_in: median |rel| {np.median(rel_bin):.1e}, max {rel_bin.max():.1e}")
    print(f"  tube launch points: median |dx|/r {np.median(pos):.1e}, max {pos.max():.1e}; "
          f"v_y max rel {np.abs(ts[:, 4] / tubes[:, 7] - 1).max():.1e}")
    print(f"  box start points: max |dx|/r {box.max():.1e}")
    print(f"  t_circ max rel {np.abs(np.array(meta['t_circ_s']) / tubes[::20, 10] - 1).max():.1e},"
          f" v_c max rel {np.abs(np.array(meta['v_c_km_s']) / tubes[::20, 11] - 1).max():.1e}")


def compare_reference(lib) -> None:
    h5 = paths.reference_h5()
    if not h5.is_file():
        return
    import h5py

    with h5py.File(h5) as f:
        ref = {k: f[k][()] for k in ("losvd", "intrinsic_mass", "aperture_mass", "orbit_type")}
    fov, rfov = lib.aperture_mass.sum(1), ref["aperture_mass"].sum(1)
    pat = 0.5 * np.abs(lib.aperture_mass / np.maximum(fov, 1e-300)[:, None]
                       - ref["aperture_mass"] / np.maximum(rfov, 1e-300)[:, None]).sum(1)
    intr = 0.5 * np.abs(lib.intrinsic_mass - ref["intrinsic_mass"]).sum(1)
    print("per-orbit observables vs DYNAMITE reference.h5 (same orbit order)")
    print(f"  in-FoV light fraction: median |rel| {np.median(np.abs(fov / rfov - 1)):.1e}, "
          f"max {np.abs(fov / rfov - 1).max():.3f}")
    print(f"  aperture pattern L1/2: tubes median {np.median(pat[lib.is_box == 0]):.4f}, "
          f"boxes median {np.median(pat[lib.is_box]):.4f}")
    print(f"  intrinsic L1/2: tubes median {np.median(intr[~lib.is_box]):.4f}, boxes median "
          f"{np.median(intr[lib.is_box]):.4f}")
    v = lib.vel_centres
    m, rm = lib.losvd.sum(1), ref["losvd"].sum(1)
    mv = (lib.losvd * v[None, :, None]).sum(1) / np.where(m > 0, m, 1)
    rv = (ref["losvd"] * v[None, :, None]).sum(1) / np.where(rm > 0, rm, 1)
    sel = (m > 1e-3) & (rm > 1e-3)
    print(f"  mean V per (orbit, bin): rms diff {np.sqrt(np.mean((mv - rv)[sel] ** 2)):.2f} km/s,"
          f" correlation {np.corrcoef(mv[sel], rv[sel])[0, 1]:.4f}")
    print(f"  legacy orbit types equal: {np.mean(lib.orbit_type == ref['orbit_type']):.3f}")


def aperture_light_check(lib) -> None:
    """Weights fitted to the intrinsic masses only -> aperture light vs mass_aper."""
    from scipy.optimize import nnls

    a = lib.intrinsic_mass.T / np.maximum(lib.intrinsic_mass_target, 1e-12)[:, None]
    w, _ = nnls(a, np.ones(a.shape[0]), maxiter=5000)
    rel = lib.aperture_mass.T @ w / lib.aperture_mass_target - 1
    print(f"  aperture light, weights fitted to intrinsic masses only: rms {np.sqrt(np.mean(rel**2)):.3f},"
          f" max {np.abs(rel).max():.3f}")


def kinchi2_minimum(lib, label: str) -> None:
    try:
        from orbitnet.data.galaxy import load_galaxy
        from orbitnet.fit.sweep import run_sweep
    except ImportError:
        print("  (orbitnet.fit.sweep not available: no kinchi2 validation)")
        return
    kin = load_galaxy().kinematics
    grid = np.round(np.arange(4.5, 7.5001, 0.05), 2)
    res = run_sweep(lib, kin, grid, progress=False)
    g, v = _minimum(grid, res.kinchi2)
    print(f"  kinchi2 minimum {label}: grid {g:.2f}, parabola vertex {v:.3f}, "
          f"kinchi2 {res.kinchi2.min():.1f}")


SPEED_SIZES = ((6, 5, 4, 1), (10, 7, 5, 1), (14, 10, 7, 1), (6, 5, 4, 2), (6, 5, 4, 3))


def speed_table(threads: int | None, start_space: str) -> None:
    """Wall and CPU time per library of the ladder's sizes (one build each, kernels loaded)."""
    import os

    build_library(progress=False, n_threads=threads, n_e=2, n_i2=2, n_i3=2, n_periods=2,
                  n_samples=100, n_cross=4, start_space=start_space)
    print(f"start_space={start_space}, load average before {os.getloadavg()}")
    print("| n_e x n_i2 x n_i3, dithering | orbits | integrations | wall s | CPU s | "
          "grid + start space s | ms per orbit | ms per integration | max abs dE/E |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ne, ni2, ni3, d in SPEED_SIZES:
        c0, t0 = time.process_time(), time.perf_counter()
        lib = build_library(progress=False, n_threads=threads, n_e=ne, n_i2=ni2, n_i3=ni3,
                            dithering=d, start_space=start_space)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t = lib.meta["timings"]
        n_int = 2 * ne * ni2 * ni3 * d**3
        print(f"| {ne} x {ni2} x {ni3}, {d} | {lib.n_orbits} | {n_int} | {wall:.1f} | "
              f"{cpu:.1f} | {t['potential_s']:.1f} + {t['start_space_s']:.1f} | "
              f"{1e3 * wall / lib.n_orbits:.1f} | {1e3 * wall / n_int:.1f} | "
              f"{lib.meta['max_abs_dE_over_E']:.1e} |", flush=True)
    print(f"load average after {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--seeds", type=int, nargs="*", default=[4242])
    ap.add_argument("--save", default=str(paths.BUILD / "engine" / "engine_6x5x4.h5"))
    ap.add_argument("--speed", action="store_true", help="time the ladder's library sizes")
    ap.add_argument("--start-space", default="dynamite", choices=("dynamite", "smooth"))
    args = ap.parse_args()
    if args.speed:
        speed_table(args.threads, args.start_space)
        return

    build_library(progress=False, n_threads=args.threads, n_e=2, n_i2=2, n_i3=2, n_periods=2,
                  n_samples=100, n_cross=4)  # load/compile the numba kernels
    for n, seed in enumerate(args.seeds):
        t0 = time.perf_counter()
        lib = build_library(progress=False, n_threads=args.threads, seed=seed)
        wall = time.perf_counter() - t0
        t = lib.meta["timings"]
        de = np.array(lib.meta["orbit_dE_over_E"])
        print(f"6x5x4 library (360 orbits, seed {seed}): wall {wall:.1f} s (potential grid "
              f"{t['potential_s']:.1f} s, start space {t['start_space_s']:.1f} s, orbits "
              f"{t['orbits_s']:.1f} s), {lib.meta['n_threads']} threads")
        print(f"  |dE/E| over 200 periods: max {de.max():.2e}, median {np.median(de):.2e}, "
              f"retries {lib.meta['n_retries']}, failed {lib.meta['n_failed']}")
        print(f"  raw classes (1 x-tube, 3 z-tube, 4 box): "
              f"{np.bincount(lib.meta['orbit_class_raw'], minlength=6)[1:].tolist()}")
        if n == 0:
            start_report(lib)
            compare_reference(lib)
            aperture_light_check(lib)
            if args.save:
                save_library(lib, args.save)
                print(f"  saved {args.save}")
        kinchi2_minimum(lib, f"engine seed {seed}")
    try:
        from orbitnet.orblib.dynamite import read_orblib

        kinchi2_minimum(read_orblib(paths.dynamite_run_dir()), "DYNAMITE")
    except (ImportError, OSError, ValueError) as exc:
        print(f"  (no DYNAMITE library: {exc})")
    if not args.skip_large:
        t0 = time.perf_counter()
        big = build_library(progress=False, n_threads=args.threads, n_e=10, n_i2=7, n_i3=5)
        wall = time.perf_counter() - t0
        t = big.meta["timings"]
        de = np.array(big.meta["orbit_dE_over_E"])
        print(f"10x7x5 library ({big.n_orbits} orbits): wall {wall:.1f} s (potential grid "
              f"{t['potential_s']:.1f} s, start space {t['start_space_s']:.1f} s, orbits "
              f"{t['orbits_s']:.1f} s); |dE/E| max {de.max():.2e}, median {np.median(de):.2e}")


if __name__ == "__main__":
    main()
