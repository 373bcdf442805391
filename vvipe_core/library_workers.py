"""Detection for the pose library: the per-file task (everyone in a picture, or in every
`stride`-th frame of a video) and where it runs: in this process, in worker processes (one
MediaPipe each) or on a Ray cluster (an actor per worker, one MediaPipe each). The caller
embeds and commits what comes back, one file at a time: one writer, whatever runs detection.

    for event in detections(files, stride=1, workers=2): ...   # Detected or a heartbeat
"""
from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vvipe_core.detect import Pose2D, PoseDetector
from vvipe_core.errors import VVIPEError
from vvipe_core.library_store import SOURCE_DTYPE
from vvipe_core.lifting import liftable
from vvipe_core.video import VIDEO_SUFFIXES, VideoDetection

POLL_S = 0.25  # how often a parallel run looks at the cancel flag while workers work


@dataclass(frozen=True)
class Detected:
    """Everyone liftable in one file, with the file's stamp taken before reading it (a file
    changed while it was read is processed again next time)."""

    path: str
    size: int
    mtime_ns: int
    error: str | None  # why the file could not be read (it is recorded, with no rows)
    sources: np.ndarray  # (n,) SOURCE_DTYPE
    keypoints: np.ndarray  # (n, 17, 2) pixels, NaN = not seen


@dataclass(frozen=True)
class Heartbeat:
    """Nothing finished yet; `file` is being read, `frames` of it seen (0: unknown)."""

    file: Path | None
    frames: int


def detecting(path: Path, stride: int, detector: PoseDetector
              ) -> Generator[Heartbeat, None, Detected]:
    """One file's people; yields a heartbeat every 10 frames, returns the Detected."""
    stat = path.stat()
    rows: list[tuple] = []
    keypoints: list[np.ndarray] = []
    error = None
    try:
        for frames, (frame, time_s, people) in enumerate(_frames(path, detector, stride), 1):
            for person, pose in enumerate(people):
                if liftable(pose.keypoints[None])[0]:
                    rows.append((frame, time_s, pose.box, person))
                    keypoints.append(pose.keypoints)
            if frames % 10 == 0:
                yield Heartbeat(path, frames)
    except VVIPEError as failure:  # an unreadable file is recorded, not fatal
        rows, keypoints, error = [], [], failure.reason
    return Detected(str(path), stat.st_size, stat.st_mtime_ns, error,
                    np.array(rows, SOURCE_DTYPE),
                    np.array(keypoints, np.float32).reshape(len(rows), 17, 2))


def detect_file(path: Path, stride: int, detector: PoseDetector) -> Detected:
    steps = detecting(path, stride, detector)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _frames(path: Path, detector: PoseDetector, stride: int
            ) -> Iterator[tuple[int, float, list[Pose2D]]]:
    if path.suffix.lower() in VIDEO_SUFFIXES:
        for result in VideoDetection(path, detector, stride=stride):
            yield result.index, result.time_s, result.poses
    else:
        yield 0, 0.0, detector.detect(path)


def detections(
    files: list[Path], stride: int, *, detector: PoseDetector | None = None, workers: int = 1,
    ray: str | None = None,
) -> Iterator[Detected | Heartbeat]:
    """Each file's Detected as it finishes (in file order with one worker, in finishing order
    otherwise), with heartbeats in between so the caller can cancel: closing the iterator
    stops the workers."""
    if not files:
        return
    if ray is not None:
        yield from _on_ray(files, stride, ray, workers)
    elif min(workers, len(files)) > 1:
        yield from _in_processes(files, stride, workers)
    else:
        owned = detector is None
        detector = detector or PoseDetector()
        try:
            for path in files:
                yield Heartbeat(path, 0)
                yield (yield from detecting(path, stride, detector))
        finally:
            if owned:
                detector.close()


# -- worker processes -------------------------------------------------------------------------
_worker_detector: PoseDetector | None = None


def _start_worker() -> None:
    global _worker_detector
    import torch

    # Ctrl-C is the parent's to handle: it stops the workers and keeps the finished files.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _worker_detector = PoseDetector()


def _detect_in_worker(task: tuple[Path, int]) -> Detected:
    return detect_file(task[0], task[1], _worker_detector)


def _in_processes(files: list[Path], stride: int, workers: int) -> Iterator[Detected | Heartbeat]:
    # spawn, not fork: MediaPipe and torch hold threads that a fork would copy half-way.
    pool = multiprocessing.get_context("spawn").Pool(min(workers, len(files)),
                                                     initializer=_start_worker)
    try:
        results = pool.imap_unordered(_detect_in_worker, [(f, stride) for f in files])
        for _ in files:
            while True:
                try:
                    yield results.next(timeout=POLL_S)
                    break
                except multiprocessing.TimeoutError:
                    yield Heartbeat(None, 0)
        pool.close()
    finally:
        pool.terminate()  # a cancelled run does not wait for the files in flight
        pool.join()


# -- Ray --------------------------------------------------------------------------------------
def _on_ray(files: list[Path], stride: int, address: str, workers: int
            ) -> Iterator[Detected | Heartbeat]:
    """The same per-file task on Ray actors, one MediaPipe each. `address` is "local" (a
    Ray instance started for this run, `workers` CPUs) or a cluster's address; the files must
    be readable at the same paths on the cluster's machines."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise VVIPEError(None, "--ray needs Ray: pip install 'vvipe-studio[cluster]'") from None

    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address == "local" else address,
                 num_cpus=workers if address == "local" else None,
                 include_dashboard=False, log_to_driver=False)
    actor = ray.remote(num_cpus=1)(_RayDetector)
    size = workers if address == "local" else max(1, int(ray.cluster_resources().get("CPU", 1)))
    actors = [actor.remote() for _ in range(min(size, len(files)) or 1)]
    pool = ActorPool(actors)
    try:
        for path in files:
            pool.submit(lambda a, p: a.detect.remote(p, stride), path)
        while pool.has_next():
            try:
                yield pool.get_next_unordered(timeout=POLL_S)
            except TimeoutError:
                yield Heartbeat(None, 0)
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()


class _RayDetector:
    def __init__(self) -> None:
        _start_worker()

    def detect(self, path: Path, stride: int) -> Detected:
        return _detect_in_worker((path, stride))
