"""The engine's view of the galaxy inputs: MGE, aperture grid, bins, PSF.

Read through :func:`orbitnet.data.galaxy.load_galaxy`, which validates the four DYNAMITE files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orbitnet.data import paths


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


def from_galaxy(gal) -> EngineInputs:
    """The engine's inputs from a loaded :class:`orbitnet.data.galaxy.Galaxy`."""
    kin, ap, mge = gal.kinematics, gal.aperture, gal.mge
    return EngineInputs(
        mge_surf=np.asarray(mge.surf, float), mge_sigma=np.asarray(mge.sigma, float),
        mge_q=np.asarray(mge.q, float), mge_pa_twist=np.asarray(mge.pa_twist, float),
        aperture_origin=tuple(map(float, ap.origin)), aperture_size=tuple(map(float, ap.size)),
        aperture_angle_deg=float(ap.angle_deg), aperture_shape=tuple(map(int, ap.shape)),
        bins=np.asarray(gal.bins, int), psf_sigma=np.asarray(kin.psf_sigma, float),
        psf_weight=np.asarray(kin.psf_weight, float),
    )


def load_inputs(directory: Path | str | None = None) -> EngineInputs:
    """Read the MGE, aperture, bins and PSF of a galaxy (default ``data/ngc6278/inputs``)."""
    d = Path(directory) if directory is not None else paths.inputs_dir()
    from orbitnet.data.galaxy import load_galaxy

    return from_galaxy(load_galaxy(d))
