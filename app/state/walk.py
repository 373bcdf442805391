"""The latent walk: where it starts (the anchor), how far it moved (coordinates along the named
directions, variation), and the latent and pose shown."""
from __future__ import annotations

import numpy as np
from psygnal import Signal, SignalGroup

from app.state.evented import Evented
from app.state.values import Anchor


class WalkEvents(SignalGroup):
    anchor = Signal()
    walk = Signal()  # coordinates, sigma, seed or keep_near
    latent = Signal()
    pose = Signal()


class WalkState(Evented):
    def __init__(self) -> None:
        self.events = WalkEvents()
        self.anchor: Anchor | None = None
        self.coordinates = np.zeros(0, dtype=np.float32)  # along the named directions
        self.sigma = 0.0
        self.seed = 0
        self.keep_near = True  # the walk stops where the gallery's poses end
        self.latent: np.ndarray | None = None
        self.pose: np.ndarray | None = None

    def set_anchor(self, anchor: Anchor | None) -> None:
        self._update("anchor", anchor=anchor)

    def set_walk(self, coordinates: np.ndarray, sigma: float, seed: int) -> None:
        coordinates = np.asarray(coordinates, dtype=np.float32)
        self._update("walk", coordinates=coordinates, sigma=float(sigma), seed=int(seed))

    def set_keep_near(self, on: bool) -> None:
        self._update("walk", keep_near=bool(on))

    def set_view(self, latent: np.ndarray | None, pose: np.ndarray | None) -> None:
        self._update("latent", latent=latent)
        self._update("pose", pose=pose)
