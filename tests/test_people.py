"""Everyone in the picture and in the video: mask-and-redetect, tracking with stable ids, and
`vvipe lift --all-people`."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.media import (
    STANDING,
    T_POSE,
    Y_POSE,
    ids_of_true_people,
    side_by_side,
    write_people_video,
)
from vvipe_core.bvh import read_bvh
from vvipe_core.cli import app
from vvipe_core.detect import Pose2D, PoseDetector, box_iou, mask_people
from vvipe_core.smoothing import OneEuroFilter, one_euro
from vvipe_core.tracking import (
    PeopleTracker,
    TrackerSettings,
    count_id_switches,
    track_people,
)
from vvipe_core.video import VideoDetection


@pytest.fixture(scope="module")
def detector() -> PoseDetector:
    with PoseDetector() as d:
        yield d


@pytest.fixture(scope="module")
def two_people(tmp_path_factory) -> Path:
    """T_POSE and Y_POSE side by side: MediaPipe alone finds only one of them."""
    path = tmp_path_factory.mktemp("people") / "two_people.png"
    cv2.imwrite(str(path), cv2.cvtColor(side_by_side([T_POSE, Y_POSE]), cv2.COLOR_RGB2BGR))
    return path


def test_both_people_of_a_composite_are_found(detector: PoseDetector, two_people: Path) -> None:
    people = detector.detect(two_people)
    assert len(people) == 2
    width = people[0].image_size[0]
    left, right = sorted(people, key=lambda p: p.box[0])
    t_pose_width = side_by_side([T_POSE]).shape[1]  # the T-pose photo is the left part
    assert left.box[2] <= t_pose_width + 5 and right.box[0] >= t_pose_width - 5 < width
    assert box_iou(left.box, right.box) == 0
    assert people[0].box_area >= people[1].box_area  # largest first


def test_people_shrunk_in_a_wide_picture_are_found_in_its_tiles(detector: PoseDetector) -> None:
    """Three photos side by side (3:1): MediaPipe's square view finds one person; the tiles find
    the other two, mapped back to the whole picture's pixels."""
    parts = [T_POSE, STANDING, Y_POSE]
    rgb = side_by_side(parts, 360)
    people = sorted(detector.detect(rgb), key=lambda p: p.box[0])
    assert len(people) == 3
    edges = np.cumsum([0] + [side_by_side([part], 360).shape[1] for part in parts])
    for person, left, right in zip(people, edges[:-1], edges[1:]):
        assert person.image_size == (rgb.shape[1], rgb.shape[0])
        assert left - 5 <= person.box[0] < person.box[2] <= right + 5
        inside = (person.keypoints_raw[:, 0] >= left - 5) & (person.keypoints_raw[:, 0] <= right + 5)
        assert inside.all() and (person.landmarks[:, 0] <= right + 5).all()


def test_a_single_person_is_found_once(detector: PoseDetector) -> None:
    for photo in (T_POSE, STANDING):
        assert len(detector.detect(photo)) == 1


def test_mask_blanks_the_box_in_downscaled_pixels(detector: PoseDetector) -> None:
    rgb = side_by_side([T_POSE, Y_POSE])
    person = detector.detect(rgb)[0]
    half = rgb[::2, ::2]  # the same picture at half size; boxes stay in full-size pixels
    masked = mask_people(half, [person], (rgb.shape[1], rgb.shape[0]))
    x0, y0, x1, y1 = (int(v / 2) for v in person.box)
    assert (masked[y0:y1, x0:x1] == 128).all()
    assert (masked[:, : max(0, x0 - 20)] == half[:, : max(0, x0 - 20)]).all() if x0 > 40 else True


def test_lift_all_people_of_a_picture(tiny_checkpoint: Path, two_people: Path,
                                      tmp_path: Path) -> None:
    out = tmp_path / "people.json"
    result = CliRunner().invoke(app, ["lift", str(two_people), "--all-people", "-o", str(out),
                                      "--checkpoint", str(tiny_checkpoint)])
    assert result.exit_code == 0, result.output
    assert "lifted 2 of 2 people" in result.stdout
    frames = json.loads(out.read_text())["frames"]
    assert [f["person"] for f in frames] == [1, 2]
    assert all(all(joint is not None for joint in f["joints"]) for f in frames)
    # Without the flag, the file stays as it was: the largest person, no "person" key.
    result = CliRunner().invoke(app, ["lift", str(two_people), "-o", str(out),
                                      "--checkpoint", str(tiny_checkpoint)])
    frames = json.loads(out.read_text())["frames"]
    assert result.exit_code == 0 and len(frames) == 1 and "person" not in frames[0]
    assert "2 people, lifted the largest" in result.stdout


# -- tracking -------------------------------------------------------------------------------
def _pose(x: float, y: float = 100.0, height: float = 100.0) -> Pose2D:
    """A stick figure: 17 keypoints spread over a box centred at x."""
    rng = np.random.default_rng(int(x * 10) % 2**32)
    keypoints = np.column_stack([x + rng.uniform(-20, 20, 17),
                                 y + np.linspace(-height / 2, height / 2, 17)]).astype(np.float32)
    box = (x - 20, y - height / 2, x + 20, y + height / 2)
    return Pose2D(keypoints, keypoints, np.ones(17, np.float32), np.zeros(17, bool), box,
                  (640, 480), np.zeros((33, 5), np.float32), np.zeros((33, 3), np.float32))


def test_ids_stay_with_moving_people_whatever_the_detection_order() -> None:
    tracker = PeopleTracker()
    for t in range(10):
        a, b = _pose(100 + 5 * t), _pose(400 - 5 * t)
        poses = [b, a] if t % 2 else [a, b]  # the detector's order changes
        ids = dict(zip(tracker.update(poses, t / 10), (p.box[0] for p in poses)))
        assert ids[1] < ids[2]  # person 1 is always the one on the left


def test_a_track_survives_a_short_gap_and_is_predicted_along_its_way() -> None:
    tracker = PeopleTracker(TrackerSettings(max_gap_s=1.0))
    for t in range(5):
        assert tracker.update([_pose(100 + 10 * t)], t / 10) == [1]
    # Hidden for 0.5 s while walking on: found again where its speed says.
    assert tracker.update([_pose(100 + 10 * 10)], 1.0) == [1]
    # Gone for longer than max_gap_s: a new person.
    assert tracker.update([_pose(200)], 2.5) == [2]


def test_a_far_away_person_is_someone_new() -> None:
    tracker = PeopleTracker()
    assert tracker.update([_pose(100)], 0.0) == [1]
    assert tracker.update([_pose(500)], 0.1) == [2]


def test_count_id_switches() -> None:
    assigned = np.array([[1, 2], [1, 2], [0, 2], [1, 0], [2, 1], [2, 1]])
    assert count_id_switches(assigned) == 2  # each person changed id once; misses are not
    assert count_id_switches(np.zeros((4, 2), int)) == 0


def test_streamed_one_euro_matches_the_sequence_filter() -> None:
    rng = np.random.default_rng(0)
    sequence = np.cumsum(rng.normal(size=(30, 17, 2)), axis=0)
    sequence[5:8, 3] = np.nan
    times = np.arange(30) / 25
    smoother = OneEuroFilter(scale=7.0)
    streamed = np.stack([smoother(x, t) for x, t in zip(sequence, times)])
    np.testing.assert_allclose(streamed, one_euro(sequence, times, scale=7.0), equal_nan=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray]]:
    folder = tmp_path_factory.mktemp("clips")
    return {name: (folder / f"{name}.avi",
                   write_people_video(folder / f"{name}.avi", 20, crossing=name == "crossing"))
            for name in ("side_by_side", "crossing")}


def _tracks(detector: PoseDetector, video: Path):
    run = VideoDetection(video, detector)
    return track_people(run, (run.info.width, run.info.height))


def test_two_people_in_a_video_keep_two_ids(detector: PoseDetector, clips) -> None:
    video, centres = clips["side_by_side"]
    tracks = _tracks(detector, video)
    assert sorted(tracks) == [1, 2]
    assigned = ids_of_true_people({i: t.keypoints for i, t in tracks.items()}, centres)
    for person in range(2):
        ids, counts = np.unique(assigned[:, person], return_counts=True)
        assert ids[0] > 0 and len(ids) == 1  # one id, never missing
        assert counts[0] >= 0.9 * len(centres)
    assert count_id_switches(assigned) == 0


def test_crossing_people_swap_ids_at_most_once(detector: PoseDetector, clips) -> None:
    video, centres = clips["crossing"]
    tracks = _tracks(detector, video)
    assigned = ids_of_true_people({i: t.keypoints for i, t in tracks.items()}, centres)
    switches = count_id_switches(assigned)
    assert switches <= 1, assigned.T
    # The person in front is seen throughout; the one behind comes back with an id.
    assert (assigned[:, 0] > 0).mean() >= 0.8 and (assigned[-3:, 1] > 0).all()
    assert len(tracks) <= 3


def test_lift_all_people_of_a_video(tiny_checkpoint: Path, clips, tmp_path: Path) -> None:
    video = clips["side_by_side"][0]
    out = tmp_path / "clip.json"
    args = ["lift", str(video), "--all-people", "--checkpoint", str(tiny_checkpoint)]
    result = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "lifted 2 people in 20 frames" in result.stdout
    frames = json.loads(out.read_text())["frames"]
    assert len(frames) == 40 and {f["person"] for f in frames} == {1, 2}
    for person in (1, 2):
        rows = [f for f in frames if f["person"] == person]
        assert [f["index"] for f in rows] == list(range(20))
        assert sum(all(j is not None for j in f["joints"]) for f in rows) >= 18
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "clip.bvh")])
    assert result.exit_code == 0, result.output
    for person in (1, 2):
        motion = read_bvh(tmp_path / f"clip.p{person}.bvh")
        assert len(motion.values) == 20 and np.isfinite(motion.values).all()
    assert not (tmp_path / "clip.bvh").exists()


def test_lift_all_people_of_a_folder(tiny_checkpoint: Path, two_people: Path,
                                     tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "a_two.png").write_bytes(two_people.read_bytes())
    (folder / "b_one.jpg").write_bytes(STANDING.read_bytes())
    out = tmp_path / "folder.csv"
    result = CliRunner().invoke(app, ["lift", str(folder), "--all-people", "-o", str(out),
                                      "--checkpoint", str(tiny_checkpoint)])
    assert result.exit_code == 0, result.output
    assert "lifted 2 of 2 pictures (3 people)" in result.stdout
    from vvipe_core.export import load_poses

    sequence = load_poses(out)
    assert sequence.source == ["a_two.png", "a_two.png", "b_one.jpg"]
    assert sequence.person.tolist() == [1, 2, 1]


def test_a_person_seen_in_two_frames_of_a_short_clip_is_kept(detector: PoseDetector,
                                                             tmp_path: Path) -> None:
    """Flickers (tracks shorter than min_frames) are dropped, but never the longest track."""
    from tests.media import write_video

    video = write_video(tmp_path / "short.avi", [None, STANDING, STANDING])
    tracks = _tracks(detector, video)
    assert list(tracks) == [1]
    seen = np.isfinite(tracks[1].keypoints).any(axis=(1, 2))
    assert seen.tolist() == [False, True, True] and tracks[1].frames_without_person == [0]


def test_lift_all_people_of_a_wide_video_finds_whom_video_mode_misses(
        tiny_checkpoint: Path, detector: PoseDetector, tmp_path: Path) -> None:
    """T_POSE and Y_POSE side by side, still for 4 frames: MediaPipe's VIDEO mode follows one
    of them; `--all-people` searches each frame as a picture and finds both."""
    video = tmp_path / "wide.avi"
    bgr = cv2.cvtColor(side_by_side([T_POSE, Y_POSE]), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (bgr.shape[1], bgr.shape[0]))
    for _ in range(4):
        writer.write(bgr)
    writer.release()
    assert max(len(r.poses) for r in VideoDetection(video, detector)) == 1  # VIDEO mode
    out = tmp_path / "wide.json"
    result = CliRunner().invoke(app, ["lift", str(video), "--all-people", "-o", str(out),
                                      "--checkpoint", str(tiny_checkpoint)])
    assert result.exit_code == 0, result.output
    assert "lifted 2 people in 4 frames (person 1 in 4, person 2 in 4)" in result.stdout
