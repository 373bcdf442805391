"""Canonical space: pelvis-centred, torso-scaled, rotation-realigned 3D poses.

Canonical frame (right-handed): +z up, +x from the left hip towards the right hip, so the person
faces +y. Units are torso lengths: |pelvis→spine| + |spine→thorax| = 1.

Realignment modes:
- ``none``: centre and scale only (the world's rotation stays).
- ``yaw``: rotate about the world's up axis (+z in our data) so the hip line lies along +x;
  gravity stays where it was, so a leaning body stays leaning.
- ``full``: the torso axis (pelvis→thorax) becomes +z and the hip line, made orthogonal to it,
  becomes +x. Removes every global rotation, so the pose is the same from any camera.
"""
from __future__ import annotations

from enum import Enum

import numpy as np

from vvipe_core.skeleton import H36M17

# Template |pelvis→spine| + |spine→thorax| of our data (243.6 + 267.7 mm): converts canonical
# units to a nominal millimetre scale for display and export.
NOMINAL_TORSO_MM = 511.3

PELVIS, SPINE, THORAX = H36M17.indices(["pelvis", "spine", "thorax"])
L_HIP, R_HIP = H36M17.indices(["l_hip", "r_hip"])
L_SHOULDER, R_SHOULDER = H36M17.indices(["l_shoulder", "r_shoulder"])
_EPS = 1e-8


class Realign(str, Enum):
    NONE = "none"
    YAW = "yaw"
    FULL = "full"


def torso_length(poses: np.ndarray) -> np.ndarray:
    """(..., 17, 3) -> (...,) |pelvis→spine| + |spine→thorax|."""
    return np.linalg.norm(poses[..., SPINE, :] - poses[..., PELVIS, :], axis=-1) + np.linalg.norm(
        poses[..., THORAX, :] - poses[..., SPINE, :], axis=-1
    )


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, _EPS), norm[..., 0]


def _side_axis(poses: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Unit left→right hip direction orthogonal to `up`; the shoulder line where the hip line
    is (nearly) parallel to `up` (a body lying sideways in yaw mode)."""
    def orthogonal(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _unit(v - np.sum(v * up, axis=-1, keepdims=True) * up)

    hips, hip_norm = orthogonal(poses[..., R_HIP, :] - poses[..., L_HIP, :])
    shoulders, _ = orthogonal(poses[..., R_SHOULDER, :] - poses[..., L_SHOULDER, :])
    hip_len = np.linalg.norm(poses[..., R_HIP, :] - poses[..., L_HIP, :], axis=-1)
    degenerate = hip_norm < 0.05 * np.maximum(hip_len, _EPS)
    return np.where(degenerate[..., None], shoulders, hips)


def realignment_rotation(poses: np.ndarray, mode: Realign | str = Realign.FULL) -> np.ndarray:
    """(..., 17, 3) -> (..., 3, 3) rotation R; the canonical pose is (p - pelvis) @ R.T."""
    mode = Realign(mode)
    batch = poses.shape[:-2]
    if mode is Realign.NONE:
        return np.broadcast_to(np.eye(3), batch + (3, 3)).copy()
    if mode is Realign.YAW:
        up = np.broadcast_to(np.array([0.0, 0.0, 1.0]), batch + (3,))
    else:
        up, _ = _unit(poses[..., THORAX, :] - poses[..., PELVIS, :])
    x = _side_axis(poses, up)
    y = np.cross(up, x)
    return np.stack([x, y, up], axis=-2)


def canonicalize(
    poses: np.ndarray, mode: Realign | str = Realign.FULL, return_scale: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """(..., 17, 3) poses in any frame and unit -> canonical poses (float32).

    With ``return_scale`` also returns each pose's torso length in input units, so that
    ``canonical * scale`` is the pose at its own size.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.shape[-2:] != (H36M17.n, 3):
        raise ValueError(f"expected (..., 17, 3) poses, got {poses.shape}")
    centred = poses - poses[..., PELVIS : PELVIS + 1, :]
    scale = torso_length(centred)
    rotation = realignment_rotation(centred, mode)
    canonical = np.einsum("...ij,...kj->...ki", rotation, centred) / np.maximum(scale, _EPS)[
        ..., None, None
    ]
    canonical = canonical.astype(np.float32)
    return (canonical, scale) if return_scale else canonical

