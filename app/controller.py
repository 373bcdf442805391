"""Turns user gestures into state changes: opens files, starts jobs, walks the latent space.

Widgets call these methods and listen to the state; they never call vvipe_core themselves.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from superqt.utils import qthrottled

from app import tasks
from app.generation import Generation
from app.history import History, View
from app.places import Places
from app.state import Anchor, AppState, Comparison, Picture, Sequence
from app.workers import Jobs
from vvipe_core.errors import VVIPEError
from vvipe_core.gallery import Gallery, GalleryFileError, Hit, LatentAxes, embedding_distances
from vvipe_core.images import IMAGE_SUFFIXES
from vvipe_core.library import Entry, LibraryHit, PoseLibrary, media_files
from vvipe_core.video import VIDEO_SUFFIXES

if TYPE_CHECKING:  # torch: imported by the job that loads the model, not by the window
    from vvipe_core.api import VVIPE

# Errors whose message already names the file and the reason: shown as they are (a
# checkpoint's and a data file's errors are VVIPEErrors).
USER_ERRORS = (VVIPEError, GalleryFileError, OSError)
MAX_COMPARED = 4
# Slider drags and playback ask for a new pose per move or frame: the pose is drawn at once;
# the gallery search, activity labels and virtual views follow at most once per SETTLE_MS, for
# the pose shown then (a throttle: a steady stream of requests still gets answers, a few times
# a second, while most frames of a drag draw the pose alone).
SETTLE_MS = 100


class Controller(QObject):
    poseRequested = Signal()  # the user asked to see a pose (a library hit): show the Pose tab
    historyChanged = Signal()  # Back / Forward became possible or not

    def __init__(self, state: AppState, parent: QObject | None = None,
                 places: Places | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.places = places or Places(QSettings("V-VIPE", "V-VIPE Studio"))
        self.history = History()
        self._navigating = False  # Back / Forward restores a view: not a new step
        self.jobs = Jobs(self)
        self.jobs.failed.connect(self._failed)
        self.k = 8
        self.virtual_count = 4
        self.virtual_elevation = 10.0
        self.device: str | None = None  # None: the GPU when there is one (see tasks.load_model)
        self._raw_gallery: Gallery | None = None
        self._pending: list[Path] = []  # files opened before the model was ready
        self._goto: Entry | None = None  # a library hit's frame / person, once its file is open
        self.classifier_path: Path | None = None  # None: the bundled activity classifier
        self._settle_later = qthrottled(self._settle, timeout=SETTLE_MS, leading=False)
        self._settling = False  # a _settle is due
        self._search_due = False  # part of it: the gallery search
        self.overlay = False  # draw the selected hit's fitted projection over the picture
        self._selected: Hit | None = None
        state.hitsChanged.connect(self._refresh_overlay)
        for signal in (state.pictureChanged, state.personChanged, state.frameChanged):
            signal.connect(lambda: state.set_overlay(None))  # the hits were for another one
        self.generation = Generation(state, self.jobs, self)
        state.modelChanged.connect(self._model_changed)
        state.galleryChanged.connect(self._reset_walk_axes)
        state.pictureChanged.connect(self._person_changed)
        state.personChanged.connect(self._person_changed)
        state.sequenceChanged.connect(self._frame_changed)
        state.sequenceChanged.connect(self._refresh_track)
        state.classifierChanged.connect(self._refresh_activity)
        state.classifierChanged.connect(self._refresh_track)
        state.anchorChanged.connect(self._anchor_changed)
        state.walkChanged.connect(self._refresh_pose)
        state.frameChanged.connect(self._frame_changed)
        state.anchorChanged.connect(self._record_view)
        self.openers: dict[str, Callable[[Path], None]] = {
            **dict.fromkeys(IMAGE_SUFFIXES, self.open_picture),
            **dict.fromkeys(VIDEO_SUFFIXES, self.open_video),
            ".npz": self.open_npz,
            **dict.fromkeys((".json", ".csv"), self.open_exported),
            ".pt": self.open_checkpoint,
        }

    def shutdown(self) -> None:
        """Stop timers and drop running jobs (their results would reach a closed window)."""
        self._settle_later.cancel()
        self._settling = False
        self.jobs.cancel()

    def cancel_jobs(self) -> None:
        """The user's Cancel: stop every job and say which."""
        stopped = self.jobs.cancel()
        if stopped:
            self.message(f"cancelled: {', '.join(stopped)}")

    def idle(self) -> bool:
        """No job running and nothing waiting for the walk to rest."""
        return self.jobs.idle and not self._settling

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

    def open_gallery(self, path: Path | None) -> None:
        self.jobs.start("gallery", "loading gallery", tasks.load_gallery, path,
                        on_result=self._gallery_loaded)

    def open_picture(self, path: Path) -> None:
        self._start_detect(f"finding people in {path.name}", tasks.detect_picture, path,
                           on_result=self._picture_detected)

    def open_video(self, path: Path) -> None:
        if self._wait_for_model(path):
            return
        self._start_detect(f"lifting video {path.name}", tasks.lift_video, path,
                           self.state.model, on_result=self._sequence_loaded)

    def open_npz(self, path: Path) -> None:
        """A pose file (played on the timeline) or a gallery (searched)."""
        if self._wait_for_model(path):
            return
        self._start_detect(f"reading {path.name}", tasks.load_npz, path, self.state.model,
                           on_result=self._npz_loaded)

    def open_exported(self, path: Path) -> None:
        """Poses exported as JSON or CSV (by the app or `vvipe lift`), played on the timeline."""
        if self._wait_for_model(path):
            return
        self._start_detect(f"reading {path.name}", tasks.load_exported, path, self.state.model,
                           on_result=self._sequence_loaded)

    def _npz_loaded(self, loaded: Gallery | Sequence) -> None:
        if isinstance(loaded, Gallery):
            self._gallery_loaded(loaded)
            self.message(f"gallery {loaded.source or ''}: {len(loaded)} poses")
        else:
            self._sequence_loaded(loaded)

    def _wait_for_model(self, path: Path) -> bool:
        if self.state.model is None:
            self._pending.append(path)
            return True
        return False

    # -- results --------------------------------------------------------------------------
    def _model_loaded(self, model: VVIPE) -> None:
        self.state.set_classifier(None)  # trained for the previous model
        # The pose shows now; the gallery, embedded by this model in a job, follows.
        self.state.set_model(model, None, None)
        self._embed_gallery()
        self._load_classifier()
        self.message(f"model {model.source} (embedding {model.embedding_dim}-D)")
        pending, self._pending = self._pending, []
        for path in pending:
            self.open_path(path)

    def _gallery_loaded(self, gallery: Gallery) -> None:
        self._raw_gallery = gallery
        self._embed_gallery()

    def _embed_gallery(self) -> None:
        """The gallery's poses embedded by the current model (off the window's thread: a few
        hundred milliseconds), then searched."""
        if self.state.model is not None and self._raw_gallery is not None:
            self.jobs.start("embed gallery", "embedding the gallery", tasks.embed_gallery,
                            self._raw_gallery, self.state.model,
                            on_result=self._gallery_embedded)

    def _gallery_embedded(self, embedded: tuple[Gallery | None, LatentAxes | None]) -> None:
        self.state.set_gallery(*embedded)
        self._search()

    def _picture_detected(self, result: tuple[Picture, list]) -> None:
        picture, people = result
        self.state.set_sequence(None)
        self.state.set_picture(picture, people)
        goto, self._goto = self._goto, None
        if goto is not None and goto.file == str(picture.path) and goto.person < len(people):
            self.state.set_person(goto.person)
        if not people:
            self.error(f"{picture.path}: no person found in the picture")

    def show_picture(self, picture: Picture, people: list) -> None:
        """A picture whose people were found elsewhere (a live snapshot), shown as if opened."""
        self._picture_detected((picture, people))

    def _sequence_loaded(self, sequence: Sequence | None) -> None:
        if sequence is None:  # cancelled
            return
        self.state.set_picture(None, [])
        self.state.set_sequence(sequence)
        self.message(f"{sequence.path.name}: {len(sequence.poses)} frames")
        goto, self._goto = self._goto, None
        if goto is not None and goto.file == str(sequence.path):
            self.state.set_frame(min(goto.frame, len(sequence.poses) - 1))

    def _failed(self, label: str, error: Exception) -> None:
        if isinstance(error, USER_ERRORS):
            self.error(str(error))
        else:  # a bug, but the window stays usable
            self.error(f"{label} failed: {type(error).__name__}: {error}")

    def message(self, text: str) -> None:
        self.state.show_message(text, error=False)

    def error(self, text: str) -> None:
        self.state.show_message(text, error=True)

    # -- what the walk starts from -----------------------------------------------------------
    def _model_changed(self) -> None:
        """A new model re-lifts what is shown (a picture, a sequence frame or a gallery pose)."""
        if self.state.people:
            self._person_changed()
        elif self.state.sequence is not None:
            self._frame_changed()
        elif self.state.anchor is not None and self.state.anchor.pose is not None:
            anchor = self.state.anchor
            latent = self.state.model.embed_3d(anchor.pose[None])[0]
            self.state.set_anchor(replace(anchor, latent=latent))
        self._refresh_comparisons()

    def select_person(self, index: int) -> None:
        """The index-th person of the picture, or of the video's tracked people."""
        sequence = self.state.sequence
        if sequence is not None and sequence.people:
            person = list(sequence.people)[index]
            if person != sequence.person:
                frame = self.state.frame
                self.state.set_sequence(replace(sequence.people[person], people=sequence.people))
                self.state.set_frame(frame)
            return
        self.state.set_person(index)

    def _clear_pose(self) -> None:
        """Nothing to show (nobody in the picture or frame): no stale pose next to it."""
        self.state.set_anchor(None)
        self.state.set_view(None, None)
        self.state.set_hits([], None)
        self.state.set_activity([])
        self.state.set_virtual(None)

    def _person_changed(self) -> None:
        state = self.state
        if state.model is None or state.picture is None:
            return
        if not 0 <= state.person < len(state.people):
            self._clear_pose()
            return
        person = state.people[state.person]
        latent = tasks.embed_person(state.model, person)
        if latent is None:
            self._clear_pose()
            self.error(f"{state.picture.path}: person {state.person + 1} shows too few of the "
                       "shoulders and hips to be lifted")
            return
        name = state.picture.path.name if state.picture.path else "picture"
        # Shown as `vvipe lift` gives it; its bones are the body the walk keeps.
        lifted = state.model.decode(latent[None])[0]
        state.set_anchor(Anchor(latent, f"{name}, person {state.person + 1}", lifted,
                                keypoints=person.keypoints, confidence=person.confidence))

    def show_hit(self, hit: Hit) -> None:
        label = f"gallery: {hit.sequence} #{hit.frame} ({hit.activity})"
        latent = self.state.gallery.embeddings[hit.index]
        self.state.set_anchor(Anchor(latent, label, hit.pose, keep_hits=True))
        self._selected = hit
        self._refresh_overlay()

    def _frame_changed(self) -> None:
        state = self.state
        sequence = state.sequence
        if sequence is None:
            state.set_video_frame(None)
        if sequence is None or state.model is None or not 0 <= state.frame < len(sequence.poses):
            return
        self._show_video_frame()
        pose = sequence.poses[state.frame]
        if np.isnan(pose).any():
            self._clear_pose()
            self.message(f"frame {state.frame}: nobody lifted")
            return
        label = sequence.labels[state.frame] if sequence.labels else f"frame {state.frame}"
        latent = state.model.embed_3d(pose[None])[0]
        keypoints = sequence.keypoints[state.frame] if sequence.keypoints is not None else None
        confidence = sequence.confidence[state.frame] if keypoints is not None else None
        state.set_anchor(Anchor(latent, f"{sequence.path.name}: {label}", pose,
                                keypoints=keypoints, confidence=confidence))

    def _show_video_frame(self) -> None:
        """Read synchronously: one seek and decode is a few milliseconds, and a job per frame
        would flash the busy indicator all through playback."""
        try:
            rgb = tasks.video_frame(self.state.sequence, self.state.frame)
        except VVIPEError as error:
            rgb = None
            self.error(str(error))
        self.state.set_video_frame(rgb)

    def set_frame(self, frame: int) -> None:
        self.state.set_frame(frame)

    def step_frame(self, delta: int) -> None:
        """Previous / next frame, wrapping around the sequence."""
        if self.state.sequence is not None:
            self.state.set_frame((self.state.frame + delta) % len(self.state.sequence.poses))

    # -- export and device -------------------------------------------------------------------
    def export_poses(self, path: Path) -> None:
        """The shown sequence, else the current pose, to .json/.csv/.npz/.bvh (by suffix)."""
        state = self.state
        try:
            written = tasks.export_poses(path, state.model, state.sequence, state.pose)
        except (ValueError, *USER_ERRORS) as error:
            self.error(str(error))
            return
        self.message(f"exported to {written}")

    def set_device(self, device: str) -> None:
        """Move the model (and every model loaded later) to `device`."""
        self.device = device
        if self.state.model is not None and self.state.model.device.type != device:
            self.state.model.to(device)
            self.message(f"model on {device}")

    # -- the latent walk -----------------------------------------------------------------------
    def _anchor_changed(self) -> None:
        self._reset_walk_axes()
        self._refresh_pose()
        self._refresh_activity()  # a new photo or frame is labelled at once

    def _anchor_coordinates(self) -> np.ndarray:
        """Where the anchor lies along the latent axes (nothing when either is missing)."""
        axes, anchor = self.state.axes, self.state.anchor
        if axes is None or anchor is None or len(anchor.latent) != len(axes.mean):
            return np.zeros(0 if axes is None else len(axes.scale), dtype=np.float32)
        return axes.coordinates(anchor.latent)

    def _reset_walk_axes(self) -> None:
        self.state.set_walk(self._anchor_coordinates(), self.state.sigma, self.state.seed)

    def set_coordinate(self, axis: int, value: float) -> None:
        coordinates = self.state.coordinates.copy()
        coordinates[axis] = value
        self.state.set_walk(coordinates, self.state.sigma, self.state.seed)

    def set_sigma(self, sigma: float) -> None:
        self.state.set_walk(self.state.coordinates, sigma, self.state.seed)

    def resample(self) -> None:
        self.state.set_walk(self.state.coordinates, self.state.sigma, self.state.seed + 1)

    def reset_walk(self) -> None:
        self.state.set_walk(self._anchor_coordinates(), 0.0, self.state.seed)

    def _walks_axes(self) -> bool:
        axes = self.state.axes
        return axes is not None and len(self.state.coordinates) == len(axes.scale)

    def _at_anchor(self) -> bool:
        """The walk has not left its anchor: no axis moved, no variation."""
        moved = self._walks_axes() and not np.array_equal(self.state.coordinates,
                                                           self._anchor_coordinates())
        return not moved and self.state.sigma == 0

    def _refresh_pose(self) -> None:
        """Shown pose = decode(anchor moved along the named directions, plus variation)."""
        state, anchor = self.state, self.state.anchor
        # An anchor from the previous model waits for the re-anchoring that follows a swap.
        if state.model is None or anchor is None or len(anchor.latent) != state.model.embedding_dim:
            return
        latent, at_anchor = anchor.latent, self._at_anchor()
        if self._walks_axes():
            latent = state.axes.move_to(latent, state.coordinates)
        if state.sigma > 0:
            latent = state.model.sample(latent, state.sigma, n=1, seed=state.seed)[0]
        exact = anchor.pose is not None and at_anchor
        if exact:
            pose = anchor.pose
        else:  # on the anchor's body, kept near the data (app/generation.py)
            latent, pose = self.generation.shown(latent)
        state.set_view(latent, pose)
        self.message(anchor.label if at_anchor else f"{anchor.label}, moved in the embedding")
        self._search_due = self._search_due or not (exact and anchor.keep_hits)
        self._settling = True
        self._settle_later()

    def _settle(self) -> None:
        """What follows the shown pose, kept off the drawing path (see SETTLE_MS)."""
        self._settling = False
        self._refresh_activity()
        self._refresh_virtual()
        if self._search_due:
            self._search_due = False
            self._search()

    # -- activity recognition --------------------------------------------------------------
    def open_classifier(self, path: Path | None) -> None:
        """Use the activity classifier at `path` (None: the bundled one), now and for the
        models loaded later."""
        self.classifier_path = path
        self._load_classifier()

    def _load_classifier(self) -> None:
        if self.state.model is not None:
            self.jobs.start("classifier", "loading the activity classifier",
                            tasks.load_classifier, self.classifier_path, self.state.model,
                            on_result=lambda loaded: self.state.set_classifier(*loaded))

    def _refresh_activity(self) -> None:
        """The shown pose's best labels: read from what was seen (a photo's person, a video
        frame's keypoints) while the walk is at its anchor, else from the shown 3D pose."""
        state, anchor, classifier = self.state, self.state.anchor, self.state.classifier
        if classifier is None or anchor is None or state.pose is None:
            state.set_activity([])
            return
        seen = anchor.keypoints is not None and self._at_anchor()
        state.set_activity(tasks.activities(classifier, anchor.keypoints if seen else state.pose))

    def _refresh_track(self) -> None:
        """Label the shown sequence's frames, in a job: every frame is embedded and lifted."""
        state = self.state
        state.set_activity_track([])
        if state.sequence is None or state.classifier is None:
            self.jobs.cancel("activity")
            return
        self.jobs.start("activity", "recognising activities", tasks.activity_track,
                        state.classifier, state.sequence, on_result=state.set_activity_track)

    # -- retrieval -------------------------------------------------------------------------
    def set_k(self, k: int) -> None:
        self.k = k
        self._search()

    def _search(self) -> None:
        state = self.state
        if state.gallery is None or state.latent is None:
            return
        # What was seen checks the hits, until the walk moves away from it.
        anchor = state.anchor
        seen = anchor is not None and anchor.keypoints is not None and self._at_anchor()
        evidence = (anchor.keypoints, anchor.confidence) if seen else (None, None)
        self.jobs.start("search", "searching the gallery", tasks.search, state.gallery,
                        state.latent, self.k, *evidence, quiet=True,
                        on_result=lambda found: state.set_hits(*found))

    def set_overlay(self, on: bool) -> None:
        """Draw the selected hit (the best one until another is clicked) over the picture,
        through the camera fitted to it."""
        self.overlay = on
        self._refresh_overlay()

    def _refresh_overlay(self) -> None:
        hits = self.state.hits
        selected = next((h for h in hits if h is self._selected), hits[0] if hits else None)
        on = self.overlay and selected is not None
        self.state.set_overlay(selected.projected if on else None)

    # -- the user's pose library -----------------------------------------------------------
    def build_library(self, directory: Path, paths: list[Path]) -> None:
        """Index new and changed pictures and videos of `paths` into the library at
        `directory` (created if needed); cancellable, resumable."""
        if self.state.model is None:
            self.error("the model is not loaded yet: build the library in a moment")
            return
        self.jobs.start("library", f"indexing into {directory.name}", tasks.index_library,
                        directory, paths, self.state.model, on_result=self._library_built)

    def open_library(self, directory: Path) -> None:
        self.jobs.start("library", f"opening library {directory.name}", tasks.open_library,
                        directory, on_result=self._library_opened)

    def _library_built(self, library: PoseLibrary) -> None:
        self._library_opened(library)
        self.search_library()

    def _library_opened(self, library: PoseLibrary) -> None:
        self.state.set_library(library)
        self.message(f"library {library.directory}: {len(library)} poses "
                     f"from {len(library.files)} files")

    def search_library(self) -> None:
        """The library's poses nearest to the current photo or pose (its embedding)."""
        state = self.state
        if state.library is None:
            self.error("no library is open: choose its folder and click Open, or add a folder "
                       "of pictures and videos to build one")
            return
        if state.latent is None:
            self.error("no pose to search with: open a photo, a video or a pose file first")
            return
        self.jobs.start("library search", "searching the library", tasks.search_library,
                        state.library, state.latent, self.k,
                        on_result=state.set_library_hits)

    def open_library_hit(self, hit: LibraryHit) -> None:
        """Show a hit's source: the picture with the hit's person selected, or the video at the
        hit's frame."""
        self.poseRequested.emit()
        path, sequence = Path(hit.entry.file), self.state.sequence
        if hit.entry.is_video and sequence is not None and sequence.path == path:  # lifted
            self.state.set_frame(hit.entry.frame)
            return
        self._goto = hit.entry
        self.open_path(path)

    # -- Back / Forward -------------------------------------------------------------------
    def _record_view(self) -> None:
        state = self.state
        if self._navigating or state.anchor is None:
            return
        self.history.record(View(state.picture, state.people, state.person, state.sequence,
                                 state.frame, state.anchor))
        self.historyChanged.emit()

    def back(self) -> None:
        self._restore(self.history.back())

    def forward(self) -> None:
        self._restore(self.history.forward())

    def _restore(self, view: View | None) -> None:
        """Show `view` again: its picture and person or its sequence and frame, then its pose."""
        if view is None:
            return
        state = self.state
        self._navigating = True
        try:
            if view.sequence is not None:
                state.set_picture(None, [])
                state.set_sequence(view.sequence)
                state.set_frame(view.frame)
            else:
                state.set_sequence(None)
                state.set_picture(view.picture, view.people)
                state.set_person(view.person)
            anchor = state.model and view.anchor_for(state.model.embedding_dim,
                                                     state.model.embed_3d)
            if anchor is not None:
                state.set_anchor(anchor)
        finally:
            self._navigating = False
        self._record_view()  # the current step, as now shown
        self.historyChanged.emit()

    # -- multi-view comparison ---------------------------------------------------------------
    def add_comparisons(self, paths: list[Path]) -> None:
        free = MAX_COMPARED - len(self.state.comparisons)
        if len(paths) > free:
            self.error(f"at most {MAX_COMPARED} photos can be compared; "
                       f"{len(paths) - max(free, 0)} were left out")
        if free > 0 and paths:
            self.jobs.start("compare", f"finding people in {len(paths[:free])} photo(s)",
                            tasks.detect_pictures, paths[:free],
                            on_result=self._comparisons_detected)

    def clear_comparisons(self) -> None:
        self.state.set_comparisons([], None)

    def _comparisons_detected(self, results: list[tuple[Picture, list]]) -> None:
        model = self.state.model
        if model is None:
            self.error("the model is not loaded yet: add the photos again in a moment")
            return
        comparisons = list(self.state.comparisons)
        for picture, people in results:
            latent = tasks.embed_person(model, people[0]) if people else None
            if latent is None:
                self.error(f"{picture.path}: nobody who can be lifted in the picture")
                continue
            pose = model.decode(latent[None])[0]
            comparisons.append(Comparison(picture, people[0], latent, pose))
        self._set_comparisons(comparisons)

    def _refresh_comparisons(self) -> None:
        model = self.state.model
        self._set_comparisons([
            Comparison(c.picture, c.person, latent, model.decode(latent[None])[0])
            for c in self.state.comparisons
            if (latent := tasks.embed_person(model, c.person)) is not None
        ])

    def _set_comparisons(self, comparisons: list[Comparison]) -> None:
        latents = np.stack([c.latent for c in comparisons]) if comparisons else None
        distances = embedding_distances(latents) if latents is not None else None
        self.state.set_comparisons(comparisons, distances)

    # -- virtual cameras -------------------------------------------------------------------
    def set_virtual(self, count: int, elevation: float) -> None:
        self.virtual_count, self.virtual_elevation = count, elevation
        self._refresh_virtual()

    def _refresh_virtual(self) -> None:
        state = self.state
        if state.model is None or state.pose is None:
            state.set_virtual(None)
            return
        state.set_virtual(tasks.virtual_views(state.model, state.pose, self.virtual_count,
                                              self.virtual_elevation))
