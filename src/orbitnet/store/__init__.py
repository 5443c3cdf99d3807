"""Artifacts: fingerprints, locks, checksummed HDF5 files and folders, atomic writes.

One job per module: :mod:`~orbitnet.store.code` (which code made an artifact),
:mod:`~orbitnet.store.fingerprint` (hashing, fingerprints, lineage),
:mod:`~orbitnet.store.notices`, :mod:`~orbitnet.store.locks`,
:mod:`~orbitnet.store.artifacts` (HDF5 artifacts and the cached-or-compute step) and
:mod:`~orbitnet.store.folders` (folder artifacts). A chapter's results JSON and glued prose
live in :mod:`orbitnet.book.results`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Transitional: ``orbitnet.store.<name>`` still finds a moved name while other branches
#: catch up; new code imports from the module that defines it. To be removed.
_MOVED = {
    **dict.fromkeys(("PACKAGE", "CODE_EXCLUDE", "code_modules", "code_version", "module_file",
                     "git_commit"), "orbitnet.store.code"),
    **dict.fromkeys(("file_sha256", "input_hashes", "canonical_json", "digest", "Fingerprint",
                     "fingerprint", "record_use", "lineage", "reset_lineage"),
                    "orbitnet.store.fingerprint"),
    "notice": "orbitnet.store.notices", "NOTICES_ENV": "orbitnet.store.notices",
    **dict.fromkeys(("Busy", "lock_file", "locked"), "orbitnet.store.locks"),
    **dict.fromkeys(("CorruptArtifact", "StaleArtifact", "provenance", "write_text_atomic",
                     "write_artifact", "read_artifact", "read_attrs", "stored_fingerprint",
                     "staleness", "is_fresh", "display_path", "cached", "cached_or_compute"),
                    "orbitnet.store.artifacts"),
    **dict.fromkeys(("FINGERPRINT_FILE", "dir_staleness", "dir_fingerprint", "cached_dir"),
                    "orbitnet.store.folders"),
    **dict.fromkeys(("STAGING_ENV", "PARAMETERS_ENV", "write_results", "load_results",
                     "flatten", "format_number", "open_interval_text", "GluedText",
                     "glue_results"), "orbitnet.book.results"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'orbitnet.store' has no attribute {name!r}")
