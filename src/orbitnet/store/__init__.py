"""Artifacts: fingerprints, locks, checksummed HDF5 files and folders, atomic writes.

One job per module: :mod:`~orbitnet.store.code` (which code made an artifact),
:mod:`~orbitnet.store.fingerprint` (hashing, fingerprints, lineage),
:mod:`~orbitnet.store.notices`, :mod:`~orbitnet.store.locks`,
:mod:`~orbitnet.store.artifacts` (HDF5 artifacts and the cached-or-compute step) and
:mod:`~orbitnet.store.folders` (folder artifacts). A chapter's results JSON and glued prose
live in :mod:`orbitnet.book.results`.
"""
