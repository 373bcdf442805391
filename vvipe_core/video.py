"""Videos, streamed frame by frame: decoding, detection in VIDEO mode, following one person.

Nothing holds the whole video: frames are decoded one at a time by cv2.VideoCapture and only the
keypoints are kept. Frames where nobody is found are reported, not fatal; a video that cannot be
opened or has no decodable frame raises VideoReadError.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vvipe_core.detect import Pose2D, PoseDetector, box_iou
from vvipe_core.errors import VideoReadError
from vvipe_core.images import DETECT_MAX_SIDE, LoadedImage, fit_within
from vvipe_core.skeleton import H36M17

# Used when the container does not say (some webcam and screen recordings).
DEFAULT_FPS = 30.0
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg",
                            ".wmv", ".flv", ".3gp", ".ogv", ".mts", ".m2ts", ".ts"})

# progress(frames_done, frames_total) -> False to cancel; frames_total is the container's count
# (0 when unknown), frames_done the index of the last frame looked at plus one.
ProgressCallback = Callable[[int, int], "bool | None"]


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    fps: float
    frame_count: int  # the container's estimate; 0 when unknown
    width: int
    height: int
    fps_known: bool = True


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    image: LoadedImage


@dataclass(frozen=True)
class FrameResult:
    """Everyone found in one frame, largest first; poses is empty when nobody was found."""

    index: int
    time_s: float
    poses: list[Pose2D]


@dataclass
class PoseTrack:
    """One person followed through a video; rows of frames without that person are NaN."""

    frame_index: np.ndarray  # (T,) int
    time_s: np.ndarray  # (T,) float
    keypoints: np.ndarray  # (T, 17, 2) pixels, NaN = missing
    confidence: np.ndarray  # (T, 17), 0 where missing
    image_size: tuple[int, int]
    frames_without_person: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame_index)


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise VideoReadError(path, "no such file")
    if not path.is_file():
        raise VideoReadError(path, "not a file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "the file is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoReadError(path, "OpenCV cannot open it as a video (unknown format or corrupt)")
    return capture


def probe_video(path: str | Path) -> VideoInfo:
    """The container's facts (fps, frame count, size) without decoding frames."""
    path = Path(path)
    capture = _open(path)
    try:
        return _info(path, capture)
    finally:
        capture.release()


def _info(path: Path, capture: cv2.VideoCapture) -> VideoInfo:
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps_known = math.isfinite(fps) and 0.0 < fps < 1000.0
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    return VideoInfo(
        path=path,
        fps=fps if fps_known else DEFAULT_FPS,
        frame_count=int(count) if math.isfinite(count) and count > 0 else 0,
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps_known=fps_known,
    )


def iter_frames(
    path: str | Path, stride: int = 1, max_side: int | None = DETECT_MAX_SIDE
) -> Iterator[Frame]:
    """Decode every `stride`-th frame as RGB (downscaled to max_side). Times are index / fps."""
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    path = Path(path)
    capture = _open(path)
    try:
        info = _info(path, capture)
        index, decoded = 0, 0
        while True:
            if index % stride:
                # grab() skips a frame without converting it, which makes strides cheap.
                if not capture.grab():
                    break
                index += 1
                continue
            ok, bgr = capture.read()
            if not ok or bgr is None:
                break
            decoded += 1
            rgb = fit_within(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side)
            size = (bgr.shape[1], bgr.shape[0])
            yield Frame(index, index / info.fps, LoadedImage(rgb=rgb, size=size, path=path))
            index += 1
        if decoded == 0:
            raise VideoReadError(path, "no decodable frame in the video")
    finally:
        capture.release()


class VideoDetection:
    """Detect people in every `stride`-th frame of a video, lazily: iterate to run it.

    The video is opened at construction (bad files fail here). Iteration stops early when
    `progress` returns False or `cancel` is set; `cancelled` then says so. Frames with nobody
    are yielded with empty poses and listed in `frames_without_person`. `everyone`: each frame
    is searched as a picture (`PoseDetector.detect`: masking and tiles, 2 to 5 MediaPipe passes)
    instead of in VIDEO mode, whose tracker keeps to the people it found first and misses
    people made small by a wide frame.
    """

    def __init__(
        self,
        path: str | Path,
        detector: PoseDetector,
        *,
        stride: int = 1,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        everyone: bool = False,
    ) -> None:
        self.info = probe_video(path)
        self.everyone = everyone
        self.detector = detector
        self.stride = stride
        self.progress = progress
        self.cancel = cancel
        self.cancelled = False
        self.frames_done = 0
        self.frames_reached = 0  # frames of the file up to the last one decoded
        self.frames_without_person: list[int] = []

    def __iter__(self) -> Iterator[FrameResult]:
        last_ms = -1
        frames = iter_frames(self.info.path, self.stride, self.detector.max_side)
        with self.detector.video_session() as session, closing(frames):
            for frame in frames:
                if self._should_stop(frame.index):
                    self.cancelled = True
                    return
                # MediaPipe needs strictly increasing integer milliseconds.
                last_ms = max(round(frame.time_s * 1000.0), last_ms + 1)
                poses = (self.detector.detect(frame.image) if self.everyone
                         else session.detect(frame.image, last_ms))
                if not poses:
                    self.frames_without_person.append(frame.index)
                self.frames_done += 1
                self.frames_reached = frame.index + 1
                yield FrameResult(frame.index, frame.time_s, poses)
        if self.progress is not None:
            self.progress(self.info.frame_count or self.frames_done, self.info.frame_count)

    def truncation(self) -> str | None:
        """After a full run: why the stream ended before the frames the container announces (a
        truncated or damaged file), or None. Unknown counts and cancelled runs say nothing."""
        count = self.info.frame_count
        last_expected = (count - 1) // self.stride * self.stride  # the last frame a run reads
        if self.cancelled or not count or self.frames_reached > last_expected:
            return None
        return (f"{self.info.path}: decoded {self.frames_reached} of the {count} frames the file "
                "announces (truncated or damaged?)")

    def _should_stop(self, index: int) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            return True
        return self.progress is not None and self.progress(index, self.info.frame_count) is False


def track_main_person(results: Iterable[FrameResult], image_size: tuple[int, int]) -> PoseTrack:
    """Follow one person: in each frame the pose overlapping most with the previous choice
    (box IoU), else the largest. Good enough for one main actor; not a multi-person tracker."""
    indices, times, keypoints, confidence, empty = [], [], [], [], []
    previous: Pose2D | None = None
    nan_pose = np.full((H36M17.n, 2), np.nan, dtype=np.float32)
    for result in results:
        chosen = _follow(previous, result.poses)
        indices.append(result.index)
        times.append(result.time_s)
        if chosen is None:
            empty.append(result.index)
            keypoints.append(nan_pose)
            confidence.append(np.zeros(H36M17.n, dtype=np.float32))
        else:
            keypoints.append(chosen.keypoints)
            confidence.append(chosen.confidence)
            previous = chosen
    return PoseTrack(
        frame_index=np.asarray(indices, dtype=np.int64),
        time_s=np.asarray(times, dtype=np.float64),
        keypoints=np.asarray(keypoints, dtype=np.float32).reshape(-1, H36M17.n, 2),
        confidence=np.asarray(confidence, dtype=np.float32).reshape(-1, H36M17.n),
        image_size=image_size,
        frames_without_person=empty,
    )


def _follow(previous: Pose2D | None, poses: list[Pose2D]) -> Pose2D | None:
    if not poses:
        return None
    if previous is not None:
        overlaps = [box_iou(previous.box, pose.box) for pose in poses]
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0.1:
            return poses[best]
    return poses[0]


def read_frame(path: str | Path, index: int, max_side: int | None = DETECT_MAX_SIDE) -> np.ndarray:
    """One frame (RGB, downscaled to max_side) by its index, for browsing a video at random.

    Seeks with CAP_PROP_POS_FRAMES: exact for the intra-frame codecs and the common containers
    OpenCV reads; raises VideoReadError when the frame is past the end or cannot be decoded."""
    path = Path(path)
    if index < 0:
        raise VideoReadError(path, f"frame {index} does not exist")
    capture = _open(path)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok or bgr is None:
        raise VideoReadError(path, f"frame {index} cannot be decoded (past the end?)")
    return fit_within(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side)
