"""The GUI tests: one window fixture (tiny checkpoint, tiny gallery, throw-away settings).

They need a display with OpenGL (pytest-xvfb starts Xvfb); every test here is marked `gui`, so
`pytest -m "not gui"` runs the core suite without one.
"""
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from tests.media import T_POSE
from vvipe_core.gallery import build_gallery

STARTUP_TIMEOUT_MS = 60_000


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session")
def tiny_gallery(tiny_model, small_poses, tmp_path_factory) -> Path:
    gallery = build_gallery(tiny_model, small_poses, size=60, seed=0, source="small")
    return gallery.save(tmp_path_factory.mktemp("gallery") / "gallery.npz")


@pytest.fixture
def window(qtbot, tiny_checkpoint, tiny_gallery, tmp_path):
    """The main window, started on the T-pose photo and idle; closed at teardown."""
    from app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(checkpoint=tiny_checkpoint, gallery=tiny_gallery, open_files=[T_POSE],
                     settings=settings)
    win.show()
    qtbot.waitExposed(win)
    wait_idle(qtbot, win, lambda: win.state.walk.pose is not None and bool(win.state.search.hits))
    yield win
    win.close()
    QThreadPool.globalInstance().waitForDone(STARTUP_TIMEOUT_MS)  # cancelled jobs run out
    win.deleteLater()
    QApplication.processEvents()


def wait_idle(qtbot, win, condition=lambda: True, timeout: int = STARTUP_TIMEOUT_MS) -> None:
    """Wait until every job has finished (and the search timer has fired) and `condition`."""
    def done() -> bool:
        return win.controller.idle() and condition()

    qtbot.waitUntil(done, timeout=timeout)


def drop_files(target: QWidget, paths: list[Path]) -> None:
    """A real drag-enter + drop of local file URLs on `target`."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = target.rect().center()
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    # Qt's drag-enter event takes an integer point, the drop event a float one.
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted(), "the drop target refused the files"
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, drop)
