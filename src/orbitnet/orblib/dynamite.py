"""Read a DYNAMITE 3.x orbit library (legacy Fortran output) into an :class:`OrbitLibrary`.

The file formats and the in-memory assembly follow ``METHOD.md`` sections 1-2: tube orbits
interlaced with their velocity-flipped twins, box orbits appended, masses from
``mass_qgrid.dat`` / ``mass_aper.dat`` and ``ml_orblib`` from ``infil/parameters_pot.in``.
"""

from __future__ import annotations

import bz2
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import FortranFile

from orbitnet.orblib.library import LibraryError, OrbitLibrary

__all__ = ["RawOrblib", "find_orblib_dirs", "read_orblib", "read_orblib_file", "velocity_grid"]

_H6 = np.dtype([("nap", "<i4"), ("nvhalf", "<i4"), ("dv", "<f8")])


@dataclass
class RawOrblib:
    """Content of one ``orblib.dat`` / ``orblibbox.dat`` file, in file order.

    Attributes
    ----------
    hist : (norb, 2*nvhalf+1, nap) velocity histograms (index ``i + nvhalf`` for bin ``i``).
    intrinsic : (norb, nr*nth*nph) moment-0 intrinsic masses, C order (r, theta, phi).
    ids : (norb, 5) record O1: orbit number, iE, iI2, iI3, totalnotregularizable.
    classes : (norb, ndith**3) record O2 classification codes (1 x-tube ... 5 chaotic).
    dv : velocity-bin width in km/s.
    nvhalf : number of bins on each side of the central bin.
    edges : dict with the ``r`` (km), ``theta`` and ``phi`` (rad) cell edges.
    """

    hist: np.ndarray
    intrinsic: np.ndarray
    ids: np.ndarray
    classes: np.ndarray
    dv: float
    nvhalf: int
    edges: dict


def _fail(path: Path, what: str) -> LibraryError:
    return LibraryError(f"orbit library file {path}: {what}")


def _parse(fname: str, path: Path) -> RawOrblib:
    """Parse an uncompressed Fortran file ``fname``; errors name ``path``."""
    where = "header"
    try:
        with FortranFile(fname, "r") as f:
            h1 = f.read_ints(np.int32)
            h2 = f.read_ints(np.int32)
            if h1.size != 5 or h2.size != 4:
                raise _fail(path, f"bad header records (got {h1.size} and {h2.size} ints, "
                                  "expected 5 and 4)")
            norb, ndith = int(h1[0]), int(h1[4])
            nmom, nph, nth, nr = (int(x) for x in h2)
            if norb <= 0 or ndith <= 0 or min(nmom, nph, nth, nr) <= 0:
                raise _fail(path, f"non-positive sizes in header: {h1.tolist()}, {h2.tolist()}")
            edges = {"r": f.read_reals(), "theta": f.read_reals(), "phi": f.read_reals()}
            h6 = f.read_record(_H6)
            nap, nvhalf, dv = int(h6["nap"][0]), int(h6["nvhalf"][0]), float(h6["dv"][0])
            if nap <= 0 or nvhalf < 0 or not dv > 0:
                raise _fail(path, f"bad histogram header nap={nap}, nvhalf={nvhalf}, dv={dv}")
            nvel, ncell, nd3 = 2 * nvhalf + 1, nr * nth * nph, ndith**3
            hist = np.zeros((norb, nvel, nap))
            intrinsic = np.empty((norb, ncell))
            ids = np.empty((norb, 5), dtype=np.int32)
            classes = np.empty((norb, nd3), dtype=np.int32)
            for j in range(norb):
                where = f"orbit {j + 1} of {norb}"
                o1 = f.read_ints(np.int32)
                o2 = f.read_ints(np.int32)
                q = f.read_reals()
                if o1.size != 5 or o2.size != nd3 or q.size != nmom * ncell:
                    raise _fail(path, f"{where}: records of {o1.size}, {o2.size}, {q.size} "
                                      f"values, expected 5, {nd3}, {nmom * ncell}")
                ids[j], classes[j] = o1, o2
                intrinsic[j] = q.reshape(nr, nth, nph, nmom)[..., 0].ravel()
                hj = hist[j]
                for a in range(nap):
                    lo, hi = (int(x) for x in f.read_ints(np.int32))
                    if lo > hi:
                        continue
                    if lo < -nvhalf or hi > nvhalf:
                        raise _fail(path, f"{where}, aperture {a + 1}: velocity range "
                                          f"{lo}..{hi} outside -{nvhalf}..{nvhalf}")
                    y = f.read_reals()
                    if y.size != hi - lo + 1:
                        raise _fail(path, f"{where}, aperture {a + 1}: {y.size} histogram "
                                          f"values for bins {lo}..{hi}")
                    hj[lo + nvhalf:hi + nvhalf + 1, a] = y
    except LibraryError:
        raise
    except (OSError, TypeError, ValueError) as exc:
        # FortranEOFError / FortranFormattingError (subclasses of TypeError and OSError)
        raise _fail(path, f"truncated or corrupt while reading {where} ({exc})") from exc
    return RawOrblib(hist, intrinsic, ids, classes, dv, nvhalf, edges)


def read_orblib_file(path: Path | str) -> RawOrblib:
    """Read one legacy orbit file (``orblib.dat`` or ``orblibbox.dat``, optionally ``.bz2``).

    A ``.bz2`` file is decompressed to a temporary file (``FortranFile`` needs a real file).

    Raises
    ------
    LibraryError
        If the file is missing, truncated or inconsistent.
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found")
    if path.suffix != ".bz2":
        return _parse(str(path), path)
    try:
        data = bz2.decompress(path.read_bytes())
    except (OSError, EOFError, ValueError) as exc:
        raise _fail(path, f"cannot decompress bz2 ({exc})") from exc
    fd, tmp = tempfile.mkstemp(suffix=".dat", prefix="orblib_")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        del data
        return _parse(tmp, path)
    finally:
        os.unlink(tmp)


def velocity_grid(dv: float, nvhalf: int) -> np.ndarray:
    """Velocity-bin centres exactly as DYNAMITE builds them (METHOD §1.1 step 6)."""
    e = np.arange(2 * nvhalf + 2) * dv
    e -= 0.5 * (e[nvhalf] + e[nvhalf + 1])
    return 0.5 * (e[:-1] + e[1:])


def legacy_orbit_type(classes: np.ndarray) -> np.ndarray:
    """Legacy NNLS orbit type from the dithered sub-orbit codes (METHOD §1.1 step 8)."""
    n1 = np.count_nonzero(classes == 1, axis=1)
    n3 = np.count_nonzero(classes == 3, axis=1)
    return np.where(n3 > n1, 3, np.where(n1 > 0, 1, 4)).astype(np.int32)


def find_orblib_dirs(run_dir: Path | str) -> tuple[Path, Path]:
    """Return ``(datfil, infil)`` of a run folder (``run_dir/datfil``) or of ``datfil`` itself."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LibraryError(f"orbit library folder {run_dir}: not a directory")
    if (run_dir / "datfil").is_dir():
        return run_dir / "datfil", run_dir / "infil"
    if run_dir.name == "datfil":
        return run_dir, run_dir.parent / "infil"
    raise LibraryError(f"orbit library folder {run_dir}: no 'datfil' subfolder")


def _pick(datfil: Path, name: str) -> Path:
    for cand in (datfil / name, datfil / f"{name}.bz2"):
        if cand.is_file():
            return cand
    raise _fail(datfil / name, f"file not found (nor {name}.bz2)")


def _read_text_numbers(path: Path) -> list[str]:
    if not path.is_file():
        raise _fail(path, "file not found")
    return path.read_text().split()


def read_mass_qgrid(path: Path) -> np.ndarray:
    """``mass_qgrid.dat``: header (nph, nth, nr) then the cell masses (flat, phi fastest)."""
    tok = _read_text_numbers(path)
    try:
        shape = [int(t) for t in tok[:3]]
        vals = np.array([float(t.replace("D", "E").replace("d", "e")) for t in tok[3:]])
    except ValueError as exc:
        raise _fail(path, f"unparsable number ({exc})") from exc
    if len(shape) != 3 or vals.size != int(np.prod(shape)):
        raise _fail(path, f"header {shape} announces {int(np.prod(shape or [0]))} values, "
                          f"found {vals.size}")
    return vals


def read_mass_aper(path: Path) -> np.ndarray:
    """``mass_aper.dat``: ``nap`` then ``index mass`` lines."""
    tok = _read_text_numbers(path)
    try:
        nap = int(tok[0])
        rows = np.array([float(t) for t in tok[1:]]).reshape(-1, 2)
    except (ValueError, IndexError) as exc:
        raise _fail(path, f"unparsable content ({exc})") from exc
    if rows.shape[0] != nap:
        raise _fail(path, f"header announces {nap} apertures, found {rows.shape[0]}")
    return rows[:, 1].copy()


def read_ml_orblib(path: Path) -> float:
    """``ml_orblib`` from ``parameters_pot.in`` (line ``n_mge + 4``)."""
    if not path.is_file():
        raise _fail(path, "file not found")
    lines = path.read_text().splitlines()
    try:
        n_mge = int(lines[0].split()[0])
        ml = float(lines[n_mge + 3].split()[0])
    except (ValueError, IndexError) as exc:
        raise _fail(path, f"cannot read ml_orblib from line n_mge+4 ({exc})") from exc
    if not np.isfinite(ml) or ml <= 0:
        raise _fail(path, f"ml_orblib must be positive, got {ml}")
    return ml


def read_orblib(run_dir: Path | str) -> OrbitLibrary:
    """Read a DYNAMITE orbit library folder into an :class:`OrbitLibrary`.

    Parameters
    ----------
    run_dir
        A folder holding ``datfil/`` and ``infil/`` (the reference run, or a DYNAMITE user's
        ``models/orblib_XXX_YYY/``), or the ``datfil`` folder itself.

    Returns
    -------
    OrbitLibrary
        Assembled as DYNAMITE does (METHOD §1.1); matches ``reference.h5``.

    Raises
    ------
    LibraryError
        (a ``ValueError``) naming the file: missing, truncated, inconsistent or non-finite.
    """
    datfil, infil = find_orblib_dirs(run_dir)
    tube_path, box_path = _pick(datfil, "orblib.dat"), _pick(datfil, "orblibbox.dat")
    qgrid_path, aper_path = datfil / "mass_qgrid.dat", datfil / "mass_aper.dat"
    pot_path = infil / "parameters_pot.in"
    for p in (qgrid_path, aper_path, pot_path):
        if not p.is_file():
            raise _fail(p, "file not found")
    # bz2 decompression releases the GIL: read both files in parallel
    with ThreadPoolExecutor(max_workers=2) as pool:
        fut_tube = pool.submit(read_orblib_file, tube_path)
        fut_box = pool.submit(read_orblib_file, box_path)
        tube, box = fut_tube.result(), fut_box.result()
    ml_orblib = read_ml_orblib(pot_path)
    intr_target = read_mass_qgrid(qgrid_path)
    aper_target = read_mass_aper(aper_path)

    if (tube.nvhalf, tube.hist.shape[2], tube.intrinsic.shape[1]) != (
        box.nvhalf, box.hist.shape[2], box.intrinsic.shape[1]
    ) or tube.dv != box.dv:
        raise _fail(box_path, "histogram or grid layout differs from " + tube_path.name)
    for p, raw in ((tube_path, tube), (box_path, box)):
        bad = ~np.isfinite(raw.hist)
        if bad.any():
            j, v, a = np.argwhere(bad)[0]
            raise _fail(p, f"non-finite LOSVD value (NaN/inf) in orbit {j + 1}, "
                           f"velocity bin {v - raw.nvhalf}, aperture {a + 1}")
        if not np.all(np.isfinite(raw.intrinsic)):
            raise _fail(p, "non-finite intrinsic mass")
    if aper_target.size != tube.hist.shape[2]:
        raise _fail(aper_path, f"{aper_target.size} apertures, orbit library has "
                               f"{tube.hist.shape[2]}")
    if intr_target.size != tube.intrinsic.shape[1]:
        raise _fail(qgrid_path, f"{intr_target.size} cells, orbit library has "
                                f"{tube.intrinsic.shape[1]}")

    nt, nb = tube.hist.shape[0], box.hist.shape[0]
    n = 2 * nt + nb
    losvd = np.empty((n, *tube.hist.shape[1:]))
    losvd[0:2 * nt:2] = tube.hist
    losvd[1:2 * nt:2] = tube.hist[:, ::-1, :]
    losvd[2 * nt:] = box.hist
    del tube.hist, box.hist

    intrinsic = np.concatenate([np.repeat(tube.intrinsic, 2, axis=0), box.intrinsic])
    aperture_mass = losvd.sum(axis=1)

    flipped = np.zeros(n, dtype=bool)
    flipped[1:2 * nt:2] = True
    is_box = np.zeros(n, dtype=bool)
    is_box[2 * nt:] = True
    ids = np.concatenate([np.repeat(tube.ids, 2, axis=0), box.ids]).astype(np.int32)
    ids[:, 0] = np.arange(1, n + 1)
    ids[is_box, 1] *= -1
    ids[flipped, 2] *= -1
    otype = np.concatenate([np.repeat(legacy_orbit_type(tube.classes), 2),
                            legacy_orbit_type(box.classes)])
    raw_type = np.concatenate([np.repeat(tube.classes[:, 0], 2), box.classes[:, 0]])
    twin = np.full(n, -1, dtype=np.int32)
    twin[0:2 * nt:2] = np.arange(1, 2 * nt, 2)
    twin[1:2 * nt:2] = np.arange(0, 2 * nt, 2)

    return OrbitLibrary(
        losvd=losvd,
        vel_centres=velocity_grid(tube.dv, tube.nvhalf),
        ml_library=ml_orblib,
        intrinsic_mass=intrinsic,
        aperture_mass=aperture_mass,
        intrinsic_mass_target=intr_target,
        aperture_mass_target=aper_target,
        orbit_ids=ids,
        orbit_type=otype,
        is_box=is_box,
        is_flipped=flipped,
        twin_index=twin,
        source=str(Path(run_dir)),
        meta={
            "dv": tube.dv,
            "nvhalf": tube.nvhalf,
            "orbit_type_raw": raw_type,
            "grid_edges": tube.edges,
            "intrinsic_grid_shape_r_th_ph": tuple(
                len(tube.edges[k]) - 1 for k in ("r", "theta", "phi")),
            "files": [str(p) for p in (tube_path, box_path, qgrid_path, aper_path, pot_path)],
        },
    )
