"""Start-up: the window's modules import no torch, MediaPipe or scipy (the jobs that need them
import them while the window paints), the window says it is loading until the model is there,
and the 3D views of tabs nobody opened are made when first shown, with what was set before.
Progress bars schedule their paint instead of repainting the window at once or animating."""
import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QApplication, QProgressBar, QVBoxLayout, QWidget

from app.panels import LOADING
from app.skeleton_view import RIGHT, SkeletonView
from app.widgets import ProgressBar
from tests.app.conftest import wait_idle
from tests.media import T_POSE

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "mediapipe", "scipy")


def test_the_window_modules_import_nothing_heavy():
    code = f"import sys, app.main_window; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout[-300:]


def test_the_window_says_it_is_loading_until_the_model_is_there(qtbot, tiny_checkpoint,
                                                                 tiny_gallery, tmp_path):
    from app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(tiny_checkpoint, tiny_gallery, [T_POSE], settings)
    qtbot.addWidget(window)
    window.show()
    # The model comes from a job, whose result reaches the window through its event loop:
    # nothing of it yet.
    assert window.state.source.model is None
    assert window.pose_panel.title.text() == LOADING
    assert window.device.count() == 0 and not window.device.isEnabled()
    assert "loading model" in window.busy.text()
    assert window.cancel.isVisible() and not window.progress.isVisible()  # no busy animation
    wait_idle(qtbot, window, lambda: window.state.walk.pose is not None)
    assert window.pose_panel.title.text() == window.state.walk.anchor.label
    assert window.device.isEnabled() and window.device.itemText(0) == "cpu"
    assert window.device.currentText() == window.state.source.model.device.type
    window.close()


def test_a_hidden_tabs_3d_view_is_made_when_shown_with_the_poses_set_before(window, qtbot):
    panel = window.virtual_panel
    assert window.state.virtual.views is not None  # computed for the shown pose, tab unopened
    assert not panel.view.findChildren(QOpenGLWidget)
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: bool(panel.view.findChildren(QOpenGLWidget)))
    np.testing.assert_allclose(panel.view.joints(), window.state.virtual.views.lifted, atol=1e-6)
    image = panel.view.canvas.render(alpha=False)[..., :3].astype(int)
    right = np.round(np.array(RIGHT[:3]) * 255).astype(int)
    assert (np.abs(image - right).max(axis=-1) < 40).sum() > 50  # right limbs drawn


def test_a_3d_views_size_hint_is_the_same_before_its_canvas_is_made(qtbot):
    # The docks are laid out at start-up, before a hidden tab's view has its canvas: with the
    # canvas's hint missing, the right-hand column came out narrower than its widgets.
    view = SkeletonView(size=(360, 170))
    qtbot.addWidget(view)
    before = view.sizeHint()
    assert not view.findChildren(QOpenGLWidget)
    view.canvas  # noqa: B018 (made now)
    assert view.findChildren(QOpenGLWidget)
    assert (before.width(), before.height()) == (360, 170)
    assert view.layout().sizeHint() == before  # what the canvas asks for, once made


class Paints(QObject):
    def __init__(self, widget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        self.count += event.type() == QEvent.Type.Paint
        return False


def test_a_progress_bar_paints_a_new_value_with_the_next_frame_not_at_once(qtbot):
    page = QWidget()
    layout = QVBoxLayout(page)
    ours, plain = ProgressBar(maximum=100), QProgressBar(maximum=100)
    layout.addWidget(ours)
    layout.addWidget(plain)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    QApplication.processEvents()
    ours_paints, plain_paints = Paints(ours), Paints(plain)
    plain.setValue(40)
    assert plain_paints.count == 1  # what it avoids: Qt's bar repaints inside setValue
    ours.setValue(40)
    assert ours_paints.count == 0
    qtbot.waitUntil(lambda: ours_paints.count > 0)
    assert ours.value() == 40
