"""What the window shows: one small Qt-free evented state per feature (values plus psygnal
events, see evented.py). Controllers change it; views subscribe to its events.

The value types are importable from here (`from app.state import Anchor`).
"""
from __future__ import annotations

from app.state.activity import ActivityState
from app.state.compare import CompareState
from app.state.generation import GenerationState
from app.state.library import LibraryState
from app.state.search import SearchState
from app.state.source import SourceState
from app.state.status import StatusState
from app.state.values import Anchor, Comparison, Picture, Sequence, VirtualViews
from app.state.virtual import VirtualState
from app.state.walk import WalkState

__all__ = ["Anchor", "AppState", "Comparison", "Picture", "Sequence", "VirtualViews"]


class AppState:
    """Every feature's state, one attribute each."""

    def __init__(self) -> None:
        self.source = SourceState()
        self.walk = WalkState()
        self.search = SearchState()
        self.activity = ActivityState()
        self.compare = CompareState()
        self.virtual = VirtualState()
        self.library = LibraryState()
        self.generation = GenerationState()
        self.status = StatusState()
