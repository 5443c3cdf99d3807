"""Messages the user must see, also from inside a chapter's kernel."""

from __future__ import annotations

import contextlib
import os
import sys

NOTICES_ENV = "ORBITNET_NOTICES"  # file the `orbitnet` command echoes to its stderr


def notice(message: str) -> None:
    """Say ``message`` where the user sees it: stderr, and the `orbitnet` command's stderr
    when run by it (through the file named by ``ORBITNET_NOTICES``)."""
    print(f"orbitnet: {message}", file=sys.stderr, flush=True)
    target = os.environ.get(NOTICES_ENV)
    if target:
        with contextlib.suppress(OSError), open(target, "a") as fh:
            fh.write(message.replace("\n", " ") + "\n")

