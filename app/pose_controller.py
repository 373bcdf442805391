"""The Pose tab: opening files (pictures, videos, pose files, galleries, checkpoints), the
person or frame shown and its lifted pose as the walk's anchor, Back / Forward, export and
the device the model runs on."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from app import tasks
from app.feature import USER_ERRORS, FeatureController
from app.history import History, View
from app.search_controller import SearchController
from app.state import Anchor, AppState, Picture, Sequence
from app.workers import Jobs
from vvipe_core.api import VVIPE
from vvipe_core.errors import VVIPEError
from vvipe_core.gallery import Gallery
from vvipe_core.images import IMAGE_SUFFIXES
from vvipe_core.library import Entry, media_files
from vvipe_core.video import VIDEO_SUFFIXES


class PoseController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs, search: SearchController) -> None:
        super().__init__(state, jobs)
        self.search = search  # opens the galleries that come as .npz files
        self.history = History()
        self._navigating = False  # Back / Forward restores a view: not a new step
        self.device = tasks.devices()[-1]  # the GPU when there is one
        self._pending: list[Path] = []  # files opened before the model was ready
        self._goto: Entry | None = None  # a library hit's frame / person, once its file is open
        source = state.source
        source.events.model.connect(self._model_changed)
        source.events.picture.connect(self._person_changed)
        source.events.person.connect(self._person_changed)
        source.events.sequence.connect(self._frame_changed)
        source.events.frame.connect(self._frame_changed)
        state.walk.events.anchor.connect(self._record_view)
        self.openers: dict[str, Callable[[Path], None]] = {
            **dict.fromkeys(IMAGE_SUFFIXES, self.open_picture),
            **dict.fromkeys(VIDEO_SUFFIXES, self.open_video),
            ".npz": self.open_npz,
            **dict.fromkeys((".json", ".csv"), self.open_exported),
            ".pt": self.open_checkpoint,
        }

    # -- opening files --------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        """One file opens as itself; a folder or several files open their pictures, the
        first shown and the others a Forward step away."""
        paths = [Path(p) for p in paths]
        if len(paths) == 1 and not paths[0].is_dir():
            self.open_path(paths[0])
            return
        media = media_files(paths)
        pictures = [p for p in media if p.suffix.lower() in IMAGE_SUFFIXES]
        others = [p for p in media if p not in pictures] + [
            p for p in paths if p.is_file() and p.suffix.lower() not in VIDEO_SUFFIXES
            and p.suffix.lower() not in IMAGE_SUFFIXES]
        left_out = [(f"{others[0]}: only pictures open together (a folder or several files); "
                     "open videos, pose files and checkpoints one at a time "
                     f"({len(others)} file(s) left out)")] if others else []
        if not pictures:
            self.error(left_out[0] if left_out else
                       f"{', '.join(map(str, paths))}: no pictures found")
            return
        self._start_detect(f"finding people in {len(pictures)} pictures", tasks.open_pictures,
                           pictures, on_result=lambda found: self._pictures_opened(*found,
                                                                                   left_out))

    def _pictures_opened(self, results: list[tuple[Picture, list]], failed: list[str],
                         left_out: list[str]) -> None:
        """The first picture shown, the others a Forward step away; then what could not be
        opened (after the pictures, so that their success does not clear it)."""
        views = [View(picture, people) for picture, people in results]
        if views:
            self.history.insert(views)
            self._restore(views[0])
            self.message(f"{len(views)} pictures opened: Forward (Alt+→) shows the next, "
                         "Back (Alt+←) the previous")
        problems = left_out + ([f"{len(failed)} picture(s) could not be read; {failed[0]}"]
                               if failed else [])
        if problems:
            self.error(" · ".join(problems))

    def _start_detect(self, label: str, fn: Callable, *args, on_result: Callable) -> None:
        """The one job that opens files: a new file replaces a file still opening (and
        says so)."""
        replaced = self.jobs.label("detect")
        self.jobs.start("detect", label, fn, *args, on_result=on_result)
        if replaced:
            self.message(f"stopped {replaced}: {label}")

    def open_path(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_dir():
            self.open_paths([path])
            return
        opener = self.openers.get(path.suffix.lower())
        if opener is None:
            self.error(f"{path}: cannot open '{path.suffix}' files (pictures, videos, folders, "
                       "poses in .npz, .json or .csv and .pt checkpoints can be opened)")
            return
        opener(path)

    def open_checkpoint(self, path: Path | None) -> None:
        self.jobs.start("model", f"loading model {path.name if path else ''}".strip(),
                        tasks.load_model, path, self.device, on_result=self._model_loaded)

    def open_picture(self, path: Path) -> None:
        self._start_detect(f"finding people in {path.name}", tasks.detect_picture, path,
                           on_result=self._picture_detected)

    def open_video(self, path: Path) -> None:
        if self._wait_for_model(path):
            return
        self._start_detect(f"lifting video {path.name}", tasks.lift_video, path,
                           self.state.source.model, on_result=self._sequence_loaded)

    def open_npz(self, path: Path) -> None:
        """A pose file (played on the timeline) or a gallery (searched)."""
        if self._wait_for_model(path):
            return
        self._start_detect(f"reading {path.name}", tasks.load_npz, path,
                           self.state.source.model, on_result=self._npz_loaded)

    def open_exported(self, path: Path) -> None:
        """Poses exported as JSON or CSV (by the app or `vvipe lift`), played on the timeline."""
        if self._wait_for_model(path):
            return
        self._start_detect(f"reading {path.name}", tasks.load_exported, path,
                           self.state.source.model, on_result=self._sequence_loaded)

    def _npz_loaded(self, loaded: Gallery | Sequence) -> None:
        if isinstance(loaded, Gallery):
            self.search.gallery_loaded(loaded)
            self.message(f"gallery {loaded.source or ''}: {len(loaded)} poses")
        else:
            self._sequence_loaded(loaded)

    def _wait_for_model(self, path: Path) -> bool:
        if self.state.source.model is None:
            self._pending.append(path)
            return True
        return False

    def show_entry(self, entry: Entry) -> None:
        """A library entry's source: its video at its frame, or its file opened with its
        person selected."""
        path, sequence = Path(entry.file), self.state.source.sequence
        if entry.is_video and sequence is not None and sequence.path == path:  # lifted
            self.state.source.set_frame(entry.frame)
            return
        self._goto = entry
        self.open_path(path)

    # -- results --------------------------------------------------------------------------
    def _model_loaded(self, model: VVIPE) -> None:
        self.state.activity.set_classifier(None)  # trained for the previous model
        # The pose shows now; the gallery, embedded by this model in a job, follows.
        self.state.source.set_model(model, None, None)
        self.message(f"model {model.source} (embedding {model.embedding_dim}-D)")
        pending, self._pending = self._pending, []
        for path in pending:
            self.open_path(path)

    def _picture_detected(self, result: tuple[Picture, list]) -> None:
        picture, people = result
        source = self.state.source
        source.set_sequence(None)
        source.set_picture(picture, people)
        goto, self._goto = self._goto, None
        if goto is not None and goto.file == str(picture.path) and goto.person < len(people):
            source.set_person(goto.person)
        if not people:
            self.error(f"{picture.path}: no person found in the picture")

    def show_picture(self, picture: Picture, people: list) -> None:
        """A picture whose people were found elsewhere (a live snapshot), shown as if opened."""
        self._picture_detected((picture, people))

    def _sequence_loaded(self, sequence: Sequence | None) -> None:
        if sequence is None:  # cancelled
            return
        source = self.state.source
        source.set_picture(None, [])
        source.set_sequence(sequence)
        self.message(f"{sequence.path.name}: {len(sequence.poses)} frames")
        goto, self._goto = self._goto, None
        if goto is not None and goto.file == str(sequence.path):
            source.set_frame(min(goto.frame, len(sequence.poses) - 1))

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

    # -- export and device -------------------------------------------------------------------
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

    def set_device(self, device: str) -> None:
        """Move the model (and every model loaded later) to `device`."""
        self.device = device
        model = self.state.source.model
        if model is not None and model.device.type != device:
            model.to(device)
            self.message(f"model on {device}")

    # -- Back / Forward -------------------------------------------------------------------
    def _record_view(self) -> None:
        source, anchor = self.state.source, self.state.walk.anchor
        if self._navigating or anchor is None:
            return
        self.history.record(View(source.picture, source.people, source.person, source.sequence,
                                 source.frame, anchor))
        self._history_changed()

    def _history_changed(self) -> None:
        self.state.status.set_history(self.history.can_back, self.history.can_forward)

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
        self._record_view()  # the current step, as now shown
        self._history_changed()
