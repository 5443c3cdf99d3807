"""Time the DCNN emulator: seconds per epoch per coefficient for both recipes, and prediction.

Run: ``.venv/bin/python benchmarks/bench_dcnn.py [--epochs 5] [--layered] [--no-readme]``.

Uses the orbit-model cube ``build/artifacts/ngc6278/orbit_models.h5`` (datasets ``ml``, ``gh``)
if present, else random data of the same shape (161, 360, 152, 4). Trains coefficient h1 for
``--epochs`` epochs with each recipe (the cost per epoch is the same for every coefficient),
reports the fastest and median epoch time after the first (compiling) one, then times a
prediction of all 161 images. Appends (or replaces) a "DCNN" section at the end of
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from orbitnet.data import paths  # noqa: E402
from orbitnet.emulators import Emulator, Normaliser, build_dcnn, get_recipe  # noqa: E402
from orbitnet.emulators.training import fit_coefficient  # noqa: E402

CUBE = paths.artifacts_dir() / "orbit_models.h5"
README = Path(__file__).resolve().parent / "README.md"
HEADER = "## DCNN"


def load_cube() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """M/L, GH cube and per-bin errors (n_bins, 4): the real cube or random stand-ins."""
    import h5py

    if CUBE.is_file():
        with h5py.File(CUBE, "r") as f:
            ml, gh = f["ml"][()], f["gh"][()].astype(np.float32)
        err = None
        ref = paths.reference_h5()
        if ref.is_file():
            with h5py.File(ref, "r") as f:
                err = f["obs_errors"][()] * f["aperture_mass_target"][()][:, None]
        if err is None:
            err = np.full((gh.shape[2], 4), float(np.std(gh)))
        return ml, gh, err, f"real cube {CUBE.relative_to(paths.ROOT)}"
    rng = np.random.default_rng(0)
    gh = rng.normal(0, 5e-3, (161, 360, 152, 4)).astype(np.float32)
    err = rng.uniform(1e-5, 1e-3, (152, 4))
    return np.linspace(1, 9, 161), gh, err, "random data (real cube missing)"


def time_recipe(name: str, ml, gh, err, epochs: int, fused: bool) -> tuple[float, float]:
    """Fastest and median epoch time, without the first (compiling) epoch."""
    recipe = get_recipe(name, epochs=epochs, fused=fused, patience=None)
    x = (ml - ml.min()) / (ml.max() - ml.min())
    fit = fit_coefficient(x, gh[..., 0], "l1_err", err[:, 0], recipe, progress=False)
    sec = fit.history["epoch_seconds"][1:]
    return float(np.min(sec)), float(np.median(sec))


def time_predict(ml, gh, repeat: int = 3) -> tuple[float, float]:
    """Best-of-``repeat`` seconds to predict all images, per coefficient and for all four."""
    norm = Normaliser.fit("std", gh[:2, ..., 0])
    emu = Emulator([build_dcnn(*gh.shape[1:3], fused=True) for _ in range(4)], [norm] * 4,
                   (float(ml.min()), float(ml.max())), (float(ml.min()), float(ml.max())))
    emu.predict(ml[:2])  # warm-up
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        emu.predict(ml)
        ts.append(time.perf_counter() - t0)
    return min(ts) / 4, min(ts)


def write_section(text: str) -> None:
    old = README.read_text() if README.is_file() else "# Benchmarks\n"
    start = old.find(HEADER + "\n")
    if start >= 0:
        end = old.find("\n## ", start + len(HEADER))
        new = old[:start] + text + (old[end + 1:] if end >= 0 else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    tmp = README.with_suffix(f".md.tmp{os.getpid()}")
    tmp.write_text(new)
    os.replace(tmp, README)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=5, help="epochs timed per recipe")
    ap.add_argument("--layered", action="store_true",
                    help="also time the layered (unfused) Table B.1 net with the thesis recipe")
    ap.add_argument("--no-readme", action="store_true", help="print only")
    args = ap.parse_args()

    ml, gh, err, source = load_cube()
    rows = []
    for name in ("thesis", "fast"):
        r = get_recipe(name)
        best, med = time_recipe(name, ml, gh, err, args.epochs, fused=True)
        rows.append((f"`{name}` (batch {r.batch_size}, fused net)", best, med, r.epochs))
    if args.layered:
        best, med = time_recipe("thesis", ml, gh, err, args.epochs, fused=False)
        rows.append(("`thesis` (batch 2, layered Table B.1 net)", best, med, 20))
    per_coeff, total = time_predict(ml, gh)

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    cpu = (f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
           f"load average {load} at the end (the cores are shared)")
    lines = [
        HEADER, "",
        f"`benchmarks/bench_dcnn.py` on {source}; {cpu}; Keras {keras.__version__} "
        f"({keras.backend.backend()} backend). Epoch times after the first (compiling) "
        f"epoch of {args.epochs}, training h1 with the `l1_err` loss: fastest and median "
        f"(other jobs share the cores, the fastest is the least disturbed); the "
        f"per-coefficient total is the fastest times the recipe's epochs.", "",
        "| recipe | s / epoch / coefficient, fastest (median) | s / coefficient, all epochs |",
        "|---|---:|---:|",
        *[f"| {label} | {best:.2f} ({med:.2f}) | {best * n:.0f} |"
          for label, best, med, n in rows],
        "",
        f"Prediction of {ml.size} images: {per_coeff:.2f} s per coefficient, "
        f"{total:.2f} s for h1..h4 (`Emulator.predict`, best of 3).", "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_readme:
        write_section(text)


if __name__ == "__main__":
    main()
