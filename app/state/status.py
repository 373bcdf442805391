"""The window's status: the last message (an error stays until replaced) and whether Back /
Forward can go anywhere."""
from __future__ import annotations

from psygnal import Signal, SignalGroup

from app.state.evented import Evented


class StatusEvents(SignalGroup):
    message = Signal()
    history = Signal()  # can_back or can_forward


class StatusState(Evented):
    def __init__(self) -> None:
        self.events = StatusEvents()
        self.message = ""
        self.is_error = False
        self.can_back = False
        self.can_forward = False

    def show_message(self, text: str, error: bool = False) -> None:
        self._update("message", message=text, is_error=error)

    def set_history(self, can_back: bool, can_forward: bool) -> None:
        self._update("history", can_back=bool(can_back), can_forward=bool(can_forward))
