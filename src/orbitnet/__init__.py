"""orbitnet: predicting galactic orbits with deep learning, as a computational book."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("orbitnet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"



class ParameterError(ValueError):
    """A parameter has a wrong name, type or value: a chapter's (``orbitnet chapter -p``), or a
    model's in the DYNAMITE configuration (``orbitnet grid``); the message names it."""


__all__ = ["ParameterError", "__version__"]
