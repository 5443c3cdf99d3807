"""Orbit libraries: the OrbitLibrary container, the DYNAMITE reader, the embedded engine."""
