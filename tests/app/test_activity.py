"""Activity labels of the shown pose and a sequence's label track, with a tiny classifier
trained for the tests' tiny model (the bundled one belongs to the shipped model)."""
from itertools import pairwise
from pathlib import Path

import pytest

from app.activity_view import NO_CLASSIFIER, activity_name
from tests.app.conftest import drop_files, wait_idle
from tests.helpers import SMALL_POSES
from tests.media import T_POSE, Y_POSE, write_video
from vvipe_core.classify import ActivityClassifier, segment_at
from vvipe_core.detect import PoseDetector


@pytest.fixture(scope="module")
def classifier(tiny_model, small_poses) -> ActivityClassifier:
    p = small_poses
    return ActivityClassifier.fit(tiny_model, p.poses, p.extra["activity"], sequence=p.sequence,
                                  frame=p.extra["frame"], window=4, epochs=2, hidden=16)


@pytest.fixture
def labelled(window, qtbot, classifier, tmp_path):
    """The window using the tiny classifier, opened from its file as a user would."""
    window.controller.activity.open_classifier(classifier.save(tmp_path / "activities.npz"))
    wait_idle(qtbot, window, lambda: window.state.activity.classifier is not None)
    return window


def shown_labels(window) -> list[tuple[str, int]]:
    """The pose's (label, score in %) pairs as the label widget writes them."""
    text = window.pose_panel.activity.text().split("pose: ")[-1]
    return [(label, int(score.rstrip("%"))) for label, score in
            (item.rsplit(" ", 1) for item in text.split(" · "))]


def expected(prediction) -> list[tuple[str, int]]:
    """Class names as people read them ("lie_crawl" -> "lie / crawl"), scores in %."""
    return [(label.replace("_", " / "), int(f"{score:.0%}".rstrip("%")))
            for label, score in prediction.top(3)[0]]


def test_another_models_classifier_is_a_note_not_an_error(window):
    labels = window.pose_panel.activity
    assert labels.text() == NO_CLASSIFIER and not labels.isEnabled()
    assert "another V-VIPE checkpoint" in labels.toolTip()
    assert window.state.activity.labels == [] and window.error_text() == ""


def test_dropping_a_photo_shows_its_three_best_labels(labelled, qtbot, classifier):
    drop_files(labelled, [Y_POSE])
    wait_idle(qtbot, labelled, lambda: labelled.state.source.picture.path == Y_POSE)
    with PoseDetector() as detector:
        person = detector.detect_person(Y_POSE)
    shown = shown_labels(labelled)
    assert len(shown) == 3 and [s for _, s in shown] == sorted((s for _, s in shown), reverse=True)
    assert shown == expected(classifier.predict_2d(person.keypoints[None]))

    # Moved in the embedding, the labels are those of the decoded pose.
    slider = labelled.latent_panel.sliders[0]
    slider.setValue(slider.minimum())
    wait_idle(qtbot, labelled)
    assert shown_labels(labelled) == expected(classifier.predict_3d(labelled.state.walk.pose[None]))


def test_a_video_gets_a_label_track_that_follows_the_timeline(labelled, qtbot, classifier,
                                                              tmp_path):
    video = write_video(tmp_path / "clip.avi", [T_POSE, T_POSE, None, Y_POSE, Y_POSE])
    drop_files(labelled, [video])
    wait_idle(qtbot, labelled, lambda: bool(labelled.state.activity.track))
    sequence, track = labelled.state.source.sequence, labelled.state.activity.track
    assert track == classifier.predict_windows(sequence.keypoints, thin_frames=True).segments()
    assert track[0].start == 0 and track[-1].stop == len(sequence.poses) == 5
    assert all(a.stop == b.start for a, b in pairwise(track))
    timeline = labelled.pose_panel.timeline
    assert timeline.track.isVisible()
    timeline.slider.setValue(3)
    segment = segment_at(track, 3)
    assert labelled.pose_panel.activity.text().startswith(f"clip: {activity_name(segment.label)} ")
    assert shown_labels(labelled) == expected(classifier.predict_2d(sequence.keypoints[3:4]))
    x = timeline.track.width() * 3.5 / 5
    assert timeline.track.tooltip_at(x).startswith(f"{activity_name(segment.label)} (score")
    image = timeline.track.grab().toImage()
    assert image.pixelColor(int(x) - 4, 2) == timeline.track.colour(segment.label)


def test_a_pose_files_track_changes_label_along_the_timeline(labelled, qtbot, classifier,
                                                             small_poses):
    drop_files(labelled, [Path(SMALL_POSES)])
    wait_idle(qtbot, labelled, lambda: bool(labelled.state.activity.track))
    track = labelled.state.activity.track
    assert track == classifier.predict_windows(labelled.state.source.sequence.poses,
                                               thin_frames=True).segments()
    assert len(track) >= 2 and track[-1].stop == len(small_poses)
    labels = labelled.pose_panel.activity
    for segment in track[:2]:
        labelled.pose_panel.timeline.slider.setValue(segment.start)
        assert labels.text().startswith(
            f"clip: {activity_name(segment.label)} {segment.score:.0%}")
