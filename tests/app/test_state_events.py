"""Controllers change the evented state and views follow its events, through real key and
mouse events: each gesture changes the state once, and the view shows what the state holds."""
import numpy as np
from PySide6.QtCore import Qt

from tests.app.conftest import wait_idle


def recorder(event):
    fired = []
    event.connect(lambda: fired.append(True))
    return fired


def test_typing_k_changes_the_search_state_once_and_the_list_follows(window, qtbot):
    search, spin = window.state.search, window.gallery_panel.k
    k_fired, hits_fired = recorder(search.events.k), recorder(search.events.hits)
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert search.k == 9 and len(k_fired) == 1
    wait_idle(qtbot, window, lambda: len(search.hits) == 9)
    assert len(hits_fired) == 1
    assert window.gallery_panel.list.count() == 9


def test_the_camera_count_goes_through_the_state_to_the_sketches(window, qtbot):
    window.tabs.setCurrentWidget(window.virtual_panel)
    virtual, spin = window.state.virtual, window.virtual_panel.count
    cameras_fired, views_fired = recorder(virtual.events.cameras), recorder(virtual.events.views)
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Down)
    assert virtual.count == 3 and len(cameras_fired) == 1 and len(views_fired) == 1
    assert len(window.virtual_panel.sketches) == len(virtual.views.azimuths) == 3


def test_the_walk_state_moves_the_sliders_without_them_answering_back(window, qtbot):
    walk, panel = window.state.walk, window.latent_panel
    walk_fired = recorder(walk.events.walk)
    coordinates = walk.coordinates.copy()
    coordinates[0] = (panel.sliders[0].minimum() + panel.sliders[0].maximum()) / 2
    window.controller.walk.set_coordinate(0, float(coordinates[0]))
    wait_idle(qtbot, window)
    assert len(walk_fired) == 1  # the slider mirrored it with its signals blocked
    assert panel.sliders[0].value() == float(walk.coordinates[0])
    np.testing.assert_array_equal(walk.coordinates, coordinates.astype(np.float32))


def test_dismissing_an_error_clears_the_status_state(window, qtbot, tmp_path):
    window.controller.files.open_path(tmp_path / "notes.txt")
    status = window.state.status
    assert status.is_error and window.error_text() == status.message
    fired = recorder(status.events.message)
    close = window.error_bar.findChild(type(window.cancel))
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    assert status.message == "" and len(fired) == 1 and window.error_text() == ""
