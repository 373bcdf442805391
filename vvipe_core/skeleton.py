"""Skeletons as data: named joints, parents, mirror pairs, and conversion by joint *name*.

Index-based conversion between skeletons is the classic source of garbage 3D, so every
conversion here goes through names. A target joint is either a joint of the source with the
same name, or a derived joint: the mean of several named source joints (e.g. pelvis = mid-hips).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...] = ()
    # Derived joints that other skeletons may not have by name: name -> source names to average.
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.parents and len(self.parents) != len(self.joints):
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {len(self.joints)} joints")
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"{self.name}: duplicate joint names")

    @property
    def n(self) -> int:
        return len(self.joints)

    def index(self, name: str) -> int:
        return self.joints.index(name)

    def indices(self, names: tuple[str, ...] | list[str]) -> list[int]:
        return [self.index(n) for n in names]

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs, for drawing and for bone-length work."""
        return [(p, c) for c, p in enumerate(self.parents) if p >= 0]

    @property
    def mirror_index(self) -> np.ndarray:
        """Index of each joint's left/right twin (itself for centre joints), found by name."""
        twins = []
        for name in self.joints:
            twin = _swap_side(name)
            twins.append(self.index(twin) if twin in self.joints else self.index(name))
        return np.asarray(twins)

    def conversion_matrix(self, target: Skeleton) -> np.ndarray:
        """(target.n, self.n) averaging matrix: target = M @ source, joint by joint name."""
        m = np.zeros((target.n, self.n), dtype=np.float64)
        for t, name in enumerate(target.joints):
            sources = self.sources_of(name)
            if sources is None:
                raise KeyError(f"{self.name} has no joint '{name}' needed by {target.name}")
            for s in sources:
                m[t, self.index(s)] += 1.0 / len(sources)
        return m

    def sources_of(self, name: str) -> tuple[str, ...] | None:
        """The joints of this skeleton that make up `name` (itself, or an alias), else None."""
        if name in self.joints:
            return (name,)
        return self.aliases.get(name)


def _swap_side(name: str) -> str:
    if name.startswith("l_"):
        return "r_" + name[2:]
    if name.startswith("r_"):
        return "l_" + name[2:]
    return name


def convert(points: np.ndarray, source: Skeleton, target: Skeleton) -> np.ndarray:
    """Convert (..., source.n, D) points to (..., target.n, D) by joint name.

    A derived joint whose sources include a NaN is NaN: missing stays missing.
    """
    points = np.asarray(points)
    if points.shape[-2] != source.n:
        raise ValueError(f"expected {source.n} joints of {source.name}, got shape {points.shape}")
    m = source.conversion_matrix(target)
    # A plain matmul would spread one NaN to every target joint (0 * NaN = NaN).
    missing = np.isnan(points)
    out = np.einsum("ts,...sd->...td", m, np.where(missing, 0.0, points))
    out[np.einsum("ts,...sd->...td", m > 0, missing)] = np.nan
    return out.astype(points.dtype, copy=False)


# Our data's 17 joints (Human3.6M-style), in the order of ../shared/data.
H36M17 = Skeleton(
    name="h36m17",
    joints=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
        "neck_nose", "head_top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
        "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
)

# The 13 keypoints a 2D detector reliably gives (Pr-VIPE's set); the 3D neck/nose maps to the nose.
KP13 = Skeleton(
    name="kp13",
    joints=(
        "neck_nose", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
        "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 3, 4, 1, 2, 7, 8, 9, 10),
    aliases={"pelvis": ("l_hip", "r_hip"), "thorax": ("l_shoulder", "r_shoulder")},
)

# MediaPipe Pose Landmarker's 33 landmarks; our 17 joints derive from them by the common rule
# (mmpose / MotionBERT): pelvis = mid-hips, thorax = mid-shoulders, spine = mid(pelvis, thorax),
# neck/nose = nose, head top = mid-eyes.
MEDIAPIPE33 = Skeleton(
    name="mediapipe33",
    joints=(
        "nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer",
        "l_ear", "r_ear", "mouth_left", "mouth_right", "l_shoulder", "r_shoulder", "l_elbow",
        "r_elbow", "l_wrist", "r_wrist", "l_pinky", "r_pinky", "l_index", "r_index", "l_thumb",
        "r_thumb", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_heel", "r_heel",
        "l_foot_index", "r_foot_index",
    ),
    aliases={
        "pelvis": ("l_hip", "r_hip"),
        "thorax": ("l_shoulder", "r_shoulder"),
        "spine": ("l_hip", "r_hip", "l_shoulder", "r_shoulder"),
        "neck_nose": ("nose",),
        "head_top": ("l_eye", "r_eye"),
    },
)

# Human3.6M's 32 raw joints, as stored in VideoPose3D's data_3d_h36m.npz (metres).
H36M32 = Skeleton(
    name="h36m32",
    joints=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "r_toe", "r_toe_end", "l_hip", "l_knee",
        "l_ankle", "l_toe", "l_toe_end", "spine_base", "spine", "thorax", "neck_nose", "head_top",
        "thorax_l", "l_shoulder", "l_elbow", "l_wrist", "l_wrist_2", "l_thumb", "l_hand",
        "l_hand_end", "thorax_r", "r_shoulder", "r_elbow", "r_wrist", "r_wrist_2", "r_thumb",
        "r_hand", "r_hand_end",
    ),
    parents=(-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19,
             22, 12, 24, 25, 26, 27, 28, 27, 30),
)

# The joints the 2D normalisation anchors on: at least two must be present in a 2D pose.
TORSO_2D = ("l_shoulder", "r_shoulder", "l_hip", "r_hip")

# VideoPose3D's 17-joint 2D files (data_2d_h36m_gt.npz / _cpn_ft_h36m_dbb.npz) use our order.
SKELETONS = {s.name: s for s in (H36M17, KP13, MEDIAPIPE33, H36M32)}
