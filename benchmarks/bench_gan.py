"""Time the GANs of Chapter 5: seconds per epoch (161 images, batch 2) for each variant.

Run: ``.venv/bin/python benchmarks/bench_gan.py [--epochs 3]``. Trains coefficient h2 of the
orbit-model cube ``build/artifacts/ngc6278/orbit_models.h5`` (random data of the same shape if
it is missing) for ``--epochs`` epochs per variant and prints the median epoch time without
the first epoch (which includes tracing), as a Markdown table to paste into
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from orbitnet.data import paths  # noqa: E402
from orbitnet.emulators.gan import GANConfig, train_gan  # noqa: E402
from orbitnet.emulators.gan_cache import VARIANTS  # noqa: E402

CUBE = paths.artifacts_dir() / "orbit_models.h5"


def load_images() -> tuple[np.ndarray, np.ndarray, str]:
    if CUBE.is_file():
        import h5py

        with h5py.File(CUBE, "r") as f:
            return f["ml"][()], f["gh"][..., 1].astype(np.float32), "real cube, h2"
    rng = np.random.default_rng(0)
    return (np.linspace(1, 9, 161), rng.normal(0, 5e-3, (161, 360, 152)).astype(np.float32),
            "random data")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    ml, images, what = load_images()
    print(f"{what}; keras {keras.__version__} ({keras.backend.backend()}), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print("| variant | s per epoch (median) | first epoch (tracing) |\n|---|---|---|")
    for name in ("gan", "gan_nomask", "cgan"):
        cfg = GANConfig(epochs=args.epochs).with_(**VARIANTS[name])
        gan = train_gan(images, cfg, ml=ml, progress=False)
        sec = gan.history["epoch_seconds"]
        print(f"| {name} | {np.median(sec[1:]):.2f} | {sec[0]:.2f} |")


if __name__ == "__main__":
    main()
