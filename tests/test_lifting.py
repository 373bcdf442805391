"""Lifting keypoint sets and followed people with a tiny trained tiny_model: NaN handling, smoothing."""
from __future__ import annotations

import numpy as np
import pytest

from vvipe_core.api import VVIPE
from vvipe_core.lifting import lift_keypoints, lift_track, liftable
from vvipe_core.skeleton import H36M17
from vvipe_core.video import PoseTrack

J = {name: i for i, name in enumerate(H36M17.joints)}
# A person standing in a 640×480 picture, pixels (y down).
STANDING_2D = np.array([
    [320, 250], [300, 250], [300, 340], [300, 430], [340, 250], [340, 340], [340, 430],
    [320, 200], [320, 150], [320, 125], [320, 105], [350, 150], [365, 200], [370, 250],
    [290, 150], [275, 200], [270, 250],
], dtype=np.float32)



def test_liftable_needs_two_of_the_shoulders_and_hips() -> None:
    keypoints = np.repeat(STANDING_2D[None], 3, axis=0)
    keypoints[1, [J["l_shoulder"], J["r_shoulder"], J["l_hip"]]] = np.nan  # one torso joint left
    keypoints[2, [J["l_shoulder"], J["l_hip"]]] = np.nan  # two left
    assert liftable(keypoints).tolist() == [True, False, True]


def test_unliftable_rows_become_nan_without_failing_the_batch(tiny_model: VVIPE) -> None:
    keypoints = np.repeat(STANDING_2D[None], 3, axis=0)
    keypoints[1] = np.nan  # nobody in this frame
    poses = lift_keypoints(tiny_model, keypoints)
    assert poses.shape == (3, 17, 3)
    assert np.isnan(poses[1]).all() and np.isfinite(poses[[0, 2]]).all()
    np.testing.assert_allclose(poses[0], tiny_model.lift(STANDING_2D[None])[0], atol=1e-5)


def test_lift_track_smooths_2d_and_3d(tiny_model: VVIPE) -> None:
    frames = 30
    noise = np.random.default_rng(0).normal(0, 4, (frames, 17, 2))
    keypoints = (STANDING_2D + noise).astype(np.float32)
    keypoints[10] = np.nan
    track = PoseTrack(
        frame_index=np.arange(frames), time_s=np.arange(frames) / 30.0, keypoints=keypoints,
        confidence=np.ones((frames, 17), np.float32), image_size=(640, 480),
        frames_without_person=[10],
    )
    smooth = lift_track(tiny_model, track)
    raw = lift_track(tiny_model, track, smoothing=None)
    assert smooth.lifted.tolist() == [i != 10 for i in range(frames)]
    assert smooth.jitter < smooth.jitter_raw == pytest.approx(raw.jitter)
    np.testing.assert_array_equal(raw.keypoints, keypoints)
    assert not np.allclose(smooth.keypoints[1:10], keypoints[1:10])
