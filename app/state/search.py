"""The gallery search: the k nearest poses and the selected one laid over the picture."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from psygnal import Signal, SignalGroup

from app.state.evented import Evented

if TYPE_CHECKING:  # torch comes with these: imported off the window's thread
    from vvipe_core.gallery import Hit


class SearchEvents(SignalGroup):
    k = Signal()
    hits = Signal()
    show_overlay = Signal()  # the user's choice
    overlay = Signal()  # the points drawn


class SearchState(Evented):
    def __init__(self) -> None:
        self.events = SearchEvents()
        self.k = 8
        self.hits: list[Hit] = []
        self.sketches: np.ndarray | None = None  # (k, 17, 2) front views, for thumbnails
        self.show_overlay = False  # draw the selected hit's fitted projection over the picture
        self.overlay: np.ndarray | None = None  # (17, 2) picture pixels

    def set_k(self, k: int) -> None:
        self._update("k", k=int(k))

    def set_hits(self, hits: list[Hit], sketches: np.ndarray | None) -> None:
        self._update("hits", hits=hits, sketches=sketches)

    def set_show_overlay(self, on: bool) -> None:
        self._update("show_overlay", show_overlay=bool(on))

    def set_overlay(self, points: np.ndarray | None) -> None:
        self._update("overlay", overlay=points)
