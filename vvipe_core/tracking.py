"""Everyone in a video, each with a stable id: frame-to-frame assignment of detected people.

Each frame's people are matched to the open tracks by ``scipy.optimize.linear_sum_assignment``
(the optimal one-to-one pairing) on a cost that adds box overlap (1 - IoU) and the keypoints'
mean distance in body heights. A track's position is predicted at its recent velocity, so a
person hidden behind another while crossing is picked up again on the other side; a track
survives gaps up to ``max_gap_s``; a person no track can take starts a new id. Ids count from 1.

`PeopleTracker` works one frame at a time (live video); `track_people` runs it over a whole
video and returns one `PoseTrack` per person.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from vvipe_core.detect import Pose2D, box_iou
from vvipe_core.skeleton import H36M17
from vvipe_core.video import FrameResult, PoseTrack


@dataclass(frozen=True)
class TrackerSettings:
    """max_cost: pairings costlier than this are no match (1 = no overlap and nothing else,
    each body height of keypoint distance adds `keypoint_weight`); max_gap_s: how long an
    unseen track waits; velocity_smoothing: weight of the newest speed in the running one;
    min_frames: tracks seen in fewer frames are dropped by track_people (flickers), except the
    longest."""

    max_cost: float = 1.6
    keypoint_weight: float = 1.0
    max_gap_s: float = 2.0
    velocity_smoothing: float = 0.5
    min_frames: int = 3


DEFAULT_TRACKING = TrackerSettings()


@dataclass
class _Track:
    id: int
    pose: Pose2D
    time_s: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px / s of the box centre

    def predicted(self, time_s: float) -> tuple[tuple[float, ...], np.ndarray]:
        """Box and keypoints moved along the velocity to `time_s`."""
        shift = self.velocity * (time_s - self.time_s)
        x0, y0, x1, y1 = self.pose.box
        box = (x0 + shift[0], y0 + shift[1], x1 + shift[0], y1 + shift[1])
        return box, self.pose.keypoints_raw + shift


def _centre(box: tuple[float, ...]) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


class PeopleTracker:
    """Assigns ids to each frame's people; frames must come in time order."""

    def __init__(self, settings: TrackerSettings = DEFAULT_TRACKING) -> None:
        self.settings = settings
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, poses: list[Pose2D], time_s: float) -> list[int]:
        """The id of each of `poses` (same order), new ids for new people."""
        settings = self.settings
        self._tracks = [t for t in self._tracks if time_s - t.time_s <= settings.max_gap_s]
        ids = [0] * len(poses)
        if self._tracks and poses:
            cost = np.array([[self._cost(track, pose, time_s) for pose in poses]
                             for track in self._tracks])
            for row, column in zip(*linear_sum_assignment(cost)):
                if cost[row, column] <= settings.max_cost:
                    self._follow(self._tracks[row], poses[column], time_s)
                    ids[column] = self._tracks[row].id
        for column, pose in enumerate(poses):
            if not ids[column]:
                self._tracks.append(_Track(self._next_id, pose, time_s))
                ids[column] = self._next_id
                self._next_id += 1
        return ids

    def _cost(self, track: _Track, pose: Pose2D, time_s: float) -> float:
        box, keypoints = track.predicted(time_s)
        height = max(box[3] - box[1], pose.box[3] - pose.box[1], 1.0)
        distances = np.linalg.norm(keypoints - pose.keypoints_raw, axis=-1)
        return (1.0 - box_iou(box, pose.box)
                + self.settings.keypoint_weight * float(np.mean(distances)) / height)

    def _follow(self, track: _Track, pose: Pose2D, time_s: float) -> None:
        dt = time_s - track.time_s
        if dt > 0:
            speed = (_centre(pose.box) - _centre(track.pose.box)) / dt
            a = self.settings.velocity_smoothing
            track.velocity = a * speed + (1 - a) * track.velocity
        track.pose, track.time_s = pose, time_s


def track_people(
    results: Iterable[FrameResult], image_size: tuple[int, int],
    settings: TrackerSettings = DEFAULT_TRACKING,
) -> dict[int, PoseTrack]:
    """Everyone through a video: {id: track over all frames (NaN where that person is not
    seen)}, ids renumbered 1, 2, ... by first appearance after dropping flickers."""
    tracker = PeopleTracker(settings)
    indices, times, seen = [], [], []  # seen[t]: {tracker id: pose}
    for result in results:
        indices.append(result.index)
        times.append(result.time_s)
        seen.append(dict(zip(tracker.update(result.poses, result.time_s), result.poses)))
    counts: dict[int, int] = {}
    for frame in seen:
        for track_id in frame:
            counts[track_id] = counts.get(track_id, 0) + 1
    # The person seen longest is kept however briefly (a short clip may show nobody for long).
    enough = min(settings.min_frames, max(counts.values(), default=0))
    kept = sorted(i for i, n in counts.items() if n >= enough)  # tracker ids grow with time
    tracks = {}
    for number, track_id in enumerate(kept, start=1):
        keypoints = np.full((len(seen), H36M17.n, 2), np.nan, dtype=np.float32)
        confidence = np.zeros((len(seen), H36M17.n), dtype=np.float32)
        for t, frame in enumerate(seen):
            if track_id in frame:
                keypoints[t], confidence[t] = frame[track_id].keypoints, frame[track_id].confidence
        tracks[number] = PoseTrack(
            frame_index=np.asarray(indices, dtype=np.int64),
            time_s=np.asarray(times, dtype=np.float64),
            keypoints=keypoints,
            confidence=confidence,
            image_size=image_size,
            frames_without_person=[i for i, f in zip(indices, seen) if track_id not in f],
        )
    return tracks


def count_id_switches(assigned: np.ndarray) -> int:
    """(T, P) the track id given to each true person in each frame (0 = not found) -> how often
    a person's id changes from one frame where they are found to the next."""
    switches = 0
    for column in np.asarray(assigned).T:
        found = column[column > 0]
        switches += int(np.count_nonzero(found[1:] != found[:-1]))
    return switches
