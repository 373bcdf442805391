"""The My library tab: build, open and search the user's pose library; show a hit's source."""
from __future__ import annotations

from pathlib import Path

from psygnal import Signal

from app import tasks
from app.feature import FeatureController
from app.files_controller import FilesController
from app.state import AppState
from app.workers import Jobs
from vvipe_core.library import LibraryHit, PoseLibrary


class LibraryController(FeatureController):
    pose_requested = Signal()  # a hit's source is being shown: the window shows the Pose tab

    def __init__(self, state: AppState, jobs: Jobs, files: FilesController) -> None:
        super().__init__(state, jobs)
        self.files = files

    def build(self, directory: Path, paths: list[Path]) -> None:
        """Index new and changed pictures and videos of `paths` into the library at
        `directory` (created if needed); cancellable, resumable."""
        model = self.state.source.model
        if model is None:
            self.error("the model is not loaded yet: build the library in a moment")
            return
        self.jobs.start("library", f"indexing into {directory.name}", tasks.index_library,
                        directory, paths, model, on_result=self._built)

    def open(self, directory: Path) -> None:
        self.jobs.start("library", f"opening library {directory.name}", tasks.open_library,
                        directory, on_result=self._opened)

    def _built(self, library: PoseLibrary) -> None:
        self._opened(library)
        self.search()

    def _opened(self, library: PoseLibrary) -> None:
        self.state.library.set_library(library)
        self.message(f"library {library.directory}: {len(library)} poses "
                     f"from {len(library.files)} files")

    def search(self) -> None:
        """The library's poses nearest to the current photo or pose (its embedding)."""
        library, latent = self.state.library.library, self.state.walk.latent
        if library is None:
            self.error("no library is open: choose its folder and click Open, or add a folder "
                       "of pictures and videos to build one")
            return
        if latent is None:
            self.error("no pose to search with: open a photo, a video or a pose file first")
            return
        self.jobs.start("library search", "searching the library", tasks.search_library,
                        library, latent, self.state.search.k,
                        on_result=self.state.library.set_hits)

    def open_hit(self, hit: LibraryHit) -> None:
        """Show a hit's source: the picture with the hit's person selected, or the video at the
        hit's frame."""
        self.pose_requested.emit()
        self.files.show_entry(hit.entry)
