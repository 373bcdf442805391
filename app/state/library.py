"""The My library tab: the open pose library and the last search's hits."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from psygnal import Signal, SignalGroup

from app.state.evented import Evented

if TYPE_CHECKING:  # torch comes with these: imported off the window's thread
    from vvipe_core.library import LibraryHit, PoseLibrary


class LibraryEvents(SignalGroup):
    library = Signal()
    hits = Signal()


class LibraryState(Evented):
    def __init__(self) -> None:
        self.events = LibraryEvents()
        self.library: PoseLibrary | None = None
        self.hits: list[tuple[LibraryHit, np.ndarray]] = []  # with source thumbnails

    def set_library(self, library: PoseLibrary | None) -> None:
        self.library = library  # updated in place by indexing: always announce it
        self.events.library.emit()

    def set_hits(self, hits: list[tuple[LibraryHit, np.ndarray]]) -> None:
        self._update("hits", hits=hits)
