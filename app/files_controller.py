"""Opening files: pictures (one, several, a folder), videos, pose files, galleries and
checkpoints, each in a job; what was opened goes into the source state (the Pose tab then
lifts it), and the device the model runs on."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app import tasks
from app.feature import FeatureController
from app.history import View
from app.history_controller import HistoryController
from app.search_controller import SearchController
from app.state import AppState, Picture, Sequence
from app.workers import Jobs
from vvipe_core.gallery import Gallery
from vvipe_core.images import IMAGE_SUFFIXES
from vvipe_core.library import Entry, media_files
from vvipe_core.video import VIDEO_SUFFIXES

if TYPE_CHECKING:  # torch: imported by the job that loads the model, not by the window
    from vvipe_core.api import VVIPE


class FilesController(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs, search: SearchController,
                 history: HistoryController) -> None:
        super().__init__(state, jobs)
        self.search = search  # opens the galleries that come as .npz files
        self.history = history  # pictures opened together are Forward steps
        self.device: str | None = None  # None: the GPU when there is one (see tasks.load_model)
        self._pending: list[Path] = []  # files opened before the model was ready
        self._goto: Entry | None = None  # a library hit's frame / person, once its file is open
        self.openers: dict[str, Callable[[Path], None]] = {
            **dict.fromkeys(IMAGE_SUFFIXES, self.open_picture),
            **dict.fromkeys(VIDEO_SUFFIXES, self.open_video),
            ".npz": self.open_npz,
            **dict.fromkeys((".json", ".csv"), self.open_exported),
            ".pt": self.open_checkpoint,
        }

    # -- files --------------------------------------------------------------------------
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

    # -- device -------------------------------------------------------------------------------
    def set_device(self, device: str) -> None:
        """Move the model (and every model loaded later) to `device`."""
        self.device = device
        model = self.state.source.model
        if model is not None and model.device.type != device:
            model.to(device)
            self.message(f"model on {device}")
