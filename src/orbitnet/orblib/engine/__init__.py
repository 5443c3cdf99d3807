"""An embedded orbit-library engine that builds DYNAMITE-like Schwarzschild libraries.

``build_library(...)`` returns an :class:`orbitnet.orblib.library.OrbitLibrary`; ``save_library`` /
``load_library`` store it as HDF5, and ``cached_library`` builds it once and reuses the file.
The method follows ``docs/ENGINE.md`` (DYNAMITE 3.0's orbit library, re-implemented).
"""

from orbitnet.orblib.engine.build import EngineConfig, OrbitFailureError, build_library
from orbitnet.orblib.engine.store import cached_library, load_library, save_library

__all__ = ["EngineConfig", "OrbitFailureError", "build_library", "cached_library",
           "load_library", "save_library"]
