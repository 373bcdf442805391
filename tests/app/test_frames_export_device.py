"""Video frames under the keypoints, frame steps, pose export and the device selector."""
import numpy as np
import pytest

from tests.app.conftest import drop_files, wait_idle
from tests.media import T_POSE, Y_POSE, write_video
from vvipe_core.export import load_poses
from vvipe_core.video import read_frame


@pytest.fixture
def video_window(window, qtbot, tmp_path):
    video = write_video(tmp_path / "clip.avi", [T_POSE, T_POSE, None, Y_POSE], fps=10)
    drop_files(window, [video])
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None)
    return window, video


def test_the_video_frame_is_shown_under_the_keypoints(video_window):
    window, video = video_window
    window.pose_panel.timeline.slider.setValue(3)
    np.testing.assert_array_equal(window.state.source.video_frame, read_frame(video, 3))
    image = window.picture_panel.view.image()
    assert (image.width(), image.height()) == (240, 180)
    np.testing.assert_array_equal(window.picture_panel.view.keypoints(),
                                  window.state.source.sequence.keypoints[3])


def test_frame_steps_move_one_frame_and_the_fps_is_shown(video_window):
    window, _ = video_window
    timeline = window.pose_panel.timeline
    assert "10 fps" in timeline.label.text()
    timeline.next.click()
    timeline.next.click()
    assert window.state.source.frame == 2
    timeline.previous.click()
    assert window.state.source.frame == 1 and timeline.slider.value() == 1
    timeline.previous.click()
    timeline.previous.click()  # wraps to the last frame
    assert window.state.source.frame == 3


def test_opening_a_photo_drops_the_video_frame(video_window, qtbot):
    window, _ = video_window
    drop_files(window, [Y_POSE])
    wait_idle(qtbot, window, lambda: window.state.source.picture is not None)
    assert window.state.source.video_frame is None


@pytest.mark.parametrize("suffix", [".json", ".csv", ".npz", ".bvh"])
def test_the_current_pose_is_exported(window, tmp_path, suffix):
    path = tmp_path / f"pose{suffix}"
    window.controller.pose.export_poses(path)
    assert window.error_text() == "" and path.is_file()
    if suffix != ".bvh":
        saved = load_poses(path)
        np.testing.assert_allclose(saved.poses[0], window.state.walk.pose, atol=1e-4)
        assert saved.units == "canonical"


def test_the_lifted_sequence_is_exported_whole(video_window, tmp_path):
    window, _ = video_window
    path = tmp_path / "clip.npz"
    window.controller.pose.export_poses(path)
    saved = load_poses(path)
    np.testing.assert_allclose(saved.poses, window.state.source.sequence.poses, atol=1e-6,
                               equal_nan=True)
    assert saved.fps == 10


def test_an_unknown_export_format_shows_an_error(window, tmp_path):
    window.controller.pose.export_poses(tmp_path / "pose.xyz")
    assert "unknown export format" in window.error_text()


def test_the_device_selector_offers_the_cpu_and_moves_the_model(window):
    import torch

    devices = [window.device.itemText(i) for i in range(window.device.count())]
    assert devices == ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    window.device.setCurrentText("cpu")
    window.controller.files.set_device("cpu")
    model = window.state.source.model
    assert model.device.type == "cpu"
    assert {p.device.type for p in model.mapper.parameters()} == {"cpu"}
