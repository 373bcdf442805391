"""Per-frame features of poses and keypoints, and windows of consecutive frames over them.

What the activity classifier (vvipe_core.classify) reads. A frame becomes one feature vector:
- ``embedding``: the V-VIPE embedding (embed_3d for 3D poses, embed_2d for 2D keypoints);
- ``keypoints2d``: the 13 normalised 2D keypoints (the retrieval protocol's "2D keypoints");
- ``canonical3d``: the 17 canonical 3D joints (for 2D input: the V-VIPE lift).
A window of W frames becomes the mean and the standard deviation of its frames' features: what
the pose is and how much it moves, without depending on the exact timing (our data's poses are
thinned, not evenly spaced in time).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from vvipe_core.cameras import CameraRanges, Cameras, keypoint_features, project, sample_cameras
from vvipe_core.canonical import NOMINAL_TORSO_MM
from vvipe_core.skeleton import H36M17, KP13, TORSO_2D

if TYPE_CHECKING:
    from vvipe_core.api import VVIPE

Feature = Literal["embedding", "keypoints2d", "canonical3d"]
FEATURES: tuple[str, ...] = ("embedding", "keypoints2d", "canonical3d")
# Our data keeps a pose only once some joint has moved 60 mm (see ../shared/data/README.md);
# dense video frames are thinned the same way so that windows span as much motion as in training.
DATA_THINNING = 60.0 / NOMINAL_TORSO_MM


def usable(x: np.ndarray) -> np.ndarray:
    """(N, J, 2|3) -> (N,) True for complete 3D poses and for 2D keypoints with at least two of
    the shoulders and hips (what the 2D normalisation needs)."""
    finite = np.isfinite(x).all(axis=-1)
    if x.shape[-1] == 3:
        return finite.all(axis=-1)
    skeleton = H36M17 if x.shape[1] == H36M17.n else KP13
    return finite[:, skeleton.indices(TORSO_2D)].sum(axis=-1) >= 2


def frame_features(model: VVIPE | None, feature: Feature, x: np.ndarray) -> np.ndarray:
    """(N, 17, 3) poses or (N, 17|13, 2) keypoints, all usable -> (N, F) float32 features."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[-1] not in (2, 3):
        raise ValueError(f"expected (N, 17, 3) poses or (N, 17|13, 2) keypoints, got {x.shape}")
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; expected one of {FEATURES}")
    if feature == "keypoints2d":
        if x.shape[-1] != 2:
            raise ValueError("a keypoints2d classifier reads 2D keypoints only")
        skeleton = H36M17 if x.shape[1] == H36M17.n else KP13
        return keypoint_features(x, skeleton)[0][..., :2].reshape(len(x), -1)
    if model is None:
        raise ValueError(f"the {feature} feature needs a V-VIPE model")
    if feature == "embedding":
        return model.embed_3d(x) if x.shape[-1] == 3 else model.embed_2d(x)
    canonical = model.canonicalize(x) if x.shape[-1] == 3 else model.lift(x)
    return canonical.reshape(len(x), -1)


def pool(features: np.ndarray) -> np.ndarray:
    """(M, W, F) features of M windows -> (M, 2F): mean and standard deviation over time."""
    return np.concatenate([features.mean(axis=1), features.std(axis=1)], axis=-1)


def window_starts(n: int, window: int, stride: int) -> np.ndarray:
    """First frames of windows covering n frames: every `stride`, and one ending at the end."""
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be at least 1, got {window}, {stride}")
    if n <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n - window + 1, stride)
    return starts if starts[-1] == n - window else np.append(starts, n - window)


def frames_of_windows(n: int, window: int, stride: int) -> np.ndarray:
    """(M, window) frame indices of the windows over n frames. A sequence shorter than the
    window gives one window that spreads its frames over the W slots (some twice)."""
    if n < window:
        return np.linspace(0, n - 1, window).round().astype(np.int64)[None]
    return window_starts(n, window, stride)[:, None] + np.arange(window)


def sequence_windows(
    sequence: np.ndarray, frame: np.ndarray, window: int, stride: int
) -> np.ndarray:
    """(M, window) row indices: windows of consecutive poses of the same sequence, ordered by
    frame, never crossing from one sequence into another."""
    order = np.lexsort((frame, sequence))
    bounds = np.flatnonzero(sequence[order][1:] != sequence[order][:-1]) + 1
    runs = np.split(order, bounds)
    return np.concatenate([run[frames_of_windows(len(run), window, stride)] for run in runs])


def window_views(
    poses: np.ndarray, windows: np.ndarray, ranges: CameraRanges, rng: np.random.Generator
) -> np.ndarray:
    """World poses (N, 17, 3) mm and windows (M, W) -> (M, W, 17, 2) pixels: one camera per
    window (a static camera filming a clip), aimed at the window's mean pelvis."""
    clips = poses[windows]  # (M, W, 17, 3)
    cams = sample_cameras(clips[:, :, 0].mean(axis=1), ranges, rng)
    w = windows.shape[1]
    per_frame = Cameras(
        rotation=np.repeat(cams.rotation, w, axis=0), position=np.repeat(cams.position, w, axis=0),
        focal=np.repeat(cams.focal, w), center=np.repeat(cams.center, w, axis=0),
    )
    return project(clips.reshape(-1, H36M17.n, 3), per_frame).reshape(*windows.shape, H36M17.n, 2)


def thin(canonical: np.ndarray, min_move: float = DATA_THINNING) -> np.ndarray:
    """Indices of the frames of a (T, 17, 3) canonical sequence to keep: the first, then each
    frame where some joint is more than `min_move` (torso lengths) from the last kept frame."""
    if len(canonical) == 0:
        return np.zeros(0, dtype=np.int64)
    kept, last = [0], canonical[0]
    for i in range(1, len(canonical)):
        if np.linalg.norm(canonical[i] - last, axis=-1).max() > min_move:
            kept.append(i)
            last = canonical[i]
    return np.asarray(kept, dtype=np.int64)
