"""orbitnet: predicting galactic orbits with deep learning, as a computational book."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("orbitnet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
