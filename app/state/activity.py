"""Activity recognition: the classifier, the shown pose's labels, a sequence's label track."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from psygnal import Signal, SignalGroup

from app.state.evented import Evented

if TYPE_CHECKING:  # torch comes with these: imported off the window's thread
    from vvipe_core.classify import ActivityClassifier, Segment


class ActivityEvents(SignalGroup):
    classifier = Signal()  # the classifier, or why there is none
    labels = Signal()
    track = Signal()


class ActivityState(Evented):
    def __init__(self) -> None:
        self.events = ActivityEvents()
        self.path: Path | None = None  # the classifier's file; None: the bundled one
        self.classifier: ActivityClassifier | None = None  # for the current model
        self.note = ""  # why there is no classifier
        self.labels: list[tuple[str, float]] = []  # (label, score), best first
        self.track: list[Segment] = []  # in the sequence's frames

    def set_path(self, path: Path | None) -> None:
        self.path = path  # read when the next classifier loads: nothing to redraw

    def set_classifier(self, classifier: ActivityClassifier | None, note: str = "") -> None:
        self._update("classifier", classifier=classifier, note=note)

    def set_labels(self, labels: list[tuple[str, float]]) -> None:
        self._update("labels", labels=labels)

    def set_track(self, track: list[Segment]) -> None:
        self._update("track", track=track)
