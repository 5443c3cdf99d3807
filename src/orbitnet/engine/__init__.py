"""An embedded orbit-library engine that builds DYNAMITE-like Schwarzschild libraries.

``build_library(...)`` returns an :class:`orbitnet.library.OrbitLibrary`;
``save_library`` / ``load_library`` store it as HDF5. See ``docs/ENGINE.md`` for the method.
"""

from .build import EngineConfig, build_library
from .store import load_library, save_library

__all__ = ["EngineConfig", "build_library", "load_library", "save_library"]
