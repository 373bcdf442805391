"""What every feature's controller shares: the state it changes, the jobs it runs (one Jobs for
the window, so Cancel and the busy indicator cover them all) and the status line."""
from __future__ import annotations

from app.state import AppState
from app.workers import Jobs
from vvipe_core.errors import VVIPEError

# Errors whose message already names the file and the reason: shown as they are (every
# vvipe_core file error is a VVIPEError).
USER_ERRORS = (VVIPEError, OSError)


class FeatureController:
    """Turns one feature's gestures and the state's events into state changes and jobs."""

    def __init__(self, state: AppState, jobs: Jobs) -> None:
        self.state, self.jobs = state, jobs

    def message(self, text: str) -> None:
        self.state.status.show_message(text, error=False)

    def error(self, text: str) -> None:
        self.state.status.show_message(text, error=True)
