"""Generation: the shown latent's plausibility, pinned joints, whether a joint drag can be
undone or redone, and the in-between motion of two chosen poses."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal, SignalGroup

from app.state.evented import Evented


@dataclass(frozen=True)
class Endpoint:
    """One end of an in-between motion."""

    latent: np.ndarray  # (D,)
    label: str
    body: np.ndarray | None  # (17, 3), None: the nominal body


@dataclass(frozen=True)
class Between:
    """An in-between motion, ready to preview and export."""

    latents: np.ndarray  # (n, D)
    poses: np.ndarray  # (n, 17, 3) canonical, on the start's body
    fps: float


class GenerationEvents(SignalGroup):
    score = Signal()
    pins = Signal()
    undo = Signal()  # can_undo or can_redo
    between = Signal()  # the endpoints or the motion between them


class GenerationState(Evented):
    def __init__(self) -> None:
        self.events = GenerationEvents()
        self.score: float | None = None  # the shown latent's plausibility
        self.pins: frozenset[str] = frozenset()
        self.can_undo = False
        self.can_redo = False
        self.start: Endpoint | None = None
        self.end: Endpoint | None = None
        self.between: Between | None = None

    def set_score(self, score: float | None) -> None:
        self._update("score", score=score)

    def set_pins(self, pins: frozenset[str]) -> None:
        self._update("pins", pins=frozenset(pins))

    def set_undo(self, can_undo: bool, can_redo: bool) -> None:
        self._update("undo", can_undo=bool(can_undo), can_redo=bool(can_redo))

    def set_between(self, start: Endpoint | None, end: Endpoint | None,
                    between: Between | None) -> None:
        self._update("between", start=start, end=end, between=between)
