"""Several people in the window (numbered pictures, tracked videos) and the Live view with a
video file standing in for the camera."""
import json

import cv2
import numpy as np

from tests.app.conftest import drop_files, wait_idle
from tests.media import T_POSE, Y_POSE, side_by_side, write_people_video


def test_a_two_person_picture_numbers_each_person_as_the_chooser_does(window, qtbot, tmp_path):
    group = tmp_path / "two.png"
    cv2.imwrite(str(group), cv2.cvtColor(side_by_side([T_POSE, Y_POSE]), cv2.COLOR_RGB2BGR))
    drop_files(window, [group])
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == group)
    people, panel = window.state.source.people, window.picture_panel
    assert len(people) == 2
    assert [panel.people.itemText(i) for i in range(2)] == ["1 (largest)", "2"]
    labels = panel.view.labels()
    assert [label.number for label in labels] == [1, 2]
    assert [label.box for label in labels] == [p.box for p in people]
    assert [label.selected for label in labels] == [True, False]
    panel.people.setCurrentIndex(1)
    wait_idle(qtbot, window)
    assert [label.selected for label in panel.view.labels()] == [False, True]
    np.testing.assert_allclose(panel.view.keypoints(), people[1].keypoints_raw)


def test_a_two_person_video_shows_both_and_the_chooser_picks_whose_timeline(window, qtbot,
                                                                            tmp_path):
    video = tmp_path / "two.avi"
    write_people_video(video, 12)
    drop_files(window, [video])
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None)
    sequence, panel = window.state.source.sequence, window.picture_panel
    assert sorted(sequence.people) == [1, 2] and panel.people.count() == 2
    window.pose_panel.timeline.slider.setValue(5)
    wait_idle(qtbot, window)
    shown = window.pose_panel.view.joints()
    assert shown.shape == (2, 17, 3)  # both people, side by side
    panel.people.setCurrentIndex(1 - list(sequence.people).index(sequence.person))
    wait_idle(qtbot, window)
    chosen = window.state.source.sequence
    assert chosen.person != sequence.person and window.state.source.frame == 5
    assert chosen.people is sequence.people
    np.testing.assert_array_equal(window.pose_panel.view.joints()[chosen.person - 1],
                                  chosen.poses[5])
    np.testing.assert_array_equal(panel.view.keypoints(), chosen.keypoints[5])
    assert sorted(label.number for label in panel.view.labels()) == [1, 2]


def test_live_view_with_a_file_as_camera_draws_records_and_snapshots(window, qtbot, tmp_path):
    video = tmp_path / "camera.avi"
    write_people_video(video, 150)  # 15 s at 10 fps: stopped by the test
    live = window.live_panel
    window.tabs.setCurrentWidget(live)
    live.record_path = tmp_path / "live.json"
    live.record.setChecked(True)
    live.everyone.setChecked(True)
    live.open_source(str(video))
    assert live.start_stop.text() == "Stop"
    # The status line is refreshed by a timer, so it may lag the first drawn frames.
    qtbot.waitUntil(lambda: live.drawn >= 3 and live.hit_list.count() > 0
                    and "fps" in live.status.text(), timeout=60_000)
    assert live.view.joints().shape == (2, 17, 3)
    assert sorted(label.number for label in live.picture.labels()) == [1, 2]
    assert live.picture.keypoints() is not None
    live.snapshot.click()
    wait_idle(qtbot, window, lambda: window.state.walk.pose is not None)
    assert window.tabs.currentIndex() == 0 and len(window.state.source.people) == 2
    assert window.state.source.picture.rgb.shape == live.frame.image.rgb.shape
    live.start_stop.click()  # stop
    qtbot.waitUntil(lambda: not live.running(), timeout=10_000)
    assert live.start_stop.text() == "Start"
    frames = json.loads((tmp_path / "live.json").read_text())["frames"]
    assert len({f["index"] for f in frames}) >= 3 and {f["person"] for f in frames} == {1, 2}
    assert window.error_text() == ""


def test_a_camera_that_cannot_be_opened_says_so_and_the_window_lives_on(window, qtbot,
                                                                        tmp_path):
    live = window.live_panel
    live.open_source(str(tmp_path / "no_camera_here.avi"))
    qtbot.waitUntil(lambda: "no such file" in window.error_text(), timeout=30_000)
    qtbot.waitUntil(lambda: not live.start_stop.isChecked(), timeout=5_000)
    assert live.start_stop.text() == "Start" and not live.running()
    drop_files(window, [Y_POSE])  # the window still works
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == Y_POSE)


def test_playback_keeps_the_clock_and_similar_poses_follow_the_frame(window, qtbot, tmp_path):
    video = tmp_path / "clip.avi"
    write_people_video(video, 12)  # 10 fps
    drop_files(window, [video])
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None)
    timeline = window.pose_panel.timeline
    now = [100.0]
    timeline.clock = lambda: now[0]
    searched_at: list[int] = []
    window.state.search.events.hits.connect(lambda: searched_at.append(window.state.source.frame))
    timeline.play.click()
    now[0] += 0.55  # showing frames took 0.55 s: frames 1 to 4 are skipped, not slowed down
    qtbot.waitUntil(lambda: window.state.source.frame == 5, timeout=5000)
    now[0] += 0.3
    qtbot.waitUntil(lambda: window.state.source.frame == 8, timeout=5000)
    qtbot.waitUntil(lambda: 8 in searched_at, timeout=5000)  # while still playing
    assert timeline.play.isChecked() and 1 not in searched_at
    timeline.play.click()
