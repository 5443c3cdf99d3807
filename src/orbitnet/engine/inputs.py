"""The engine's view of the galaxy inputs: MGE, aperture grid, bins, PSF.

Prefers :func:`orbitnet.galaxy.load_galaxy` when that module is available and falls back to a
small private reader of the same four DYNAMITE files otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import paths


@dataclass(frozen=True)
class EngineInputs:
    """What the engine needs from the data files (arcsec, Lsun/pc^2, degrees)."""

    mge_surf: np.ndarray  # I_j [Lsun/pc^2]
    mge_sigma: np.ndarray  # sigma'_j [arcsec]
    mge_q: np.ndarray  # q'_j
    mge_pa_twist: np.ndarray  # psi_off_j [deg]
    aperture_origin: tuple[float, float]  # lower-left corner [arcsec]
    aperture_size: tuple[float, float]  # [arcsec]
    aperture_angle_deg: float  # DYNAMITE's aperture rotation
    aperture_shape: tuple[int, int]  # (nx, ny)
    bins: np.ndarray  # (nx*ny,) bin id per pixel, x fastest, 0 = unused
    psf_sigma: np.ndarray  # [arcsec]
    psf_weight: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.bins.max())


def _from_galaxy(gal) -> EngineInputs:
    kin, ap, mge = gal.kinematics, gal.aperture, gal.mge
    return EngineInputs(
        mge_surf=np.asarray(mge.surf, float), mge_sigma=np.asarray(mge.sigma, float),
        mge_q=np.asarray(mge.q, float), mge_pa_twist=np.asarray(mge.pa_twist, float),
        aperture_origin=tuple(map(float, ap.origin)), aperture_size=tuple(map(float, ap.size)),
        aperture_angle_deg=float(ap.angle_deg), aperture_shape=tuple(map(int, ap.shape)),
        bins=np.asarray(gal.bins, int), psf_sigma=np.asarray(kin.psf_sigma, float),
        psf_weight=np.asarray(kin.psf_weight, float),
    )


def _read_private(d: Path) -> EngineInputs:
    from astropy.table import Table

    mge = Table.read(d / "mge.ecsv", format="ascii.ecsv")
    kin = Table.read(d / "gauss_hermite_kins.ecsv", format="ascii.ecsv")
    psf = kin.meta.get("PSF", {"sigma": [0.0], "weight": [1.0]})
    rows = [ln.split() for ln in (d / "aperture.dat").read_text().splitlines()[1:] if ln.strip()]
    tokens = [t for ln in (d / "bins.dat").read_text().splitlines()
              if not ln.lstrip().startswith("#") for t in ln.split()]
    bins = np.array(tokens[1:], dtype=int)
    if bins.size != int(tokens[0]):
        raise ValueError(f"{d / 'bins.dat'}: expected {tokens[0]} ids, found {bins.size}")
    return EngineInputs(
        mge_surf=np.asarray(mge["I"], float), mge_sigma=np.asarray(mge["sigma"], float),
        mge_q=np.asarray(mge["q"], float), mge_pa_twist=np.asarray(mge["PA_twist"], float),
        aperture_origin=(float(rows[0][0]), float(rows[0][1])),
        aperture_size=(float(rows[1][0]), float(rows[1][1])),
        aperture_angle_deg=float(rows[2][0]),
        aperture_shape=(int(rows[3][0]), int(rows[3][1])),
        bins=bins,
        psf_sigma=np.atleast_1d(np.asarray(psf["sigma"], float)),
        psf_weight=np.atleast_1d(np.asarray(psf["weight"], float)),
    )


def load_inputs(directory: Path | str | None = None) -> EngineInputs:
    """Read the MGE, aperture, bins and PSF of a galaxy (default ``data/ngc6278/inputs``)."""
    d = Path(directory) if directory is not None else paths.inputs_dir()
    try:
        from ..galaxy import load_galaxy
    except ImportError:
        return _read_private(d)
    return _from_galaxy(load_galaxy(d))
