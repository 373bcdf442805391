"""Live 3D pose from a camera, a stream or a video file played at its own frame rate.

Capture runs in its own thread and keeps only the newest frame: when processing is slower than
the source, older frames are dropped (and counted) instead of queuing up, so what is shown is
never more than one frame old. Each processed frame goes through detection (MediaPipe VIDEO
mode), tracking (stable ids), per-person One Euro smoothing of the 2D keypoints, lifting, and
One Euro smoothing of the 3D poses. A recording is the same JSON file `vvipe lift` writes,
rewritten atomically every few seconds and at the end, so it stays valid whatever stops the run.

Sources: a camera index ("0"), a stream URL ("rtsp://...", "http://..."), or a video file.
"""
from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vvipe_core.detect import Pose2D, PoseDetector
from vvipe_core.errors import VideoReadError
from vvipe_core.export import save_poses
from vvipe_core.images import LoadedImage, fit_within
from vvipe_core.lifting import lift_keypoints, pose_sequence
from vvipe_core.skeleton import H36M17
from vvipe_core.smoothing import DEFAULT_SMOOTHING, OneEuroFilter
from vvipe_core.tracking import DEFAULT_TRACKING, PeopleTracker
from vvipe_core.video import DEFAULT_FPS

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

    from vvipe_core.api import VVIPE

LIVE_MAX_SIDE = 640  # live frames are detected at this size: MediaPipe crops people at 256 px
SAVE_EVERY_S = 2.0  # a recording is rewritten this often (and at the end)
# Per-frame latency, in order: capture = read -> taken for processing (time spent waiting);
# show = lifted -> shown or recorded; total = read -> shown.
STAGES = ("capture", "detect", "track", "lift", "show")


@dataclass(frozen=True)
class Captured:
    """A frame as the capture thread read it. time_s: the source's clock (a file's frame
    time, else seconds since capture started); read_at: time.perf_counter() when read."""

    index: int
    time_s: float
    read_at: float
    image: LoadedImage


def parse_source(source: str) -> int | str:
    """'0' -> camera 0; a URL stays a string; anything else must be an existing file."""
    if source.isdigit():
        return int(source)
    if "://" in source:
        return source
    path = Path(source)
    if not path.exists():
        raise VideoReadError(path, "no such file (give a camera index such as 0, a stream URL, "
                             "or a video file)")
    if not path.is_file():
        raise VideoReadError(path, "not a file")
    return str(path)


class FrameSource:
    """Frames from a camera, stream or file, read by a background thread; `newest()` hands over
    the newest frame not yet handed over. A file plays at its own frame rate unless `paced` is
    False (then as fast as it decodes: benchmarks)."""

    def __init__(self, source: str, max_side: int | None = LIVE_MAX_SIDE,
                 paced: bool = True) -> None:
        target = parse_source(source)
        self.name = source
        self.is_file = isinstance(target, str) and "://" not in target
        self.max_side = max_side
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            kind = "camera" if isinstance(target, int) else "stream" if not self.is_file else "video"
            raise VideoReadError(source, f"cannot open this {kind}")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        self.paced = paced and self.is_file
        self.read = 0  # frames read from the source
        self.dropped = 0  # read but replaced by a newer one before anybody took them
        self.failure = ""  # why a camera or stream stopped ("" when it did not, or ended)
        self.ended = False
        self._latest: Captured | None = None
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture {source}", daemon=True)
        self.started_at = time.perf_counter()  # a file's frame i is due at started_at + i / fps
        self._thread.start()

    def _run(self) -> None:
        start = self.started_at
        try:
            while not self._stop.is_set():
                if self.paced:  # a file stands in for a camera: frames come at its rate
                    delay = start + self.read / self.fps - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
                ok, bgr = self._capture.read()
                now = time.perf_counter()
                if not ok or bgr is None:
                    if not self.is_file:
                        self.failure = (f"stopped sending frames after {self.read} "
                                        "(unplugged or disconnected?)")
                    break
                rgb = fit_within(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.max_side)
                time_s = self.read / self.fps if self.is_file else now - start
                frame = Captured(self.read, time_s, now,
                                 LoadedImage(rgb=rgb, size=(bgr.shape[1], bgr.shape[0])))
                with self._condition:
                    self.dropped += self._latest is not None
                    self._latest = frame
                    self.read += 1
                    self._condition.notify_all()
        except cv2.error as error:
            self.failure = f"stopped: {error}"
        finally:
            with self._condition:
                self.ended = True
                self._condition.notify_all()

    def newest(self, timeout: float | None = None) -> Captured | None:
        """The newest frame not handed over yet, waiting for one; None when the source has
        ended (see `failure`) or nothing came within `timeout` seconds."""
        with self._condition:
            self._condition.wait_for(lambda: self._latest is not None or self.ended, timeout)
            frame, self._latest = self._latest, None
            return frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._capture.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class LivePerson:
    id: int
    keypoints: np.ndarray  # (17, 2) smoothed pixels, NaN = missing
    confidence: np.ndarray  # (17,)
    pose: np.ndarray  # (17, 3) canonical, smoothed; NaN when it could not be lifted
    detection: Pose2D  # as detected, before smoothing


@dataclass(frozen=True)
class LiveFrame:
    index: int  # the source's frame number
    time_s: float
    read_at: float  # time.perf_counter() when the frame was read
    image: LoadedImage
    people: list[LivePerson]  # the main person only unless all_people; may be empty


class LivePipeline:
    """One frame at a time: detection, tracking, smoothing and lifting of the main person (the
    largest when first seen, then followed) or of everyone."""

    def __init__(self, detector: PoseDetector, model: VVIPE, all_people: bool = False) -> None:
        self.model = model
        self.all_people = all_people
        self._session = detector.video_session()
        self._tracker = PeopleTracker(DEFAULT_TRACKING)
        self._filters: dict[int, tuple[OneEuroFilter, OneEuroFilter, float]] = {}
        self._main: int | None = None
        self._last_ms = -1
        self._lifted_at = 0.0
        self.timings: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "total")}

    def process(self, frame: Captured) -> LiveFrame:
        clock = time.perf_counter()
        self.timings["capture"].append(clock - frame.read_at)
        # MediaPipe needs strictly increasing integer milliseconds.
        self._last_ms = max(round(frame.time_s * 1000), self._last_ms + 1)
        poses = self._session.detect(frame.image, self._last_ms)
        clock = self._lap("detect", clock)
        ids = self._tracker.update(poses, frame.time_s)
        chosen = (sorted(zip(ids, poses), key=lambda pair: pair[0]) if self.all_people
                  else self._follow_main(ids, poses))
        keypoints = np.stack([self._smoother(i, frame.time_s)[0](p.keypoints, frame.time_s)
                              for i, p in chosen]) if chosen else np.zeros((0, H36M17.n, 2))
        clock = self._lap("track", clock)
        lifted = lift_keypoints(self.model, keypoints)
        people = [LivePerson(i, k.astype(np.float32), p.confidence,
                             self._smoother(i, frame.time_s)[1](pose, frame.time_s)
                             .astype(np.float32), p)
                  for (i, p), k, pose in zip(chosen, keypoints, lifted)]
        self._lifted_at = self._lap("lift", clock)
        return LiveFrame(frame.index, frame.time_s, frame.read_at, frame.image, people)

    def shown(self, frame: LiveFrame) -> None:
        """Call when a frame has been shown or recorded: closes its latency."""
        now = time.perf_counter()
        self.timings["show"].append(now - self._lifted_at)
        self.timings["total"].append(now - frame.read_at)

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[stage].append(now - since)
        return now

    def _follow_main(self, ids: list[int], poses: list) -> list:
        if self._main not in ids:
            self._main = ids[0] if ids else None  # poses come largest first
        return [(i, p) for i, p in zip(ids, poses) if i == self._main]

    def _smoother(self, person: int, time_s: float) -> tuple[OneEuroFilter, OneEuroFilter]:
        """The person's 2D and 3D filters; those of people gone for long are dropped."""
        gone = [i for i, (*_, seen) in self._filters.items()
                if time_s - seen > DEFAULT_TRACKING.max_gap_s]
        for i in gone:
            del self._filters[i]
        two, three, _ = self._filters.get(person) or (OneEuroFilter(DEFAULT_SMOOTHING),
                                                      OneEuroFilter(DEFAULT_SMOOTHING), time_s)
        self._filters[person] = (two, three, time_s)
        return two, three

    def close(self) -> None:
        self._session.close()


class Recorder:
    """Collects processed frames as `vvipe lift` rows and keeps `path` a valid JSON file
    (atomic rewrites every SAVE_EVERY_S and at `save()`). meta: facts for the file's header."""

    def __init__(self, path: Path, fps: float, all_people: bool, meta: dict | None = None) -> None:
        self.path, self.fps, self.all_people = Path(path), fps, all_people
        self.meta = meta or {}
        self.frames = 0
        self._rows: list[tuple[int, float, int, np.ndarray, np.ndarray]] = []
        self._saved_at = time.perf_counter()

    def add(self, frame: LiveFrame) -> None:
        self.frames += 1
        if not self.all_people and not frame.people:  # as `vvipe lift`: a NaN row
            nothing = np.full((H36M17.n, 3), np.nan, dtype=np.float32)
            self._rows.append((frame.index, frame.time_s, 0, nothing, np.zeros(H36M17.n)))
        for person in frame.people:
            self._rows.append((frame.index, frame.time_s, person.id, person.pose,
                               person.confidence))
        if time.perf_counter() - self._saved_at >= SAVE_EVERY_S:
            self.save()

    def save(self) -> Path:
        index, time_s, person, poses, confidence = (list(column) for column in zip(*self._rows)) \
            if self._rows else ([], [], [], [], [])
        facts = {"person": np.asarray(person, dtype=np.int64)} if self.all_people else {}
        sequence = pose_sequence(
            np.asarray(poses, dtype=np.float32).reshape(-1, H36M17.n, 3), fps=self.fps,
            time_s=np.asarray(time_s, dtype=np.float64), frame_index=np.asarray(index),
            confidence=np.asarray(confidence, dtype=np.float32).reshape(-1, H36M17.n), **facts)
        sequence.meta.update(self.meta, smoothing="one euro per person, 2D and 3D (live)")
        self._saved_at = time.perf_counter()
        return save_poses(self.path, sequence)


@dataclass
class LiveReport:
    frames: int  # processed
    read: int  # read from the source
    dropped: int  # stale frames skipped
    seconds: float
    timings: dict[str, list[float]]
    failure: str  # why the source stopped early ("" when it did not)
    interrupted: bool = False  # Ctrl-C

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def median_ms(self, stage: str) -> float:
        values = self.timings.get(stage) or [math.nan]
        return 1000.0 * statistics.median(values)

    def summary(self) -> str:
        stages = ", ".join(f"{s} {self.median_ms(s):.1f}" for s in (*STAGES, "total"))
        return (f"{self.frames} frames in {self.seconds:.1f} s: {self.fps:.1f} fps; "
                f"{self.dropped} of {self.read} frames read were stale and skipped; "
                f"median latency ms: {stages} (total = read to shown)")


def run_live(
    source: FrameSource, pipeline: LivePipeline, *, max_frames: int | None = None,
    recorder: Recorder | None = None, show: Callable[[LiveFrame], None] | None = None,
    stop: threading.Event | None = None,
) -> LiveReport:
    """Process the newest frame until the source ends, `max_frames` are done or `stop` is set;
    `show` gets each processed frame (the "show" stage). Ctrl-C ends the run like `stop`.
    The recording is saved in the end, also when the loop is left by an exception."""
    start, frames, interrupted = time.perf_counter(), 0, False
    try:
        while (max_frames is None or frames < max_frames) and not (stop and stop.is_set()):
            captured = source.newest(timeout=0.5)
            if captured is None:
                if source.ended:
                    break
                continue
            frame = pipeline.process(captured)
            if recorder is not None:
                recorder.add(frame)
            if show is not None:
                show(frame)
            pipeline.shown(frame)
            frames += 1
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if recorder is not None:
            recorder.save()
    return LiveReport(frames, source.read, source.dropped, time.perf_counter() - start,
                      pipeline.timings, source.failure, interrupted)
