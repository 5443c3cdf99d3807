"""The galaxy: MGE, kinematics, aperture grid, Voronoi bins and model constants.

``load_galaxy()`` reads the four DYNAMITE input files of a galaxy folder and validates
them; every later step takes its observed numbers from the returned :class:`Galaxy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orbitnet.data import paths


class DataError(ValueError):
    """An input file is missing, truncated or inconsistent."""


MGE_FILE = "mge.ecsv"
KIN_FILE = "gauss_hermite_kins.ecsv"
APERTURE_FILE = "aperture.dat"
BINS_FILE = "bins.dat"
INPUT_FILES = (MGE_FILE, KIN_FILE, APERTURE_FILE, BINS_FILE)
KIN_COLUMNS = ("v", "dv", "sigma", "dsigma", "h3", "dh3", "h4", "dh4")
PC_KM = 3.0856775810788e13  # DYNAMITE's parsec in km
ARCSEC_RAD = np.pi / 648000.0


@dataclass(frozen=True)
class ModelConstants:
    """The fixed parameters of the NGC 6278 tutorial model (DYNAMITE configuration)."""

    distance_mpc: float = 39.96
    bh_mass: float = 1.0e5  # Msun, Plummer
    bh_softening_arcsec: float = 0.001
    nfw_concentration: float = 8.0
    nfw_m200_over_mstar: float = 10.0
    q: float = 0.54
    p: float = 0.99
    u: float = 0.9999
    theta_deg: float = 82.444308859
    phi_deg: float = 84.245110877
    psi_deg: float = 90.021481540
    ml_library: float = 5.0
    n_e: int = 6
    n_i2: int = 5
    n_i3: int = 4
    dithering: int = 1
    logrmin: float = -0.101275
    logrmax: float = 1.99123
    orbital_periods: int = 200
    vel_hist_width: float = 1394.4968  # km/s
    vel_hist_bins: int = 267
    number_gh: int = 4
    lum_intr_rel_err: float = 0.01
    sb_proj_rel_err: float = 0.02


@dataclass
class MGE:
    """Multi-Gaussian expansion of the surface brightness."""

    surf: np.ndarray  # I_j, peak surface brightness [Lsun/pc^2]
    sigma: np.ndarray  # [arcsec]
    q: np.ndarray  # projected axis ratio
    pa_twist: np.ndarray  # [deg]

    @property
    def n(self) -> int:
        return len(self.surf)

    def luminosities(self, distance_mpc: float) -> np.ndarray:
        """Total luminosity of each Gaussian, L_j = 2 pi I_j q_j sigma_j^2 [Lsun]."""
        pc_per_arcsec = distance_mpc * 1e6 * np.tan(ARCSEC_RAD)
        sigma_pc = self.sigma * pc_per_arcsec
        return 2 * np.pi * self.surf * self.q * sigma_pc**2

    def surface_brightness(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Surface brightness [Lsun/pc^2] at sky offsets x (major axis), y [arcsec]."""
        x = np.asarray(x, float)[..., None]
        y = np.asarray(y, float)[..., None]
        return np.sum(
            self.surf * np.exp(-(x**2 + (y / self.q) ** 2) / (2 * self.sigma**2)), axis=-1
        )


@dataclass
class Kinematics:
    """Observed Gauss-Hermite kinematics per Voronoi bin (bin ids 1..n in order)."""

    bin_id: np.ndarray
    v: np.ndarray
    dv: np.ndarray
    sigma: np.ndarray
    dsigma: np.ndarray
    h3: np.ndarray
    dh3: np.ndarray
    h4: np.ndarray
    dh4: np.ndarray
    psf_sigma: np.ndarray  # arcsec, one per PSF Gaussian
    psf_weight: np.ndarray

    @property
    def n_bins(self) -> int:
        return len(self.v)


@dataclass
class Aperture:
    """The rectangular pixel grid the bins live on (DYNAMITE ``aperture.dat``)."""

    origin: tuple[float, float]  # lower-left corner [arcsec]
    size: tuple[float, float]  # [arcsec]
    angle_deg: float  # rotation angle of the grid
    shape: tuple[int, int]  # (nx, ny)

    @property
    def pixel_size(self) -> tuple[float, float]:
        return (self.size[0] / self.shape[0], self.size[1] / self.shape[1])

    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid-frame centres (x, y) of all pixels, flat in file order (x fastest)."""
        nx, ny = self.shape
        dx, dy = self.pixel_size
        xc = self.origin[0] + (np.arange(nx) + 0.5) * dx
        yc = self.origin[1] + (np.arange(ny) + 0.5) * dy
        xx, yy = np.meshgrid(xc, yc)  # (ny, nx): x fastest when flattened
        return xx.ravel(), yy.ravel()


@dataclass
class Galaxy:
    """Everything observed about a galaxy, plus the model's fixed constants."""

    name: str
    mge: MGE
    kinematics: Kinematics
    aperture: Aperture
    bins: np.ndarray  # (n_pixels,) bin id per pixel, 0 = not binned, x fastest
    constants: ModelConstants = field(default_factory=ModelConstants)
    source: Path | None = None

    @property
    def n_bins(self) -> int:
        return self.kinematics.n_bins

    @property
    def n_pixels(self) -> int:
        return int(self.bins.size)

    @property
    def n_binned_pixels(self) -> int:
        return int(np.count_nonzero(self.bins))

    @property
    def total_luminosity(self) -> float:
        """Total MGE luminosity [Lsun]."""
        return float(self.mge.luminosities(self.constants.distance_mpc).sum())

    def summary(self) -> dict:
        """Headline numbers of the data (Chapter 1's results)."""
        k = self.kinematics
        return {
            "galaxy": self.name,
            "n_bins": self.n_bins,
            "n_pixels": self.n_pixels,
            "n_binned_pixels": self.n_binned_pixels,
            "n_gaussians": self.mge.n,
            "total_luminosity_lsun": self.total_luminosity,
            "distance_mpc": self.constants.distance_mpc,
            "psf_sigma_arcsec": float(k.psf_sigma[0]),
            "pixel_arcsec": float(self.aperture.pixel_size[0]),
            "aperture_angle_deg": self.aperture.angle_deg,
            "v_abs_max": float(np.max(np.abs(k.v))),
            "sigma_max": float(np.max(k.sigma)),
            "sigma_min": float(np.min(k.sigma)),
            "dv_median": float(np.median(k.dv)),
            "dsigma_median": float(np.median(k.dsigma)),
            "binned_fraction": self.n_binned_pixels / self.n_pixels,
            "mge_sigma_min_arcsec": float(np.min(self.mge.sigma)),
            "mge_q_min": float(np.min(self.mge.q)),
            "sb_decades": self.surface_brightness_decades(),
            "h34_floor_error": float(min(np.min(k.dh3), np.min(k.dh4))),
            "h34_all_zero": bool(np.all(k.h3 == 0) and np.all(k.h4 == 0)),
        }

    def surface_brightness_decades(self) -> float:
        """Decades the MGE falls from the centre to the farthest binned pixel, along the major
        axis (where it falls slowest, so every direction falls by at least this much)."""
        x, y = self.aperture.pixel_centres()
        binned = self.bins > 0
        r_edge = float(np.max(np.hypot(x[binned], y[binned])))
        sb = self.mge.surface_brightness(np.array([0.0, r_edge]), np.zeros(2))
        return float(np.log10(sb[0] / sb[1]))

    def bin_image(self) -> np.ndarray:
        """Bin ids as an (ny, nx) image (row = y)."""
        nx, ny = self.aperture.shape
        return self.bins.reshape(ny, nx)


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"missing input file {path}: run `make data` to copy or download the galaxy data"
        )
    return path


def _read_ecsv(path: Path):
    from astropy.table import Table

    _need(path)
    try:
        return Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many types for broken files
        raise DataError(
            f"cannot read {path} as ECSV ({type(exc).__name__}: {exc}); the file is truncated "
            "or corrupt: run `make data` again"
        ) from exc


def read_mge(path: Path) -> MGE:
    """Read an MGE ECSV table with columns I, sigma, q, PA_twist."""
    tab = _read_ecsv(path)
    cols = ("I", "sigma", "q", "PA_twist")
    missing = [c for c in cols if c not in tab.colnames]
    if missing or len(tab) == 0:
        raise DataError(f"{path}: MGE table needs columns {cols} and at least one row "
                        f"(missing {missing}); run `make data`")
    mge = MGE(*(np.asarray(tab[c], dtype=float) for c in cols))
    for name, arr in (("I", mge.surf), ("sigma", mge.sigma), ("q", mge.q)):
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise DataError(f"{path}: column {name} must be finite and positive")
    return mge


def read_kinematics(path: Path) -> Kinematics:
    """Read GH kinematics (ECSV: vbin_id, v, dv, sigma, dsigma, h3, dh3, h4, dh4; PSF in meta)."""
    tab = _read_ecsv(path)
    missing = [c for c in ("vbin_id", *KIN_COLUMNS) if c not in tab.colnames]
    if missing:
        raise DataError(f"{path}: kinematics table lacks columns {missing}; run `make data`")
    if len(tab) == 0:
        raise DataError(f"{path}: kinematics table has no rows; run `make data`")
    arrays = {c: np.asarray(tab[c], dtype=float) for c in KIN_COLUMNS}
    for c, arr in arrays.items():
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DataError(
                f"{path}: column {c} has non-finite values in bins "
                f"{(np.asarray(tab['vbin_id'])[bad]).tolist()[:10]}"
            )
    for c in ("dv", "dsigma", "dh3", "dh4", "sigma"):
        bad = np.flatnonzero(arrays[c] <= 0)
        if bad.size:
            raise DataError(f"{path}: column {c} must be positive; bins "
                            f"{(np.asarray(tab['vbin_id'])[bad]).tolist()[:10]} are not")
    bin_id = np.asarray(tab["vbin_id"], dtype=int)
    if not np.array_equal(bin_id, np.arange(1, len(bin_id) + 1)):
        raise DataError(f"{path}: vbin_id must run 1..{len(bin_id)} in order")
    psf = tab.meta.get("PSF", {"sigma": [0.0], "weight": [1.0]})
    return Kinematics(
        bin_id=bin_id,
        psf_sigma=np.atleast_1d(np.asarray(psf["sigma"], dtype=float)),
        psf_weight=np.atleast_1d(np.asarray(psf["weight"], dtype=float)),
        **arrays,
    )


def _numbers(path: Path, text: str) -> list[str]:
    return [t for line in text.splitlines() if not line.lstrip().startswith("#")
            for t in line.split()]


def read_aperture(path: Path) -> Aperture:
    """Read DYNAMITE's ``aperture.dat``: origin, size, angle, pixel counts."""
    _need(path)
    lines = [ln.split() for ln in path.read_text().splitlines()[1:] if ln.strip()]
    try:
        origin = (float(lines[0][0]), float(lines[0][1]))
        size = (float(lines[1][0]), float(lines[1][1]))
        angle = float(lines[2][0])
        shape = (int(lines[3][0]), int(lines[3][1]))
    except (IndexError, ValueError) as exc:
        raise DataError(f"{path}: expected a header, origin, size, angle and pixel counts "
                        f"({exc}); run `make data`") from exc
    if min(shape) <= 0 or min(size) <= 0:
        raise DataError(f"{path}: size and pixel counts must be positive")
    return Aperture(origin, size, angle, shape)


def read_bins(path: Path, n_pixels: int | None = None) -> np.ndarray:
    """Read ``bins.dat``: a header line, the pixel count, then one bin id per pixel."""
    _need(path)
    tokens = _numbers(path, path.read_text())
    try:
        n = int(tokens[0])
        ids = np.array([int(t) for t in tokens[1:]], dtype=int)
    except (IndexError, ValueError) as exc:
        raise DataError(f"{path}: not a DYNAMITE bins file ({exc}); run `make data`") from exc
    if ids.size != n:
        raise DataError(f"{path}: header promises {n} pixels but {ids.size} ids follow "
                        "(truncated?); run `make data`")
    if n_pixels is not None and n != n_pixels:
        raise DataError(f"{path}: {n} pixels, but the aperture grid has {n_pixels}")
    if np.any(ids < 0):
        raise DataError(f"{path}: negative bin ids")
    return ids


def load_galaxy(directory: Path | str | None = None, name: str = paths.GALAXY,
                constants: ModelConstants | None = None) -> Galaxy:
    """Load and validate a galaxy's inputs from ``directory`` (default ``data/<name>/inputs``)."""
    d = Path(directory) if directory is not None else paths.inputs_dir(name)
    if not d.is_dir():
        raise DataError(f"data folder {d} does not exist: run `make data` first")
    mge = read_mge(d / MGE_FILE)
    kin = read_kinematics(d / KIN_FILE)
    aperture = read_aperture(d / APERTURE_FILE)
    bins = read_bins(d / BINS_FILE, aperture.shape[0] * aperture.shape[1])
    used = np.unique(bins[bins > 0])
    if not np.array_equal(used, kin.bin_id):
        extra = sorted(set(used.tolist()) - set(kin.bin_id.tolist()))
        lacking = sorted(set(kin.bin_id.tolist()) - set(used.tolist()))
        raise DataError(
            f"{d / BINS_FILE} and {d / KIN_FILE} disagree: bin ids only in bins.dat "
            f"{extra[:10]}, only in the kinematics {lacking[:10]}"
        )
    return Galaxy(name=name, mge=mge, kinematics=kin, aperture=aperture, bins=bins,
                  constants=constants or ModelConstants(), source=d)
