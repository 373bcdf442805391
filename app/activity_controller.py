"""Activity recognition: the classifier loaded for the model, the shown pose's labels and a
sequence's label track."""
from __future__ import annotations

from pathlib import Path

from app import tasks
from app.feature import FeatureController
from app.state import AppState
from app.walk_controller import WalkController
from app.workers import Jobs


class ActivityController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs, walk: WalkController) -> None:
        super().__init__(state, jobs)
        self.walk = walk
        state.walk.events.anchor.connect(self.refresh)  # a new photo or frame is labelled at once
        state.source.events.sequence.connect(self._refresh_track)
        state.activity.events.classifier.connect(self.refresh)
        state.activity.events.classifier.connect(self._refresh_track)
        state.source.events.model.connect(self._load)
        walk.settled.connect(self.refresh)

    def open_classifier(self, path: Path | None) -> None:
        """Use the activity classifier at `path` (None: the bundled one), now and for the
        models loaded later."""
        self.state.activity.set_path(path)
        self._load()

    def _load(self) -> None:
        model, activity = self.state.source.model, self.state.activity
        if model is not None:
            self.jobs.start("classifier", "loading the activity classifier",
                            tasks.load_classifier, activity.path, model,
                            on_result=lambda loaded: activity.set_classifier(*loaded))

    def refresh(self) -> None:
        """The shown pose's best labels: read from what was seen (a photo's person, a video
        frame's keypoints) while the walk is at its anchor, else from the shown 3D pose."""
        activity, walk = self.state.activity, self.state.walk
        anchor, classifier = walk.anchor, activity.classifier
        if classifier is None or anchor is None or walk.pose is None:
            activity.set_labels([])
            return
        seen = anchor.keypoints is not None and self.walk.at_anchor()
        activity.set_labels(tasks.activities(classifier, anchor.keypoints if seen else walk.pose))

    def _refresh_track(self) -> None:
        """Label the shown sequence's frames, in a job: every frame is embedded and lifted."""
        activity, sequence = self.state.activity, self.state.source.sequence
        activity.set_track([])
        if sequence is None or activity.classifier is None:
            self.jobs.cancel("activity")
            return
        self.jobs.start("activity", "recognising activities", tasks.activity_track,
                        activity.classifier, sequence, on_result=activity.set_track)
