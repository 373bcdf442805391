"""Similar poses checked against the photo: fit errors, ranking, and the fitted overlay."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from app.drawing import OVERLAY
from app.skeleton_view import BONES
from tests.app.conftest import wait_idle


def test_photo_hits_show_their_fit_until_the_walk_moves_away(window, qtbot):
    panel, state = window.gallery_panel, window.state
    assert all(hit.verified for hit in state.search.hits)
    assert panel.fit_errors() == [round(100 * hit.fit, 1) for hit in state.search.hits]
    assert panel.fit_errors() == sorted(panel.fit_errors())
    assert panel.distances() == pytest.approx([hit.distance for hit in state.search.hits], abs=1e-3)
    assert "Best fit to the photo" in panel.ranking.text()
    slider = window.latent_panel.sliders[0]
    slider.setValue((slider.minimum() + slider.maximum()) / 2)  # no longer the photo's pose
    wait_idle(qtbot, window, lambda: not state.search.hits[0].verified)
    assert panel.fit_errors() == [] and panel.distances() == sorted(panel.distances())
    assert "Nearest in the embedding" in panel.ranking.text()


def _bone_midpoints(view, points):
    """Widget pixels halfway along the bones long enough to sample."""
    transform = view.image_transform()
    mapped = [transform.map(QPointF(float(x), float(y))) for x, y in points]
    mapped = np.array([[p.x(), p.y()] for p in mapped])
    return [(mapped[a] + mapped[b]) / 2 for a, b in BONES
            if np.linalg.norm(mapped[a] - mapped[b]) > 12]


def _is_overlay(image, xy) -> bool:
    colour = image.pixelColor(round(float(xy[0])), round(float(xy[1])))
    return max(abs(colour.red() - OVERLAY.red()), abs(colour.green() - OVERLAY.green()),
               abs(colour.blue() - OVERLAY.blue())) < 40


def test_overlay_lays_the_selected_hit_on_the_photo(window, qtbot):
    panel, state, view = window.gallery_panel, window.state, window.picture_panel.view
    before = view.grab().toImage()
    qtbot.mouseClick(panel.overlay, Qt.MouseButton.LeftButton, pos=panel.overlay.rect().center())
    assert panel.overlay.isChecked()
    # The best one first.
    np.testing.assert_array_equal(state.search.overlay, state.search.hits[0].projected)
    image = view.grab().toImage()
    midpoints = _bone_midpoints(view, state.search.overlay)
    assert len(midpoints) >= 8
    assert np.mean([_is_overlay(image, m) for m in midpoints]) > 0.8
    assert np.mean([_is_overlay(before, m) for m in midpoints]) < 0.3
    # The fitted projection lies on the person: near the detected keypoints.
    person = state.source.people[state.source.person]
    size = np.ptp(person.keypoints[np.isfinite(person.keypoints).all(1)], axis=0).max()
    known = np.isfinite(person.keypoints).all(1)
    off = np.linalg.norm(state.search.overlay - person.keypoints, axis=1)[known]
    assert np.median(off) < 0.2 * size
    # Clicking another hit lays that one on the photo; unticking removes it.
    panel.list.itemClicked.emit(panel.list.item(2))
    np.testing.assert_array_equal(state.search.overlay, state.search.hits[2].projected)
    qtbot.mouseClick(panel.overlay, Qt.MouseButton.LeftButton, pos=panel.overlay.rect().center())
    assert state.search.overlay is None
    after = view.grab().toImage()
    midpoints = _bone_midpoints(view, state.search.hits[2].projected)
    assert not any(_is_overlay(after, m) for m in midpoints)
