"""Photos through detection and the shipped model: the lifted 3D poses look like the photos.

Canonical frame (vvipe_core.canonical): +z up along the torso, +x from the left hip to the right
hip, the person faces +y. Needs the trained checkpoint, so it skips where that is absent.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.media import LUNGE_LEFT, LUNGE_RIGHT, T_POSE, Y_POSE
from vvipe_core.api import BUNDLED_CHECKPOINT, VVIPE
from vvipe_core.detect import PoseDetector
from vvipe_core.lifting import lift_keypoints
from vvipe_core.skeleton import H36M17

pytestmark = pytest.mark.skipif(
    not BUNDLED_CHECKPOINT.is_file(), reason=f"needs the trained model {BUNDLED_CHECKPOINT}"
)
J = {name: i for i, name in enumerate(H36M17.joints)}


@pytest.fixture(scope="module")
def lifted() -> dict[str, np.ndarray]:
    model = VVIPE.load(device="cpu")
    with PoseDetector() as detector:
        photos = {"t": T_POSE, "y": Y_POSE, "left": LUNGE_LEFT, "right": LUNGE_RIGHT}
        keypoints = np.stack([detector.detect_person(p).keypoints for p in photos.values()])
    poses = lift_keypoints(model, keypoints)
    assert np.isfinite(poses).all()
    return dict(zip(photos, poses))


def test_t_pose_arms_are_near_horizontal_and_out_to_the_sides(lifted) -> None:
    pose = lifted["t"]
    for side, outwards in (("l", -1), ("r", 1)):
        arm = pose[J[f"{side}_wrist"]] - pose[J[f"{side}_shoulder"]]
        elevation = np.degrees(np.arcsin(abs(arm[2]) / np.linalg.norm(arm)))
        assert elevation < 25, f"{side} arm {elevation:.0f}° from horizontal"
        assert np.sign(arm[0]) == outwards


def test_y_pose_wrists_above_the_head(lifted) -> None:
    pose = lifted["y"]
    head = pose[J["head_top"], 2]
    assert pose[J["l_wrist"], 2] > head and pose[J["r_wrist"], 2] > head


def test_mirrored_photos_lift_to_mirrored_poses(lifted) -> None:
    left, right = lifted["left"], lifted["right"]
    mirrored = right[H36M17.mirror_index] * [-1.0, 1.0, 1.0]  # negate x, swap sides
    mirrored_gap = np.linalg.norm(left - mirrored, axis=-1).mean()
    plain_gap = np.linalg.norm(left - right, axis=-1).mean()
    assert mirrored_gap < 0.2  # torso lengths (about 100 mm at nominal size)
    assert mirrored_gap < 0.5 * plain_gap  # the side bend is not symmetric: mirroring matters
