"""The Virtual cameras tab: how many cameras at which height, and what they see."""
from __future__ import annotations

from psygnal import Signal, SignalGroup

from app.state.evented import Evented
from app.state.values import VirtualViews


class VirtualEvents(SignalGroup):
    cameras = Signal()  # count or elevation
    views = Signal()


class VirtualState(Evented):
    def __init__(self) -> None:
        self.events = VirtualEvents()
        self.count = 4
        self.elevation = 10.0  # degrees above the pelvis
        self.views: VirtualViews | None = None

    def set_cameras(self, count: int, elevation: float) -> None:
        self._update("cameras", count=int(count), elevation=float(elevation))

    def set_views(self, views: VirtualViews | None) -> None:
        self._update("views", views=views)
