"""The Pose tab: the person or frame shown and its lifted pose as the walk's anchor (a new
model lifts it again), the frame browsed, and exporting what is shown."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from app import tasks
from app.feature import USER_ERRORS, FeatureController
from app.state import Anchor, AppState
from app.workers import Jobs
from vvipe_core.errors import VVIPEError


class PoseController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs) -> None:
        super().__init__(state, jobs)
        source = state.source
        source.events.model.connect(self._model_changed)
        source.events.picture.connect(self._person_changed)
        source.events.person.connect(self._person_changed)
        source.events.sequence.connect(self._frame_changed)
        source.events.frame.connect(self._frame_changed)

    # -- what the walk starts from -----------------------------------------------------------
    def _model_changed(self) -> None:
        """A new model re-lifts what is shown (a picture, a sequence frame or a gallery pose)."""
        source, walk = self.state.source, self.state.walk
        if source.people:
            self._person_changed()
        elif source.sequence is not None:
            self._frame_changed()
        elif walk.anchor is not None and walk.anchor.pose is not None:
            latent = source.model.embed_3d(walk.anchor.pose[None])[0]
            walk.set_anchor(replace(walk.anchor, latent=latent))

    def select_person(self, index: int) -> None:
        """The index-th person of the picture, or of the video's tracked people."""
        source = self.state.source
        sequence = source.sequence
        if sequence is not None and sequence.people:
            person = list(sequence.people)[index]
            if person != sequence.person:
                frame = source.frame
                source.set_sequence(replace(sequence.people[person], people=sequence.people))
                source.set_frame(frame)
            return
        source.set_person(index)

    def _clear_pose(self) -> None:
        """Nothing to show (nobody in the picture or frame): no stale pose next to it."""
        state = self.state
        state.walk.set_anchor(None)
        state.walk.set_view(None, None)
        state.search.set_hits([], None)
        state.activity.set_labels([])
        state.virtual.set_views(None)

    def _person_changed(self) -> None:
        source = self.state.source
        if source.model is None or source.picture is None:
            return
        if not 0 <= source.person < len(source.people):
            self._clear_pose()
            return
        person = source.people[source.person]
        latent = tasks.embed_person(source.model, person)
        if latent is None:
            self._clear_pose()
            self.error(f"{source.picture.path}: person {source.person + 1} shows too few of "
                       "the shoulders and hips to be lifted")
            return
        name = source.picture.path.name if source.picture.path else "picture"
        # Shown as `vvipe lift` gives it; its bones are the body the walk keeps.
        lifted = source.model.decode(latent[None])[0]
        self.state.walk.set_anchor(Anchor(latent, f"{name}, person {source.person + 1}", lifted,
                                          keypoints=person.keypoints,
                                          confidence=person.confidence))

    def _frame_changed(self) -> None:
        source = self.state.source
        sequence, frame = source.sequence, source.frame
        if sequence is None:
            source.set_video_frame(None)
        if sequence is None or source.model is None or not 0 <= frame < len(sequence.poses):
            return
        self._show_video_frame()
        pose = sequence.poses[frame]
        if np.isnan(pose).any():
            self._clear_pose()
            self.message(f"frame {frame}: nobody lifted")
            return
        label = sequence.labels[frame] if sequence.labels else f"frame {frame}"
        latent = source.model.embed_3d(pose[None])[0]
        keypoints = sequence.keypoints[frame] if sequence.keypoints is not None else None
        confidence = sequence.confidence[frame] if keypoints is not None else None
        self.state.walk.set_anchor(Anchor(latent, f"{sequence.path.name}: {label}", pose,
                                          keypoints=keypoints, confidence=confidence))

    def _show_video_frame(self) -> None:
        """Read synchronously: one seek and decode is a few milliseconds, and a job per frame
        would flash the busy indicator all through playback."""
        source = self.state.source
        try:
            rgb = tasks.video_frame(source.sequence, source.frame)
        except VVIPEError as error:
            rgb = None
            self.error(str(error))
        source.set_video_frame(rgb)

    def set_frame(self, frame: int) -> None:
        self.state.source.set_frame(frame)

    def step_frame(self, delta: int) -> None:
        """Previous / next frame, wrapping around the sequence."""
        source = self.state.source
        if source.sequence is not None:
            source.set_frame((source.frame + delta) % len(source.sequence.poses))

    # -- export -------------------------------------------------------------------------------
    def export_poses(self, path: Path) -> None:
        """The shown sequence, else the current pose, to .json/.csv/.npz/.bvh (by suffix)."""
        source = self.state.source
        try:
            written = tasks.export_poses(path, source.model, source.sequence,
                                         self.state.walk.pose)
        except (ValueError, *USER_ERRORS) as error:
            self.error(str(error))
            return
        self.message(f"exported to {written}")
