"""MathJax for the offline book, from PyPI, checked against a pinned SHA-256.

``python -m orbitnet.book.vendor`` (run by ``make setup``) asks pip for the wheel of
``sphinx-mathjax-offline`` 0.0.2, which carries MathJax 3.2.2's ``es5`` build (byte for byte
the ``es5/`` folder of MathJax's own 3.2.2 release tarball), refuses the wheel unless its
SHA-256 is the pinned one, and unpacks the MathJax files into ``book/_vendor/mathjax/``,
which the book serves from ``_static/``. MathJax's licence (Apache-2.0), which the wheel
lacks, is copied from ``book/_vendor/MathJax-LICENSE``. Only Python and pip are needed (no
npm); the package is not installed and not used as a Sphinx extension. A folder that already
holds the pinned files is left alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from orbitnet.data import paths

MATHJAX_VERSION = "3.2.2"
WHEEL_REQUIREMENT = "sphinx-mathjax-offline==0.0.2"
WHEEL_SHA256 = "206418155b2ff2f57496fb8501fdccae3da978e53031ff296c73729ba16062c4"
WHEEL_PREFIX = "sphinx-mathjax-offline/static/mathjax/"
STAMP = ".wheel-sha256"


class VendorError(RuntimeError):
    """A download failed or did not match its pinned digest."""


def mathjax_dir() -> Path:
    return paths.mathjax_dir()


def licence_file() -> Path:
    return paths.mathjax_licence()


def pip_download(requirement: str, folder: Path) -> Path:
    """The wheel of ``requirement``, downloaded by pip (no dependencies) into ``folder``."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--only-binary", ":all:", "--dest", str(folder), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise VendorError(f"pip could not download {requirement}: {proc.stderr.strip()[-800:]}")
    return wheels[0]


def check_sha256(path: Path, sha256: str) -> None:
    """A :class:`VendorError` unless ``path``'s SHA-256 is ``sha256``."""
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != sha256:
        raise VendorError(f"{path.name}: SHA-256 {got} is not the pinned {sha256}; nothing "
                          f"was written (a changed or corrupted download)")


def is_vendored(dest: Path | None = None, sha256: str = WHEEL_SHA256) -> bool:
    """Whether ``dest`` holds MathJax unpacked from the wheel with digest ``sha256``."""
    dest = Path(dest) if dest else mathjax_dir()
    stamp = dest / STAMP
    return (dest / "tex-chtml.js").is_file() and stamp.is_file() and (
        stamp.read_text().strip() == sha256)


def fetch_mathjax(dest: Path | None = None, requirement: str = WHEEL_REQUIREMENT,
                  sha256: str = WHEEL_SHA256,
                  download: Callable[[str, Path], Path] = pip_download, log=print) -> Path:
    """Put MathJax's ``es5`` build and its licence into ``dest`` (``book/_vendor/mathjax``).

    The wheel is checked before anything is unpacked; the folder is replaced by one rename,
    so a refused or interrupted fetch leaves the previous folder as it was.
    """
    dest = Path(dest) if dest else mathjax_dir()
    if is_vendored(dest, sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mathjax-", dir=dest.parent))
    try:
        wheel = download(requirement, tmp)
        check_sha256(wheel, sha256)
        staged = tmp / "mathjax"
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if n.startswith(WHEEL_PREFIX) and not n.endswith("/")]
            if WHEEL_PREFIX + "tex-chtml.js" not in names:
                raise VendorError(f"{wheel.name} has no {WHEEL_PREFIX}tex-chtml.js")
            for name in names:
                target = staged / name[len(WHEEL_PREFIX):]
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
        shutil.copyfile(licence_file(), staged / "LICENSE")
        (staged / STAMP).write_text(sha256 + "\n")
        old = None
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.exists():
            old = dest.with_name(f".{dest.name}.old.{os.getpid()}")
            os.replace(dest, old)
        os.replace(staged, dest)
        if old is not None:
            shutil.rmtree(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"vendored MathJax {MATHJAX_VERSION} from {requirement} (SHA-256 checked) into {dest}")
    return dest


if __name__ == "__main__":  # pragma: no cover
    try:
        fetch_mathjax()
    except VendorError as exc:
        sys.exit(f"orbitnet: error: {exc}")
