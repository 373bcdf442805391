"""V-VIPE Studio's main window: drop a photo, see the pose in canonical 3D, search similar
poses, move through the embedding, compare views."""
from __future__ import annotations

import sys
import traceback
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QWidget,
)
from superqt.utils import signals_blocked

import vvipe_core
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
from app.places import Places
from app.state import AppState
from app.widgets import ProgressBar
from vvipe_core.bundled import bundled

if TYPE_CHECKING:
    from app.train_panel import TrainPanel
    from app.training import Training

SAMPLE_PHOTO = bundled("assets/sample.jpg")
APP_NAME = "V-VIPE Studio"
LIBRARY_TAB, TRAINING_TAB = "My library", "Training"
MAX_RECENT = 8
MESSAGE_MS = 10_000  # how long a success stays in the status bar
EXPORT_FILTER = ("JSON (*.json);;CSV (*.csv);;NumPy (*.npz);;BVH for Blender (*.bvh)")
OPEN_FILTER = ("Everything V-VIPE opens (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.mp4 *.mov "
               "*.avi *.mkv *.webm *.npz *.json *.csv *.pt);;All files (*)")


class ErrorBar(QWidget):
    """The last error, in the status bar (so nothing above it moves): stays until closed,
    replaced, or cleared by a later success."""

    def __init__(self, on_close) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        close = QToolButton(text="✕", toolTip="Dismiss this error", autoRaise=True)
        close.clicked.connect(on_close)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.setStyleSheet("background: #fbe3e1; color: #8a1f11;")
        self.setVisible(False)

    def show_error(self, text: str) -> None:
        self.label.setText(text)
        self.label.setToolTip(text)  # the whole of a long message
        self.setVisible(bool(text))

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
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("V-VIPE", "V-VIPE Studio")
        self.state = AppState()
        self.controller = Controller(self.state, self, Places(self.settings))
        self.about_box: QMessageBox | None = None
        self._build_views()
        self._build_status_bar()
        self._build_menus()
        self.state.status.events.message.connect(self._message_changed)
        for signal in (self.state.source.events.picture, self.state.source.events.sequence):
            signal.connect(self._update_title)
        self.controller.library.pose_requested.connect(lambda: self.tabs.setCurrentIndex(0))
        self._update_title()
        self._fit_screen()
        self._default_layout = self.saveState()  # what View > Reset layout goes back to
        for key, restore in (("geometry", self.restoreGeometry), ("docks", self.restoreState)):
            if self.settings.value(key) is not None:
                restore(self.settings.value(key))
        # The jobs run while the window paints; the slowest first (finding the people: MediaPipe
        # loads), the gallery last (it waits for the model to be embedded anyway).
        self.controller.files.open_paths([SAMPLE_PHOTO] if open_files is None else open_files)
        self.controller.files.open_checkpoint(checkpoint)
        self.controller.search.open_gallery(gallery)

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
        self._training: Training | None = None
        splitter = QSplitter()
        self.live_panel = LivePanel(state, controller,
                                    on_snapshot=lambda: self.tabs.setCurrentWidget(splitter))
        splitter.addWidget(self.picture_panel)
        splitter.addWidget(self.pose_panel)
        splitter.setSizes([500, 600])
        self.tabs = QTabWidget()
        # Tabs few people open at once are built the first time they are shown (the training
        # plots alone take a good part of the start-up otherwise).
        self._builders = {
            LIBRARY_TAB: lambda: LibraryPanel(state, controller),
            TRAINING_TAB: lambda: _train_panel(controller, self.training),
        }
        for widget, title, tip in (
            (splitter, "Pose", "The photo or video and its pose in canonical 3D"),
            (self.compare_panel, "Compare photos", "2–4 photos side by side: same pose?"),
            (self.virtual_panel, "Virtual cameras", "The pose seen and lifted from N cameras"),
            (QWidget(), LIBRARY_TAB, "Index and search your own pictures and videos"),
            (self.live_panel, "Live", "A camera or stream, lifted as it plays"),
            (QWidget(), TRAINING_TAB, "Train a model on pose files, with live curves"),
        ):
            self.tabs.setTabToolTip(self.tabs.addTab(widget, title), tip)
        self.tabs.currentChanged.connect(lambda i: self._tab(self.tabs.tabText(i)))
        self.setCentralWidget(self.tabs)
        self.docks: list[QDockWidget] = []
        for title, panel in (("Latent walk", self.latent_panel),
                             ("Pose editing", self.edit_panel),
                             ("Similar poses", self.gallery_panel)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            # Scrolled when the screen is too short for every dock (a 1280×720 laptop).
            scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
            scroll.setWidget(panel)
            dock.setWidget(scroll)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks.append(dock)
        # The walk and the editing share one place (tabs), so the window fits 1280 x 720.
        self.tabifyDockWidget(self.docks[0], self.docks[1])
        self.docks[0].raise_()

    def _tab(self, title: str) -> QWidget:
        """The page of the tab `title`, built now if it was not yet."""
        index = next(i for i in range(self.tabs.count()) if self.tabs.tabText(i) == title)
        build = self._builders.pop(title, None)
        if build is not None:
            current, tip, placeholder = (self.tabs.currentIndex(), self.tabs.tabToolTip(index),
                                         self.tabs.widget(index))
            with signals_blocked(self.tabs):
                self.tabs.removeTab(index)
                self.tabs.insertTab(index, build(), title)
                self.tabs.setTabToolTip(index, tip)
                self.tabs.setCurrentIndex(current)
            placeholder.deleteLater()
        return self.tabs.widget(index)

    @property
    def library_panel(self) -> LibraryPanel:
        return self._tab(LIBRARY_TAB)

    @property
    def train_panel(self) -> TrainPanel:
        return self._tab(TRAINING_TAB)

    @property
    def training(self) -> Training:
        """Training runs (made with the Training tab)."""
        if self._training is None:
            from app.training import Training

            self._training = Training(self)
            self._training.failed.connect(self.controller.error)
        return self._training

    def _build_status_bar(self) -> None:
        self.error_bar = ErrorBar(lambda: self.controller.message(""))
        self.busy = QLabel()
        self.progress = ProgressBar(maximumWidth=160, visible=False)
        self.cancel = QToolButton(text="Cancel", visible=False, toolTip="Stop the running work")
        self.cancel.clicked.connect(self.controller.cancel_jobs)
        self.device = QComboBox(toolTip="Where the model runs (CPU, or the GPU when there is one)",
                                enabled=False)  # filled once the model has loaded (_model_changed)
        self.device.currentTextChanged.connect(self.controller.files.set_device)
        self.state.source.events.model.connect(self._model_changed)
        self.statusBar().addWidget(self.error_bar, 1)
        for widget in (self.busy, self.progress, self.cancel, self.device):
            self.statusBar().addPermanentWidget(widget)
        jobs = self.controller.jobs
        jobs.busyChanged.connect(self._busy_changed)
        jobs.progress.connect(self._progress)

    def _model_changed(self) -> None:
        """The devices are known once torch is imported, which the model's job does (the window
        paints meanwhile)."""
        if self.device.count() == 0:
            with signals_blocked(self.device):
                self.device.addItems(tasks.devices())
                self.device.setCurrentText(self.state.source.model.device.type)
            self.device.setEnabled(True)

    def _build_menus(self) -> None:
        controller, timeline = self.controller, self.pose_panel.timeline
        file = self.menuBar().addMenu("&File")
        self._action(file, "&Open…", self._open, QKeySequence.StandardKey.Open)
        self._action(file, "Open &folder…", self._open_folder)
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
        for dock in self.docks:
            view.addAction(dock.toggleViewAction())
        self._action(view, "Reset &layout", self.reset_layout)
        view.addSeparator()
        self._action(view, "&Reset 3D view", self.pose_panel.view.reset_camera)
        go = self.menuBar().addMenu("&Go")
        history = controller.history
        self.back_action = self._action(go, "&Back", history.back, QKeySequence.StandardKey.Back)
        self.forward_action = self._action(go, "&Forward", history.forward,
                                           QKeySequence.StandardKey.Forward)
        go.addSeparator()
        self.play_action = self._action(go, "&Play / pause", timeline.play.toggle,
                                        QKeySequence(Qt.Key.Key_Space))
        self.previous_action = self._action(go, "Pre&vious frame", timeline.previous.click,
                                            QKeySequence(Qt.Key.Key_Left))
        self.next_action = self._action(go, "&Next frame", timeline.next.click,
                                        QKeySequence(Qt.Key.Key_Right))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About V-VIPE Studio", self.show_about)
        self.state.status.events.history.connect(self._update_actions)
        self.state.source.events.sequence.connect(self._update_actions)
        self._update_actions()
        self._update_recent_menu()

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda: slot())
        if shortcut is not None:
            action.setShortcut(shortcut)
        return action

    def _update_actions(self) -> None:
        status, playing = self.state.status, self.state.source.sequence is not None
        self.back_action.setEnabled(status.can_back)
        self.forward_action.setEnabled(status.can_forward)
        for action in (self.play_action, self.previous_action, self.next_action):
            action.setEnabled(playing)  # else the arrows stay with sliders and lists

    def _fit_screen(self) -> None:
        """1400×860, or less on a smaller screen."""
        screen = self.screen().availableGeometry()
        self.resize(min(1400, screen.width()), min(860, screen.height()))

    def reset_layout(self) -> None:
        """Every dock back where it started, visible."""
        self.restoreState(self._default_layout)
        for dock in self.docks:
            dock.setVisible(True)

    def _update_title(self) -> None:
        state = self.state
        shown = state.source.sequence.path if state.source.sequence is not None else (
            state.source.picture.path if state.source.picture is not None else None)
        self.setWindowTitle(f"{shown.name} — {APP_NAME}" if shown else APP_NAME)

    def show_about(self) -> None:
        model = self.state.source.model
        self.about_box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_NAME}",
                                     about_text(model.source if model else "not loaded yet"),
                                     QMessageBox.StandardButton.Close, self)
        self.about_box.setTextFormat(Qt.TextFormat.RichText)
        self.about_box.open()

    # -- files -------------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        for path in paths:
            self._remember(path)
        self.controller.files.open_paths(paths)

    def _open(self, name_filter: str = OPEN_FILTER) -> None:
        paths = self.controller.places.open_files(self, "Open", name_filter)
        if paths:
            self.open_paths(paths)

    def _open_folder(self) -> None:
        folder = self.controller.places.directory(self, "Open a folder of pictures")
        if folder:
            self.open_paths([folder])

    def _open_gallery(self) -> None:
        path = self.controller.places.open_file(self, "Open gallery", "Galleries (*.npz)")
        if path:
            self.controller.search.open_gallery(path)

    def _open_camera(self) -> None:
        source, ok = QInputDialog.getText(self, "Open camera", "Camera index (0, 1, ...), "
                                          "stream URL or video file:", text="0")
        if ok and source.strip():
            self.tabs.setCurrentWidget(self.live_panel)
            self.live_panel.open_source(source.strip())

    def _export(self) -> None:
        """The shown sequence (or the current pose), in the format of the chosen suffix."""
        state = self.state
        shown = state.source.sequence.path if state.source.sequence is not None else (
            state.source.picture.path if state.source.picture is not None else None)
        name = f"{shown.stem if shown else 'poses'}.json"
        path = self.controller.places.save_file(self, "Export poses", name, EXPORT_FILTER)
        if path:
            self.controller.pose.export_poses(path)

    def _compare(self) -> None:
        self.tabs.setCurrentWidget(self.compare_panel)
        self.compare_panel.add_dialog()

    def _remember(self, path: Path) -> None:
        path = Path(path).resolve()
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.controller.places.remember(path)
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
        """An error stays in the error bar; a success clears it and shows for a while."""
        text, error = self.state.status.message, self.state.status.is_error
        self.error_bar.show_error(text if error else "")
        if error or not text:
            self.statusBar().clearMessage()
        else:
            self.statusBar().showMessage(text, MESSAGE_MS)

    def error_text(self) -> str:
        """The error shown in the window ("" when none)."""
        return self.error_bar.text()

    def _busy_changed(self, label: str) -> None:
        self.busy.setText(label + "…" if label else "")
        self.cancel.setVisible(bool(label))
        # No bar until a job reports its progress: Qt's busy animation (a bar without a range)
        # repaints the window about 50 times a second, which under software OpenGL took two
        # thirds of a core from the very jobs it stood for.
        self.progress.setVisible(False)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        self.progress.setVisible(total > 0 and bool(self.busy.text()))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.shutdown()
        self.live_panel.stop(wait=True)  # its recording is saved
        if self._training is not None:
            self._training.shutdown()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("docks", self.saveState())
        super().closeEvent(event)


def _train_panel(controller: Controller, training: Training) -> TrainPanel:
    from app.train_panel import TrainPanel  # pyqtgraph: imported when the tab is first shown

    return TrainPanel(controller, training)


def about_text(model: str) -> str:
    try:
        version = metadata.version("vvipe-studio")
    except metadata.PackageNotFoundError:
        version = vvipe_core.__version__
    return (
        f"<h3>{APP_NAME} {version}</h3>"
        "<p>View-invariant 3D human pose: 2D keypoints from any camera → embedding → "
        "canonical 3D pose. A re-implementation of <i>V-VIPE: Variational View Invariant Pose "
        "Embedding</i> (Levy &amp; Shrivastava).</p>"
        f"<p><b>Model:</b> {model}</p>"
        "<p><b>Licences:</b> the model is trained on CMU motion capture (mocap.cs.cmu.edu; "
        "the database was created with funding from NSF EIA-0196217). The MediaPipe Pose "
        "Landmarker model is Apache-2.0. Qt for Python (PySide6) is LGPLv3; vispy, "
        "pyqtgraph and superqt are BSD; PyTorch is BSD-style. Every bundled file and its "
        "licence: assets/README.md.</p>"
        "<p><b>Keys:</b> Space play / pause, ← → frame steps, Alt+← Alt+→ back / forward.</p>"
    )


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
