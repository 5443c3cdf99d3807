"""The book's chapters, in order, and each one's parameter profiles.

``full`` reproduces the thesis; ``quick`` is small and fast (CI and a first look).
A profile only overrides the defaults written in the notebook's parameters cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    quick: dict[str, Any] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)

    def profile(self, name: str) -> dict[str, Any]:
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; choose one of {PROFILES}")
        return dict(getattr(self, name))


PROFILES = ("quick", "full")

CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_galaxy", "The galaxy and its data"),
    Chapter("02_orbit_libraries", "Orbit libraries"),
    Chapter("03_dcnn", "A deconvolutional emulator", quick={"epochs": 3}),
    Chapter("04_losses", "First results and the choice of loss",
            quick={"recipes": ["fast"], "epochs": 3}),
    Chapter("05_gan", "A generative adversarial network",
            quick={"epochs": 1, "train_step": 8, "n_samples": 8, "n_draws": 2,
                   "dcnn_epochs": 1}),
    Chapter("06_sparse", "How little data?",
            quick={"steps": [1, 8, 32], "seeds": [0], "epochs": 2}),
    Chapter("07_maps", "Kinematic maps", quick={"epochs": 2}),
    Chapter("08_conclusions", "Conclusions"),
)


def get_chapter(chapter_id: str) -> Chapter:
    """Look up a chapter; an unknown id is an error listing the known ones."""
    for ch in CHAPTERS:
        if ch.id == chapter_id:
            return ch
    known = ", ".join(c.id for c in CHAPTERS)
    raise KeyError(f"unknown chapter {chapter_id!r}; the chapters are: {known}")
