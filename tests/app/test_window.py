"""The main window driven like a user: drops, sliders, clicks."""
import numpy as np
import pytest

from tests.app.conftest import drop_files, wait_idle
from tests.media import STANDING, T_POSE, Y_POSE, write_video
from vvipe_core.detect import PoseDetector


@pytest.fixture(scope="module")
def detected():
    """Keypoints of the test photos, found outside the window."""
    with PoseDetector() as detector:
        return {p: detector.detect_person(p) for p in (T_POSE, Y_POSE)}


def test_startup_shows_the_lifted_photo_and_its_neighbours(window, tiny_model, detected):
    shown = window.pose_panel.view.joints()
    assert shown.shape == (17, 3)
    np.testing.assert_allclose(shown, tiny_model.lift(detected[T_POSE].keypoints[None])[0], atol=1e-5)
    assert window.gallery_panel.list.count() == window.controller.state.search.k
    assert window.error_text() == ""


def test_dropping_a_photo_shows_its_lifted_pose(window, qtbot, tiny_model, detected):
    drop_files(window, [Y_POSE])
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE)
    person = detected[Y_POSE]
    np.testing.assert_allclose(window.picture_panel.view.keypoints(), person.keypoints_raw)
    shown = window.pose_panel.view.joints()
    assert shown.shape == (17, 3)
    np.testing.assert_allclose(shown, tiny_model.lift(person.keypoints[None])[0], atol=1e-5)
    assert window.recent_files()[0] == str(Y_POSE)


def test_latent_slider_shows_the_decoded_new_latent(window, qtbot, tiny_model):
    state = window.state
    before = window.pose_panel.view.joints()
    start = state.source.axes.coordinates(state.walk.anchor.latent)
    # The sliders begin at the photo's pose.
    np.testing.assert_array_equal(state.walk.coordinates, start)
    slider = window.latent_panel.sliders[0]
    slider.setValue((slider.minimum() + slider.maximum()) / 2)
    wait_idle(qtbot, window)
    assert state.walk.coordinates[0] == pytest.approx(slider.value())
    np.testing.assert_array_equal(state.walk.coordinates[1:], start[1:])
    moved = state.source.axes.move_to(state.walk.anchor.latent, state.walk.coordinates)
    np.testing.assert_allclose(state.walk.latent, moved, atol=1e-6)
    shown = window.pose_panel.view.joints()
    body = state.walk.anchor.pose  # walks keep the photo's body
    np.testing.assert_allclose(shown, tiny_model.decode(state.walk.latent[None], body=body)[0],
                               atol=1e-6)
    assert not np.allclose(shown, before)


def test_variation_resamples_around_the_latent(window, qtbot, tiny_model):
    window.latent_panel.sigma.setValue(0.5)
    first = window.state.walk.latent.copy()
    window.latent_panel.resample.click()
    second = window.state.walk.latent
    assert not np.allclose(first, second)
    body = window.state.walk.anchor.pose
    np.testing.assert_allclose(window.pose_panel.view.joints(),
                               tiny_model.decode(second[None], body=body)[0], atol=1e-6)


def test_gallery_lists_k_hits_by_fit_and_a_click_shows_one(window, qtbot):
    window.gallery_panel.k.setValue(5)
    wait_idle(qtbot, window, lambda: window.gallery_panel.list.count() == 5)
    fits = window.gallery_panel.fit_errors()  # a photo's hits are checked against it
    assert len(fits) == 5 and fits == sorted(fits)
    hit = window.state.search.hits[2]
    item = window.gallery_panel.list.item(2)
    assert hit.sequence in item.text()
    window.gallery_panel.list.itemClicked.emit(item)
    np.testing.assert_array_equal(window.pose_panel.view.joints(), hit.pose)
    assert window.gallery_panel.list.count() == 5  # the list stays while browsing it


def test_comparing_two_photos_gives_a_two_by_two_distance_matrix(window, qtbot, tiny_model,
                                                                 detected):
    window.tabs.setCurrentWidget(window.compare_panel)
    drop_files(window.compare_panel, [T_POSE, Y_POSE])
    wait_idle(qtbot, window, lambda: len(window.state.compare.comparisons) == 2)
    matrix = window.compare_panel.matrix
    assert (matrix.rowCount(), matrix.columnCount()) == (2, 2)
    values = np.array([[float(matrix.item(i, j).text()) for j in range(2)] for i in range(2)])
    z = tiny_model.embed_2d(np.stack([detected[T_POSE].keypoints, detected[Y_POSE].keypoints]))
    np.testing.assert_allclose(values, np.linalg.norm(z[:, None] - z[None], axis=-1), atol=2e-3)
    assert window.compare_panel.view.joints().shape == (2, 17, 3)


def test_virtual_cameras_show_n_views_lifted_back(window, qtbot, tiny_model):
    window.tabs.setCurrentWidget(window.virtual_panel)
    window.virtual_panel.count.setValue(5)
    views = window.state.virtual.views
    assert len(window.virtual_panel.sketches) == 5
    for sketch, points in zip(window.virtual_panel.sketches, views.keypoints):
        np.testing.assert_array_equal(sketch.points(), points)
    lifted = window.virtual_panel.view.joints()
    assert lifted.shape == (5, 17, 3)
    np.testing.assert_allclose(lifted, tiny_model.lift(views.keypoints), atol=1e-5)


@pytest.mark.parametrize("name, content", [("broken.jpg", b"\xff\xd8\xff garbage"),
                                           ("empty.png", b""), ("poses.npz", b"not a zip")])
def test_a_corrupt_file_shows_an_error_and_the_window_lives_on(window, qtbot, tmp_path, name,
                                                               content):
    before = window.pose_panel.view.joints()
    bad = tmp_path / name
    bad.write_bytes(content)
    drop_files(window, [bad])
    wait_idle(qtbot, window, lambda: name in window.error_text())
    assert window.isVisible()
    np.testing.assert_array_equal(window.pose_panel.view.joints(), before)
    drop_files(window, [Y_POSE])  # still usable
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE)


def test_an_unknown_file_type_is_refused_clearly(window, tmp_path):
    drop_files(window, [tmp_path / "notes.txt"])
    assert "cannot open '.txt' files" in window.error_text()


def test_dropping_a_checkpoint_swaps_the_model_and_relifts(window, qtbot, tiny_checkpoint):
    old = window.state.source.model
    pose = window.pose_panel.view.joints()
    drop_files(window, [tiny_checkpoint])
    wait_idle(qtbot, window, lambda: window.state.source.model is not old)
    assert window.state.source.gallery.checkpoint == window.state.source.model.source
    np.testing.assert_allclose(window.pose_panel.view.joints(), pose, atol=1e-5)


def test_a_pose_file_plays_on_the_timeline(window, qtbot, small_poses, tiny_model):
    from tests.helpers import SMALL_POSES

    drop_files(window, [SMALL_POSES])
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None)
    timeline = window.pose_panel.timeline
    assert timeline.isVisible() and timeline.slider.maximum() == len(small_poses) - 1
    timeline.slider.setValue(10)
    expected = tiny_model.canonicalize(small_poses.poses[10:11])[0]
    np.testing.assert_allclose(window.pose_panel.view.joints(), expected, atol=1e-6)
    timeline.play.click()
    qtbot.waitUntil(lambda: window.state.source.frame > 11, timeout=5000)
    timeline.play.click()


def test_the_3d_view_renders_the_skeleton_in_colour(window, tmp_path):
    from vispy.io import read_png

    image = read_png(str(window.pose_panel.view.screenshot(tmp_path / "view.png")))[..., :3]
    blue = (image[..., 2] > 150) & (image[..., 0] < 100)
    orange = (image[..., 0] > 200) & (image[..., 2] < 80)
    assert blue.sum() > 50 and orange.sum() > 50, "left (blue) and right (orange) limbs drawn"


def test_geometry_and_docks_are_saved_in_the_settings(window):
    window.close()
    assert window.settings.value("geometry") is not None
    assert window.settings.value("docks") is not None


def test_a_dropped_video_is_lifted_frame_by_frame(window, qtbot, tmp_path):
    video = write_video(tmp_path / "clip.avi", [T_POSE, T_POSE, None, Y_POSE])
    drop_files(window, [video])
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None)
    sequence = window.state.source.sequence
    assert len(sequence.poses) == 4 and np.isnan(sequence.poses[2]).all()
    timeline = window.pose_panel.timeline
    timeline.slider.setValue(3)
    np.testing.assert_array_equal(window.pose_panel.view.joints(), sequence.poses[3])
    np.testing.assert_array_equal(window.picture_panel.view.keypoints(), sequence.keypoints[3])


def test_cancel_stops_a_running_video(window, qtbot, tmp_path):
    video = write_video(tmp_path / "long.avi", [T_POSE] * 40)
    drop_files(window, [video])
    assert window.cancel.isVisibleTo(window)
    window.cancel.click()
    wait_idle(qtbot, window)
    assert window.state.source.sequence is None and window.error_text() == ""


def test_each_person_of_a_group_photo_can_be_lifted(window, qtbot, tmp_path, tiny_model):
    import cv2

    left, right = cv2.imread(str(T_POSE)), cv2.imread(str(STANDING))
    right = cv2.resize(right, (right.shape[1] * left.shape[0] // right.shape[0], left.shape[0]))
    group = tmp_path / "group.png"
    cv2.imwrite(str(group), np.hstack([left, right]))
    drop_files(window, [group])
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == group)
    people = window.state.source.people
    assert len(people) == 2 and window.picture_panel.people.count() == 2
    window.picture_panel.people.setCurrentIndex(1)
    wait_idle(qtbot, window)
    np.testing.assert_allclose(window.picture_panel.view.keypoints(), people[1].keypoints_raw)
    np.testing.assert_allclose(window.pose_panel.view.joints(),
                               tiny_model.lift(people[1].keypoints[None])[0], atol=1e-5)


def test_a_photo_without_people_says_so_and_shows_no_stale_pose(window, qtbot, tmp_path):
    import cv2

    empty = tmp_path / "wall.png"
    cv2.imwrite(str(empty), np.full((300, 400, 3), 180, np.uint8))
    drop_files(window, [empty])
    wait_idle(qtbot, window, lambda: "no person found" in window.error_text())
    assert window.pose_panel.view.joints().shape == (0, 17, 3)
    assert window.gallery_panel.list.count() == 0
