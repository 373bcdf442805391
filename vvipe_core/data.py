"""Pose data: our npz files, VideoPose3D's Human3.6M files, and augmentation.

Our format (see ../shared/data/README.md): ``poses`` (N, 17, 3) mm, +z up, with per-pose
``subject``, ``sequence`` and optional ``person``, ``activity``, ``frame``, ``rig``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vvipe_core.errors import VVIPEError
from vvipe_core.skeleton import H36M17, H36M32, TORSO_2D, convert

REQUIRED_KEYS = ("poses", "subject", "sequence")


class DataFileError(VVIPEError, ValueError):
    """A pose file that cannot be used, with the file and the reason in the message."""


@dataclass
class PoseSet:
    poses: np.ndarray  # (N, 17, 3) mm, world frame, +z up
    subject: np.ndarray  # (N,)
    sequence: np.ndarray  # (N,) str
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # activity, person, frame, ...

    def __len__(self) -> int:
        return len(self.poses)

    def subset(self, index: np.ndarray) -> PoseSet:
        return PoseSet(
            self.poses[index], self.subject[index], self.sequence[index],
            {k: v[index] for k, v in self.extra.items()},
        )


def load_poses(path: str | Path) -> PoseSet:
    """Read a pose file in our npz format (no pickle)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {k: d[k] for k in d.files}
    except FileNotFoundError:
        raise DataFileError(path, "no such file") from None
    except Exception as e:  # zip/format errors come in many types
        raise DataFileError(path, f"not a readable .npz pose file ({e})") from e
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise DataFileError(path, f"missing array(s) {', '.join(missing)}")
    poses = arrays.pop("poses")
    if poses.ndim != 3 or poses.shape[1:] != (H36M17.n, 3):
        raise DataFileError(path, f"poses must be (N, 17, 3), got {poses.shape}")
    if not np.isfinite(poses).all():
        raise DataFileError(path, "poses contain NaN or inf")
    if len(poses) == 0:
        raise DataFileError(path, "holds no poses")
    n = len(poses)
    bad = [k for k, v in arrays.items() if len(v) != n]
    if bad:
        raise DataFileError(path, f"array(s) {', '.join(bad)} do not have {n} rows")
    return PoseSet(
        poses.astype(np.float32), arrays.pop("subject"), arrays.pop("sequence").astype(str), arrays
    )


def load_h36m_3d(path: str | Path, subjects: list[str] | None = None) -> PoseSet:
    """VideoPose3D's ``data_3d_h36m.npz``: ``positions_3d[subject][action]`` (T, 32, 3) metres,
    y-down camera-agnostic world frame of Human3.6M (z up in its world coordinates).

    Converted by joint name to our 17 joints, in mm.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=True) as d:
            data = d["positions_3d"].item()
    except Exception as e:
        raise DataFileError(path, f"not a VideoPose3D data_3d_h36m.npz file ({e})") from e
    poses, subject, sequence = [], [], []
    for subj in sorted(data):
        if subjects and subj not in subjects:
            continue
        for action in sorted(data[subj]):
            p = np.asarray(data[subj][action], dtype=np.float32)
            poses.append(convert(p, H36M32, H36M17) * 1000.0)
            subject += [subj] * len(p)
            sequence += [f"{subj}/{action}"] * len(p)
    if not poses:
        raise DataFileError(path, f"no poses for subjects {subjects}")
    return PoseSet(np.concatenate(poses), np.asarray(subject), np.asarray(sequence))


def load_h36m_2d(path: str | Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """VideoPose3D's ``data_2d_h36m_*.npz``: ``positions_2d[subject][action]`` -> list per
    camera of (T, 17, 2) pixels in our joint order (VideoPose3D's 17 joints are ours)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=True) as d:
            data = d["positions_2d"].item()
    except Exception as e:
        raise DataFileError(path, f"not a VideoPose3D data_2d_h36m file ({e})") from e
    out = {}
    for subj, actions in data.items():
        out[subj] = {}
        for action, cams in actions.items():
            views = [np.asarray(v, dtype=np.float32)[..., :2] for v in cams]
            if any(v.ndim != 3 or v.shape[1] != H36M17.n for v in views):
                raise DataFileError(path, f"{subj}/{action} is not (T, 17, 2) per camera")
            out[subj][action] = views
    return out


# Bone types share one length factor on both sides: people are (nearly) symmetric.
def _bone_types() -> np.ndarray:
    mirror = H36M17.mirror_index
    return np.minimum(np.arange(H36M17.n), mirror)


_PARENTS = np.asarray(H36M17.parents)
_BONE_TYPE = _bone_types()


def rescale_bones(poses: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Scale each bone (child joint j, from its parent) of (N, 17, 3) poses by factors (N, 17),
    keeping every bone's direction and the pelvis position (forward kinematics from the root)."""
    out = np.array(poses, copy=True)
    for j in range(1, H36M17.n):  # parents come before children in our joint order
        p = _PARENTS[j]
        out[:, j] = out[:, p] + (poses[:, j] - poses[:, p]) * factors[:, j : j + 1]
    return out


def augment_bones(
    poses: np.ndarray, spread: float, rng: np.random.Generator, bodies: np.ndarray | None = None
) -> np.ndarray:
    """Random body proportions: each bone type (left and right alike) scaled by U(1±spread).

    With `bodies` (N,) labels (e.g. the take), poses with the same label share one body.
    """
    if spread <= 0:
        return poses
    owner = np.arange(len(poses)) if bodies is None else np.unique(bodies, return_inverse=True)[1]
    factors = rng.uniform(1 - spread, 1 + spread, size=(owner.max() + 1, H36M17.n))
    return rescale_bones(poses, factors[owner][:, _BONE_TYPE])


def mirror_poses(poses: np.ndarray) -> np.ndarray:
    """Left/right mirror image: negate x and swap the sides' labels. A canonical pose stays
    canonical (its hip line is x)."""
    out = np.array(poses, copy=True)
    out[..., 0] *= -1
    return out[..., H36M17.mirror_index, :]


def augment_mirror(poses: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    flip = rng.random(len(poses)) < p
    out = np.array(poses, copy=True)
    out[flip] = mirror_poses(poses[flip])
    return out


def add_keypoint_noise(
    keypoints: np.ndarray, max_sigma_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Gaussian pixel noise with a per-pose sigma drawn from U(0, max_sigma_px)."""
    if max_sigma_px <= 0:
        return keypoints
    sigma = rng.uniform(0, max_sigma_px, size=(len(keypoints),) + (1,) * (keypoints.ndim - 1))
    return keypoints + rng.normal(size=keypoints.shape) * sigma


_TORSO = H36M17.indices(TORSO_2D)


def drop_keypoints(keypoints: np.ndarray, p: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Set each of our 17 keypoints (N, 17, 2) to NaN (missing) with probability p (a scalar, or
    per pose and joint, broadcast to (N, 17)), but never fewer than two of the shoulders and hips
    left: the 2D normalisation needs them."""
    if np.all(np.asarray(p) <= 0):
        return keypoints
    drop = rng.random(keypoints.shape[:-1]) < p
    # Keypoints missing already (an earlier corruption) count against the torso's two.
    too_few = (~(drop | np.isnan(keypoints).any(-1))[:, _TORSO]).sum(1) < 2
    drop[np.ix_(too_few, _TORSO)] = False
    out = np.array(keypoints, dtype=np.float64, copy=True)
    out[drop] = np.nan
    return out
