"""The window's controllers, one per feature, made and wired in one place.

Each feature's controller turns its gestures into state changes and jobs (app/*_controller.py,
app/generation.py); views call them and subscribe to the state's events, never calling
vvipe_core themselves. Features subscribe to the state's events in the order they are made
here, and an event reaches them in that order (the walk redraws before the activity labels
read the pose; a new picture clears the overlay before its person is lifted).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QSettings

from app.activity_controller import ActivityController
from app.compare_controller import CompareController
from app.feature import USER_ERRORS, FeatureController
from app.files_controller import FilesController
from app.generation import Generation
from app.history_controller import HistoryController
from app.library_controller import LibraryController
from app.places import Places
from app.pose_controller import PoseController
from app.search_controller import SearchController
from app.state import AppState
from app.virtual_controller import VirtualController
from app.walk_controller import WalkController
from app.workers import Jobs

__all__ = ["USER_ERRORS", "Controller"]


class Controller(QObject):
    def __init__(self, state: AppState, parent: QObject | None = None,
                 places: Places | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.places = places or Places(QSettings("V-VIPE", "V-VIPE Studio"))
        self.jobs = Jobs(self)
        self.jobs.failed.connect(self._failed)
        self.generation = Generation(state, self.jobs)
        self.walk = WalkController(state, self.jobs, self.generation)
        self.activity = ActivityController(state, self.jobs, self.walk)
        self.virtual = VirtualController(state, self.jobs, self.walk)
        self.search = SearchController(state, self.jobs, self.walk)
        self.pose = PoseController(state, self.jobs)
        self.history = HistoryController(state, self.jobs)
        self.files = FilesController(state, self.jobs, self.search, self.history)
        self.compare = CompareController(state, self.jobs)
        self.library = LibraryController(state, self.jobs, self.files)
        self._status = FeatureController(state, self.jobs)
        # For the views with no feature of their own (training, live, the window's bars).
        self.message, self.error = self._status.message, self._status.error

    def shutdown(self) -> None:
        """Stop timers and drop running jobs (their results would reach a closed window)."""
        self.walk.shutdown()
        self.jobs.cancel()

    def cancel_jobs(self) -> None:
        """The user's Cancel: stop every job and say which."""
        stopped = self.jobs.cancel()
        if stopped:
            self.message(f"cancelled: {', '.join(stopped)}")

    def idle(self) -> bool:
        """No job running and nothing waiting for the walk to rest."""
        return self.jobs.idle and not self.walk.settling

    def _failed(self, label: str, error: Exception) -> None:
        if isinstance(error, USER_ERRORS):
            self.error(str(error))
        else:  # a bug, but the window stays usable
            self.error(f"{label} failed: {type(error).__name__}: {error}")
