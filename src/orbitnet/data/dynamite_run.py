"""DYNAMITE's measured numbers for the reference run of NGC 6278, as documented.

The book quotes DYNAMITE's timings and best fit beside orbitnet's; they are read from
``dynamite_run.json`` (each block names its source in the data's documentation), never typed
into prose or code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("dynamite_run.json")


@cache
def dynamite_run() -> dict[str, Any]:
    """The documented facts of the DYNAMITE reference run (``timings``, ``best_fit``)."""
    return json.loads(FILE.read_text())


def timings() -> dict[str, Any]:
    """DYNAMITE's measured times in seconds (ranges as ``[low, high]``), without the source."""
    return {k: v for k, v in dynamite_run()["timings"].items() if k != "source"}
