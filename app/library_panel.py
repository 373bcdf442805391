"""The Library tab: build your own pose library from pictures and videos, search it with the
current photo or pose, and jump to a hit's picture or video frame."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.controller import Controller
from app.drawing import to_qimage
from app.state import AppState
from vvipe_core.library import LibraryHit

THUMBNAIL = QSize(160, 120)
HIT_ROLE = Qt.ItemDataRole.UserRole


class LibraryPanel(QWidget):
    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state = state
        self.controller = controller
        self.directory = QLineEdit(str(controller.places.data("library")))
        self.directory.setToolTip("The folder the library is kept in (created when you add "
                                  "files)")
        browse = QToolButton(text="…", toolTip="Choose the library's folder and open it")
        browse.clicked.connect(self._browse)
        open_button = QPushButton("Open", toolTip="Open the library in this folder")
        open_button.clicked.connect(lambda: controller.library.open(self.path()))
        add_folder = QPushButton("Add folder…", toolTip="Index every picture and video of a "
                                 "folder (only new or changed files are processed)")
        add_folder.clicked.connect(self._add_folder)
        add_files = QPushButton("Add files…", toolTip="Index chosen pictures and videos")
        add_files.clicked.connect(self._add_files)
        self.search = QPushButton("Search with the current pose",
                                  toolTip="The library's poses nearest to the shown one, from "
                                  "any camera angle")
        self.search.clicked.connect(controller.library.search)
        top = QHBoxLayout()
        top.addWidget(QLabel("Library:"))
        top.addWidget(self.directory, 1)
        for widget in (browse, open_button, add_folder, add_files, self.search):
            top.addWidget(widget)
        self.info = QLabel("Add a folder of your pictures and videos: every person in them is "
                           "embedded, then any photo or pose finds them from any camera angle.")
        self.info.setWordWrap(True)
        self.hits = QListWidget()
        self.hits.setViewMode(QListView.ViewMode.IconMode)
        self.hits.setIconSize(THUMBNAIL)
        self.hits.setResizeMode(QListView.ResizeMode.Adjust)
        self.hits.setWordWrap(True)
        self.hits.setGridSize(QSize(THUMBNAIL.width() + 24, THUMBNAIL.height() + 56))
        self.hits.setToolTip("Double-click a hit to show its picture or video frame")
        self.hits.itemDoubleClicked.connect(
            lambda item: controller.library.open_hit(item.data(HIT_ROLE)))
        # Unlike the gallery, a library holds no true 3D poses to fit to the photo.
        self.ranking = QLabel("Hits are ranked by embedding distance only (the library stores no "
                              "3D poses to check them against the photo).")
        self.ranking.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.info)
        layout.addWidget(self.ranking)
        layout.addWidget(self.hits, 1)
        state.library.events.library.connect(self._library_changed)
        state.library.events.hits.connect(self._hits_changed)
        self._library_changed()  # built when first shown: a library may be open already
        self._hits_changed()

    def path(self) -> Path:
        return Path(self.directory.text())

    def _browse(self) -> None:
        path = self.controller.places.directory(self, "Library folder", self.path())
        if path:
            self.directory.setText(str(path))
            self.controller.library.open(path)

    def _add_folder(self) -> None:
        folder = self.controller.places.directory(self, "Add a folder of pictures and videos")
        if folder:
            self.controller.library.build(self.path(), [folder])

    def _add_files(self) -> None:
        paths = self.controller.places.open_files(self, "Add pictures and videos")
        if paths:
            self.controller.library.build(self.path(), paths)

    def _library_changed(self) -> None:
        library = self.state.library.library
        if library is not None:
            self.info.setText(f"{library.directory}: {len(library):,} poses from "
                              f"{len(library.files):,} files. Double-click a hit to open it.")

    def _hits_changed(self) -> None:
        self.hits.clear()
        for hit, thumbnail in self.state.library.hits:
            item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(thumbnail))), _caption(hit))
            item.setData(HIT_ROLE, hit)
            item.setToolTip(f"{hit.entry.file}\ndistance {hit.distance:.3f}")
            self.hits.addItem(item)


def _caption(hit: LibraryHit) -> str:
    name = Path(hit.entry.file).name
    when = f" · {hit.entry.time_s:.2f} s" if hit.entry.is_video else ""
    return f"{name}{when}\n{hit.distance:.3f}"
