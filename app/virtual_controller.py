"""The Virtual cameras tab: the shown pose seen by N cameras around it, each view lifted back."""
from __future__ import annotations

from app import tasks
from app.feature import FeatureController
from app.state import AppState
from app.walk_controller import WalkController
from app.workers import Jobs


class VirtualController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs, walk: WalkController) -> None:
        super().__init__(state, jobs)
        walk.settled.connect(self.refresh)

    def set_cameras(self, count: int, elevation: float) -> None:
        self.state.virtual.set_cameras(count, elevation)
        self.refresh()

    def refresh(self) -> None:
        model, pose, virtual = self.state.source.model, self.state.walk.pose, self.state.virtual
        if model is None or pose is None:
            virtual.set_views(None)
            return
        virtual.set_views(tasks.virtual_views(model, pose, virtual.count, virtual.elevation))
