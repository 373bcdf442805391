"""Back / Forward: every pose shown is a step (app/history.py keeps them); going back shows a
step's picture and person or sequence and frame again, then its pose."""
from __future__ import annotations

from app.feature import FeatureController
from app.history import History, View
from app.state import AppState
from app.workers import Jobs


class HistoryController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs) -> None:
        super().__init__(state, jobs)
        self.history = History()
        self._navigating = False  # Back / Forward restores a view: not a new step
        state.walk.events.anchor.connect(self._record)

    def _record(self) -> None:
        source, anchor = self.state.source, self.state.walk.anchor
        if self._navigating or anchor is None:
            return
        self.history.record(View(source.picture, source.people, source.person, source.sequence,
                                 source.frame, anchor))
        self._changed()

    def _changed(self) -> None:
        self.state.status.set_history(self.history.can_back, self.history.can_forward)

    def insert(self, views: list[View]) -> None:
        """Steps after the current one (pictures opened together), the first one shown."""
        self.history.insert(views)
        self._restore(views[0])

    def back(self) -> None:
        self._restore(self.history.back())

    def forward(self) -> None:
        self._restore(self.history.forward())

    def _restore(self, view: View | None) -> None:
        """Show `view` again: its picture and person or its sequence and frame, then its pose."""
        if view is None:
            return
        source, model = self.state.source, self.state.source.model
        self._navigating = True
        try:
            if view.sequence is not None:
                source.set_picture(None, [])
                source.set_sequence(view.sequence)
                source.set_frame(view.frame)
            else:
                source.set_sequence(None)
                source.set_picture(view.picture, view.people)
                source.set_person(view.person)
            anchor = model and view.anchor_for(model.embedding_dim, model.embed_3d)
            if anchor is not None:
                self.state.walk.set_anchor(anchor)
        finally:
            self._navigating = False
        self._record()  # the current step, as now shown
        self._changed()
