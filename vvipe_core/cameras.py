"""Virtual cameras: sampling from ranges, perspective projection, 2D normalisation.

World frame: +z up, millimetres (our data). Camera frame: OpenCV's (x right, y down, z forward).
Every camera looks at a target point (the pose's pelvis) from a given azimuth, elevation and
distance, then rolls about its viewing axis.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from vvipe_core.skeleton import KP13, TORSO_2D, Skeleton


@dataclass(frozen=True)
class CameraRanges:
    """Uniform ranges to draw cameras from (degrees, metres, pixels)."""

    azimuth: tuple[float, float] = (-180.0, 180.0)
    elevation: tuple[float, float] = (-30.0, 30.0)
    roll: tuple[float, float] = (-15.0, 15.0)
    distance_m: tuple[float, float] = (3.5, 6.0)
    focal_px: tuple[float, float] = (1000.0, 1000.0)
    image_size: tuple[int, int] = (1000, 1000)  # width, height; the principal point is its centre


# The evaluation protocol's camera sets: "seen" are the training ranges of the protocol models;
# "unseen" are high cameras looking down, which no protocol model sees in training.
SEEN = CameraRanges()
UNSEEN = CameraRanges(elevation=(40.0, 70.0), distance_m=(2.5, 5.0))
CAMERA_SETS = {"seen": SEEN, "unseen": UNSEEN}


@dataclass
class Cameras:
    """A batch of N pinhole cameras: x_cam = R @ (x_world - position)."""

    rotation: np.ndarray  # (N, 3, 3) world -> camera
    position: np.ndarray  # (N, 3) mm, world frame
    focal: np.ndarray  # (N,) px
    center: np.ndarray  # (N, 2) px
    params: dict[str, np.ndarray] = field(default_factory=dict)  # azimuth, elevation, ... (deg, m)

    def __len__(self) -> int:
        return len(self.focal)


def look_at(
    target: np.ndarray,
    azimuth: np.ndarray,
    elevation: np.ndarray,
    roll: np.ndarray,
    distance_mm: np.ndarray,
    focal: np.ndarray,
    center: np.ndarray,
) -> Cameras:
    """Cameras at the given spherical coordinates around `target` (N, 3), looking at it."""
    az, el, ro = (np.deg2rad(np.asarray(a, dtype=np.float64)) for a in (azimuth, elevation, roll))
    offset = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)
    position = target + offset * np.asarray(distance_mm, dtype=np.float64)[:, None]
    forward = -offset
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    # Roll turns the image about the viewing axis.
    cos, sin = np.cos(ro)[:, None], np.sin(ro)[:, None]
    right, down = cos * right + sin * down, -sin * right + cos * down
    rotation = np.stack([right, down, forward], axis=-2)
    n = len(target)
    return Cameras(
        rotation=rotation,
        position=position,
        focal=np.broadcast_to(np.asarray(focal, dtype=np.float64), (n,)).copy(),
        center=np.broadcast_to(np.asarray(center, dtype=np.float64), (n, 2)).copy(),
    )


def sample_cameras(
    targets: np.ndarray, ranges: CameraRanges = SEEN, rng: np.random.Generator | int = 0
) -> Cameras:
    """One camera per target point (N, 3), drawn uniformly from `ranges`; deterministic per seed."""
    rng = np.random.default_rng(rng)
    targets = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    n = len(targets)
    draw = {
        name: rng.uniform(*getattr(ranges, name), size=n)
        for name in ("azimuth", "elevation", "roll", "distance_m", "focal_px")
    }
    center = np.array(ranges.image_size, dtype=np.float64) / 2
    cams = look_at(
        targets, draw["azimuth"], draw["elevation"], draw["roll"], draw["distance_m"] * 1000.0,
        draw["focal_px"], center,
    )
    cams.params = draw
    return cams


# Canonical poses face +y: a camera at this azimuth sees them from the front.
FRONT_AZIMUTH = 90.0


def view_canonical(
    poses: np.ndarray, azimuths: np.ndarray, elevation: float = 0.0,
    distance_mm: float = 4500.0, focal_px: float = 1000.0, image_size: tuple[int, int] = (1000, 1000),
) -> np.ndarray:
    """Canonical poses (N, 17, 3) seen by one camera each at `azimuths` (N,) degrees around the
    pelvis -> (N, 17, 2) pixels. Canonical units become nominal millimetres, so the default
    distance shows a whole body in the picture."""
    from vvipe_core.canonical import NOMINAL_TORSO_MM

    n = len(azimuths)
    cams = look_at(np.zeros((n, 3)), azimuths, np.full(n, elevation), np.zeros(n),
                   np.full(n, distance_mm), focal_px, np.asarray(image_size, dtype=np.float64) / 2)
    return project(np.asarray(poses) * NOMINAL_TORSO_MM, cams)


def to_camera(points: np.ndarray, cams: Cameras) -> np.ndarray:
    """(N, J, 3) world points -> (N, J, 3) camera-frame points (mm)."""
    return np.einsum("nij,nkj->nki", cams.rotation, points - cams.position[:, None, :])


def project(points: np.ndarray, cams: Cameras) -> np.ndarray:
    """(N, J, 3) world points (mm) -> (N, J, 2) pixel coordinates through each pose's camera."""
    cam = to_camera(np.asarray(points, dtype=np.float64), cams)
    depth = np.maximum(cam[..., 2:], 1e-6)
    return cam[..., :2] / depth * cams.focal[:, None, None] + cams.center[:, None, :]


def unproject(pixels: np.ndarray, depth: np.ndarray, cams: Cameras) -> np.ndarray:
    """Inverse of `project` given each point's camera depth (N, J): back to world points."""
    xy = (pixels - cams.center[:, None, :]) / cams.focal[:, None, None] * depth[..., None]
    cam = np.concatenate([xy, depth[..., None]], axis=-1)
    return np.einsum("nji,nkj->nki", cams.rotation, cam) + cams.position[:, None, :]


def normalize_2d(
    keypoints: np.ndarray, skeleton: Skeleton = KP13
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pr-VIPE's 2D normalisation: origin at the hip midpoint, the largest pairwise distance
    among shoulders and hips scaled to 0.5.

    NaN joints (missing) stay NaN and are ignored: with one hip missing the other is the origin,
    with both missing the shoulders' midpoint. Returns (normalised (..., J, 2), origin (..., 2),
    scale (...,)) with pixels = normalised * scale + origin. Raises ValueError where fewer than
    two of the shoulders and hips are present.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    torso = kp[..., skeleton.indices(TORSO_2D), :]
    pairwise = np.linalg.norm(torso[..., :, None, :] - torso[..., None, :, :], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are handled below
        origin = np.nanmean(torso[..., 2:, :], axis=-2)
        origin = np.where(np.isnan(origin), np.nanmean(torso[..., :2, :], axis=-2), origin)
        span = np.nanmax(pairwise, axis=(-1, -2))
    if np.any(~(span > 0)):
        raise ValueError("2D normalisation needs at least two of the shoulders and hips")
    scale = span / 0.5
    return (kp - origin[..., None, :]) / scale[..., None, None], origin, scale


def keypoint_features(keypoints: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """2D keypoints (N, J, 2) in pixels (NaN = missing) -> the mapping network's input
    (N, 13, 3): normalised x, y and a presence flag; missing keypoints become (0, 0, 0).

    Also returns the (N, 13) presence mask. Any image frame works: the normalisation removes
    position and scale.
    """
    from vvipe_core.skeleton import convert

    kp13 = convert(np.asarray(keypoints, dtype=np.float64), skeleton, KP13)
    normalised, _, _ = normalize_2d(kp13)
    present = ~np.isnan(normalised).any(-1)
    features = np.concatenate([np.nan_to_num(normalised), present[..., None]], axis=-1)
    return features.astype(np.float32), present


def mirror_keypoint_features(features: np.ndarray) -> np.ndarray:
    """The mapping network's input (N, 13, 3) for the mirror image of the picture: x negated,
    left and right exchanged. Exact, since the normalisation's origin (mid-hips) and scale are
    themselves mirror-symmetric."""
    out = features[:, KP13.mirror_index].copy()
    out[..., 0] *= -1
    return out
