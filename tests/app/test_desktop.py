"""The window behaves as a desktop tool should: its own exports reopen, errors go away,
closed docks come back, paths do not depend on where it was started, folders open, Back and
Forward, no silent cancel, every control explained, shortcuts, a small screen."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, QStandardPaths, Qt, QThreadPool
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLineEdit,
    QMenuBar,
    QScrollBar,
    QTabBar,
)

from tests.app.conftest import STARTUP_TIMEOUT_MS, drop_files, wait_idle
from tests.helpers import SMALL_POSES
from tests.media import STANDING, T_POSE, Y_POSE, write_video
from vvipe_core.detect import PoseDetector
from vvipe_core.library import PoseLibrary

RUN_TIMEOUT_MS = 120_000


def click_item(qtbot, widget, item, double: bool = False) -> None:
    """A real mouse click (or double-click) on a list item."""
    widget.scrollToItem(item)
    centre = widget.visualItemRect(item).center()
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    if double:  # the view acts on a double-click only after a press on the same item
        qtbot.mouseDClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def activate(qtbot, win) -> None:
    """Keyboard shortcuts go to the active window (no window manager under Xvfb)."""
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)


def new_window(qtbot, tiny_checkpoint, tiny_gallery, settings, open_files=(T_POSE,)):
    from app.main_window import MainWindow

    win = MainWindow(checkpoint=tiny_checkpoint, gallery=tiny_gallery,
                     open_files=list(open_files), settings=settings)
    win.show()
    qtbot.waitExposed(win)
    wait_idle(qtbot, win, lambda: win.state.walk.pose is not None)
    return win


def close_window(win) -> None:
    win.close()
    QThreadPool.globalInstance().waitForDone(STARTUP_TIMEOUT_MS)
    win.deleteLater()


# -- 1. round trips -------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".npz", ".json", ".csv"])
def test_an_exported_video_reopens_as_the_same_sequence(window, qtbot, tmp_path, suffix):
    video = write_video(tmp_path / "clip.avi", [T_POSE, T_POSE, None, Y_POSE], fps=10)
    drop_files(window, [video])
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None)
    lifted = window.state.source.sequence
    exported = tmp_path / f"clip{suffix}"
    window.controller.pose.export_poses(exported)
    drop_files(window, [exported])
    wait_idle(qtbot, window, lambda: window.state.source.sequence.path == exported)
    assert window.error_text() == ""
    reopened = window.state.source.sequence
    np.testing.assert_allclose(reopened.poses, lifted.poses, atol=1e-4, equal_nan=True)
    assert reopened.fps == 10
    window.pose_panel.timeline.slider.setValue(3)
    np.testing.assert_allclose(window.pose_panel.view.joints(), lifted.poses[3], atol=1e-4)


# -- 2. errors ------------------------------------------------------------------------------
def test_a_success_clears_the_error_and_the_error_moves_nothing(window, qtbot, tmp_path):
    tab_bar = window.tabs.tabBar()
    where = tab_bar.mapTo(window, QPoint(0, 0))
    drop_files(window, [tmp_path / "notes.txt"])
    qtbot.waitUntil(lambda: window.error_bar.isVisible())
    assert "cannot open '.txt'" in window.error_text()
    assert tab_bar.mapTo(window, QPoint(0, 0)) == where  # the tabs stay under the mouse
    drop_files(window, [Y_POSE])
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE)
    assert window.error_text() == "" and not window.error_bar.isVisible()
    assert "yogait_letter_y" in window.statusBar().currentMessage()


def test_an_error_is_dismissed_with_its_close_button(window, qtbot, tmp_path):
    from PySide6.QtWidgets import QToolButton

    drop_files(window, [tmp_path / "notes.txt"])
    close = window.error_bar.findChild(QToolButton)
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    assert window.error_text() == "" and not window.error_bar.isVisible()


# -- 3. docks -------------------------------------------------------------------------------
def test_a_closed_dock_comes_back_from_the_view_menu_after_a_restart(
        window, qtbot, tiny_checkpoint, tiny_gallery):
    similar = window.findChild(QDockWidget, "Similar poses")
    similar.close()
    assert not similar.isVisible()
    window.close()
    again = new_window(qtbot, tiny_checkpoint, tiny_gallery, window.settings)
    try:
        dock = again.findChild(QDockWidget, "Similar poses")
        assert not dock.isVisible()  # the user's layout is kept...
        view_menu = next(a.menu() for a in again.menuBar().actions() if a.text() == "&View")
        toggle = next(a for a in view_menu.actions() if a.text() == "Similar poses")
        assert toggle.isCheckable() and not toggle.isChecked()
        toggle.trigger()  # ...and View brings the dock back
        assert dock.isVisible()
        dock.close()
        latent = again.findChild(QDockWidget, "Latent walk")
        latent.setFloating(True)
        reset = next(a for a in view_menu.actions() if a.text() == "Reset &layout")
        reset.trigger()
        assert dock.isVisible() and latent.isVisible() and not latent.isFloating()
    finally:
        close_window(again)


# -- 4. paths -------------------------------------------------------------------------------
@pytest.fixture
def user_folders():
    QStandardPaths.setTestModeEnabled(True)  # ~/.qttest/...: no real user folder is touched
    yield
    QStandardPaths.setTestModeEnabled(False)


def test_started_from_another_folder_nothing_depends_on_it(
        qtbot, tiny_checkpoint, tiny_gallery, tmp_path, monkeypatch, user_folders):
    from app.places import PROJECT

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = new_window(qtbot, tiny_checkpoint, tiny_gallery, settings)
    try:
        data = Path(QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.AppDataLocation))
        panel = win.train_panel
        assert panel.train_data.path() == (PROJECT / "../shared/data/cmu_h36m17_train.npz").resolve()
        assert panel.out.path().is_relative_to(data) and panel.out.path().is_absolute()
        assert win.library_panel.path().is_relative_to(data)

        # A config's relative paths are read next to the config, not in the launch folder.
        configs = tmp_path / "configs"
        configs.mkdir()
        (configs / "run.toml").write_text('train_data = "data/train.npz"\n'
                                          'val_data = "/abs/val.npz"\n', encoding="utf-8")
        panel.load_config(configs / "run.toml")
        assert panel.train_data.path() == configs / "data" / "train.npz"
        assert panel.val_data.path() == Path("/abs/val.npz")

        # Dialogs open where the user last was, with a name from the shown file.
        drop_files(win, [Y_POSE])
        wait_idle(qtbot, win, lambda: win.state.source.picture.path == Y_POSE)
        asked = {}

        def save_dialog(parent, caption, start, name_filter):
            asked["start"] = Path(start)
            return str(tmp_path / "out" / "pose.json"), name_filter

        monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
        (tmp_path / "out").mkdir()
        export = next(a for a in win.findChildren(type(win.back_action))
                      if a.text() == "&Export poses…")
        export.trigger()
        assert asked["start"] == Y_POSE.resolve().parent / "yogait_letter_y.json"
        assert (tmp_path / "out" / "pose.json").is_file()
        export.trigger()  # the folder just used is remembered
        assert asked["start"].parent == tmp_path / "out"
        assert list(elsewhere.iterdir()) == []  # nothing written where it was started
    finally:
        close_window(win)


# -- 5. folders and several files ----------------------------------------------------------
def test_a_dropped_folder_opens_every_picture_with_back_and_forward(window, qtbot, tmp_path,
                                                                     tiny_model):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in (T_POSE, Y_POSE, STANDING):
        shutil.copy(photo, folder / photo.name)
    drop_files(window, [folder])
    names = sorted(p.name for p in folder.iterdir())
    wait_idle(qtbot, window, lambda: window.state.source.picture.path.name == names[0])
    assert window.error_text() == "" and "3 pictures" in window.statusBar().currentMessage()
    seen = [window.state.source.picture.path.name]
    for _ in names[1:]:
        window.forward_action.trigger()
        seen.append(window.state.source.picture.path.name)
    assert seen == names and not window.forward_action.isEnabled()
    with PoseDetector() as detector:
        last = detector.detect_person(folder / names[-1])
    np.testing.assert_allclose(window.pose_panel.view.joints(),
                               tiny_model.lift(last.keypoints[None])[0], atol=1e-5)
    window.back_action.trigger()
    assert window.state.source.picture.path.name == names[1]


def test_several_dropped_photos_all_open(window, qtbot):
    drop_files(window, [Y_POSE, STANDING])
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE.resolve())
    window.forward_action.trigger()
    assert window.state.source.picture.path == STANDING.resolve()


def test_a_video_among_dropped_photos_is_named_not_dropped_silently(window, qtbot, tmp_path):
    video = write_video(tmp_path / "clip.avi", [T_POSE])
    drop_files(window, [Y_POSE, video])
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE.resolve())
    assert "clip.avi" in window.error_text() and "one at a time" in window.error_text()


# -- 6. navigation and feedback -------------------------------------------------------------
def test_back_returns_from_a_gallery_hit_to_the_photos_pose(window, qtbot):
    photo_pose = window.pose_panel.view.joints()
    assert not window.back_action.isEnabled()
    lst = window.gallery_panel.list
    hit = window.state.search.hits[1]
    click_item(qtbot, lst, lst.item(1))
    np.testing.assert_array_equal(window.pose_panel.view.joints(), hit.pose)
    assert window.back_action.isEnabled()
    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)  # Alt+←
    np.testing.assert_allclose(window.pose_panel.view.joints(), photo_pose, atol=1e-6)
    assert window.state.source.picture.path == T_POSE
    window.forward_action.trigger()
    np.testing.assert_array_equal(window.pose_panel.view.joints(), hit.pose)


def test_back_returns_to_the_previous_photo(window, qtbot):
    drop_files(window, [Y_POSE])
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE)
    window.back_action.trigger()
    assert window.state.source.picture.path == T_POSE and "yogait_t_pose" in window.windowTitle()


def test_a_double_clicked_library_hit_is_shown_on_the_pose_tab(window, qtbot, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(Y_POSE, media / Y_POSE.name)
    window.tabs.setCurrentWidget(window.library_panel)
    window.controller.library.build(tmp_path / "lib", [media])
    wait_idle(qtbot, window, lambda: bool(window.state.library.hits), timeout=RUN_TIMEOUT_MS)
    hits = window.library_panel.hits
    click_item(qtbot, hits, hits.item(0), double=True)
    wait_idle(qtbot, window, lambda: window.state.source.picture.path.name == Y_POSE.name)
    assert window.tabs.currentIndex() == 0


def test_searching_without_a_library_says_what_to_do(window, qtbot):
    window.tabs.setCurrentWidget(window.library_panel)
    qtbot.mouseClick(window.library_panel.search, Qt.MouseButton.LeftButton)
    assert "no library is open" in window.error_text()


def test_opening_a_photo_during_a_video_lift_says_the_lift_stopped(window, qtbot, tmp_path):
    video = write_video(tmp_path / "long.avi", [T_POSE] * 40)
    drop_files(window, [video])
    drop_files(window, [Y_POSE])
    assert "stopped lifting video long.avi" in window.statusBar().currentMessage()
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE)
    assert window.state.source.sequence is None


def test_cancel_says_what_it_stopped(window, qtbot, tmp_path):
    drop_files(window, [write_video(tmp_path / "long.avi", [T_POSE] * 40)])
    qtbot.mouseClick(window.cancel, Qt.MouseButton.LeftButton)
    assert "cancelled: lifting video long.avi" in window.statusBar().currentMessage()


# -- 8. cancel runs the job's cleanup ------------------------------------------------------
@pytest.fixture
def closed_detectors(monkeypatch):
    """How many pose detectors were closed."""
    closed = []
    original = PoseDetector.close

    def close(self):
        closed.append(self)
        original(self)

    monkeypatch.setattr(PoseDetector, "close", close)
    return closed


def test_a_cancelled_video_lift_closes_its_detector(window, qtbot, tmp_path, closed_detectors):
    drop_files(window, [write_video(tmp_path / "long.avi", [T_POSE] * 40)])
    qtbot.waitUntil(lambda: window.progress.maximum() > 0, timeout=RUN_TIMEOUT_MS)  # running
    window.cancel.click()
    QThreadPool.globalInstance().waitForDone(RUN_TIMEOUT_MS)
    assert len(closed_detectors) == 1
    assert window.state.source.sequence is None and window.error_text() == ""


def test_a_cancelled_indexing_keeps_every_finished_file(window, qtbot, tmp_path,
                                                        closed_detectors):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(Y_POSE, media / "a.jpg")
    write_video(media / "b.avi", [T_POSE] * 40)
    window.controller.jobs.progress.connect(
        lambda done, total: done >= 1 and window.cancel.isVisible() and window.cancel.click())
    window.controller.library.build(tmp_path / "lib", [media])
    wait_idle(qtbot, window, timeout=RUN_TIMEOUT_MS)
    QThreadPool.globalInstance().waitForDone(RUN_TIMEOUT_MS)
    assert "cancelled: indexing" in window.statusBar().currentMessage()
    saved = PoseLibrary.open(tmp_path / "lib")
    assert [Path(f).name for f in saved.files] == ["a.jpg"] and len(saved) == 1
    assert len(closed_detectors) == 1


# -- 7. the screen explains itself ----------------------------------------------------------
def test_every_control_has_a_tooltip(window):
    controls = window.findChildren(QAbstractButton) + window.findChildren(QAbstractSlider) \
        + window.findChildren(QAbstractSpinBox) + window.findChildren(QComboBox) \
        + window.findChildren(QLineEdit)

    def explained(widget) -> bool:
        # A control's own parts (a labelled slider's label, a spin box's editor) share its tip.
        return bool(widget.toolTip()) or bool(widget.parent() and widget.parent().toolTip())

    def qt_own(widget) -> bool:  # scroll bars, tab scrollers, dock title buttons
        return isinstance(widget, QScrollBar) or isinstance(widget.parent(),
                                                             (QTabBar, QDockWidget, QComboBox, QMenuBar))

    missing = [f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r} in "
               f"{type(w.parent()).__name__}" for w in controls
               if not qt_own(w) and not explained(w)]
    assert missing == []


def test_help_about_names_the_version_model_and_licences(window):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    next(iter(help_menu.actions())).trigger()
    text = window.about_box.text()
    assert "0.1" in text and window.state.source.model.source in text
    assert "Apache-2.0" in text and "CMU" in text and "LGPL" in text
    window.about_box.close()


def test_the_3d_view_has_a_legend(window):
    legend = window.pose_panel.view.legend
    assert legend.isVisible() and "right" in legend.text() and "left" in legend.text()
    assert "cm" in legend.text()


def test_space_and_arrows_play_and_step_a_sequence(window, qtbot):
    drop_files(window, [SMALL_POSES])
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None)
    assert "small" in window.windowTitle()
    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.state.source.frame == 1
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.pose_panel.timeline.play.isChecked()
    qtbot.waitUntil(lambda: window.state.source.frame > 2, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.pose_panel.timeline.play.isChecked()


def test_the_title_names_the_shown_file(window):
    assert window.windowTitle().startswith(T_POSE.name)


def test_a_long_activity_text_does_not_change_the_panel_widths(window, qtbot):
    widths = (window.picture_panel.width(), window.pose_panel.width())
    window.pose_panel.activity.setText(" · ".join(["lie / crawl / acrobatic 33%"] * 8))
    qtbot.wait(50)
    assert (window.picture_panel.width(), window.pose_panel.width()) == widths


def test_the_3d_view_is_centred_on_the_body(window):
    view = window.pose_panel.view
    view.reset_camera()
    z = view.joints()[:, 2]
    assert view.view.camera.center[2] == pytest.approx((z.min() + z.max()) / 2)


def test_the_window_fits_a_1280_by_720_screen(window, qtbot):
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        window.resize(1280, 720)
        qtbot.wait(20)
        assert window.width() <= 1280 and window.height() <= 720, window.tabs.tabText(index)


def test_the_training_and_library_tabs_are_built_when_first_shown(window, qtbot):
    from app.library_panel import LibraryPanel
    from app.train_panel import TrainPanel

    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    training = titles.index("Training")
    assert not isinstance(window.tabs.widget(training), TrainPanel)
    qtbot.mouseClick(window.tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=window.tabs.tabBar().tabRect(training).center())
    assert isinstance(window.tabs.currentWidget(), TrainPanel)
    assert window.tabs.currentIndex() == training and window.train_panel is window.tabs.currentWidget()
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == titles
    assert window.tabs.tabToolTip(training)
    assert isinstance(window.library_panel, LibraryPanel)  # asked for: built, not shown
    assert window.tabs.currentIndex() == training
