"""The Compare photos tab: 2-4 photos, their lifted poses and pairwise distances."""
from __future__ import annotations

import numpy as np
from psygnal import Signal, SignalGroup

from app.state.evented import Evented
from app.state.values import Comparison


class CompareEvents(SignalGroup):
    comparisons = Signal()


class CompareState(Evented):
    def __init__(self) -> None:
        self.events = CompareEvents()
        self.comparisons: list[Comparison] = []
        self.distances: np.ndarray | None = None

    def set_comparisons(self, comparisons: list[Comparison], distances: np.ndarray | None) -> None:
        self._update("comparisons", comparisons=comparisons, distances=distances)
