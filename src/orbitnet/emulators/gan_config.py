"""How one coefficient's GAN is built and trained (:class:`GANConfig`): Table 5.1's settings.

Kept apart from :mod:`orbitnet.emulators.gan` (which needs Keras) so that the chapter
parameters (:mod:`orbitnet.book.registry`) read these defaults without importing TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

SCALINGS = ("global", "pixel")


@dataclass(frozen=True)
class GANConfig:
    """How one coefficient's GAN is built and trained.

    Attributes
    ----------
    epochs, batch_size : Table 5.1 (20, 2).
    latent_dim : length of the noise vector, uniform in [-1, 1]. The Table B.1 net squeezes its
        input through ``Dense(2)``, so more than a few dimensions add nothing; 8 is our choice.
    learning_rate : Adam's; Table 5.1 sets none, i.e. Keras' default 0.001.
    beta_1 : Adam's first-moment decay (Keras' default 0.9).
    mask : the generator has the Table B.1 mask branch.
    conditional : conditional GAN (M/L given to both networks).
    scaling : ``"global"`` divides all pixels by the largest |value| (the thesis' [-1, 1]);
        ``"pixel"`` divides each pixel by its largest |value| over the models (pixels zero in
        every image stay exactly zero, see :class:`Scaling`). Zero stays zero.
    disc_filters : filters of the discriminator's convolutions (strides (3, 2), then (2, 2)).
    seed : seeds the weights (``keras.utils.set_random_seed``), the batch order and the noise.
    fused : train the fused, equivalent form of the Table B.1 net (faster).
    """

    epochs: int = 20
    batch_size: int = 2
    latent_dim: int = 8
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    mask: bool = True
    conditional: bool = False
    scaling: str = "global"
    disc_filters: tuple[int, ...] = (8, 16, 32)
    seed: int = 0
    fused: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.latent_dim < 1:
            raise ValueError("epochs, batch_size and latent_dim must be positive")
        if not self.learning_rate > 0:
            raise ValueError("learning_rate must be positive")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {self.scaling!r}")
        if not self.disc_filters:
            raise ValueError("the discriminator needs at least one convolution")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["disc_filters"] = list(self.disc_filters)
        return d

    def with_(self, **overrides) -> GANConfig:
        """A copy with some fields changed."""
        return replace(self, **overrides)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GANConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "disc_filters" in kw:
            kw["disc_filters"] = tuple(kw["disc_filters"])
        return cls(**kw)
