"""Videos: streamed decoding, VIDEO-mode detection, strides, cancelling, bad files."""
from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.media import T_POSE, Y_POSE, write_video
from vvipe_core.detect import PoseDetector
from vvipe_core.errors import VideoReadError
from vvipe_core.video import (
    VideoDetection,
    iter_frames,
    probe_video,
    read_frame,
    track_main_person,
)

# 12 frames at 10 fps: T-pose, Y-pose, and two blank frames (6 and 7) with nobody.
PICTURES = [T_POSE] * 3 + [Y_POSE] * 3 + [None, None] + [T_POSE] * 4
BLANK = [6, 7]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "clip.avi", PICTURES)


@pytest.fixture(scope="module")
def detector() -> PoseDetector:
    with PoseDetector(num_poses=2) as d:
        yield d


def test_probe_reads_the_container(video: Path) -> None:
    info = probe_video(video)
    assert (info.fps, info.frame_count, info.width, info.height) == (10.0, 12, 240, 180)


def test_frames_stream_with_index_and_time(video: Path) -> None:
    frames = list(iter_frames(video))
    assert [f.index for f in frames] == list(range(12))
    assert [f.time_s for f in frames] == pytest.approx([i / 10 for i in range(12)])
    assert frames[0].image.rgb.shape == (180, 240, 3) and frames[0].image.size == (240, 180)


def test_a_frame_is_read_by_index_as_streaming_decodes_it(video: Path) -> None:
    frames = {f.index: f.image.rgb for f in iter_frames(video)}
    for index in (7, 2, 11, 0):  # out of order: each read seeks
        np.testing.assert_array_equal(read_frame(video, index), frames[index])
    with pytest.raises(VideoReadError, match="frame 12"):
        read_frame(video, 12)


def test_stride_keeps_every_nth_frame(video: Path) -> None:
    assert [f.index for f in iter_frames(video, stride=5)] == [0, 5, 10]
    with pytest.raises(ValueError):
        next(iter_frames(video, stride=0))


def test_every_frame_is_detected_and_empty_frames_are_reported(
    video: Path, detector: PoseDetector
) -> None:
    calls: list[tuple[int, int]] = []
    run = VideoDetection(video, detector, progress=lambda done, total: calls.append((done, total)))
    results = list(run)
    assert [r.index for r in results] == list(range(12))
    assert run.frames_without_person == BLANK and not run.cancelled
    assert all(len(r.poses) >= 1 for r in results if r.index not in BLANK)
    assert calls[0] == (0, 12) and calls[-1] == (12, 12)

    track = track_main_person(results, (run.info.width, run.info.height))
    assert track.keypoints.shape == (12, 17, 2) and len(track) == 12
    assert track.frames_without_person == BLANK
    assert np.isnan(track.keypoints[BLANK]).all()
    assert not np.isnan(track.keypoints[0]).any()
    assert track.time_s[-1] == pytest.approx(1.1)


def test_progress_returning_false_cancels(video: Path, detector: PoseDetector) -> None:
    run = VideoDetection(video, detector, progress=lambda done, total: done < 3)
    assert [r.index for r in run] == [0, 1, 2] and run.cancelled


def test_event_cancels(video: Path, detector: PoseDetector) -> None:
    cancel = threading.Event()
    run = VideoDetection(video, detector, stride=2, cancel=cancel)
    seen = []
    for result in run:
        seen.append(result.index)
        if result.index == 4:
            cancel.set()
    assert seen == [0, 2, 4] and run.cancelled


def test_video_with_no_frames(tmp_path: Path, detector: PoseDetector) -> None:
    path = tmp_path / "nothing.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()  # a container with a header and no frame
    with pytest.raises(VideoReadError) as caught:
        list(VideoDetection(path, detector))
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("empty.mp4", b"", "empty (0 bytes)"),
        ("noise.mp4", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
         "cannot open"),
        ("text.avi", b"not a video\n" * 100, "cannot open"),
    ],
)
def test_bad_video_files(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VideoReadError) as caught:
        probe_video(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_missing_video(tmp_path: Path) -> None:
    with pytest.raises(VideoReadError, match="no such file"):
        list(iter_frames(tmp_path / "gone.mp4"))
