"""V-VIPE Studio's main window: drop a photo, see the pose in canonical 3D, search similar
poses, move through the embedding, compare views."""
from __future__ import annotations

import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import tasks
from app.controller import Controller
from app.generation_panels import EditPanel, WalkPanel
from app.joint_drag import JointDrag
from app.library_panel import LibraryPanel
from app.live_view import LivePanel
from app.panels import (
    ComparePanel,
    GalleryPanel,
    PicturePanel,
    PosePanel,
    VirtualPanel,
    dropped_files,
)
from app.state import AppState
from app.train_panel import TrainPanel
from app.training import Training
from vvipe_core.bundled import bundled

SAMPLE_PHOTO = bundled("assets/sample.jpg")
MAX_RECENT = 8
EXPORT_FILTER = ("JSON (*.json);;CSV (*.csv);;NumPy (*.npz);;BVH for Blender (*.bvh)")
OPEN_FILTER = ("Everything V-VIPE opens (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.mp4 *.mov "
               "*.avi *.mkv *.webm *.npz *.pt);;All files (*)")


class MessageBar(QWidget):
    """An error line above the views: stays until closed or replaced."""

    def __init__(self, on_close) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕")
        close.clicked.connect(on_close)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.setStyleSheet("background: #fbe3e1; color: #8a1f11;")
        self.setVisible(False)

    def text(self) -> str:
        return self.label.text() if self.isVisibleTo(self.parentWidget()) else ""


class MainWindow(QMainWindow):
    def __init__(
        self,
        checkpoint: Path | None = None,
        gallery: Path | None = None,
        open_files: list[Path] | None = None,
        settings: QSettings | None = None,
    ) -> None:
        """`checkpoint`/`gallery`: None for the bundled ones; `open_files`: opened at start-up
        (default: the bundled sample photo)."""
        super().__init__()
        self.setWindowTitle("V-VIPE Studio")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("V-VIPE", "V-VIPE Studio")
        self.state = AppState(self)
        self.controller = Controller(self.state, self)
        self._build_views()
        self._build_status_bar()
        self._build_menus()
        self.state.messageChanged.connect(self._message_changed)
        self.resize(1400, 860)
        for key, restore in (("geometry", self.restoreGeometry), ("docks", self.restoreState)):
            if self.settings.value(key) is not None:
                restore(self.settings.value(key))
        self.controller.open_gallery(gallery)
        self.controller.open_checkpoint(checkpoint)
        for path in [SAMPLE_PHOTO] if open_files is None else open_files:
            self.controller.open_path(path)

    # -- layout ------------------------------------------------------------------------------
    def _build_views(self) -> None:
        state, controller = self.state, self.controller
        self.picture_panel = PicturePanel(state, controller)
        self.pose_panel = PosePanel(state, controller)
        self.compare_panel = ComparePanel(state, controller)
        self.virtual_panel = VirtualPanel(state, controller)
        self.latent_panel = WalkPanel(state, controller)
        self.edit_panel = EditPanel(state, controller)
        self.joint_drag = JointDrag(self.pose_panel.view, state, controller.generation)
        self.gallery_panel = GalleryPanel(state, controller)
        self.training = Training(self)
        self.train_panel = TrainPanel(controller, self.training)
        self.library_panel = LibraryPanel(state, controller)
        splitter = QSplitter()
        self.live_panel = LivePanel(state, controller,
                                    on_snapshot=lambda: self.tabs.setCurrentWidget(splitter))
        splitter.addWidget(self.picture_panel)
        splitter.addWidget(self.pose_panel)
        splitter.setSizes([500, 600])
        self.tabs = QTabWidget()
        self.tabs.addTab(splitter, "Pose")
        self.tabs.addTab(self.compare_panel, "Compare photos")
        self.tabs.addTab(self.virtual_panel, "Virtual cameras")
        self.tabs.addTab(self.library_panel, "My library")
        self.tabs.addTab(self.live_panel, "Live")
        self.tabs.addTab(self.train_panel, "Training")
        self.message_bar = MessageBar(lambda: self.state.show_message(""))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        for title, panel in (("Latent walk", self.latent_panel),
                             ("Pose editing", self.edit_panel),
                             ("Similar poses", self.gallery_panel)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(panel)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def _build_status_bar(self) -> None:
        self.progress = QProgressBar(maximumWidth=160, visible=False)
        self.cancel = QToolButton(text="Cancel", visible=False)
        self.cancel.clicked.connect(lambda: self.controller.jobs.cancel())
        self.device = QComboBox(toolTip="Where the model runs")
        self.device.addItems(tasks.devices())
        self.device.setCurrentText(self.controller.device)
        self.device.currentTextChanged.connect(self.controller.set_device)
        self.statusBar().addPermanentWidget(self.device)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel)
        jobs = self.controller.jobs
        jobs.busyChanged.connect(self._busy_changed)
        jobs.progress.connect(self._progress)

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self._action(file, "&Open…", self._open, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &Recent")
        self._action(file, "Open &checkpoint…", lambda: self._open("Checkpoints (*.pt)"))
        self._action(file, "Open &gallery…", self._open_gallery)
        self._action(file, "Open c&amera…", self._open_camera)
        self._action(file, "Co&mpare photos…", self._compare)
        file.addSeparator()
        self._action(file, "&Save 3D view…", self.pose_panel.save_dialog, QKeySequence.StandardKey.Save)
        self._action(file, "&Export poses…", self._export)
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = self.menuBar().addMenu("&Edit")
        generation = self.controller.generation
        self.undo_action = self._action(edit, "&Undo joint drag", generation.undo,
                                        QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo joint drag", generation.redo,
                                        QKeySequence.StandardKey.Redo)
        view = self.menuBar().addMenu("&View")
        self._action(view, "&Reset 3D view", self.pose_panel.view.reset_camera)
        self._update_recent_menu()

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda: slot())
        if shortcut is not None:
            action.setShortcut(shortcut)
        return action

    # -- files -------------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        for path in paths:
            self._remember(path)
            self.controller.open_path(path)

    def _open(self, name_filter: str = OPEN_FILTER) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open", "", name_filter)
        self.open_paths([Path(p) for p in paths])

    def _open_gallery(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open gallery", "", "Galleries (*.npz)")
        if path:
            self.controller.open_gallery(Path(path))

    def _open_camera(self) -> None:
        source, ok = QInputDialog.getText(self, "Open camera", "Camera index (0, 1, ...), "
                                          "stream URL or video file:", text="0")
        if ok and source.strip():
            self.tabs.setCurrentWidget(self.live_panel)
            self.live_panel.open_source(source.strip())

    def _export(self) -> None:
        """The shown sequence (or the current pose), in the format of the chosen suffix."""
        path, _ = QFileDialog.getSaveFileName(self, "Export poses", "poses.json", EXPORT_FILTER)
        if path:
            self.controller.export_poses(Path(path))

    def _compare(self) -> None:
        self.tabs.setCurrentWidget(self.compare_panel)
        self.compare_panel.add_dialog()

    def _remember(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._update_recent_menu()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self._action(self.recent_menu, path, lambda p=path: self.open_paths([Path(p)]))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.open_paths(dropped_files(event))
        event.acceptProposedAction()

    # -- feedback ----------------------------------------------------------------------------
    def _message_changed(self) -> None:
        text, error = self.state.message, self.state.message_is_error
        if error:
            self.message_bar.label.setText(text)
            self.message_bar.setVisible(True)
        elif not text:
            self.message_bar.setVisible(False)
        self.statusBar().showMessage(text)

    def error_text(self) -> str:
        """The error shown in the window ("" when none)."""
        return self.message_bar.text()

    def _busy_changed(self, label: str) -> None:
        self.progress.setVisible(bool(label))
        self.cancel.setVisible(bool(label))
        self.progress.setRange(0, 0)  # busy until a job reports progress
        self.statusBar().showMessage(label + "…" if label else self.state.message)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total) if total else 0)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.shutdown()
        self.live_panel.stop(wait=True)  # its recording is saved
        self.training.shutdown()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("docks", self.saveState())
        super().closeEvent(event)


def run() -> None:
    """Console entry point: `vvipe-studio [FILES...]` (pictures, videos, poses, checkpoints)."""
    qt_app = QApplication.instance() or QApplication(sys.argv)
    files = [Path(a) for a in sys.argv[1:]]
    window = MainWindow(open_files=files or None)

    def show_unexpected(kind: type, error: BaseException, trace: TracebackType | None) -> None:
        # A bug in a slot: report it in the window and keep going, as Qt itself would.
        traceback.print_exception(kind, error, trace)
        window.controller.error(f"unexpected error: {kind.__name__}: {error}")

    sys.excepthook = show_unexpected
    window.show()
    sys.exit(qt_app.exec())
