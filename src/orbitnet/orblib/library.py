"""The orbit library: what the DYNAMITE reader and the embedded engine both produce."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class LibraryError(ValueError):
    """An orbit library is inconsistent or contains invalid numbers."""


@dataclass
class OrbitLibrary:
    """Per-orbit observables of a Schwarzschild orbit library, at the M/L it was integrated at.

    Orbit order follows DYNAMITE: tube orbits interlaced with their velocity-flipped twins
    (``2j``, ``2j+1``), then box orbits.

    Attributes
    ----------
    losvd : (n_orbits, n_vel, n_bins) fraction of each orbit's light per velocity and spatial
        bin (not divided by the bin width; overflow bins included).
    vel_centres : (n_vel,) velocity-bin centres in km/s at ``ml_library``.
    ml_library : M/L at which the orbits were integrated.
    intrinsic_mass : (n_orbits, n_cells) fraction of each orbit's mass per intrinsic grid cell.
    aperture_mass : (n_orbits, n_bins) fraction of each orbit's light per spatial bin.
    intrinsic_mass_target, aperture_mass_target : the galaxy's (MGE) mass fractions.
    orbit_ids : (n_orbits, 5) ``(index, iE, iI2, iI3, notreg)`` as in DYNAMITE's ``nn_orb.out``.
    orbit_type : (n_orbits,) legacy class: 1 x-tube, 3 z-tube, 4 box/other.
    is_box, is_flipped : (n_orbits,) booleans.
    twin_index : (n_orbits,) index of each tube orbit's velocity-flipped partner, -1 for box
        orbits; ``None`` when unknown.
    source : where the library came from (a path or ``"engine"``).
    """

    losvd: np.ndarray
    vel_centres: np.ndarray
    ml_library: float
    intrinsic_mass: np.ndarray
    aperture_mass: np.ndarray
    intrinsic_mass_target: np.ndarray
    aperture_mass_target: np.ndarray
    orbit_ids: np.ndarray
    orbit_type: np.ndarray
    is_box: np.ndarray
    is_flipped: np.ndarray
    source: str = ""
    meta: dict = field(default_factory=dict)
    twin_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.validate()

    @property
    def n_orbits(self) -> int:
        return int(self.losvd.shape[0])

    @property
    def n_vel(self) -> int:
        return int(self.losvd.shape[1])

    @property
    def n_bins(self) -> int:
        return int(self.losvd.shape[2])

    @property
    def n_tube(self) -> int:
        return int(np.count_nonzero(~self.is_box))

    @property
    def dv(self) -> float:
        """Velocity-bin width in km/s at ``ml_library``."""
        return float(self.vel_centres[1] - self.vel_centres[0])

    def velocity_scale(self, ml: float) -> float:
        """Factor sqrt(ml / ml_library) by which every velocity scales at M/L ``ml``."""
        if not np.isfinite(ml) or ml <= 0:
            raise LibraryError(f"M/L must be a positive finite number, got ml={ml!r}")
        return float(np.sqrt(ml / self.ml_library))

    def vel_centres_at(self, ml: float) -> np.ndarray:
        """Velocity-bin centres (km/s) at M/L ``ml``."""
        return self.vel_centres * self.velocity_scale(ml)

    def validate(self) -> None:
        """Raise :class:`LibraryError` when shapes disagree or numbers are not finite."""
        n_orb, n_vel, n_bins = self.losvd.shape
        checks = {
            "vel_centres": (self.vel_centres.shape, (n_vel,)),
            "intrinsic_mass": (self.intrinsic_mass.shape[:1], (n_orb,)),
            "aperture_mass": (self.aperture_mass.shape, (n_orb, n_bins)),
            "aperture_mass_target": (self.aperture_mass_target.shape, (n_bins,)),
            "intrinsic_mass_target": (
                self.intrinsic_mass_target.shape,
                (self.intrinsic_mass.shape[1],),
            ),
            "orbit_ids": (self.orbit_ids.shape, (n_orb, 5)),
            "orbit_type": (self.orbit_type.shape, (n_orb,)),
            "is_box": (self.is_box.shape, (n_orb,)),
            "is_flipped": (self.is_flipped.shape, (n_orb,)),
        }
        if self.twin_index is not None:
            checks["twin_index"] = (self.twin_index.shape, (n_orb,))
        for name, (got, want) in checks.items():
            if tuple(got) != tuple(want):
                raise LibraryError(
                    f"orbit library {self.source or '<memory>'}: {name} has shape {got}, "
                    f"expected {want}"
                )
        for name in ("losvd", "vel_centres", "intrinsic_mass", "aperture_mass",
                     "intrinsic_mass_target", "aperture_mass_target"):
            arr = getattr(self, name)
            if not np.all(np.isfinite(arr)):
                bad = np.argwhere(~np.isfinite(arr))[0]
                raise LibraryError(
                    f"orbit library {self.source or '<memory>'}: {name} contains a non-finite "
                    f"value at index {tuple(int(i) for i in bad)}"
                )
        if not np.isfinite(self.ml_library) or self.ml_library <= 0:
            raise LibraryError(f"ml_library must be positive, got {self.ml_library!r}")
