"""2D keypoints -> canonical 3D poses for pictures and videos: the path the CLI and GUI share.

The façade needs two of the shoulders and hips to place and scale a pose; keypoint sets without
them become NaN poses here instead of failing the whole batch. For videos, smoothing (on by
default) runs twice: on the 2D keypoints before lifting, because the mapping network is
sensitive to 2D noise, and on the lifted poses, which removes the jitter the network adds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vvipe_core.canonical import NOMINAL_TORSO_MM
from vvipe_core.export import PoseSequence
from vvipe_core.skeleton import H36M17, TORSO_2D
from vvipe_core.smoothing import DEFAULT_SMOOTHING, OneEuroSettings, jitter, one_euro
from vvipe_core.video import PoseTrack

if TYPE_CHECKING:
    from vvipe_core.api import VVIPE

_TORSO = H36M17.indices(TORSO_2D)
UNITS = "mm"
SCALE_NOTE = (
    f"canonical poses (torso length 1) times NOMINAL_TORSO_MM = {NOMINAL_TORSO_MM}: a nominal "
    "adult size, not the person's measured size"
)


def liftable(keypoints: np.ndarray) -> np.ndarray:
    """(N, 17, 2) -> (N,) True where at least two of the shoulders and hips are known."""
    known = np.isfinite(keypoints[:, _TORSO]).all(axis=-1)
    return known.sum(axis=-1) >= 2


def lift_keypoints(model: VVIPE, keypoints: np.ndarray) -> np.ndarray:
    """(N, 17, 2) pixels -> (N, 17, 3) canonical poses; NaN rows where lifting is impossible."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    poses = np.full((len(keypoints), H36M17.n, 3), np.nan, dtype=np.float32)
    ok = liftable(keypoints)
    if ok.any():
        poses[ok] = model.lift(keypoints[ok])
    return poses


@dataclass
class LiftedSequence:
    """A video's main person in 3D. Rows where nobody (or too little) was seen are NaN."""

    poses: np.ndarray  # (T, 17, 3) canonical units (vvipe_core.canonical)
    keypoints: np.ndarray  # (T, 17, 2) the pixels that were lifted (smoothed when smoothing)
    confidence: np.ndarray  # (T, 17)
    frame_index: np.ndarray  # (T,)
    time_s: np.ndarray  # (T,)
    jitter_raw: float  # 3D jitter (canonical units / frame²) lifting frame by frame
    jitter: float  # the same for `poses`

    @property
    def lifted(self) -> np.ndarray:
        return ~np.isnan(self.poses).any(axis=(1, 2))


def lift_track(
    model: VVIPE, track: PoseTrack, smoothing: OneEuroSettings | None = DEFAULT_SMOOTHING
) -> LiftedSequence:
    """Lift a followed person; with `smoothing`, One Euro filter the 2D and then the 3D."""
    raw = lift_keypoints(model, track.keypoints)
    keypoints, poses = track.keypoints, raw
    if smoothing is not None and len(track) > 1:
        keypoints = one_euro(track.keypoints, times_s=track.time_s, settings=smoothing)
        lifted = lift_keypoints(model, keypoints)
        poses = one_euro(lifted, times_s=track.time_s, settings=smoothing)
    return LiftedSequence(
        poses=poses,
        keypoints=keypoints,
        confidence=track.confidence,
        frame_index=track.frame_index,
        time_s=track.time_s,
        jitter_raw=jitter(raw),
        jitter=jitter(poses),
    )


def pose_sequence(poses: np.ndarray, **facts: object) -> PoseSequence:
    """Canonical poses (T, 17, 3) as the file `vvipe lift` writes: nominal millimetres."""
    return PoseSequence(poses * NOMINAL_TORSO_MM, units=UNITS, meta={"scale": SCALE_NOTE}, **facts)
